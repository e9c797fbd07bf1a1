/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sweeper.c — what the KMS does by itself as time passes (envol_clock_now()): kms_tick()
 * rotates keys whose automatic rotation is due and destroys keys whose deletion window is
 * over; every request also destroys overdue keys first, cheaply (kms_sweep_deletions()).  Each
 * change gets an audit record from the principal "envol-kmsd".
 */
#include "kms/internal.h"
#include "util/clock.h"
#include "util/log.h"

void kms_sweeper_refresh(struct kms *k)
{
	atomic_store(&k->next_deletion, kms_store_next_deletion(k->store));
}

int kms_sweep_deletions(struct kms *k, bool force)
{
	_cleanup_(kms_key_ids_done) struct kms_key_ids ids = {0};
	int64_t now = envol_clock_now();
	int r, done = 0;

	if (!force && now < atomic_load(&k->next_deletion))
		return 0;
	kms_store_lock(k->store);
	r = kms_store_keys_deletion_due(k->store, now, &ids);
	for (size_t i = 0; r == 0 && i < ids.n; i++) {
		char arn[KMS_ARN_MAX];

		r = kms_store_key_delete(k->store, ids.id[i]);
		if (r < 0)
			break;
		kms_cache_drop_id(k->cache, ids.id[i]);
		kms_authz_policy_changed(k->authz, ids.id[i]);
		kms_key_arn(k, ids.id[i], arn);
		log_debug("kms: destroyed key %s (deletion window over)", ids.id[i]);
		(void)kms_audit_system(k->audit, "DeleteKey", arn);
		done++;
	}
	if (done > 0)
		kms_store_checkpoint(k->store);
	kms_sweeper_refresh(k);
	kms_store_unlock(k->store);
	return r < 0 ? r : done;
}

/* Rotates keys whose automatic rotation is due.  Returns the number rotated or -errno. */
static int sweep_rotations(struct kms *k)
{
	_cleanup_(kms_key_ids_done) struct kms_key_ids ids = {0};
	int64_t now = envol_clock_now();
	int r, done = 0;

	kms_store_lock(k->store);
	r = kms_store_keys_rotation_due(k->store, now, &ids);
	for (size_t i = 0; r == 0 && i < ids.n; i++) {
		_cleanup_key_ struct kms_key key = {0};
		char arn[KMS_ARN_MAX];

		r = kms_store_key_get(k->store, ids.id[i], &key);
		if (r < 0)
			break;
		r = kms_store_key_rotate(k->store, &key, false, now,
					 now + key.rotation_period * KMS_DAY);
		kms_cache_drop(k->cache, key.uuid);
		if (r < 0)
			break;
		kms_key_arn(k, ids.id[i], arn);
		(void)kms_audit_system(k->audit, "RotateKey", arn);
		done++;
	}
	kms_store_unlock(k->store);
	return r < 0 ? r : done;
}

int kms_tick(struct kms *k)
{
	int d, r;

	if (!k)
		return -EINVAL;
	r = kms_audit_flush(k->audit);
	if (r < 0)
		return r;
	d = kms_sweep_deletions(k, true);
	if (d < 0)
		return d;
	r = sweep_rotations(k);
	if (r < 0)
		return r;
	return d + r;
}
