/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * managed.c — the managed key alias/envol/ebs, envol's aws/ebs: created by the first request
 * that names it, KeyManager AWS, rotated yearly, and closed to changes by users.
 */
#include "kms/internal.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/log.h"

#define MANAGED_DESCRIPTION                                                                        \
	"Default key that protects my envol volumes when no other key is defined"

int kms_managed_create(struct kms *k, char id[KMS_KEY_ID_SIZE])
{
	uint8_t u[16];
	int r;

	r = envol_uuid_generate(u);
	if (r < 0)
		return r;
	envol_uuid_format(u, id);
	r = kms_store_key_create(k->store, id, envol_clock_now(), MANAGED_DESCRIPTION, true, NULL,
				 NULL, 0, KMS_MANAGED_ALIAS);
	if (r == 0)
		log_debug("kms: created the managed key %s (%s)", id, KMS_MANAGED_ALIAS);
	return r;
}

int kms_refuse_managed(struct kms_call *c, const struct kms_key *key)
{
	if (!key->managed)
		return 0;
	return kms_fail(c, KMS_ERR_ACCESS_DENIED,
			"User: %s is not authorized to perform: kms:%s on resource: %s because %s "
			"is an envol managed key (alias %s)",
			kms_call_principal(c), kms_op_name(c->req.op), c->key_arn, c->key_arn,
			KMS_MANAGED_ALIAS);
}
