/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-rbd-smoke.c — the librbd and librados primitives the RBD backend and the takeover are
 * built on, against the test cluster (tests/ceph/cluster.sh), as the client key envol gets
 * (client.envol: mon 'profile rbd', osd 'profile rbd pool=envol'):
 *   - sector I/O with rbd_aio_write/rbd_aio_read, several requests in flight, rbd_aio_flush;
 *     never-written ranges read as zeros (thin);
 *   - rbd_aio_write_zeroes (when librbd has it) and rbd_aio_discard read back as zeros;
 *   - rbd_diff_iterate2 reports exactly the written extents;
 *   - one writer: handle A takes the exclusive lock (rbd_lock_acquire), handle B sees A as
 *     the owner (rbd_lock_get_owners) and can neither take the lock nor write; B blocklists A
 *     (rados_blocklist_add), after which A's writes fail (fenced), breaks A's lock and writes.
 * Reads $CEPH_CONF (rados_conf_read_file(NULL)); $ENVOL_CEPH_CLIENT and $ENVOL_CEPH_POOL
 * override the client id and pool (both "envol").  Exit 77 (skip) without a cluster.
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "util/macros.h"

#define OBJECT_ORDER 22 /* 4 MiB RADOS objects, librbd's default */
#define OBJECT_SIZE (UINT64_C(1) << OBJECT_ORDER)
#define IMAGE_SIZE (16 * OBJECT_SIZE)
#define CHUNK (64 * 1024)
#define QUEUE_DEPTH 8
/* What a fenced client's requests fail with (Ceph's include/compat.h; not in librados.h). */
#define EBLOCKLISTED ESHUTDOWN
/* Every RADOS and monitor operation of this test gives up after this many seconds. */
#define OP_TIMEOUT "30"

static const char *client_id;
static const char *pool;

/* One cluster connection: what each envold host will hold. */
struct conn {
	rados_t cluster;
	rados_ioctx_t io;
};

static int conn_open(struct conn *c)
{
	int r;

	*c = (struct conn){ 0 };
	r = rados_create(&c->cluster, client_id);
	if (r < 0)
		return r;
	r = rados_conf_read_file(c->cluster, NULL); /* $CEPH_CONF */
	if (r >= 0)
		r = rados_conf_set(c->cluster, "rados_osd_op_timeout", OP_TIMEOUT);
	if (r >= 0)
		r = rados_conf_set(c->cluster, "rados_mon_op_timeout", OP_TIMEOUT);
	if (r >= 0)
		r = rados_conf_set(c->cluster, "client_mount_timeout", OP_TIMEOUT);
	if (r >= 0)
		r = rados_connect(c->cluster);
	if (r >= 0)
		r = rados_ioctx_create(c->cluster, pool, &c->io);
	if (r < 0) {
		rados_shutdown(c->cluster);
		*c = (struct conn){ 0 };
	}
	return r;
}

static void conn_close(struct conn *c)
{
	if (c->io)
		rados_ioctx_destroy(c->io);
	if (c->cluster)
		rados_shutdown(c->cluster);
	*c = (struct conn){ 0 };
}

/* This connection's client address as the OSDs and the lock see it ("IP:PORT/NONCE"). */
static int conn_addr(struct conn *c, char *buf, size_t len)
{
	char *addrs = NULL;
	const char *a;
	int r;

	r = rados_getaddrs(c->cluster, &addrs);
	if (r < 0)
		return r;
	/* An address vector prints as "[v2:IP:PORT/NONCE,...]"; take the first, bare. */
	a = addrs;
	if (*a == '[')
		a++;
	if (strncmp(a, "v2:", 3) == 0 || strncmp(a, "v1:", 3) == 0)
		a += 3;
	snprintf(buf, len, "%.*s", (int)strcspn(a, ",]"), a);
	free(addrs);
	return 0;
}

static struct conn conn_a, conn_b;

static void fill_random(void *p, size_t n)
{
	CU_ASSERT_FATAL(RAND_bytes(p, (int)n) == 1);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* Waits for completion c and releases it; returns its result. */
static ssize_t aio_wait(rbd_completion_t c)
{
	ssize_t r;

	CU_ASSERT_FATAL(rbd_aio_wait_for_complete(c) == 0);
	r = rbd_aio_get_return_value(c);
	rbd_aio_release(c);
	return r;
}

static rbd_completion_t completion(void)
{
	rbd_completion_t c = NULL;

	CU_ASSERT_FATAL(rbd_aio_create_completion(NULL, NULL, &c) == 0);
	return c;
}

/* r is what submitting a request on c returned: the request's result once done, or r. */
static ssize_t aio_result(int r, rbd_completion_t c)
{
	if (r < 0) {
		rbd_aio_release(c);
		return r;
	}
	return aio_wait(c);
}

/* One request at a time; each returns what its completion says (writes 0, reads the length). */
static ssize_t aio_write(rbd_image_t img, uint64_t off, const void *buf, size_t len)
{
	rbd_completion_t c = completion();

	return aio_result(rbd_aio_write(img, off, len, buf, c), c);
}

static ssize_t aio_read(rbd_image_t img, uint64_t off, void *buf, size_t len)
{
	rbd_completion_t c = completion();

	return aio_result(rbd_aio_read(img, off, len, buf, c), c);
}

static ssize_t aio_flush(rbd_image_t img)
{
	rbd_completion_t c = completion();

	return aio_result(rbd_aio_flush(img, c), c);
}

static ssize_t aio_discard(rbd_image_t img, uint64_t off, uint64_t len)
{
	rbd_completion_t c = completion();

	return aio_result(rbd_aio_discard(img, off, len, c), c);
}

/* A fresh image NAME-<pid> (exclusive-lock, object-map, fast-diff: what the backend creates). */
static void image_create(char *name, size_t len, const char *what)
{
	const uint64_t features = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
				  RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_FAST_DIFF;
	rbd_image_options_t opts;

	snprintf(name, len, "smoke-%s-%ld", what, (long)getpid());
	(void)rbd_remove(conn_b.io, name);
	rbd_image_options_create(&opts);
	CU_ASSERT_FATAL(rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, OBJECT_ORDER) == 0);
	CU_ASSERT_FATAL(rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, features) == 0);
	CU_ASSERT_FATAL(rbd_create4(conn_b.io, name, IMAGE_SIZE, opts) == 0);
	rbd_image_options_destroy(opts);
}

static void image_open(struct conn *c, const char *name, rbd_image_t *img)
{
	CU_ASSERT_FATAL(rbd_open(c->io, name, img, NULL) == 0);
}

/* ---- I/O ---- */

static void test_io(void)
{
	_cleanup_free_ uint8_t *wbuf = malloc(QUEUE_DEPTH * CHUNK);
	_cleanup_free_ uint8_t *rbuf = malloc(QUEUE_DEPTH * CHUNK);
	rbd_completion_t c[QUEUE_DEPTH];
	rbd_image_t img;
	char name[64];
	uint64_t size = 0;
	/* Crosses an object boundary; the rest of the image is never written. */
	const uint64_t base = OBJECT_SIZE - 3 * CHUNK;

	CU_ASSERT_FATAL(wbuf && rbuf);
	image_create(name, sizeof name, "io");
	image_open(&conn_a, name, &img);
	CU_ASSERT(rbd_get_size(img, &size) == 0);
	CU_ASSERT(size == IMAGE_SIZE);

	/* Never written: zeros. */
	memset(rbuf, 0xa5, CHUNK);
	CU_ASSERT(aio_read(img, 5 * OBJECT_SIZE, rbuf, CHUNK) == CHUNK);
	CU_ASSERT(all_zero(rbuf, CHUNK));

	/* QUEUE_DEPTH writes in flight at once, then a flush.  A write completes with 0, a read
	 * with its length. */
	fill_random(wbuf, QUEUE_DEPTH * CHUNK);
	for (int i = 0; i < QUEUE_DEPTH; i++) {
		c[i] = completion();
		CU_ASSERT_FATAL(rbd_aio_write(img, base + (uint64_t)i * CHUNK, CHUNK,
					      (const char *)wbuf + i * CHUNK, c[i]) == 0);
	}
	for (int i = 0; i < QUEUE_DEPTH; i++)
		CU_ASSERT(aio_wait(c[i]) == 0);
	CU_ASSERT(aio_flush(img) == 0);

	/* Read back through a second connection: the data is in the cluster, not a cache. */
	CU_ASSERT(rbd_close(img) == 0);
	image_open(&conn_b, name, &img);
	memset(rbuf, 0, QUEUE_DEPTH * CHUNK);
	for (int i = 0; i < QUEUE_DEPTH; i++) {
		c[i] = completion();
		CU_ASSERT_FATAL(rbd_aio_read(img, base + (uint64_t)i * CHUNK, CHUNK,
					     (char *)rbuf + i * CHUNK, c[i]) == 0);
	}
	for (int i = 0; i < QUEUE_DEPTH; i++)
		CU_ASSERT(aio_wait(c[i]) == CHUNK);
	CU_ASSERT(memcmp(wbuf, rbuf, QUEUE_DEPTH * CHUNK) == 0);

	/* A 512-byte sector in the middle of a chunk. */
	fill_random(wbuf, 512);
	CU_ASSERT(aio_write(img, base + CHUNK + 4096, wbuf, 512) == 0);
	CU_ASSERT(aio_read(img, base + CHUNK + 4096 - 512, rbuf, 1536) == 1536);
	CU_ASSERT(memcmp(rbuf + 512, wbuf, 512) == 0);

	/* A read across the end is clipped to it, as pread(2) would be. */
	CU_ASSERT(aio_read(img, IMAGE_SIZE - 512, rbuf, 1024) == 512);
	CU_ASSERT(rbd_close(img) == 0);
	CU_ASSERT(rbd_remove(conn_b.io, name) == 0);
}

/* ---- zeros, discard, extents ---- */

struct extent {
	uint64_t off, len;
	int exists;
};

struct extents {
	struct extent e[64];
	size_t n;
};

static int extent_cb(uint64_t off, size_t len, int exists, void *arg)
{
	struct extents *x = arg;

	if (x->n == ARRAY_SIZE(x->e))
		return -E2BIG;
	/* Merge with the previous one when adjacent and of the same kind. */
	if (x->n > 0 && x->e[x->n - 1].off + x->e[x->n - 1].len == off &&
	    x->e[x->n - 1].exists == exists) {
		x->e[x->n - 1].len += len;
		return 0;
	}
	x->e[x->n++] = (struct extent){ off, len, exists };
	return 0;
}

static void extents_of(rbd_image_t img, struct extents *x)
{
	*x = (struct extents){ 0 };
	CU_ASSERT_FATAL(rbd_diff_iterate2(img, NULL, 0, IMAGE_SIZE, 1, 0, extent_cb, x) == 0);
	for (size_t i = 0; i < x->n; i++)
		printf("    extent %zu: %#" PRIx64 "+%#" PRIx64 " exists %d\n", i, x->e[i].off,
		       x->e[i].len, x->e[i].exists);
}

static void test_zeroes_discard_extents(void)
{
	_cleanup_free_ uint8_t *wbuf = malloc(OBJECT_SIZE);
	_cleanup_free_ uint8_t *rbuf = malloc(OBJECT_SIZE);
	struct extents x;
	rbd_image_t img;
	char name[64];

	CU_ASSERT_FATAL(wbuf && rbuf);
	image_create(name, sizeof name, "extents");
	image_open(&conn_a, name, &img);

	/* A fresh image has no extents. */
	extents_of(img, &x);
	CU_ASSERT(x.n == 0);

	/* Object 1 entirely, 64 KiB at the start of object 3, 64 KiB at the start of object 9. */
	fill_random(wbuf, OBJECT_SIZE);
	CU_ASSERT(aio_write(img, 1 * OBJECT_SIZE, wbuf, OBJECT_SIZE) == 0);
	CU_ASSERT(aio_write(img, 3 * OBJECT_SIZE, wbuf, CHUNK) == 0);
	CU_ASSERT(aio_write(img, 9 * OBJECT_SIZE, wbuf, CHUNK) == 0);
	CU_ASSERT(aio_flush(img) == 0);
	extents_of(img, &x);
	CU_ASSERT_FATAL(x.n == 3);
	CU_ASSERT(x.e[0].off == 1 * OBJECT_SIZE && x.e[0].len == OBJECT_SIZE && x.e[0].exists);
	CU_ASSERT(x.e[1].off == 3 * OBJECT_SIZE && x.e[1].len == CHUNK && x.e[1].exists);
	CU_ASSERT(x.e[2].off == 9 * OBJECT_SIZE && x.e[2].len == CHUNK && x.e[2].exists);

#if ENVOL_HAVE_RBD_WRITE_ZEROES
	/* Zero 4 KiB inside object 1: zeros there, the data around it intact. */
	{
		rbd_completion_t c = completion();

		CU_ASSERT(aio_result(rbd_aio_write_zeroes(img, OBJECT_SIZE + 8192, 4096, c, 0, 0), c) == 0);
	}
	CU_ASSERT(aio_read(img, OBJECT_SIZE, rbuf, 4 * 4096) == 4 * 4096);
	CU_ASSERT(memcmp(rbuf, wbuf, 8192) == 0);
	CU_ASSERT(all_zero(rbuf + 8192, 4096));
	CU_ASSERT(memcmp(rbuf + 12288, wbuf + 12288, 4096) == 0);
#else
	printf("    rbd_aio_write_zeroes: not in this librbd\n");
#endif

	/* Discard all of object 1 and the 64 KiB in object 9: zeros, and they leave the map. */
	CU_ASSERT(aio_discard(img, 1 * OBJECT_SIZE, OBJECT_SIZE) == 0);
	CU_ASSERT(aio_discard(img, 9 * OBJECT_SIZE, CHUNK) == 0);
	CU_ASSERT(aio_flush(img) == 0);
	memset(rbuf, 0xa5, OBJECT_SIZE);
	CU_ASSERT(aio_read(img, 1 * OBJECT_SIZE, rbuf, OBJECT_SIZE) == (ssize_t)OBJECT_SIZE);
	CU_ASSERT(all_zero(rbuf, OBJECT_SIZE));
	CU_ASSERT(aio_read(img, 9 * OBJECT_SIZE, rbuf, CHUNK) == CHUNK);
	CU_ASSERT(all_zero(rbuf, CHUNK));
	CU_ASSERT(aio_read(img, 3 * OBJECT_SIZE, rbuf, CHUNK) == CHUNK);
	CU_ASSERT(memcmp(rbuf, wbuf, CHUNK) == 0);
	extents_of(img, &x);
	CU_ASSERT_FATAL(x.n == 1);
	CU_ASSERT(x.e[0].off == 3 * OBJECT_SIZE && x.e[0].len == CHUNK && x.e[0].exists);

	CU_ASSERT(rbd_close(img) == 0);
	CU_ASSERT(rbd_remove(conn_b.io, name) == 0);
}

/* ---- one writer: the exclusive lock, blocklisting, breaking the lock ---- */

/* Takes the exclusive lock on img (it must get it), writes fresh data at 0, flushes. */
static void lock_and_write(rbd_image_t img, uint8_t *buf, size_t len)
{
	int owner = -1;

	CU_ASSERT_FATAL(rbd_lock_acquire(img, RBD_LOCK_MODE_EXCLUSIVE) == 0);
	CU_ASSERT(rbd_is_exclusive_lock_owner(img, &owner) == 0);
	CU_ASSERT(owner == 1);
	fill_random(buf, len);
	CU_ASSERT(aio_write(img, 0, buf, len) == 0);
	CU_ASSERT(aio_flush(img) == 0);
}

/* img reads back exactly buf at 0. */
static void expect_data(rbd_image_t img, const uint8_t *buf, size_t len)
{
	uint8_t rbuf[4096];

	CU_ASSERT_FATAL(len <= sizeof rbuf);
	CU_ASSERT(aio_read(img, 0, rbuf, len) == (ssize_t)len);
	CU_ASSERT(memcmp(rbuf, buf, len) == 0);
}

static void test_lock_and_fence(void)
{
	uint8_t wbuf[4096], rbuf[4096], stale[4096];
	char name[64], addr_a[128], addr_b[128], *owners[4];
	size_t n_owners = ARRAY_SIZE(owners);
	rbd_lock_mode_t mode;
	rbd_image_t img_a, img_b;
	int owner = -1;

	memset(stale, 0x5a, sizeof stale); /* what A tries to write once fenced */
	image_create(name, sizeof name, "lock");
	CU_ASSERT_FATAL(conn_addr(&conn_a, addr_a, sizeof addr_a) == 0);
	CU_ASSERT_FATAL(conn_addr(&conn_b, addr_b, sizeof addr_b) == 0);
	CU_ASSERT_FATAL(strcmp(addr_a, addr_b) != 0);

	/* A takes the lock and writes. */
	image_open(&conn_a, name, &img_a);
	lock_and_write(img_a, wbuf, sizeof wbuf);

	/* B sees A as the owner, cannot take the lock, cannot write; it can read. */
	image_open(&conn_b, name, &img_b);
	CU_ASSERT_FATAL(rbd_lock_get_owners(img_b, &mode, owners, &n_owners) == 0);
	CU_ASSERT_FATAL(n_owners == 1);
	printf("    owner %s (A is %s)\n", owners[0], addr_a);
	CU_ASSERT(mode == RBD_LOCK_MODE_EXCLUSIVE);
	CU_ASSERT(strcmp(owners[0], addr_a) == 0);
	CU_ASSERT(rbd_is_exclusive_lock_owner(img_b, &owner) == 0);
	CU_ASSERT(owner == 0);
	/* A holds the lock by request (rbd_lock_acquire), so it declines B's requests for it. */
	CU_ASSERT(rbd_lock_acquire(img_b, RBD_LOCK_MODE_EXCLUSIVE) == -EROFS);
	CU_ASSERT(aio_write(img_b, 0, stale, sizeof stale) == -EROFS);
	expect_data(img_b, wbuf, sizeof wbuf);

	/*
	 * B fences A and takes over, as a forced takeover does.  The blocklist is in
	 * the OSD map once rados_blocklist_add returns; an OSD enforces it once it has that map,
	 * which B's own next request to it guarantees (an OSD catches up to the newest epoch a
	 * request carries before serving it): here the lock break on the image's header object.
	 */
	CU_ASSERT_FATAL(rados_blocklist_add(conn_b.cluster, owners[0], 600) == 0);
	CU_ASSERT_FATAL(rados_wait_for_latest_osdmap(conn_b.cluster) == 0);
	CU_ASSERT_FATAL(rbd_lock_break(img_b, RBD_LOCK_MODE_EXCLUSIVE, owners[0]) == 0);
	rbd_lock_get_owners_cleanup(owners, n_owners);
	CU_ASSERT(aio_write(img_a, 0, stale, sizeof stale) == -EBLOCKLISTED);
	CU_ASSERT(aio_flush(img_a) == -EBLOCKLISTED);
	CU_ASSERT(aio_read(img_a, 0, rbuf, sizeof rbuf) == -EBLOCKLISTED);
	expect_data(img_b, wbuf, sizeof wbuf);
	lock_and_write(img_b, wbuf, sizeof wbuf);
	expect_data(img_b, wbuf, sizeof wbuf);

	/* A stays fenced, and nothing it sent after the blocklist landed. */
	CU_ASSERT(aio_write(img_a, 0, stale, sizeof stale) == -EBLOCKLISTED);
	CU_ASSERT(aio_flush(img_a) == -EBLOCKLISTED);
	expect_data(img_b, wbuf, sizeof wbuf);
	(void)rbd_close(img_a);
	CU_ASSERT(rbd_close(img_b) == 0);
	CU_ASSERT(rbd_remove(conn_b.io, name) == 0);
}

static int suite_init(void)
{
	if (conn_open(&conn_a) < 0 || conn_open(&conn_b) < 0)
		return -1;
	return 0;
}

static int suite_cleanup(void)
{
	conn_close(&conn_a);
	conn_close(&conn_b);
	return 0;
}

int main(void)
{
	const char *conf = getenv("CEPH_CONF");
	CU_TestInfo tests[] = {
		{ "aio write/read/flush, zeros when never written", test_io },
		{ "write_zeroes, discard, diff_iterate2 extents", test_zeroes_discard_extents },
		/* Last: it blocklists connection A. */
		{ "exclusive lock, blocklist fences, lock break", test_lock_and_fence },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "rbd", suite_init, suite_cleanup, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};

	if (!conf || access(conf, R_OK) < 0) {
		printf("skipped: no test cluster ($CEPH_CONF is unset or unreadable; see "
		       "tests/ceph/cluster.sh)\n");
		return 77;
	}
	client_id = getenv("ENVOL_CEPH_CLIENT") ?: "envol";
	pool = getenv("ENVOL_CEPH_POOL") ?: "envol";
	return unit_run(suites);
}
