/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache.c — the cache of unsealed key material (cache.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kms/cache.h"
#include "util/encoding.h"
#include "util/secure_mem.h"

#define CACHE_BUCKETS 256
#define ACQUIRE_ATTEMPTS 5

struct kms_cache {
	pthread_rwlock_t lock;
	struct kms_cache_entry *buckets[CACHE_BUCKETS];
};

static struct kms_cache_entry **slot(struct kms_cache *c, const uint8_t uuid[16])
{
	struct kms_cache_entry **p = &c->buckets[uuid[15]];

	while (*p && memcmp((*p)->uuid, uuid, 16) != 0)
		p = &(*p)->next;
	return p;
}

static void entry_free(struct kms_cache_entry *e)
{
	if (!e)
		return;
	envol_secure_free(e->material);
	free(e);
}

int kms_cache_new(struct kms_cache **ret)
{
	struct kms_cache *c = calloc(1, sizeof(*c));
	pthread_rwlockattr_t ra;

	if (!c)
		return -ENOMEM;
	/* Writers first: a stream of Decrypts must not starve DisableKey. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	*ret = c;
	return 0;
}

void kms_cache_free(struct kms_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		while (c->buckets[i]) {
			struct kms_cache_entry *e = c->buckets[i];

			c->buckets[i] = e->next;
			entry_free(e);
		}
	}
	pthread_rwlock_destroy(&c->lock);
	free(c);
}

void kms_cache_drop(struct kms_cache *c, const uint8_t uuid[16])
{
	struct kms_cache_entry **p, *e;

	pthread_rwlock_wrlock(&c->lock);
	p = slot(c, uuid);
	e = *p;
	if (e)
		*p = e->next;
	pthread_rwlock_unlock(&c->lock);
	entry_free(e);
}

void kms_cache_drop_id(struct kms_cache *c, const char *id)
{
	uint8_t u[16];

	if (envol_uuid_parse(id, u) == 0)
		kms_cache_drop(c, u);
}

/* Loads a key's state and material from the store and (re)places its entry. */
static int load(struct kms_cache *c, struct kms_store *store, const uint8_t uuid[16])
{
	struct kms_cache_entry *e = calloc(1, sizeof(*e)), *old, **p;
	int r;

	if (!e)
		return -ENOMEM;
	memcpy(e->uuid, uuid, 16);
	kms_store_lock(store);
	r = kms_store_material_load(store, uuid, &e->state, &e->n_versions, &e->material);
	if (r < 0) {
		kms_store_unlock(store);
		free(e);
		return r;
	}
	pthread_rwlock_wrlock(&c->lock);
	p = slot(c, uuid);
	old = *p;
	e->next = old ? old->next : NULL;
	*p = e;
	pthread_rwlock_unlock(&c->lock);
	kms_store_unlock(store);
	entry_free(old);
	return 0;
}

int kms_cache_acquire(struct kms_cache *c, struct kms_store *store, const uint8_t uuid[16],
		      const struct kms_cache_entry **ret)
{
	for (int attempt = 0; attempt < ACQUIRE_ATTEMPTS; attempt++) {
		struct kms_cache_entry *e;
		int r;

		pthread_rwlock_rdlock(&c->lock);
		e = *slot(c, uuid);
		if (e) {
			*ret = e;
			return 0;
		}
		pthread_rwlock_unlock(&c->lock);
		r = load(c, store, uuid);
		if (r < 0)
			return r;
	}
	return -EAGAIN;
}

void kms_cache_release(struct kms_cache *c) { pthread_rwlock_unlock(&c->lock); }
