/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * managed.c — the managed key alias/envol/ebs, envol's aws/ebs: created by the first request
 * that names it, KeyManager AWS, rotated yearly, with the aws/ebs-shaped key policy (any
 * principal of the account, only through envold; the account reads metadata directly), and
 * closed to changes by users.  A managed key created before it had a policy gets it when
 * kms.db is opened (kms_managed_upgrade()).
 */
#include <jansson.h>
#include <string.h>

#include "kms/internal.h"
#include "kms/policy.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/log.h"

#define MANAGED_DESCRIPTION                                                                        \
	"Default key that protects my envol volumes when no other key is defined"

/*
 * The managed key's policy: kms_policy_managed_json(account, envold), plus one statement
 * envol needs and EBS does not: `envolctl volume create` runs as the calling user, not
 * through a service, so the account's principals may call GenerateDataKeyWithoutPlaintext
 * directly under an encryption context that names a volume.  That call returns no
 * plaintext: using the key stays possible only through envold.
 */
static int managed_policy(const char *account, char **ret)
{
	_cleanup_free_ char *text = NULL;
	json_t *doc, *stmts;
	char *out;
	int r;

	r = kms_policy_managed_json(account, KMS_ENVOLD_SERVICE, &text);
	if (r < 0)
		return r;
	doc = json_loads(text, JSON_DECODE_ANY, NULL);
	stmts = json_object_get(doc, "Statement");
	if (!json_is_array(stmts) ||
	    json_array_append_new(
		stmts, json_pack("{s:s, s:s, s:{s:s}, s:s, s:s, s:{s:{s:s}, s:{s:s}}}", "Sid",
				 "Allow the account to create volume keys directly", "Effect",
				 "Allow", "Principal", "AWS", "*", "Action",
				 "kms:GenerateDataKeyWithoutPlaintext", "Resource", "*",
				 "Condition", "StringEquals", "kms:CallerAccount", account, "Null",
				 "kms:EncryptionContext:envol:volume-id", "false")) < 0) {
		json_decref(doc);
		return -ENOMEM;
	}
	out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int kms_managed_create(struct kms *k, char id[KMS_KEY_ID_SIZE])
{
	_cleanup_free_ char *policy = NULL;
	uint8_t u[16];
	int r;

	r = managed_policy(k->account_id, &policy);
	if (r < 0)
		return r;
	r = envol_uuid_generate(u);
	if (r < 0)
		return r;
	envol_uuid_format(u, id);
	r = kms_store_key_create(k->store, id, envol_clock_now(), MANAGED_DESCRIPTION, true, policy,
				 NULL, 0, KMS_MANAGED_ALIAS);
	if (r == 0)
		log_debug("kms: created the managed key %s (%s)", id, KMS_MANAGED_ALIAS);
	return r;
}

int kms_managed_upgrade(struct kms *k)
{
	_cleanup_free_ char *text = NULL, *policy = NULL;
	char id[KMS_KEY_ID_SIZE];
	int r;

	r = kms_store_alias_get(k->store, KMS_MANAGED_ALIAS, id);
	if (r == -ENOENT)
		return 0; /* not created yet */
	if (r == 0)
		r = kms_store_key_policy_get(k->store, id, &text);
	if (r < 0 || text)
		return r == -ENOENT ? 0 : r;
	r = managed_policy(k->account_id, &policy);
	if (r == 0)
		r = kms_store_key_policy_put(k->store, id, policy);
	if (r == 0)
		log_debug("kms: the managed key %s (%s) gets its key policy", id,
			  KMS_MANAGED_ALIAS);
	return r;
}

bool kms_managed_arn(struct kms_call *c)
{
	size_t n = strlen(c->k->key_arn_prefix);
	struct kms_key key = {0};
	bool managed;

	if (strncmp(c->key_arn, c->k->key_arn_prefix, n) != 0 ||
	    kms_store_key_get(c->k->store, c->key_arn + n, &key) < 0)
		return false;
	managed = key.managed;
	kms_key_done(&key);
	return managed;
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
