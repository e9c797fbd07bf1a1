/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rotation.c — the rotation operations: EnableKeyRotation, DisableKeyRotation,
 * GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations.  A rotation adds a material
 * version (store.c); old versions stay for Decrypt.  Automatic rotations are the sweeper's.
 */
#include <stdio.h>
#include <string.h>

#include "kms/internal.h"
#include "util/clock.h"

#define MAX_ON_DEMAND_ROTATIONS 10

static int set_rotation(struct kms_call *c, bool enabled, int64_t days)
{
	_cleanup_key_ struct kms_key key = {0};
	int r;

	if (kms_open_key(c, c->req.key_id,
			 KMS_REFUSE_MANAGED | KMS_REFUSE_DISABLED | KMS_REFUSE_PENDING, &key) < 0)
		return -1;
	r = kms_store_key_set_rotation(c->k->store, key.id, enabled, days,
				       envol_clock_now() + days * KMS_DAY);
	if (r < 0)
		return kms_fail_internal(c, r, "update key state");
	kms_key_changed(c->k, &key);
	return 0;
}

int kms_op_enable_key_rotation(struct kms_call *c)
{
	return set_rotation(c, true,
			    c->req.rotation_period_in_days ? c->req.rotation_period_in_days
							   : KMS_DEFAULT_ROTATION_DAYS);
}

int kms_op_disable_key_rotation(struct kms_call *c) { return set_rotation(c, false, 0); }

int kms_op_get_key_rotation_status(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};

	if (kms_open_key(c, c->req.key_id, KMS_REFUSE_PENDING, &key) < 0)
		return -1;
	c->result.type = KMS_RESULT_ROTATION_STATUS;
	memcpy(c->result.key_id, c->key_arn, sizeof c->result.key_id);
	c->result.key = key;
	key = (struct kms_key){0};
	return 0;
}

int kms_op_rotate_key_on_demand(struct kms_call *c)
{
	struct kms *k = c->k;
	_cleanup_key_ struct kms_key key = {0};
	int64_t count;
	int r;

	/* The managed key's policy allows nobody to rotate it: AWS says why instead. */
	if (kms_resolve_key(c, c->req.key_id, false, &key) < 0 &&
	    !(c->error == KMS_ERR_ACCESS_DENIED && kms_managed_arn(c)))
		return -1;
	if (c->error || key.managed)
		return kms_fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
				"%s is a managed key: on-demand rotation is not supported for it",
				c->key_arn);
	if (kms_refuse_state(c, key.state, KMS_REFUSE_DISABLED | KMS_REFUSE_PENDING) < 0)
		return -1;
	r = kms_store_rotations_on_demand(k->store, key.id, &count);
	if (r < 0)
		return kms_fail_internal(c, r, "rotations");
	if (count >= MAX_ON_DEMAND_ROTATIONS)
		return kms_fail(c, KMS_ERR_LIMIT_EXCEEDED,
				"%s has reached the limit of %d on-demand rotations", c->key_arn,
				MAX_ON_DEMAND_ROTATIONS);
	r = kms_store_key_rotate(k->store, &key, true, envol_clock_now(), -1);
	kms_cache_drop(k->cache, key.uuid);
	if (r < 0)
		return kms_fail_internal(c, r, "rotate");
	c->result.type = KMS_RESULT_KEY_ID;
	memcpy(c->result.key_id, key.id, sizeof key.id); /* a key id here, as AWS */
	return 0;
}

int kms_op_list_key_rotations(struct kms_call *c)
{
	struct kms_result *res = &c->result;
	int64_t limit = kms_page_limit(c, 100, 1000), marker = 0;
	_cleanup_key_ struct kms_key key = {0};
	char next[16];
	char *end;
	int r;

	if (limit < 0)
		return -1;
	if (c->req.marker) {
		errno = 0;
		marker = strtoll(c->req.marker, &end, 10);
		if (errno || *end || marker < 0)
			return kms_fail(c, KMS_ERR_INVALID_MARKER, "Invalid marker");
	}
	if (kms_resolve_key(c, c->req.key_id, false, &key) < 0)
		return -1;
	res->type = KMS_RESULT_ROTATIONS;
	memcpy(res->key_id, key.id, sizeof key.id); /* a key id in each entry, as AWS */
	r = kms_store_rotations_list(c->k->store, key.id, marker, limit, &res->rotations,
				     &res->page.n, &res->page.truncated);
	if (r < 0)
		return kms_fail_internal(c, r, "list rotations");
	if (res->page.n == 0)
		return 0;
	snprintf(next, sizeof next, "%u", res->rotations[res->page.n - 1].version);
	return kms_page_marker(c, next);
}
