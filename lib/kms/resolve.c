/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resolve.c — which key a KeyId member names: a key id, a key ARN, an alias name or an alias
 * ARN (in this region and account), the ARNs envol formats, and the key-state refusals every
 * operation on a key applies.  A resolved key is authorized here (kms_authorize_key()), so
 * every operation on a key is decided under that key's policy.
 */
#include <stdio.h>
#include <string.h>

#include "kms/internal.h"
#include "util/encoding.h"

void kms_key_arn(const struct kms *k, const char *id, char out[KMS_ARN_MAX])
{
	snprintf(out, KMS_ARN_MAX, "%s%s", k->key_arn_prefix, id);
}

void kms_alias_arn(const struct kms *k, const char *alias, char out[KMS_ARN_MAX])
{
	snprintf(out, KMS_ARN_MAX, "%s%s", k->arn_prefix, alias);
}

/* The decision for the key just resolved (authz.c); a key that does not exist is NotFound. */
static int authorize(struct kms_call *c, const char *id)
{
	int r = kms_authorize_key(c, id);

	if (r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Key '%s' does not exist", c->key_arn);
	return r < 0 ? -1 : 0;
}

int kms_resolve_id(struct kms_call *c, const char *key_id, bool allow_alias,
		   char id[KMS_KEY_ID_SIZE])
{
	struct kms *k = c->k;
	const char *alias = NULL;
	uint8_t u[16];
	int r;

	if (strncmp(key_id, "arn:", 4) == 0) {
		size_t n = strlen(k->arn_prefix);

		if (strncmp(key_id, "arn:aws:kms:", 12) != 0)
			return kms_fail(c, KMS_ERR_INVALID_ARN, "Invalid arn %s", key_id);
		if (strncmp(key_id, k->arn_prefix, n) != 0)
			return kms_fail(c, KMS_ERR_NOT_FOUND,
					"Invalid arn %s: not in region %s of account %s", key_id,
					k->region, k->account_id);
		if (strncmp(key_id + n, "key/", 4) == 0) {
			key_id += n + 4;
			if (envol_uuid_parse(key_id, u) < 0)
				return kms_fail(c, KMS_ERR_NOT_FOUND, "Invalid keyId %s", key_id);
		} else if (strncmp(key_id + n, "alias/", 6) == 0) {
			alias = key_id + n;
		} else {
			return kms_fail(c, KMS_ERR_INVALID_ARN, "Invalid arn %s", key_id);
		}
	} else if (strncmp(key_id, "alias/", 6) == 0) {
		alias = key_id;
	} else if (envol_uuid_parse(key_id, u) < 0) {
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Invalid keyId '%s'", key_id);
	}

	if (!alias) {
		envol_uuid_format(u, id);
		kms_key_arn(k, id, c->key_arn);
		return authorize(c, id);
	}
	if (!allow_alias)
		return kms_fail(c, KMS_ERR_NOT_FOUND,
				"Invalid keyId '%s': this operation takes a key id or key ARN, not "
				"an alias",
				key_id);
	kms_store_lock(k->store);
	r = kms_store_alias_get(k->store, alias, id);
	if (r == -ENOENT && strcmp(alias, KMS_MANAGED_ALIAS) == 0)
		r = kms_managed_create(k, id);
	kms_store_unlock(k->store);
	if (r == -ENOENT) {
		char arn[KMS_ARN_MAX];

		kms_alias_arn(k, alias, arn);
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", arn);
	}
	if (r < 0)
		return kms_fail_internal(c, r, "alias lookup");
	kms_key_arn(k, id, c->key_arn);
	return authorize(c, id);
}

int kms_resolve_key(struct kms_call *c, const char *key_id, bool allow_alias, struct kms_key *ret)
{
	char id[KMS_KEY_ID_SIZE];
	int r;

	if (kms_resolve_id(c, key_id, allow_alias, id) < 0)
		return -1;
	r = kms_store_key_get(c->k->store, id, ret);
	if (r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Key '%s' does not exist", c->key_arn);
	if (r < 0)
		return kms_fail_internal(c, r, "key lookup");
	return 0;
}

int kms_refuse_state(struct kms_call *c, enum kms_key_state state, unsigned refuse)
{
	if ((refuse & KMS_REFUSE_DISABLED) && state == KMS_KEY_DISABLED)
		return kms_fail(c, KMS_ERR_DISABLED, "%s is disabled.", c->key_arn);
	if ((refuse & KMS_REFUSE_PENDING) && state == KMS_KEY_PENDING_DELETION)
		return kms_fail(c, KMS_ERR_INVALID_STATE, "%s is pending deletion.", c->key_arn);
	return 0;
}

int kms_open_key(struct kms_call *c, const char *key_id, unsigned refuse, struct kms_key *ret)
{
	if (kms_resolve_key(c, key_id, false, ret) < 0)
		return -1;
	if (((refuse & KMS_REFUSE_MANAGED) && kms_refuse_managed(c, ret) < 0) ||
	    kms_refuse_state(c, ret->state, refuse) < 0) {
		kms_key_done(ret);
		return -1;
	}
	return 0;
}
