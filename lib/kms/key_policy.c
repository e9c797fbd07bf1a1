/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * key_policy.c — the key policy operations: GetKeyPolicy, ListKeyPolicies (always
 * ["default"]) and PutKeyPolicy (validated, principals checked, lockout safety check unless
 * bypassed).  A key without a stored policy answers the AWS default policy.  They run with the
 * store locked (kms.c); the key is authorized when it is resolved (resolve.c).
 */
#include <string.h>

#include "kms/internal.h"
#include "kms/policy.h"

/* PolicyName: only "default" exists.  not_found: NotFoundException (Get), else Validation. */
static int check_policy_name(struct kms_call *c, bool not_found)
{
	const char *n = c->req.policy_name;

	if (!n || strcmp(n, "default") == 0)
		return 0;
	if (not_found)
		return kms_fail(c, KMS_ERR_NOT_FOUND,
				"No such policy exists: %s (a key has one policy, \"default\")", n);
	return kms_fail(c, KMS_ERR_VALIDATION,
			"PolicyName %s is not supported: a key has one policy, \"default\"", n);
}

int kms_op_get_key_policy(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};
	char *text = NULL;
	int r;

	if (kms_resolve_key(c, c->req.key_id, false, &key) < 0 || check_policy_name(c, true) < 0)
		return -1;
	r = kms_store_key_policy_get(c->k->store, key.id, &text);
	if (r == 0 && !text)
		r = kms_policy_default_json(c->k->account_id, &text);
	if (r < 0)
		return kms_fail_internal(c, r, "key policy");
	c->result.type = KMS_RESULT_POLICY;
	c->result.policy = text;
	return 0;
}

int kms_op_list_key_policies(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};

	if (kms_page_limit(c, 100, 1000) < 0 ||
	    kms_resolve_key(c, c->req.key_id, false, &key) < 0)
		return -1;
	c->result.type = KMS_RESULT_POLICY_NAMES;
	return 0;
}

int kms_op_put_key_policy(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};
	_cleanup_policy_ struct kms_policy *policy = NULL;
	int r;

	if (kms_open_key(c, c->req.key_id, KMS_REFUSE_MANAGED | KMS_REFUSE_PENDING, &key) < 0 ||
	    check_policy_name(c, false) < 0 ||
	    kms_authz_parse_key_policy(c, c->req.policy, &policy) < 0 ||
	    kms_authz_lockout_check(c, key.id, policy) < 0)
		return -1;
	r = kms_store_key_policy_put(c->k->store, key.id, c->req.policy);
	if (r < 0)
		return kms_fail_internal(c, r, "key policy");
	kms_authz_policy_changed(c->k->authz, key.id);
	return 0;
}
