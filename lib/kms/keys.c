/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keys.c — the key operations: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription,
 * EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.  They run with the store
 * locked (kms.c) and answer typed results (response.h).
 */
#include <string.h>

#include "kms/internal.h"
#include "kms/policy.h"
#include "util/clock.h"
#include "util/encoding.h"

#define DEFAULT_PENDING_DAYS 30
#define MIN_PENDING_DAYS 7
#define MAX_PENDING_DAYS 30

void kms_key_changed(struct kms *k, const struct kms_key *key)
{
	kms_cache_drop(k->cache, key->uuid);
	kms_authz_policy_changed(k->authz, key->id);
	kms_sweeper_refresh(k);
}

/* Answers the key's metadata; takes over *key. */
static int answer_metadata(struct kms_call *c, struct kms_key *key)
{
	c->result.type = KMS_RESULT_KEY_METADATA;
	c->result.key = *key;
	*key = (struct kms_key){0};
	return 0;
}

int kms_op_create_key(struct kms_call *c)
{
	const struct kms_request *q = &c->req;
	struct kms *k = c->k;
	const char *spec = q->key_spec ? q->key_spec : q->customer_master_key_spec;
	_cleanup_key_ struct kms_key key = {0};
	_cleanup_policy_ struct kms_policy *policy = NULL;
	char id[KMS_KEY_ID_SIZE];
	uint8_t u[16];
	int r;

	if (q->key_spec && q->customer_master_key_spec)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"You cannot specify KeySpec and CustomerMasterKeySpec in the same "
				"request. CustomerMasterKeySpec parameter is deprecated. Use "
				"KeySpec.");
	if (spec && strcmp(spec, "SYMMETRIC_DEFAULT") != 0)
		return kms_fail(
		    c, KMS_ERR_UNSUPPORTED_OPERATION,
		    "KeySpec %s is not supported: envol-kmsd supports SYMMETRIC_DEFAULT "
		    "keys only",
		    spec);
	if (q->key_usage && strcmp(q->key_usage, "ENCRYPT_DECRYPT") != 0)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"KeyUsage %s is not compatible with KeySpec SYMMETRIC_DEFAULT",
				q->key_usage);
	if (q->origin && strcmp(q->origin, "AWS_KMS") != 0)
		return kms_fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
				"Origin %s is not supported: envol-kmsd supports AWS_KMS only",
				q->origin);
	if (q->multi_region == 1)
		return kms_fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
				"Multi-Region keys are not supported by envol-kmsd");
	if (kms_check_tags(c) < 0)
		return -1;

	r = envol_uuid_generate(u);
	if (r < 0)
		return kms_fail_internal(c, r, "uuid");
	envol_uuid_format(u, id);
	kms_key_arn(k, id, c->key_arn);
	if (q->policy && (kms_authz_parse_key_policy(c, q->policy, &policy) < 0 ||
			  kms_authz_lockout_check(c, id, policy) < 0))
		return -1;
	r = kms_store_key_create(k->store, id, envol_clock_now(), q->description, false, q->policy,
				 q->tags, q->n_tags, NULL);
	if (r < 0)
		return kms_fail_internal(c, r, "create key");
	r = kms_store_key_get(k->store, id, &key);
	if (r < 0)
		return kms_fail_internal(c, r, "reload key");
	return answer_metadata(c, &key);
}

int kms_op_describe_key(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};

	if (kms_resolve_key(c, c->req.key_id, true, &key) < 0)
		return -1;
	return answer_metadata(c, &key);
}

int kms_op_list_keys(struct kms_call *c)
{
	struct kms_result *res = &c->result;
	int64_t limit = kms_page_limit(c, 100, 1000);
	uint8_t u[16];
	int r;

	if (limit < 0)
		return -1;
	if (c->req.marker && envol_uuid_parse(c->req.marker, u) < 0)
		return kms_fail(c, KMS_ERR_INVALID_MARKER, "Invalid marker");
	res->type = KMS_RESULT_KEYS;
	r = kms_store_keys_list(c->k->store, kms_page_after(c), limit, &res->keys,
				&res->page.truncated);
	if (r < 0)
		return kms_fail_internal(c, r, "list keys");
	res->page.n = res->keys.n;
	return res->page.n ? kms_page_marker(c, res->keys.id[res->page.n - 1]) : 0;
}

int kms_op_update_key_description(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};
	int r;

	if (kms_open_key(c, c->req.key_id, KMS_REFUSE_MANAGED | KMS_REFUSE_PENDING, &key) < 0)
		return -1;
	r = kms_store_key_set_description(c->k->store, key.id, c->req.description);
	if (r < 0)
		return kms_fail_internal(c, r, "update");
	return 0;
}

int kms_op_enable_disable_key(struct kms_call *c)
{
	bool enable = c->req.op == KMS_OP_ENABLE_KEY;
	_cleanup_key_ struct kms_key key = {0};
	int r;

	if (kms_open_key(c, c->req.key_id, KMS_REFUSE_MANAGED | KMS_REFUSE_PENDING, &key) < 0)
		return -1;
	r = kms_store_key_set_state(c->k->store, key.id,
				    enable ? KMS_KEY_ENABLED : KMS_KEY_DISABLED);
	if (r < 0)
		return kms_fail_internal(c, r, "update key state");
	kms_key_changed(c->k, &key);
	return 0;
}

int kms_op_schedule_key_deletion(struct kms_call *c)
{
	int64_t days =
	    c->req.pending_window_in_days ? c->req.pending_window_in_days : DEFAULT_PENDING_DAYS;
	_cleanup_key_ struct kms_key key = {0};
	int64_t when;
	int r;

	if (kms_open_key(c, c->req.key_id, KMS_REFUSE_MANAGED, &key) < 0)
		return -1;
	if (days < MIN_PENDING_DAYS || days > MAX_PENDING_DAYS)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"PendingWindowInDays value %lld is invalid: it must be between %d "
				"and %d",
				(long long)days, MIN_PENDING_DAYS, MAX_PENDING_DAYS);
	if (kms_refuse_state(c, key.state, KMS_REFUSE_PENDING) < 0)
		return -1;
	when = envol_clock_now() + days * KMS_DAY;
	r = kms_store_key_schedule_deletion(c->k->store, key.id, when, days);
	if (r < 0)
		return kms_fail_internal(c, r, "update key state");
	kms_key_changed(c->k, &key);
	c->result.type = KMS_RESULT_KEY_DELETION;
	memcpy(c->result.key_id, c->key_arn, sizeof c->result.key_id);
	c->result.deletion.date = when;
	c->result.deletion.days = days;
	return 0;
}

int kms_op_cancel_key_deletion(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};
	int r;

	if (kms_open_key(c, c->req.key_id, KMS_REFUSE_MANAGED, &key) < 0)
		return -1;
	if (key.state != KMS_KEY_PENDING_DELETION)
		return kms_fail(c, KMS_ERR_INVALID_STATE, "%s is not pending deletion.",
				c->key_arn);
	r = kms_store_key_cancel_deletion(c->k->store, key.id);
	if (r < 0)
		return kms_fail_internal(c, r, "update key state");
	kms_key_changed(c->k, &key);
	c->result.type = KMS_RESULT_KEY_ID;
	memcpy(c->result.key_id, c->key_arn, sizeof c->result.key_id);
	return 0;
}
