/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * aliases.c — the alias operations: CreateAlias, UpdateAlias, DeleteAlias, ListAliases, and
 * the alias name rules (the alias/aws/ and alias/envol/ prefixes are reserved for managed keys).
 */
#include <string.h>

#include "kms/internal.h"
#include "util/clock.h"

#define MAX_ALIASES_PAGE 100

static bool is_reserved_alias(const char *name)
{
	return strncmp(name, "alias/aws/", 10) == 0 || strncmp(name, "alias/envol/", 12) == 0;
}

static int check_alias_name(struct kms_call *c, const char *name, bool creating)
{
	char arn[KMS_ARN_MAX];

	if (strncmp(name, "alias/", 6) != 0 || name[6] == 0)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"1 validation error detected: Value '%s' at 'aliasName' failed to "
				"satisfy constraint: Member must satisfy regular expression pattern: "
				"^alias/[a-zA-Z0-9/_-]+$",
				name);
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == ':' || *p == '/' || *p == '_' || *p == '-'))
			return kms_fail(c, KMS_ERR_VALIDATION,
					"1 validation error detected: Value '%s' at 'aliasName' "
					"failed to satisfy constraint: Member must satisfy regular "
					"expression pattern: ^[a-zA-Z0-9:/_-]+$",
					name);
	if (is_reserved_alias(name)) {
		kms_alias_arn(c->k, name, arn);
		if (creating)
			return kms_fail(c, KMS_ERR_NOT_AUTHORIZED,
					"%s is not authorized to create alias %s: the prefixes "
					"alias/aws/ and alias/envol/ are reserved for managed keys",
					kms_call_principal(c), arn);
		return kms_fail(c, KMS_ERR_ACCESS_DENIED,
				"User: %s is not authorized to perform: kms:%s on resource: %s "
				"because it is reserved for managed keys",
				kms_call_principal(c), kms_op_name(c->req.op), arn);
	}
	return 0;
}

int kms_op_create_update_alias(struct kms_call *c)
{
	bool create = c->req.op == KMS_OP_CREATE_ALIAS;
	struct kms *k = c->k;
	_cleanup_key_ struct kms_key key = {0};
	char existing[KMS_KEY_ID_SIZE], arn[KMS_ARN_MAX];
	int r;

	if (check_alias_name(c, c->req.alias_name, create) < 0)
		return -1;
	kms_alias_arn(k, c->req.alias_name, arn);
	r = kms_store_alias_get(k->store, c->req.alias_name, existing);
	if (r < 0 && r != -ENOENT)
		return kms_fail_internal(c, r, "alias lookup");
	if (create && r == 0)
		return kms_fail(c, KMS_ERR_ALREADY_EXISTS,
				"An alias with the name %s already exists", arn);
	if (!create && r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", arn);
	if (kms_open_key(c, c->req.target_key_id, KMS_REFUSE_MANAGED | KMS_REFUSE_PENDING, &key) <
	    0)
		return -1;
	r = kms_store_alias_put(k->store, c->req.alias_name, key.id, !create, envol_clock_now());
	if (r < 0)
		return kms_fail_internal(c, r, "alias");
	return 0;
}

int kms_op_delete_alias(struct kms_call *c)
{
	struct kms *k = c->k;
	char id[KMS_KEY_ID_SIZE], arn[KMS_ARN_MAX];
	int r;

	if (strncmp(c->req.alias_name, "alias/", 6) != 0)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", c->req.alias_name);
	kms_alias_arn(k, c->req.alias_name, arn);
	if (is_reserved_alias(c->req.alias_name))
		return check_alias_name(c, c->req.alias_name, false);
	r = kms_store_alias_get(k->store, c->req.alias_name, id);
	if (r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", arn);
	if (r < 0)
		return kms_fail_internal(c, r, "alias lookup");
	kms_key_arn(k, id, c->key_arn);
	r = kms_authorize_key(c, id);
	if (r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", arn);
	if (r < 0)
		return -1;
	r = kms_store_alias_delete(k->store, c->req.alias_name);
	if (r < 0)
		return kms_fail_internal(c, r, "alias");
	return 0;
}

int kms_op_list_aliases(struct kms_call *c)
{
	struct kms_result *res = &c->result;
	int64_t limit = kms_page_limit(c, 50, MAX_ALIASES_PAGE);
	char filter[KMS_KEY_ID_SIZE] = "";
	int r;

	if (limit < 0)
		return -1;
	if (c->req.key_id) {
		_cleanup_key_ struct kms_key key = {0};

		if (kms_resolve_key(c, c->req.key_id, false, &key) < 0)
			return -1;
		memcpy(filter, key.id, sizeof filter);
	}
	res->type = KMS_RESULT_ALIASES;
	r = kms_store_aliases_list(c->k->store, kms_page_after(c), filter, limit, &res->aliases,
				   &res->page.n, &res->page.truncated);
	if (r < 0)
		return kms_fail_internal(c, r, "list aliases");
	return res->page.n ? kms_page_marker(c, res->aliases[res->page.n - 1].name) : 0;
}
