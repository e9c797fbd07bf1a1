/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cache.h — the cache of unsealed key material, so that Encrypt, Decrypt, ReEncrypt and
 * GenerateDataKey* never touch SQLite.  One entry per key: its state and every material
 * version, in secure memory.  Any change to a key's state or material drops its entry
 * (kms_cache_drop()); the next use loads it again from the store.
 *
 * Locking: a writer-preferring rwlock (a flood of Decrypts cannot starve DisableKey).  Lock
 * order: the store's mutex, then the cache's lock.
 */
#ifndef ENVOL_KMS_CACHE_H
#define ENVOL_KMS_CACHE_H

#include <stdint.h>

#include "kms/blob.h"
#include "kms/store.h"

struct kms_cache;

struct kms_cache_entry {
	struct kms_cache_entry *next;
	uint8_t uuid[16];
	enum kms_key_state state;
	uint32_t n_versions; /* versions 1..n; new encryptions use n */
	uint8_t *material;   /* secure buffer, n_versions * KMS_KEY_LEN bytes */
};

/* The material of version v (1..e->n_versions). */
static inline const uint8_t *kms_cache_material(const struct kms_cache_entry *e, uint32_t v)
{
	return e->material + (size_t)(v - 1) * KMS_KEY_LEN;
}

int kms_cache_new(struct kms_cache **ret);
void kms_cache_free(struct kms_cache *c); /* NULL is fine; wipes every entry */

/*
 * Finds a key, loading it from store on a miss; on success returns 0 with the cache locked for
 * reading (the entry stays valid until kms_cache_release()).  -ENOENT if the key does not
 * exist, or the store's -errno.
 */
int kms_cache_acquire(struct kms_cache *c, struct kms_store *store, const uint8_t uuid[16],
		      const struct kms_cache_entry **ret);
void kms_cache_release(struct kms_cache *c);

/* Drops a key (state change, rotation, destruction).  Takes the write lock. */
void kms_cache_drop(struct kms_cache *c, const uint8_t uuid[16]);
void kms_cache_drop_id(struct kms_cache *c, const char *id);

#endif
