/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms.c — the KMS core's entry points: kms_open()/kms_close(), and the dispatcher: one table
 * from operation name to handler, and kms_handle(), which decodes, authorizes, runs the
 * handler, encodes its answer and audits every request; kms_reject() for what the transport
 * refused.  The operations themselves live in keys.c, aliases.c, rotation.c, tags.c,
 * grants.c and crypto.c (internal.h shows the flow).
 *
 * Locking: the store's mutex serializes every operation that reads or changes state; it is
 * held around the whole handler.  The cryptographic operations run without it and read key
 * state and material from the cache (cache.h).  Lock order: the store's mutex, then the cache's.
 */
#include <stdio.h>
#include <string.h>

#include "kms/internal.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/secure_mem.h"

static const struct {
	const char *name; /* X-Amz-Target after "TrentService." */
	int (*run)(struct kms_call *c);
	bool crypto; /* runs without the store's mutex */
} operations[KMS_OP_MAX] = {
    [KMS_OP_CANCEL_KEY_DELETION] = {"CancelKeyDeletion", kms_op_cancel_key_deletion, false},
    [KMS_OP_CREATE_ALIAS] = {"CreateAlias", kms_op_create_update_alias, false},
    [KMS_OP_CREATE_GRANT] = {"CreateGrant", kms_op_create_grant, false},
    [KMS_OP_CREATE_KEY] = {"CreateKey", kms_op_create_key, false},
    [KMS_OP_DECRYPT] = {"Decrypt", kms_op_decrypt, true},
    [KMS_OP_DELETE_ALIAS] = {"DeleteAlias", kms_op_delete_alias, false},
    [KMS_OP_DESCRIBE_KEY] = {"DescribeKey", kms_op_describe_key, false},
    [KMS_OP_DISABLE_KEY] = {"DisableKey", kms_op_enable_disable_key, false},
    [KMS_OP_DISABLE_KEY_ROTATION] = {"DisableKeyRotation", kms_op_disable_key_rotation, false},
    [KMS_OP_ENABLE_KEY] = {"EnableKey", kms_op_enable_disable_key, false},
    [KMS_OP_ENABLE_KEY_ROTATION] = {"EnableKeyRotation", kms_op_enable_key_rotation, false},
    [KMS_OP_ENCRYPT] = {"Encrypt", kms_op_encrypt, true},
    [KMS_OP_GENERATE_DATA_KEY] = {"GenerateDataKey", kms_op_generate_data_key, true},
    [KMS_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT] = {"GenerateDataKeyWithoutPlaintext",
						    kms_op_generate_data_key, true},
    [KMS_OP_GENERATE_RANDOM] = {"GenerateRandom", kms_op_generate_random, true},
    [KMS_OP_GET_KEY_POLICY] = {"GetKeyPolicy", kms_op_get_key_policy, false},
    [KMS_OP_GET_KEY_ROTATION_STATUS] = {"GetKeyRotationStatus", kms_op_get_key_rotation_status,
					false},
    [KMS_OP_LIST_ALIASES] = {"ListAliases", kms_op_list_aliases, false},
    [KMS_OP_LIST_GRANTS] = {"ListGrants", kms_op_list_grants, false},
    [KMS_OP_LIST_KEY_ROTATIONS] = {"ListKeyRotations", kms_op_list_key_rotations, false},
    [KMS_OP_LIST_KEYS] = {"ListKeys", kms_op_list_keys, false},
    [KMS_OP_LIST_KEY_POLICIES] = {"ListKeyPolicies", kms_op_list_key_policies, false},
    [KMS_OP_LIST_RETIRABLE_GRANTS] = {"ListRetirableGrants", kms_op_list_retirable_grants,
				      false},
    [KMS_OP_PUT_KEY_POLICY] = {"PutKeyPolicy", kms_op_put_key_policy, false},
    [KMS_OP_LIST_RESOURCE_TAGS] = {"ListResourceTags", kms_op_list_resource_tags, false},
    [KMS_OP_RE_ENCRYPT] = {"ReEncrypt", kms_op_re_encrypt, true},
    [KMS_OP_RETIRE_GRANT] = {"RetireGrant", kms_op_retire_grant, false},
    [KMS_OP_REVOKE_GRANT] = {"RevokeGrant", kms_op_revoke_grant, false},
    [KMS_OP_ROTATE_KEY_ON_DEMAND] = {"RotateKeyOnDemand", kms_op_rotate_key_on_demand, false},
    [KMS_OP_SCHEDULE_KEY_DELETION] = {"ScheduleKeyDeletion", kms_op_schedule_key_deletion, false},
    [KMS_OP_TAG_RESOURCE] = {"TagResource", kms_op_tag_untag, false},
    [KMS_OP_UNTAG_RESOURCE] = {"UntagResource", kms_op_tag_untag, false},
    [KMS_OP_UPDATE_ALIAS] = {"UpdateAlias", kms_op_create_update_alias, false},
    [KMS_OP_UPDATE_KEY_DESCRIPTION] = {"UpdateKeyDescription", kms_op_update_key_description,
				       false},
};

/* AWS KMS operations (botocore kms 2014-11-01, 54 operations) that envol does not implement. */
static const char *const unsupported_ops[] = {
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "GetKeyLastUsage",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ReplicateKey",
    "Sign",
    "UpdateCustomKeyStore",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
};

int kms_op_from_name(const char *name)
{
	if (!name)
		return -ENOENT;
	for (int i = 0; i < KMS_OP_MAX; i++)
		if (strcmp(name, operations[i].name) == 0)
			return i;
	for (size_t i = 0; i < ARRAY_SIZE(unsupported_ops); i++)
		if (strcmp(name, unsupported_ops[i]) == 0)
			return -EOPNOTSUPP;
	return -ENOENT;
}

const char *kms_op_name(enum kms_op op)
{
	return (unsigned)op < KMS_OP_MAX ? operations[op].name : "Unknown";
}

/* Operation names in audit lines and messages come from the wire: bound and sanitize them. */
static void safe_name(const char *in, char out[129])
{
	size_t i = 0;

	for (; in && in[i] && i < 128; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = 0;
}

/* The caller's request id, or a fresh random one formatted into rid. */
static const char *request_id_or_new(const char *request_id, char rid[37])
{
	uint8_t u[16];

	if (request_id)
		return request_id;
	if (envol_uuid_generate(u) < 0)
		memset(u, 0, sizeof u);
	envol_uuid_format(u, rid);
	return rid;
}

/* Decodes, authorizes and runs one request; the outcome is in c. */
static void dispatch(struct kms_call *c, const char *operation, const char *opname,
		     const char *body, size_t body_len)
{
	struct kms *k = c->k;
	int op = kms_op_from_name(operation), q;

	if (op == -EOPNOTSUPP) {
		(void)kms_fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
			       "%s is not supported by envol-kmsd (see docs/kms-api.md)", opname);
		return;
	}
	if (op < 0) {
		(void)kms_fail(c, KMS_ERR_UNKNOWN_OPERATION, "Unknown operation %s", opname);
		return;
	}
	q = kms_request_decode((enum kms_op)op, body, body_len, &c->req, c->msg, sizeof c->msg);
	c->req.op = (enum kms_op)op;
	if (q) {
		c->error = q;
		return;
	}
	if (kms_authorize(c) < 0)
		return;
	if (operations[op].crypto) {
		(void)operations[op].run(c);
	} else {
		kms_store_lock(k->store);
		(void)operations[op].run(c);
		kms_store_unlock(k->store);
	}
	/* Fail closed: an operation that never asked for a decision does not answer. */
	if (!c->error && !c->authorized) {
		kms_result_done(&c->result);
		(void)kms_fail_internal(c, -EACCES, "no authorization decision");
	}
}

int kms_handle(struct kms *k, const struct kms_caller *caller, const char *operation,
	       const char *body, size_t body_len, const char *request_id, int *ret_status,
	       char **ret_body)
{
	struct kms_call c = {.k = k, .caller = caller};
	struct kms_caller as; /* the caller as decided: the client when a service acts for it */
	char rid[37], opname[129];
	char *out = NULL;
	int status = 200, r;

	if (!k || !ret_status || !ret_body)
		return -EINVAL;
	request_id = request_id_or_new(request_id, rid);
	safe_name(operation, opname);
	(void)kms_sweep_deletions(k, false);

	if (caller && caller->on_behalf_of) {
		as = *caller;
		as.invoked_by = as.service_principal = NULL;
		c.caller = &as;
		(void)kms_authz_on_behalf(&c, &as, opname);
	}
	if (!c.error)
		dispatch(&c, operation, opname, body, body_len);
	if (!c.error) {
		r = kms_response_encode(k, &c.result, &out);
		if (r < 0)
			(void)kms_fail_internal(&c, r, "response");
	}
	if (c.error)
		out = kms_response_error(kms_error_map(c.error, &status), c.msg);
	r = kms_audit_call(k->audit, &c, opname, request_id);
	if (r < 0) {
		/* No record, no answer: what was done is not given out (audit.h). */
		char msg[256];

		snprintf(msg, sizeof msg, "The request could not be audited (audit log: %s)",
			 strerror(-r));
		if (out) {
			envol_wipe(out, strlen(out));
			free(out);
		}
		out = kms_response_error(kms_error_map(KMS_ERR_INTERNAL, &status), msg);
	}

	kms_result_done(&c.result);
	kms_request_done(&c.req);
	if (!out)
		return -ENOMEM;
	*ret_status = status;
	*ret_body = out;
	return 0;
}

int kms_reject(struct kms *k, const struct kms_caller *caller, const char *operation,
	       const char *request_id, const char *error_type, int http_status, const char *message,
	       char **ret_body)
{
	struct kms_audit_record rec = {0};
	char opname[129], rid[37];
	char *out;
	int r;

	if (!k || !ret_body || !error_type)
		return -EINVAL;
	request_id = request_id_or_new(request_id, rid);
	safe_name(operation, opname);
	out = kms_response_error(error_type, message);
	rec.operation = opname;
	rec.principal = caller ? caller->principal : NULL;
	rec.source = caller ? caller->source : NULL;
	rec.request_id = request_id;
	rec.error_code = error_type;
	rec.decision = strcmp(error_type, "AccessDeniedException") == 0 ? "denied" : NULL;
	/* Nobody authenticated: aggregated per source and minute, so strangers cannot grow the
	 * log at will. */
	if (!caller || !caller->principal || strcmp(caller->principal, "anonymous") == 0)
		r = kms_audit_unauthenticated(k->audit, &rec);
	else
		r = kms_audit_append(k->audit, &rec);
	(void)http_status;
	if (r < 0) {
		free(out);
		return r;
	}
	if (!out)
		return -ENOMEM;
	*ret_body = out;
	return 0;
}

void kms_close(struct kms *k)
{
	if (!k)
		return;
	kms_cache_free(k->cache);
	kms_audit_close(k->audit); /* anchors in the store: before it closes */
	kms_grants_done(k);
	kms_store_close(k->store);
	kms_authz_free(k->authz);
	free(k->region);
	free(k->account_id);
	free(k);
}

int kms_open(const struct kms_options *o, struct kms **ret, char *err, size_t errlen)
{
	struct kms *k;
	int r;

	if (!o || !ret || !o->database || !o->audit_log || !o->region || !o->account_id)
		return envol_fail(-EINVAL, err, errlen,
				  "kms_open: database, audit_log, region and account_id are "
				  "required");
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	atomic_store(&k->next_deletion, INT64_MAX);
	k->region = strdup(o->region);
	k->account_id = strdup(o->account_id);
	if (!k->region || !k->account_id || kms_cache_new(&k->cache) < 0) {
		kms_close(k);
		return -ENOMEM;
	}
	r = kms_authz_new(o, &k->authz, err, errlen);
	if (r < 0) {
		kms_close(k);
		return r;
	}
	snprintf(k->arn_prefix, sizeof k->arn_prefix, "arn:aws:kms:%s:%s:", o->region,
		 o->account_id);
	snprintf(k->key_arn_prefix, sizeof k->key_arn_prefix, "%skey/", k->arn_prefix);

	r = kms_store_open(o->database, o->root_key_file, &k->store, err, errlen);
	if (r < 0)
		goto fail;
	kms_store_lock(k->store);
	r = kms_store_check_root_key(k->store);
	kms_sweeper_refresh(k);
	kms_store_unlock(k->store);
	if (r < 0) {
		envol_set_error(err, errlen,
				"the root key does not unseal the key material in %s (wrong root "
				"key file or credential?)",
				o->database);
		goto fail;
	}
	kms_store_lock(k->store);
	r = kms_managed_upgrade(k);
	kms_store_unlock(k->store);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot give the managed key %s its key policy: %s",
				KMS_MANAGED_ALIAS, strerror(-r));
		goto fail;
	}
	r = kms_grants_init(k);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot derive the grant-token key: %s", strerror(-r));
		goto fail;
	}
	r = kms_audit_open(o->audit_log, k->store, &k->audit, err, errlen);
	if (r < 0)
		goto fail;
	*ret = k;
	return 0;
fail:
	kms_close(k);
	return r;
}
