/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_volume_backend.c — the storage seam of lib/volume (volume/backend.h): a volume on an
 * in-memory backend defined here, so every byte the volume code reads or writes must go through
 * the ops table.  Checks: create/open/attach/I/O/rekey on it, ciphertext (not plaintext) in
 * the store, the zero-sector rule, trim on a backend that cannot discard, extents rebuilt from
 * the backend's own (sub-sector) allocation, a lock conflict naming the backend's holder, and
 * that a failed create removes what it created.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "unit.h"
#include "test_volume_util.h"
#include "util/encoding.h"
#include "volume/backend.h"
#include "volume/header.h"
#include "volume/volume.h"

#define SIZE (UINT64_C(2) << 20)
#define BLOCK 256 /* allocation unit of the memory backend: smaller than a sector */

/* ---- the memory backend ---------------------------------------------------------------- */

struct mem_store {
	bool exists;
	uint8_t *data;
	bool *alloc; /* per BLOCK */
	uint64_t size;
	int lockers;      /* > 0 shared holders, -1 exclusive */
	bool can_discard; /* false: discard says -EOPNOTSUPP */
	unsigned long n_pread, n_pwrite, n_flush, n_discard, n_zeroes, n_extents;
};

static struct mem_store store;
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const LOCATION = "mem:test";

struct mem_backend {
	struct envol_backend base;
	bool locked, exclusive;
};

static struct mem_backend *to_mem(struct envol_backend *b)
{
	return (struct mem_backend *)b;
}

static int mem_pread(struct envol_backend *b, void *buf, size_t len, uint64_t off)
{
	(void)b;
	if (off > store.size || len > store.size - off)
		return -EIO;
	pthread_mutex_lock(&store_lock);
	memcpy(buf, store.data + off, len);
	store.n_pread++;
	pthread_mutex_unlock(&store_lock);
	return 0;
}

/* Marks [off, off+len) allocated (set) or, for whole blocks, not (clear). */
static void mark(uint64_t off, uint64_t len, bool set)
{
	uint64_t first = set ? off / BLOCK : (off + BLOCK - 1) / BLOCK;
	uint64_t last = set ? (off + len + BLOCK - 1) / BLOCK : (off + len) / BLOCK;

	for (uint64_t i = first; i < last; i++)
		store.alloc[i] = set;
}

static int mem_pwrite(struct envol_backend *b, const void *buf, size_t len, uint64_t off)
{
	(void)b;
	if (off > store.size || len > store.size - off)
		return -EIO;
	pthread_mutex_lock(&store_lock);
	memcpy(store.data + off, buf, len);
	mark(off, len, true);
	store.n_pwrite++;
	pthread_mutex_unlock(&store_lock);
	return 0;
}

static int mem_flush(struct envol_backend *b)
{
	(void)b;
	store.n_flush++;
	return 0;
}

static int mem_discard(struct envol_backend *b, uint64_t off, uint64_t len)
{
	(void)b;
	if (!store.can_discard)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&store_lock);
	memset(store.data + off, 0, len);
	mark(off, len, false);
	store.n_discard++;
	pthread_mutex_unlock(&store_lock);
	return 0;
}

static int mem_write_zeroes(struct envol_backend *b, uint64_t off, uint64_t len)
{
	(void)b;
	pthread_mutex_lock(&store_lock);
	memset(store.data + off, 0, len);
	mark(off, len, true);
	store.n_zeroes++;
	pthread_mutex_unlock(&store_lock);
	return 0;
}

/* Runs of BLOCKs, cut at the requested range (which may start or end inside a block). */
static int mem_extents(struct envol_backend *b, uint64_t off, uint64_t len,
		       envol_backend_extent_cb cb, void *opaque)
{
	uint64_t pos = off, end = off + len;

	(void)b;
	store.n_extents++;
	while (pos < end) {
		bool hole = !store.alloc[pos / BLOCK];
		uint64_t next = (pos / BLOCK + 1) * BLOCK;
		int r;

		while (next < end && !store.alloc[next / BLOCK] == hole)
			next += BLOCK;
		if (next > end)
			next = end;
		r = cb(opaque, pos, next - pos, hole);
		if (r != 0)
			return r;
		pos = next;
	}
	return 0;
}

static int mem_size(struct envol_backend *b, uint64_t *ret)
{
	(void)b;
	*ret = store.size;
	return 0;
}

static int mem_lock_acquire(struct envol_backend *b, bool exclusive, char *holder,
			    size_t holder_len)
{
	struct mem_backend *m = to_mem(b);

	if (store.lockers < 0 || (exclusive && store.lockers > 0)) {
		snprintf(holder, holder_len, "client.4242 on host-b");
		return -EBUSY;
	}
	store.lockers = exclusive ? -1 : store.lockers + 1;
	m->locked = true;
	m->exclusive = exclusive;
	return 0;
}

static int mem_lock_release(struct envol_backend *b)
{
	struct mem_backend *m = to_mem(b);

	if (m->locked)
		store.lockers = m->exclusive ? 0 : store.lockers - 1;
	m->locked = false;
	return 0;
}

static int mem_lock_query(struct envol_backend *b, bool *ret_locked, char *holder,
			  size_t holder_len)
{
	(void)b;
	*ret_locked = store.lockers != 0;
	snprintf(holder, holder_len, "%s", store.lockers ? "client.4242 on host-b" : "");
	return 0;
}

static void mem_close(struct envol_backend *b)
{
	mem_lock_release(b);
	free(b);
}

static const struct envol_backend_ops mem_ops = {
	.pread = mem_pread,
	.pwrite = mem_pwrite,
	.flush = mem_flush,
	.discard = mem_discard,
	.write_zeroes = mem_write_zeroes,
	.extents = mem_extents,
	.size = mem_size,
	.lock_acquire = mem_lock_acquire,
	.lock_release = mem_lock_release,
	.lock_query = mem_lock_query,
	.close = mem_close,
};

static int mem_new(struct envol_backend **ret)
{
	struct mem_backend *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->base.ops = &mem_ops;
	*ret = &m->base;
	return 0;
}

static int mem_open(const char *location, bool writable, struct envol_backend **ret, char *err,
		    size_t errlen)
{
	(void)writable;
	if (strcmp(location, LOCATION) != 0 || !store.exists) {
		snprintf(err, errlen, "cannot open %s: no such image", location);
		return -ENOENT;
	}
	return mem_new(ret);
}

/* Creates a store of size bytes, or (size_override) of another size, to test the size check. */
static uint64_t size_override;

static int mem_create(const char *location, uint64_t size, struct envol_backend **ret,
		      bool *ret_created, char *err, size_t errlen)
{
	if (store.exists) {
		snprintf(err, errlen, "%s already exists", location);
		return -EEXIST;
	}
	store.size = size_override ? size_override : size;
	store.data = calloc(1, store.size);
	store.alloc = calloc(store.size / BLOCK + 1, sizeof(bool));
	if (!store.data || !store.alloc)
		return -ENOMEM;
	store.exists = true;
	*ret_created = true;
	return mem_new(ret);
}

static int mem_remove(const char *location)
{
	(void)location;
	free(store.data);
	free(store.alloc);
	memset(&store, 0, sizeof store);
	return 0;
}

static const struct envol_backend_type mem_type = {
	.name = "mem",
	.prefix = "mem:",
	.open = mem_open,
	.create = mem_create,
	.remove = mem_remove,
};

/* ---- helpers ------------------------------------------------------------------------------ */

static uint8_t dek[ENVOL_VOLUME_DEK_SIZE];

static int create_mem_volume(uint32_t sector_size, char *err, size_t errlen)
{
	struct envol_volume_create_params p = { 0 };
	struct envol_context_pair ctx[ENVOL_VOLUME_BOUND_PAIRS];
	struct envol_volume_bound_context bc;
	uint8_t blob[64];

	mem_remove(LOCATION);
	store.can_discard = true;
	fill_random(blob, sizeof blob);
	fill_random(dek, sizeof dek);
	CU_ASSERT_FATAL(envol_uuid_generate(p.uuid) == 0);
	p.n_context = make_context(p.uuid, SIZE, sector_size, false, NULL, 0, &bc, ctx);
	p.path = LOCATION;
	p.size = SIZE;
	p.sector_size = sector_size;
	p.key_arn = "arn:aws:kms:local:000000000000:key/mem";
	p.blob = blob;
	p.blob_len = sizeof blob;
	p.context = ctx;
	return envol_volume_create_with(&mem_type, &p, err, errlen);
}

static struct envol_volume *open_mem(uint32_t sector_size)
{
	struct envol_volume *v = NULL;
	char err[512] = "";
	int r = create_mem_volume(sector_size, err, sizeof err);

	if (r == 0)
		r = envol_volume_open_with(&mem_type, LOCATION, true, &v, err, sizeof err);
	if (r == 0)
		r = envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err);
	if (r < 0)
		fprintf(stderr, "mem volume: %s\n", err);
	CU_ASSERT_FATAL(r == 0);
	return v;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_io_through_ops(void)
{
	struct envol_volume *v = open_mem(4096);
	uint8_t *buf = malloc(64 << 10), *copy = malloc(64 << 10), *back = malloc(64 << 10);
	unsigned long writes;

	CU_ASSERT_FATAL(buf && copy && back);
	CU_ASSERT(store.n_pwrite >= 4); /* two slots at create, two sealing at attach */
	CU_ASSERT(store.n_flush >= 4);
	CU_ASSERT(envol_volume_get_info(v)->mac_pending == false);

	fill_random(buf, 64 << 10);
	memcpy(copy, buf, 64 << 10);
	writes = store.n_pwrite;
	CU_ASSERT_EQUAL(envol_volume_pwrite(v, buf, 64 << 10, 1000, ENVOL_IO_FUA), 0);
	CU_ASSERT(store.n_pwrite > writes);
	/* What the store holds is ciphertext: no 64-byte run of the plaintext is in it. */
	CU_ASSERT_PTR_NULL(memmem(store.data, store.size, copy + 5000, 64));
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 64 << 10, 1000), 0);
	CU_ASSERT_EQUAL(memcmp(back, copy, 64 << 10), 0);
	/* Never-written sectors read as zeros. */
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 4096, SIZE - 4096), 0);
	CU_ASSERT(all_zero(back, 4096));
	envol_volume_close(v);

	/* Reopened read-only (shared lock) from the store alone, it reads the same. */
	CU_ASSERT_EQUAL(envol_volume_open_with(&mem_type, LOCATION, false, &v, NULL, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, NULL, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 64 << 10, 1000), 0);
	CU_ASSERT_EQUAL(memcmp(back, copy, 64 << 10), 0);
	CU_ASSERT_EQUAL(envol_volume_pwrite(v, back, 512, 0, 0), -EROFS);
	envol_volume_close(v);
	free(buf);
	free(copy);
	free(back);
}

static void test_trim_without_discard(void)
{
	struct envol_volume *v = open_mem(512);
	uint8_t *buf = malloc(32 << 10), *back = malloc(32 << 10);

	CU_ASSERT_FATAL(buf && back);
	fill_random(buf, 32 << 10);
	CU_ASSERT_EQUAL(envol_volume_pwrite(v, buf, 32 << 10, 0, 0), 0);

	store.can_discard = false;
	CU_ASSERT_EQUAL(envol_volume_trim(v, 100, 20000, 0), 0);
	CU_ASSERT(store.n_zeroes > 0);
	CU_ASSERT_EQUAL(store.n_discard, 0);
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 32 << 10, 0), 0);
	CU_ASSERT(all_zero(back + 100, 20000));
	CU_ASSERT(!all_zero(back, 100));
	CU_ASSERT(!all_zero(back + 20100, (32 << 10) - 20100));

	store.can_discard = true;
	store.n_zeroes = 0;
	CU_ASSERT_EQUAL(envol_volume_zero(v, 20480, 4096, 0), 0);
	CU_ASSERT(store.n_discard > 0);
	CU_ASSERT_EQUAL(store.n_zeroes, 0);
	CU_ASSERT_EQUAL(envol_volume_zero(v, 24576, 4096, ENVOL_IO_NO_HOLE), 0);
	CU_ASSERT(store.n_zeroes > 0);
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 8192, 20480), 0);
	CU_ASSERT(all_zero(back, 8192));
	envol_volume_close(v);
	free(buf);
	free(back);
}

/* Is sector s of the volume a hole by the store's allocation (all of its blocks free)? */
static bool sector_is_hole(uint64_t s, unsigned S)
{
	uint64_t start = ENVOL_VOLUME_DATA_OFFSET + s * S;

	for (uint64_t b = start / BLOCK; b < (start + S) / BLOCK; b++)
		if (store.alloc[b])
			return false;
	return true;
}

/* The extents of [off, off+len) cover it exactly, alternate, and match the allocation. */
static void check_extents(struct envol_volume *v, uint64_t off, uint64_t len, unsigned S)
{
	struct extent_log l = { 0 };
	uint64_t pos = off;

	CU_ASSERT_EQUAL_FATAL(envol_volume_extents(v, off, len, log_extent, &l), 0);
	CU_ASSERT_FATAL(l.n >= 1);
	for (int k = 0; k < l.n; k++) {
		CU_ASSERT_EQUAL(l.off[k], pos);
		CU_ASSERT(l.len[k] > 0);
		if (k > 0)
			CU_ASSERT(l.hole[k] != l.hole[k - 1]);
		for (uint64_t s = l.off[k] / S; s * S < l.off[k] + l.len[k]; s++)
			if (sector_is_hole(s, S) != l.hole[k]) {
				CU_FAIL("extent kind differs from the store's allocation");
				return;
			}
		pos += l.len[k];
	}
	CU_ASSERT_EQUAL(pos, off + len);
}

static void test_extents_from_backend(void)
{
	struct envol_volume *v = open_mem(4096);
	uint8_t buf[4096];
	unsigned long calls;

	fill_random(buf, sizeof buf);
	CU_ASSERT_EQUAL(envol_volume_pwrite(v, buf, 4096, 8192, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_pwrite(v, buf, 4096, 65536, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_pwrite(v, buf, 4096, 69632, 0), 0);
	calls = store.n_extents;
	check_extents(v, 0, SIZE, 4096);
	CU_ASSERT(store.n_extents > calls);

	/* A backend hole smaller than a sector leaves the sector data. */
	mark(ENVOL_VOLUME_DATA_OFFSET + 65536 + BLOCK, BLOCK, false);
	check_extents(v, 0, SIZE, 4096);
	{
		struct extent_log l = { 0 };

		CU_ASSERT_EQUAL(envol_volume_extents(v, 65536, 8192, log_extent, &l), 0);
		CU_ASSERT_EQUAL(l.n, 1);
		CU_ASSERT(!l.hole[0]);
	}
	/* Whole sectors of a backend hole are a hole; unaligned requests are clipped. */
	mark(ENVOL_VOLUME_DATA_OFFSET + 65536, 4096, false);
	check_extents(v, 0, SIZE, 4096);
	check_extents(v, 1000, 70000, 4096);
	check_extents(v, 65537, 10, 4096);
	{
		struct extent_log l = { 0 };

		CU_ASSERT_EQUAL(envol_volume_extents(v, 65636, 8092, log_extent, &l), 0);
		CU_ASSERT_EQUAL(l.n, 2);
		CU_ASSERT_EQUAL(l.off[0], 65636);
		CU_ASSERT_EQUAL(l.len[0], 69632 - 65636);
		CU_ASSERT(l.hole[0]);
		CU_ASSERT_EQUAL(l.off[1], 69632);
		CU_ASSERT_EQUAL(l.len[1], 4096);
		CU_ASSERT(!l.hole[1]);
	}
	envol_volume_close(v);
}

static void test_lock_names_backend_holder(void)
{
	struct envol_volume *v = NULL, *v2 = NULL;
	char err[512] = "";

	CU_ASSERT_EQUAL(create_mem_volume(512, err, sizeof err), 0);
	CU_ASSERT_EQUAL(envol_volume_open_with(&mem_type, LOCATION, true, &v, NULL, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_open_with(&mem_type, LOCATION, false, &v2, err, sizeof err),
			-EBUSY);
	CU_ASSERT_PTR_NULL(v2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "mem:test is in use by client.4242 on host-b"));
	envol_volume_close(v);
	CU_ASSERT_EQUAL(store.lockers, 0);
	CU_ASSERT_EQUAL(envol_volume_open_with(&mem_type, LOCATION, false, &v, NULL, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_open_with(&mem_type, LOCATION, false, &v2, NULL, 0), 0);
	CU_ASSERT_EQUAL(store.lockers, 2);
	envol_volume_close(v);
	envol_volume_close(v2);
	CU_ASSERT_EQUAL(store.lockers, 0);
}

static void test_failed_create_removes(void)
{
	char err[512] = "";

	size_override = ENVOL_VOLUME_DATA_OFFSET + SIZE - 4096; /* the backend comes up short */
	CU_ASSERT_EQUAL(create_mem_volume(4096, err, sizeof err), -ENOSPC);
	size_override = 0;
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "mem:test has"));
	CU_ASSERT(!store.exists);

	/* Creating over an existing volume fails and leaves it alone. */
	CU_ASSERT_EQUAL(create_mem_volume(4096, err, sizeof err), 0);
	{
		struct envol_volume_create_params p = { .path = LOCATION };
		struct envol_context_pair ctx[ENVOL_VOLUME_BOUND_PAIRS];
		struct envol_volume_bound_context bc;
		uint8_t blob[1] = { 1 };

		CU_ASSERT_FATAL(envol_uuid_generate(p.uuid) == 0);
		p.n_context = make_context(p.uuid, SIZE, 512, false, NULL, 0, &bc, ctx);
		p.size = SIZE;
		p.sector_size = 512;
		p.key_arn = "arn:x";
		p.blob = blob;
		p.blob_len = 1;
		p.context = ctx;
		CU_ASSERT_EQUAL(envol_volume_create_with(&mem_type, &p, err, sizeof err), -EEXIST);
	}
	CU_ASSERT(store.exists);
	CU_ASSERT_EQUAL(memcmp(store.data, ENVOL_HEADER_MAGIC, 8), 0);
}

static void test_location_picks_file(void)
{
	CU_ASSERT_PTR_EQUAL(envol_backend_type_for("/var/lib/envol/volumes/a.vol"),
			    &envol_backend_file);
	CU_ASSERT_PTR_EQUAL(envol_backend_type_for("relative.vol"), &envol_backend_file);
	CU_ASSERT_STRING_EQUAL(envol_backend_file.name, "file");
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "create/open/I/O/read-only through the ops", test_io_through_ops },
		{ "trim/zero: discard, fallback, NO_HOLE", test_trim_without_discard },
		{ "extents from the backend's allocation", test_extents_from_backend },
		{ "lock conflict names the backend's holder", test_lock_names_backend_holder },
		{ "failed create removes; no overwrite", test_failed_create_removes },
		{ "a path is the file backend", test_location_picks_file },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "volume backend", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	int r = unit_run(suites);

	mem_remove(LOCATION);
	return r;
}
