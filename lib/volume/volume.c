/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume.c — an envol volume's lifecycle (format v1, docs/format.md): create, open and close
 * on a backend, attach and detach the DEK (authenticating the header: encryption context
 * binding and MAC, sealing a bound MAC-pending header), rewrap (rekey, upgrade), and
 * what the header says (info).  Header slots are slots.c's, sector I/O is io.c's, the storage
 * is the backend's (backend.h).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "crypto/xts.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/macros.h"
#include "util/secure_mem.h"
#include "volume/internal.h"

void envol_volume_refresh_info(struct envol_volume *v)
{
	struct envol_volume_header *h = v->hdr;
	struct envol_volume_info *i = &v->info;

	memcpy(i->uuid, h->uuid, 16);
	envol_uuid_format(h->uuid, i->uuid_str);
	i->size = h->size;
	i->sector_size = h->sector_size;
	i->data_offset = h->data_offset;
	i->sequence = h->sequence;
	i->created = h->created;
	i->cipher = h->cipher;
	i->key_arn = h->key_arn;
	i->blob = h->blob;
	i->blob_len = h->blob_len;
	for (size_t k = 0; k < h->n_context; k++) {
		v->pairs[k].key = h->context[k].key;
		v->pairs[k].value = h->context[k].value;
	}
	i->context = v->pairs;
	i->n_context = h->n_context;
	i->read_only = h->flags & ENVOL_HEADER_FLAG_READ_ONLY;
	i->mac_pending = h->flags & ENVOL_HEADER_FLAG_MAC_PENDING;
	i->bound = envol_header_check_binding(h, NULL, 0) == 1;
}

int envol_volume_open_backend(const struct envol_backend_type *type, const char *location,
			      bool writable, struct envol_backend **ret, uint64_t *ret_size,
			      char *err, size_t errlen)
{
	struct envol_backend *b = NULL;
	int r;

	r = type->open(location, writable, &b, err, errlen);
	if (r < 0)
		return r;
	r = b->ops->size(b, ret_size);
	if (r < 0) {
		b->ops->close(b);
		return envol_fail(r, err, errlen, "%s is not a regular file or block device",
				  location);
	}
	*ret = b;
	return 0;
}

/* The key ARN and CiphertextBlob a header may hold (create and rekey). */
static int check_key_params(const char *key_arn, size_t blob_len, char *err, size_t errlen)
{
	size_t arn_len = strlen(key_arn);

	if (arn_len == 0 || arn_len > ENVOL_VOLUME_MAX_KEY_ARN)
		return envol_fail(-EINVAL, err, errlen, "key ARN length %zu is not 1..%d", arn_len,
				  ENVOL_VOLUME_MAX_KEY_ARN);
	if (blob_len == 0 || blob_len > ENVOL_VOLUME_MAX_BLOB)
		return envol_fail(-EINVAL, err, errlen, "CiphertextBlob length %zu is not 1..%d",
				  blob_len, ENVOL_VOLUME_MAX_BLOB);
	return 0;
}

int envol_volume_bound_context(const uint8_t uuid[16], uint64_t size, uint32_t sector_size,
			       bool read_only, struct envol_volume_bound_context *ret)
{
	_cleanup_free_ struct envol_volume_header *h = NULL;
	struct envol_volume_bound_context c = { 0 };

	if (!uuid || !ret || (sector_size != 512 && sector_size != 4096))
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->size = size;
	h->sector_size = sector_size;
	h->data_offset = ENVOL_VOLUME_DATA_OFFSET;
	h->flags = read_only ? ENVOL_HEADER_FLAG_READ_ONLY : 0;
	strcpy(h->cipher, ENVOL_VOLUME_CIPHER);
	envol_uuid_format(uuid, c.values[0]);
	c.pairs[0].key = ENVOL_VOLUME_CONTEXT_VOLUME_ID;
	for (size_t i = 0; i < ENVOL_HEADER_BOUND_PARAMS; i++)
		envol_header_bound_param(h, i, &c.pairs[i + 1].key, c.values[i + 1],
					 sizeof c.values[i + 1]);
	*ret = c;
	for (size_t i = 0; i < ENVOL_VOLUME_BOUND_PAIRS; i++)
		ret->pairs[i].value = ret->values[i];
	return 0;
}

/* A header about to be written must bind its parameters (create, rewrap). */
static int require_binding(const struct envol_volume_header *h, char *err, size_t errlen)
{
	int r = envol_header_check_binding(h, err, errlen);

	if (r == 1)
		return 0;
	if (r == 0)
		envol_set_error(err, errlen, "the encryption context does not bind the volume's "
					     "parameters (envol:size, envol:sector-size, ...)");
	return -EINVAL;
}

/* The first header of a new volume (MAC pending, sequence 1), validated. */
static int new_header(const struct envol_volume_create_params *p, struct envol_volume_header *h,
		      char *err, size_t errlen)
{
	time_t now = envol_clock_now();
	int r;

	r = check_key_params(p->key_arn, p->blob_len, err, errlen);
	if (r < 0)
		return r;
	if (p->n_context > ENVOL_VOLUME_MAX_CONTEXT)
		return envol_fail(-EINVAL, err, errlen, "%zu encryption context pairs, at most %d",
				  p->n_context, ENVOL_VOLUME_MAX_CONTEXT);
	for (size_t i = 0; i < p->n_context; i++) {
		const struct envol_context_pair *c = &p->context[i];

		if (!c->key || !c->value || strlen(c->key) > ENVOL_HEADER_MAX_CONTEXT_KEY ||
		    strlen(c->value) > ENVOL_HEADER_MAX_CONTEXT_VALUE)
			return envol_fail(-EINVAL, err, errlen,
					  "encryption context pair %zu is missing or too long "
					  "(key <= %d, value <= %d bytes)",
					  i, ENVOL_HEADER_MAX_CONTEXT_KEY,
					  ENVOL_HEADER_MAX_CONTEXT_VALUE);
		strcpy(h->context[i].key, c->key);
		strcpy(h->context[i].value, c->value);
	}
	h->n_context = p->n_context;
	h->sequence = 1;
	h->flags = ENVOL_HEADER_FLAG_MAC_PENDING | (p->read_only ? ENVOL_HEADER_FLAG_READ_ONLY : 0);
	h->sector_size = p->sector_size;
	memcpy(h->uuid, p->uuid, 16);
	h->size = p->size;
	h->data_offset = ENVOL_VOLUME_DATA_OFFSET;
	h->created = now > 0 ? (uint64_t)now : 0;
	strcpy(h->cipher, ENVOL_VOLUME_CIPHER);
	memcpy(h->key_arn, p->key_arn, strlen(p->key_arn) + 1);
	memcpy(h->blob, p->blob, p->blob_len);
	h->blob_len = p->blob_len;
	r = envol_header_validate(h, err, errlen);
	if (r < 0)
		return r;
	return require_binding(h, err, errlen);
}

/*
 * Makes a volume of h on b (created: new storage that reads as zeros; else reused storage to
 * check and zero): lock, both slots, flush.
 */
static int write_new_volume(struct envol_backend *b, bool created, const char *location,
			    struct envol_volume_header *h, char *err, size_t errlen)
{
	uint64_t end = h->data_offset + h->size, dev_size = 0; /* no overflow: size <= 2^62 */
	int r;

	r = envol_volume_lock(b, true, location, err, errlen);
	if (r < 0)
		return r;
	r = b->ops->size(b, &dev_size);
	if (r < 0)
		return envol_fail(r, err, errlen, "%s: %s", location, strerror(-r));
	if (dev_size < end)
		return envol_fail(-ENOSPC, err, errlen, "%s has %llu bytes, the volume needs %llu",
				  location, (unsigned long long)dev_size, (unsigned long long)end);
	if (!created) {
		/* Old contents must not decrypt to garbage: a fresh volume reads as zeros. */
		r = b->ops->write_zeroes(b, 0, end);
		if (r < 0)
			return envol_fail(r, err, errlen, "zeroing %s: %s", location, strerror(-r));
	}
	r = envol_slots_write(b, 0, h, err, errlen);
	if (r < 0)
		return r;
	/* Slot B: the same header with sequence 0, a fallback if slot A is ever damaged. */
	h->sequence = 0;
	r = envol_slots_write(b, 1, h, err, errlen);
	if (r < 0)
		return r;
	r = b->ops->flush(b);
	if (r < 0)
		return envol_fail(r, err, errlen, "flushing %s: %s", location, strerror(-r));
	return 0;
}

int envol_volume_create_with(const struct envol_backend_type *type,
			     const struct envol_volume_create_params *p, char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *h = NULL;
	struct envol_backend *b = NULL;
	bool created = false;
	int r;

	if (!type || !p || !p->path || !p->key_arn || (!p->blob && p->blob_len) ||
	    (!p->context && p->n_context))
		return envol_fail(-EINVAL, err, errlen, "missing parameters");
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	r = new_header(p, h, err, errlen);
	if (r < 0)
		return r;
	r = type->create(p->path, h->data_offset + h->size, &b, &created, err, errlen);
	if (r < 0)
		return r;
	r = write_new_volume(b, created, p->path, h, err, errlen);
	b->ops->close(b);
	if (r < 0 && created)
		(void)type->remove(p->path);
	return r;
}

int envol_volume_create(const struct envol_volume_create_params *p, char *err, size_t errlen)
{
	return envol_volume_create_with(envol_backend_type_for(p ? p->path : NULL), p, err,
					errlen);
}

int envol_volume_open_with(const struct envol_backend_type *type, const char *location,
			   bool writable, struct envol_volume **ret, char *err, size_t errlen)
{
	struct envol_volume *v = NULL;
	uint64_t end;
	int r;

	if (!type || !location || !ret)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->hdr_lock, NULL);
	pthread_mutex_init(&v->pool_lock, NULL);
	pthread_rwlock_init(&v->key_lock, NULL);
	for (int i = 0; i < ENVOL_VOLUME_STRIPES; i++)
		pthread_mutex_init(&v->stripes[i], NULL);
	v->writable = writable;
	v->hdr = calloc(1, sizeof(*v->hdr));
	if (!v->hdr) {
		r = -ENOMEM;
		goto fail;
	}
	r = envol_volume_open_backend(type, location, writable, &v->backend, &v->dev_size, err,
				      errlen);
	if (r < 0)
		goto fail;
	r = envol_volume_lock(v->backend, writable, location, err, errlen);
	if (r < 0)
		goto fail;
	r = envol_slots_pick(v->backend, v->dev_size, location, v->hdr, &v->slot, err, errlen);
	if (r < 0)
		goto fail;
	end = v->hdr->data_offset + v->hdr->size;
	if (v->dev_size < end) {
		envol_set_error(err, errlen,
				"%s is truncated: %llu bytes, but the header says the data area "
				"ends at %llu",
				location, (unsigned long long)v->dev_size, (unsigned long long)end);
		r = -EBADMSG;
		goto fail;
	}
	v->sector_size = v->hdr->sector_size;
	v->size = v->hdr->size;
	v->data_offset = v->hdr->data_offset;
	v->read_only = v->hdr->flags & ENVOL_HEADER_FLAG_READ_ONLY;
	envol_volume_refresh_info(v);
	*ret = v;
	return 0;
fail:
	envol_volume_close(v);
	return r;
}

int envol_volume_exists(const char *location)
{
	struct envol_backend *b = NULL;
	int r;

	if (!location)
		return -EINVAL;
	r = envol_backend_type_for(location)->open(location, false, &b, NULL, 0);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	b->ops->close(b);
	return 1;
}

int envol_volume_remove(const char *location, char *err, size_t errlen)
{
	int r;

	if (!location)
		return -EINVAL;
	r = envol_backend_type_for(location)->remove(location);
	if (r < 0)
		envol_set_error(err, errlen, "cannot remove %s: %s", location, strerror(-r));
	return r;
}

const char *envol_volume_backend_name(const char *location)
{
	return envol_backend_type_for(location)->name;
}

int envol_volume_open(const char *location, bool writable, struct envol_volume **ret, char *err,
		      size_t errlen)
{
	return envol_volume_open_with(envol_backend_type_for(location), location, writable, ret,
				      err, errlen);
}

const struct envol_volume_info *envol_volume_get_info(const struct envol_volume *v)
{
	return &v->info;
}

void envol_volume_detach_key(struct envol_volume *v)
{
	if (!v)
		return;
	pthread_rwlock_wrlock(&v->key_lock);
	envol_io_pool_free(v);
	v->dek = envol_secure_free(v->dek);
	v->mac_key = envol_secure_free(v->mac_key);
	pthread_rwlock_unlock(&v->key_lock);
}

void envol_volume_close(struct envol_volume *v)
{
	if (!v)
		return;
	envol_volume_detach_key(v);
	if (v->backend)
		v->backend->ops->close(v->backend); /* releases the lock */
	pthread_mutex_destroy(&v->hdr_lock);
	pthread_mutex_destroy(&v->pool_lock);
	pthread_rwlock_destroy(&v->key_lock);
	for (int i = 0; i < ENVOL_VOLUME_STRIPES; i++)
		pthread_mutex_destroy(&v->stripes[i]);
	free(v->hdr);
	free(v);
}

bool envol_volume_key_attached(const struct envol_volume *v)
{
	bool r;

	pthread_rwlock_rdlock((pthread_rwlock_t *)&v->key_lock);
	r = v->dek != NULL;
	pthread_rwlock_unlock((pthread_rwlock_t *)&v->key_lock);
	return r;
}

/* ---- key ----------------------------------------------------------------------------------- */

static int derive_mac_key(const uint8_t *dek, const uint8_t uuid[16], uint8_t *out)
{
	static const char info[] = ENVOL_HEADER_MAC_INFO;

	return envol_hkdf_sha256(uuid, 16, dek, ENVOL_VOLUME_DEK_SIZE, (const uint8_t *)info,
				 sizeof info - 1, out, 32);
}

/* Checks the sealed header's MAC under mk. */
static int check_mac(const struct envol_volume_header *h, const uint8_t *mk, char *err,
		     size_t errlen)
{
	uint8_t mac[ENVOL_HEADER_MAC_SIZE];
	int r;

	r = envol_header_compute_mac(h, mk, mac);
	if (r < 0)
		r = envol_fail(r, err, errlen, "computing the header MAC failed");
	else if (!envol_memequal_consttime(mac, h->mac, sizeof mac))
		r = envol_fail(-EBADMSG, err, errlen,
			       "header MAC mismatch: wrong key or tampered header");
	envol_wipe(mac, sizeof mac);
	return r;
}

/*
 * Authenticates the header in use before any sector is served (hdr_lock held), with the DEK's
 * MAC key mk; the caller got the DEK by a KMS Decrypt that authenticated the header's
 * encryption context (docs/format.md, "What authenticates the header"):
 *  - bound context (every parameter pair present): each field that decides how sectors are
 *    read must equal its pair, else -EBADMSG.  Then a sealed header's MAC must match; a
 *    MAC-pending one is sealed by a writable attach.  Sealing trusts no flag: everything that
 *    decides how sectors are read was just authenticated through the KMS, and the MAC only
 *    adds the informational fields (key ARN, creation time).
 *  - unbound context (a volume from before binding): the MAC must match; a MAC-pending header
 *    is authenticated by nothing, so it is refused (-EKEYREJECTED), never sealed.
 */
static int authenticate_header(struct envol_volume *v, const uint8_t *mk, char *err,
			       size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *nh = NULL;
	int bound, r = 0;

	bound = envol_header_check_binding(v->hdr, err, errlen);
	if (bound < 0)
		return bound;
	if (!(v->hdr->flags & ENVOL_HEADER_FLAG_MAC_PENDING))
		return check_mac(v->hdr, mk, err, errlen);
	if (!bound)
		return envol_fail(-EKEYREJECTED, err, errlen,
				  "the header's MAC is pending and its encryption context does "
				  "not bind the volume's parameters (a volume created or rekeyed "
				  "by an older envol), so nothing authenticates it; check its "
				  "parameters and run: envolctl volume upgrade NAME");
	if (!v->writable)
		return 0; /* read-only: the bound fields are authenticated; seal another time */
	nh = calloc(1, sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	/*
	 * Seal into both slots one after the other, so no MAC-pending copy stays behind (an
	 * older bound slot would still be checked against its context, but a sealed pair is
	 * simpler to reason about).
	 */
	for (int copy = 0; copy < 2 && r == 0; copy++) {
		*nh = *v->hdr;
		nh->flags &= ~ENVOL_HEADER_FLAG_MAC_PENDING;
		r = envol_slots_commit(v, nh, mk, err, errlen);
	}
	return r;
}

int envol_volume_attach_key(struct envol_volume *v, const uint8_t *dek, size_t dek_len, char *err,
			    size_t errlen)
{
	_cleanup_secure_ uint8_t *k = NULL, *mk = NULL;
	struct envol_xts *x = NULL;
	int r;

	if (!v || !dek || dek_len != ENVOL_VOLUME_DEK_SIZE)
		return envol_fail(-EINVAL, err, errlen, "the data key must be %d bytes",
				  ENVOL_VOLUME_DEK_SIZE);
	k = envol_secure_alloc(ENVOL_VOLUME_DEK_SIZE);
	mk = envol_secure_alloc(32);
	if (!k || !mk)
		return envol_fail(-ENOMEM, err, errlen,
				  "cannot allocate locked memory for the data key");
	memcpy(k, dek, ENVOL_VOLUME_DEK_SIZE);

	pthread_rwlock_wrlock(&v->key_lock);
	pthread_mutex_lock(&v->hdr_lock);
	if (v->dek) {
		r = envol_fail(-EALREADY, err, errlen, "a key is already attached");
		goto out;
	}
	r = derive_mac_key(k, v->hdr->uuid, mk);
	if (r < 0) {
		envol_set_error(err, errlen, "HKDF failed");
		goto out;
	}
	r = envol_xts_new(k, ENVOL_VOLUME_DEK_SIZE, v->sector_size, &x);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot set up AES-XTS with this key: %s", strerror(-r));
		goto out;
	}
	r = authenticate_header(v, mk, err, errlen);
	if (r < 0)
		goto out;
	r = envol_io_pool_start(v, x);
	if (r < 0)
		goto out;
	x = NULL; /* the pool's now */
	v->dek = TAKE_PTR(k);
	v->mac_key = TAKE_PTR(mk);
out:
	envol_xts_free(x);
	pthread_mutex_unlock(&v->hdr_lock);
	pthread_rwlock_unlock(&v->key_lock);
	return r;
}

int envol_volume_rewrap(struct envol_volume *v, const char *key_arn, const uint8_t *blob,
			size_t blob_len, const struct envol_context_pair *context, size_t n_context,
			char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *nh = NULL;
	int r;

	if (!v || !key_arn || !blob || (!context && n_context))
		return -EINVAL;
	if (!v->writable)
		return envol_fail(-EROFS, err, errlen, "the volume is open read-only");
	r = check_key_params(key_arn, blob_len, err, errlen);
	if (r < 0)
		return r;
	if (n_context > ENVOL_VOLUME_MAX_CONTEXT)
		return envol_fail(-EINVAL, err, errlen, "%zu encryption context pairs, at most %d",
				  n_context, ENVOL_VOLUME_MAX_CONTEXT);
	nh = calloc(1, sizeof(*nh));
	if (!nh)
		return -ENOMEM;

	pthread_rwlock_rdlock(&v->key_lock);
	pthread_mutex_lock(&v->hdr_lock);
	*nh = *v->hdr;
	memset(nh->key_arn, 0, sizeof nh->key_arn);
	memcpy(nh->key_arn, key_arn, strlen(key_arn));
	memset(nh->blob, 0, sizeof nh->blob);
	memcpy(nh->blob, blob, blob_len);
	nh->blob_len = blob_len;
	memset(nh->mac, 0, sizeof nh->mac);
	r = 0;
	if (context) {
		memset(nh->context, 0, sizeof nh->context);
		for (size_t i = 0; i < n_context && r == 0; i++) {
			const struct envol_context_pair *c = &context[i];

			if (!c->key || !c->value || strlen(c->key) > ENVOL_HEADER_MAX_CONTEXT_KEY ||
			    strlen(c->value) > ENVOL_HEADER_MAX_CONTEXT_VALUE) {
				r = envol_fail(-EINVAL, err, errlen,
					       "encryption context pair %zu is missing or too long",
					       i);
				break;
			}
			strcpy(nh->context[i].key, c->key);
			strcpy(nh->context[i].value, c->value);
		}
		nh->n_context = n_context;
	}
	if (v->mac_key)
		nh->flags &= ~ENVOL_HEADER_FLAG_MAC_PENDING;
	else
		nh->flags |= ENVOL_HEADER_FLAG_MAC_PENDING;
	if (r == 0)
		r = envol_header_validate(nh, err, errlen);
	if (r == 0)
		r = require_binding(nh, err, errlen);
	if (r == 0)
		r = envol_slots_commit(v, nh, v->mac_key, err, errlen);
	pthread_mutex_unlock(&v->hdr_lock);
	pthread_rwlock_unlock(&v->key_lock);
	return r;
}

int envol_volume_update_key(struct envol_volume *v, const char *key_arn, const uint8_t *blob,
			    size_t blob_len, char *err, size_t errlen)
{
	return envol_volume_rewrap(v, key_arn, blob, blob_len, NULL, 0, err, errlen);
}
