/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * io.c — sector I/O of an attached volume (docs/format.md, "Data area"): AES-256-XTS on the
 * way in and out, read-modify-write of partial sectors under the sector's stripe lock, the
 * zero-sector rule (a stored all-zero sector reads as plaintext zeros), TRIM and WRITE_ZEROES
 * as backend discard/write_zeroes, and BLOCK_STATUS extents shrunk to whole sectors.  Every
 * byte goes through the backend's ops; see internal.h for the locking.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "crypto/xts.h"
#include "util/macros.h"
#include "util/secure_mem.h"
#include "volume/internal.h"

#define MAX_SECTOR 4096

/* ---- the pool of XTS contexts (one per concurrent I/O) ------------------------------------ */

int envol_io_pool_start(struct envol_volume *v, struct envol_xts *x)
{
	int r = 0;

	pthread_mutex_lock(&v->pool_lock);
	v->pool = calloc(4, sizeof(*v->pool));
	if (v->pool) {
		v->cap_pool = 4;
		v->pool[v->n_pool++] = x;
	} else {
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&v->pool_lock);
	return r;
}

void envol_io_pool_free(struct envol_volume *v)
{
	pthread_mutex_lock(&v->pool_lock);
	for (size_t i = 0; i < v->n_pool; i++)
		envol_xts_free(v->pool[i]);
	free(v->pool);
	v->pool = NULL;
	v->n_pool = v->cap_pool = 0;
	pthread_mutex_unlock(&v->pool_lock);
}

static struct envol_xts *xts_get(struct envol_volume *v)
{
	struct envol_xts *x = NULL;

	pthread_mutex_lock(&v->pool_lock);
	if (v->n_pool > 0)
		x = v->pool[--v->n_pool];
	pthread_mutex_unlock(&v->pool_lock);
	if (!x && envol_xts_new(v->dek, ENVOL_VOLUME_DEK_SIZE, v->sector_size, &x) < 0)
		return NULL;
	return x;
}

static void xts_put(struct envol_volume *v, struct envol_xts *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&v->pool_lock);
	if (v->n_pool == v->cap_pool) {
		size_t cap = v->cap_pool ? v->cap_pool * 2 : 4;
		struct envol_xts **p = realloc(v->pool, cap * sizeof(*p));

		if (p) {
			v->pool = p;
			v->cap_pool = cap;
		}
	}
	if (v->n_pool < v->cap_pool) {
		v->pool[v->n_pool++] = x;
		x = NULL;
	}
	pthread_mutex_unlock(&v->pool_lock);
	envol_xts_free(x);
}

/* ---- sectors ------------------------------------------------------------------------------- */

static bool is_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Decrypts n bytes of whole sectors in place; stored all-zero sectors stay plaintext zeros. */
static int decrypt_sectors(struct envol_volume *v, struct envol_xts *x, uint64_t sector,
			   uint8_t *buf, size_t n)
{
	size_t S = v->sector_size, i = 0, count = n / S;

	while (i < count) {
		size_t j;

		if (is_zero(buf + i * S, S)) {
			i++;
			continue;
		}
		for (j = i + 1; j < count && !is_zero(buf + j * S, S); j++)
			;
		if (envol_xts_decrypt(x, sector + i, buf + i * S, (j - i) * S) < 0)
			return -EIO;
		i = j;
	}
	return 0;
}

/* Where sector lives on the backend. */
static uint64_t sector_pos(const struct envol_volume *v, uint64_t sector)
{
	return v->data_offset + sector * v->sector_size;
}

static int read_sectors(struct envol_volume *v, struct envol_xts *x, uint64_t sector,
			uint8_t *buf, size_t n)
{
	struct envol_backend *b = v->backend;
	int r = b->ops->pread(b, buf, n, sector_pos(v, sector));

	if (r < 0)
		return r;
	return decrypt_sectors(v, x, sector, buf, n);
}

/*
 * Read-modify-write of bytes [in, in+n) of one sector under its stripe lock: data == NULL
 * writes zeros there.
 */
static int rmw_sector(struct envol_volume *v, struct envol_xts *x, uint64_t sector, size_t in,
		      const uint8_t *data, size_t n)
{
	uint8_t sec[MAX_SECTOR] __attribute__((aligned(64)));
	pthread_mutex_t *m = &v->stripes[sector % ENVOL_VOLUME_STRIPES];
	struct envol_backend *b = v->backend;
	int r;

	pthread_mutex_lock(m);
	r = read_sectors(v, x, sector, sec, v->sector_size);
	if (r < 0)
		goto out;
	if (data)
		memcpy(sec + in, data, n);
	else
		memset(sec + in, 0, n);
	if (envol_xts_encrypt(x, sector, sec, v->sector_size) < 0) {
		r = -EIO;
		goto out;
	}
	r = b->ops->pwrite(b, sec, v->sector_size, sector_pos(v, sector));
out:
	pthread_mutex_unlock(m);
	envol_wipe(sec, sizeof sec);
	return r;
}

static int check_range(const struct envol_volume *v, uint64_t off, uint64_t len)
{
	if (off > v->size || len > v->size - off)
		return -EINVAL;
	return 0;
}

/* ---- one request: split at sector boundaries ------------------------------------------------ */

struct io_req {
	struct envol_volume *v;
	struct envol_xts *x;
	bool keep_allocated; /* zero with NO_HOLE */
};

/* Bytes [in, in+n) of one sector, from or into p (NULL for trim and zero). */
typedef int (*io_part_fn)(struct io_req *q, uint64_t sector, size_t in, uint8_t *p, size_t n);
/* n bytes of whole sectors from sector on, from or into p (NULL for trim and zero). */
typedef int (*io_whole_fn)(struct io_req *q, uint64_t sector, uint8_t *p, uint64_t n);

/*
 * The one entry of every data path.  Takes key_lock for reading, checks the key, writability
 * (when writing) and the range, takes an XTS context, and hands [off, off+len) to part (a
 * partial sector at the head), whole (the whole sectors) and part (a partial sector at the
 * tail); then FUA, when asked.
 */
static int io_run(struct io_req *q, bool write, uint8_t *p, uint64_t off, uint64_t len,
		  unsigned flags, io_part_fn part, io_whole_fn whole)
{
	struct envol_volume *v = q->v;
	uint64_t S = v->sector_size;
	int r = 0;

	pthread_rwlock_rdlock(&v->key_lock);
	if (!v->dek)
		r = -ENOKEY;
	else if (write && (!v->writable || v->read_only))
		r = -EROFS;
	else
		r = check_range(v, off, len);
	if (r < 0 || len == 0)
		goto out;
	q->x = xts_get(v);
	if (!q->x) {
		r = -ENOMEM;
		goto out;
	}
	if (off % S) {
		size_t in = off % S, n = S - in < len ? S - in : (size_t)len;

		r = part(q, off / S, in, p, n);
		if (r < 0)
			goto out;
		p = p ? p + n : NULL;
		off += n;
		len -= n;
	}
	if (len >= S) {
		uint64_t n = len - len % S;

		r = whole(q, off / S, p, n);
		if (r < 0)
			goto out;
		p = p ? p + n : NULL;
		off += n;
		len -= n;
	}
	if (len > 0) {
		r = part(q, off / S, 0, p, len);
		if (r < 0)
			goto out;
	}
	if (flags & ENVOL_IO_FUA)
		r = v->backend->ops->flush(v->backend);
out:
	xts_put(v, q->x);
	pthread_rwlock_unlock(&v->key_lock);
	return r;
}

static int read_part(struct io_req *q, uint64_t sector, size_t in, uint8_t *p, size_t n)
{
	uint8_t sec[MAX_SECTOR] __attribute__((aligned(64)));
	int r = read_sectors(q->v, q->x, sector, sec, q->v->sector_size);

	if (r == 0)
		memcpy(p, sec + in, n);
	envol_wipe(sec, sizeof sec);
	return r;
}

static int read_whole(struct io_req *q, uint64_t sector, uint8_t *p, uint64_t n)
{
	return read_sectors(q->v, q->x, sector, p, n);
}

int envol_volume_pread(struct envol_volume *v, void *buf, size_t len, uint64_t off)
{
	struct io_req q = { .v = v };

	return io_run(&q, false, buf, off, len, 0, read_part, read_whole);
}

/* Also the partial sectors of trim and zero (p == NULL): they become encrypted zeros. */
static int write_part(struct io_req *q, uint64_t sector, size_t in, uint8_t *p, size_t n)
{
	return rmw_sector(q->v, q->x, sector, in, p, n);
}

static int write_whole(struct io_req *q, uint64_t sector, uint8_t *p, uint64_t n)
{
	struct envol_backend *b = q->v->backend;

	/* Encrypted in the caller's buffer: no copy on the hot path. */
	if (envol_xts_encrypt(q->x, sector, p, n) < 0)
		return -EIO;
	return b->ops->pwrite(b, p, n, sector_pos(q->v, sector));
}

int envol_volume_pwrite(struct envol_volume *v, void *buf, size_t len, uint64_t off,
			unsigned flags)
{
	struct io_req q = { .v = v };

	return io_run(&q, true, buf, off, len, flags, write_part, write_whole);
}

int envol_volume_flush(struct envol_volume *v)
{
	return v->backend->ops->flush(v->backend);
}

/* Whole sectors: stored zero bytes read back as plaintext zeros. */
static int zero_whole(struct io_req *q, uint64_t sector, uint8_t *p, uint64_t n)
{
	struct envol_backend *b = q->v->backend;
	uint64_t pos = sector_pos(q->v, sector);

	(void)p;
	if (!q->keep_allocated && b->ops->discard(b, pos, n) == 0)
		return 0;
	return b->ops->write_zeroes(b, pos, n);
}

int envol_volume_trim(struct envol_volume *v, uint64_t off, uint64_t len, unsigned flags)
{
	struct io_req q = { .v = v };

	return io_run(&q, true, NULL, off, len, flags, write_part, zero_whole);
}

int envol_volume_zero(struct envol_volume *v, uint64_t off, uint64_t len, unsigned flags)
{
	struct io_req q = { .v = v, .keep_allocated = flags & ENVOL_IO_NO_HOLE };

	return io_run(&q, true, NULL, off, len, flags, write_part, zero_whole);
}

/* ---- extents ------------------------------------------------------------------------------- */

/*
 * Turns the backend's extents (bytes, in its address space) into the volume's: a sector is a
 * hole only when all of it is in a backend hole (a partly stored sector does not read as
 * zeros); adjacent extents of the same kind are merged, and the result is clipped to the
 * request [off, end).
 */
struct extent_walk {
	const struct envol_volume *v;
	uint64_t off, end;    /* the request, volume offsets */
	uint64_t pos;         /* volume offset up to which sectors are classified */
	uint64_t cur_start;   /* the extent not yet reported */
	bool cur_hole, have;
	envol_extent_cb cb;
	void *opaque;
};

/* Classifies [start, stop) (sector-aligned, volume offsets) as hole or data. */
static int walk_add(struct extent_walk *w, uint64_t start, uint64_t stop, bool hole)
{
	int r;

	if (start < w->pos)
		start = w->pos;
	if (stop <= start)
		return 0;
	if (w->have && hole != w->cur_hole) {
		uint64_t s = w->cur_start < w->off ? w->off : w->cur_start;

		r = w->cb(w->opaque, s, start - s, w->cur_hole);
		if (r != 0)
			return r;
		w->cur_start = start;
	}
	if (!w->have) {
		w->cur_start = w->off;
		w->have = true;
	}
	w->cur_hole = hole;
	w->pos = stop;
	return 0;
}

static int walk_backend_extent(void *opaque, uint64_t off, uint64_t len, bool hole)
{
	struct extent_walk *w = opaque;
	uint64_t S = w->v->sector_size, a = off - w->v->data_offset, b = a + len;

	if (hole)
		return walk_add(w, (a + S - 1) / S * S, b / S * S, true);
	return walk_add(w, a / S * S, (b + S - 1) / S * S, false);
}

int envol_volume_extents(struct envol_volume *v, uint64_t off, uint64_t len, envol_extent_cb cb,
			 void *opaque)
{
	uint64_t S = v->sector_size;
	struct extent_walk w = { .v = v, .off = off, .end = off + len, .cb = cb, .opaque = opaque };
	struct envol_backend *b = v->backend;
	uint64_t first, last;
	int r;

	r = check_range(v, off, len);
	if (r < 0 || !cb)
		return r < 0 ? r : -EINVAL;
	if (len == 0)
		return 0;
	first = off / S * S;
	last = (w.end + S - 1) / S * S; /* <= size: size is a multiple of S */
	w.pos = first;
	r = b->ops->extents(b, v->data_offset + first, last - first, walk_backend_extent, &w);
	if (r != 0)
		return r < 0 ? r : 0;
	if (w.have) {
		r = cb(opaque, w.cur_start, w.end - w.cur_start, w.cur_hole);
		if (r < 0)
			return r;
	}
	return 0;
}
