/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-rbd-backend.c — the RBD backend (lib/volume/backend-rbd.c) under the volume code, on
 * the test cluster (tests/ceph/cluster.sh) as client.envol, without a KMS (a random DEK):
 *   - locations: malformed ones, a missing pool, a missing image;
 *   - sector I/O at aligned and unaligned offsets across RADOS objects, read back through a
 *     second open (another cluster connection); never-written sectors read as zeros;
 *     TRIM and WRITE_ZEROES (with unaligned edges) read back as zeros; BLOCK_STATUS extents
 *     follow the image's objects (holes where no object exists);
 *   - one writer: a second writable open, and a read-only one, are refused naming the holder
 *     (pid, program, host, client address); query_lock says the same; after close it is free;
 *   - the forced takeover: envol_volume_force_release fences the holder (its next write and
 *     every call after it fail with ESHUTDOWN) and breaks its lock; another open then works
 *     and finds the data flushed before the takeover;
 *   - volume names (locate.c): a new RBD volume, listing, a name taken on the other backend,
 *     a volume in another pool named POOL/NAME; erase and remove.
 * Reads $CEPH_CONF; $ENVOL_CEPH_CLIENT and $ENVOL_CEPH_POOL name the client and pool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "test_volume_util.h"
#include "unit.h"
#include "util/config.h"
#include "util/encoding.h"
#include "util/macros.h"
#include "volume/backend.h"
#include "volume/locate.h"
#include "volume/volume.h"

#define MIB (UINT64_C(1) << 20)
#define VOLUME_SIZE (32 * MIB)
/* The image's RADOS objects are 4 MiB; the data area starts 1 MiB into the image. */
#define OBJECT (4 * MIB)

static const char *client_id;
static const char *pool;
static char conf_file[] = "/tmp/envol-rbd-conf.XXXXXX";
static char volume_dir[] = "/tmp/envol-rbd-vols.XXXXXX";
static uint8_t dek[ENVOL_VOLUME_DEK_SIZE];

/* rbd:POOL/NAME-<pid>.vol */
static void location_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "rbd:%s/%s-%ld.vol", pool, name, (long)getpid());
}

/* A fresh volume at location (sector size 512, MAC pending, its parameters bound). */
static void create_volume(const char *location)
{
	static const uint8_t blob[32] = { 1, 2, 3 };
	struct envol_volume_bound_context bc;
	struct envol_volume_create_params p = {
		.path = location,
		.size = VOLUME_SIZE,
		.sector_size = 512,
		.key_arn = "arn:aws:kms:local:000000000000:key/test",
		.blob = blob,
		.blob_len = sizeof blob,
		.n_context = ENVOL_VOLUME_BOUND_PAIRS,
	};
	char err[512] = "";
	int r;

	CU_ASSERT_FATAL(envol_uuid_generate(p.uuid) == 0);
	CU_ASSERT_FATAL(envol_volume_bound_context(p.uuid, p.size, p.sector_size, false, &bc) ==
			0);
	p.context = bc.pairs;
	(void)envol_volume_erase(location, NULL, 0);
	(void)envol_volume_remove(location, NULL, 0);
	r = envol_volume_create(&p, err, sizeof err);
	if (r < 0)
		printf("    create %s: %s\n", location, err);
	CU_ASSERT_FATAL(r == 0);
}

static struct envol_volume *open_attached(const char *location)
{
	struct envol_volume *v = NULL;
	char err[512] = "";
	int r = envol_volume_open(location, true, &v, err, sizeof err);

	if (r < 0)
		printf("    open %s: %s\n", location, err);
	CU_ASSERT_FATAL(r == 0);
	CU_ASSERT_FATAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err) == 0);
	return v;
}

static void destroy_volume(const char *location)
{
	char err[512] = "";

	CU_ASSERT(envol_volume_erase(location, err, sizeof err) == 0);
	CU_ASSERT(envol_volume_remove(location, err, sizeof err) == 0);
}

/* ---- locations ---- */

static void test_locations(void)
{
	static const char *const bad[] = { "rbd:", "rbd:pool", "rbd:/image", "rbd:pool/",
					   "rbd:a/b/c/d", "rbd:pool//image", "rbd:pool/im@snap" };
	struct envol_backend *b = NULL;
	char err[512], loc[128];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = 0;
		CU_ASSERT(envol_backend_rbd.open(bad[i], false, &b, err, sizeof err) == -EINVAL);
		CU_ASSERT(strstr(err, "is not an RBD location") != NULL);
	}
	CU_ASSERT(envol_backend_type_for("rbd:p/i") == &envol_backend_rbd);
	CU_ASSERT(envol_backend_type_for("/srv/rbd:p/i") == &envol_backend_file);
	CU_ASSERT_STRING_EQUAL(envol_volume_backend_name("rbd:p/i"), "rbd");

	err[0] = 0;
	CU_ASSERT(envol_backend_rbd.open("rbd:no-such-pool/x.vol", false, &b, err, sizeof err) ==
		  -ENOENT);
	CU_ASSERT(strstr(err, "pool no-such-pool does not exist") != NULL);
	location_of(loc, sizeof loc, "missing");
	err[0] = 0;
	CU_ASSERT(envol_backend_rbd.open(loc, true, &b, err, sizeof err) == -ENOENT);
	CU_ASSERT(strstr(err, "cannot open") != NULL);
}

/* ---- I/O ---- */

static void read_expect(struct envol_volume *v, const uint8_t *want, size_t len, uint64_t off)
{
	_cleanup_free_ uint8_t *buf = malloc(len);

	CU_ASSERT_FATAL(buf != NULL);
	memset(buf, 0xa5, len);
	CU_ASSERT_FATAL(envol_volume_pread(v, buf, len, off) == 0);
	if (want ? memcmp(buf, want, len) != 0 : !all_zero(buf, len))
		printf("    %zu bytes at %llu differ from %s\n", len, (unsigned long long)off,
		       want ? "what was written" : "zeros");
	CU_ASSERT(want ? memcmp(buf, want, len) == 0 : all_zero(buf, len));
}

/* Writes n random bytes at off (a copy: pwrite encrypts in place) and returns them. */
static uint8_t *write_random(struct envol_volume *v, size_t n, uint64_t off, unsigned flags)
{
	uint8_t *data = malloc(n), *tmp = malloc(n);

	CU_ASSERT_FATAL(data && tmp);
	fill_random(data, n);
	memcpy(tmp, data, n);
	CU_ASSERT_FATAL(envol_volume_pwrite(v, tmp, n, off, flags) == 0);
	free(tmp);
	return data;
}

static void test_io(void)
{
	/* Volume offsets: the first object boundary of the image is at 3 MiB of the volume. */
	const uint64_t offs[] = { 0, 9000, 3 * MIB - 700, 10 * MIB + 4096, VOLUME_SIZE - 3000 };
	const size_t lens[] = { 8192, 5000, 70001, 512, 3000 };
	_cleanup_free_ uint8_t *zeros = calloc(1, 1 * MIB);
	uint8_t *data[ARRAY_SIZE(offs)];
	struct extent_log x = { 0 };
	struct envol_volume *v;
	char loc[128];

	CU_ASSERT_FATAL(zeros != NULL);
	location_of(loc, sizeof loc, "io");
	create_volume(loc);
	v = open_attached(loc);

	/* A fresh volume reads as zeros and, past the header's object, is all holes. */
	read_expect(v, NULL, 1 * MIB, 5 * MIB);
	CU_ASSERT(envol_volume_extents(v, 3 * MIB, VOLUME_SIZE - 3 * MIB, log_extent, &x) == 0);
	CU_ASSERT(x.n == 1 && x.hole[0] && x.off[0] == 3 * MIB &&
		  x.len[0] == VOLUME_SIZE - 3 * MIB);

	for (size_t i = 0; i < ARRAY_SIZE(offs); i++)
		data[i] = write_random(v, lens[i], offs[i], i % 2 ? ENVOL_IO_FUA : 0);
	CU_ASSERT(envol_volume_flush(v) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++)
		read_expect(v, data[i], lens[i], offs[i]);
	read_expect(v, NULL, 4096, 20 * MIB); /* never written */

	/*
	 * Extents over whole objects: the write across 3 MiB reached the object of volume
	 * 3..7 MiB, the one at 10 MiB that of 7..11 MiB; nothing was written up to 31 MiB.
	 */
	x = (struct extent_log){ 0 };
	CU_ASSERT(envol_volume_extents(v, 3 * MIB, 20 * MIB, log_extent, &x) == 0);
	CU_ASSERT_FATAL(x.n == 2);
	CU_ASSERT(!x.hole[0] && x.off[0] == 3 * MIB && x.len[0] == 2 * OBJECT);
	CU_ASSERT(x.hole[1] && x.off[1] == 11 * MIB && x.len[1] == 12 * MIB);
	envol_volume_close(v);

	/* Another open (its own cluster connection) reads what was flushed. */
	v = open_attached(loc);
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++)
		read_expect(v, data[i], lens[i], offs[i]);

	/* TRIM with unaligned edges, inside written data: zeros there, the rest intact. */
	CU_ASSERT(envol_volume_trim(v, offs[2] + 100, 60000, 0) == 0);
	read_expect(v, data[2], 100, offs[2]);
	read_expect(v, NULL, 60000, offs[2] + 100);
	read_expect(v, data[2] + 60100, lens[2] - 60100, offs[2] + 60100);
	/* WRITE_ZEROES (kept allocated), unaligned. */
	CU_ASSERT(envol_volume_zero(v, offs[0] + 10, 5000, ENVOL_IO_NO_HOLE) == 0);
	read_expect(v, data[0], 10, offs[0]);
	read_expect(v, NULL, 5000, offs[0] + 10);
	read_expect(v, data[0] + 5010, lens[0] - 5010, offs[0] + 5010);
	/* TRIM of a whole object removes it: a hole again. */
	CU_ASSERT(envol_volume_trim(v, 7 * MIB, OBJECT, ENVOL_IO_FUA) == 0);
	read_expect(v, NULL, 4096, 10 * MIB + 4096);
	x = (struct extent_log){ 0 };
	CU_ASSERT(envol_volume_extents(v, 3 * MIB, 20 * MIB, log_extent, &x) == 0);
	CU_ASSERT(x.n == 2 && !x.hole[0] && x.len[0] == OBJECT);
	CU_ASSERT(x.hole[1] && x.off[1] == 7 * MIB && x.len[1] == 16 * MIB);
	/* The header survives all of it. */
	CU_ASSERT(envol_volume_get_info(v)->size == VOLUME_SIZE);
	envol_volume_close(v);

	for (size_t i = 0; i < ARRAY_SIZE(offs); i++)
		free(data[i]);
	destroy_volume(loc);
}

/* ---- one writer ---- */

static void test_one_writer(void)
{
	struct envol_volume *a, *b = NULL;
	char loc[128], err[512] = "", holder[256] = "", pid[32];
	bool locked = false;

	snprintf(pid, sizeof pid, "pid %ld (", (long)getpid());
	location_of(loc, sizeof loc, "lock");
	create_volume(loc);
	a = open_attached(loc);

	CU_ASSERT(envol_volume_open(loc, true, &b, err, sizeof err) == -EBUSY);
	printf("    refused: %s\n", err);
	CU_ASSERT(strstr(err, "is in use by") != NULL);
	CU_ASSERT(strstr(err, pid) != NULL);
	CU_ASSERT(strstr(err, ", client ") != NULL);
	err[0] = 0;
	CU_ASSERT(envol_volume_open(loc, false, &b, err, sizeof err) == -EBUSY);
	CU_ASSERT(strstr(err, pid) != NULL);

	CU_ASSERT(envol_volume_query_lock(loc, &locked, holder, sizeof holder) == 0);
	CU_ASSERT(locked);
	CU_ASSERT(strstr(holder, pid) != NULL);

	envol_volume_close(a);
	CU_ASSERT(envol_volume_query_lock(loc, &locked, holder, sizeof holder) == 0);
	CU_ASSERT(!locked);
	b = open_attached(loc);
	envol_volume_close(b);
	destroy_volume(loc);
}

/* ---- forced takeover ---- */

static void test_force_release(void)
{
	_cleanup_free_ uint8_t *flushed = NULL;
	uint8_t stale[4096], buf[4096];
	struct envol_volume *a, *b;
	char loc[128], err[512] = "", holder[256] = "", pid[32];

	snprintf(pid, sizeof pid, "pid %ld (", (long)getpid());
	location_of(loc, sizeof loc, "takeover");
	create_volume(loc);

	/* Nobody holds it: nothing to release. */
	CU_ASSERT(envol_volume_force_release(loc, holder, sizeof holder, err, sizeof err) == 0);
	CU_ASSERT(holder[0] == 0);

	a = open_attached(loc);
	flushed = write_random(a, 4096, 0, ENVOL_IO_FUA);
	CU_ASSERT(envol_volume_force_release(loc, holder, sizeof holder, err, sizeof err) == 0);
	printf("    fenced: %s\n", holder);
	CU_ASSERT(strstr(holder, pid) != NULL);

	/* A is fenced: its writes fail, now and later. */
	memset(stale, 0x5a, sizeof stale);
	CU_ASSERT(envol_volume_pwrite(a, stale, sizeof stale, 0, 0) == -ESHUTDOWN);
	memset(stale, 0x5a, sizeof stale);
	CU_ASSERT(envol_volume_pwrite(a, stale, sizeof stale, 8192, 0) == -ESHUTDOWN);
	CU_ASSERT(envol_volume_flush(a) == -ESHUTDOWN);
	CU_ASSERT(envol_volume_pread(a, buf, sizeof buf, 0) == -ESHUTDOWN);

	/* B takes over and finds what A flushed, not what A tried after. */
	b = open_attached(loc);
	read_expect(b, flushed, 4096, 0);
	read_expect(b, NULL, 4096, 8192);
	envol_volume_close(a);
	envol_volume_close(b);

	/* The file backend has nothing to release. */
	{
		char path[256];
		FILE *f;

		snprintf(path, sizeof path, "%s/x.vol", volume_dir);
		f = fopen(path, "we");
		CU_ASSERT_FATAL(f != NULL);
		fclose(f);
		err[0] = 0;
		CU_ASSERT(envol_volume_force_release(path, holder, sizeof holder, err, sizeof err) ==
			  -EOPNOTSUPP);
		CU_ASSERT(strstr(err, "nothing to release") != NULL);
		unlink(path);
	}
	destroy_volume(loc);
}

/* ---- names across backends ---- */

static void test_names(void)
{
	_cleanup_free_ char *where = NULL, *ref = NULL, *found = NULL, *file_loc = NULL;
	char name[64], err[512] = "", rbd_err[512] = "", want[128];
	struct envol_config *cfg = NULL;
	struct envol_volume_entry *e = NULL;
	size_t n = 0;
	bool listed = false;
	FILE *f;

	f = fopen(conf_file, "we");
	CU_ASSERT_FATAL(f != NULL);
	fprintf(f, "server: { volume_dir = \"%s\"; };\n", volume_dir);
	fprintf(f, "rbd: { ceph_conf = \"%s\"; client_id = \"%s\"; pool = \"%s\"; };\n",
		getenv("CEPH_CONF"), client_id, pool);
	fclose(f);
	CU_ASSERT_FATAL(envol_config_load(conf_file, &cfg, err, sizeof err) == 0);
	CU_ASSERT(cfg->rbd.enabled);
	CU_ASSERT_STRING_EQUAL(cfg->server.backend, "file");

	snprintf(name, sizeof name, "names-%ld", (long)getpid());
	snprintf(want, sizeof want, "rbd:%s/%s.vol", pool, name);
	CU_ASSERT_FATAL(envol_volume_locate_new(cfg, name, "rbd", NULL, &where, &ref, err,
						sizeof err) == 0);
	CU_ASSERT_STRING_EQUAL(where, want);
	CU_ASSERT_STRING_EQUAL(ref, name);
	create_volume(where);

	/* Found by name, listed, and the name is taken for both backends. */
	CU_ASSERT(envol_volume_locate(cfg, name, &found, err, sizeof err) == 0);
	CU_ASSERT(found && strcmp(found, want) == 0);
	CU_ASSERT_FATAL(envol_volume_list_all(cfg, NULL, &e, &n, rbd_err, sizeof rbd_err) == 0);
	CU_ASSERT(rbd_err[0] == 0);
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].ref, name) == 0 && strcmp(e[i].location, want) == 0)
			listed = true;
	CU_ASSERT(listed);
	envol_volume_entries_free(e, n);
	err[0] = 0;
	CU_ASSERT(envol_volume_locate_new(cfg, name, "file", NULL, &file_loc, &ref, err,
					  sizeof err) == -EEXIST);
	CU_ASSERT(strstr(err, "already exists") != NULL);
	CU_ASSERT(envol_volume_locate_new(cfg, name, NULL, NULL, &file_loc, &ref, err,
					  sizeof err) == -EEXIST);

	/* Another pool: named POOL/NAME (the pool need not exist for the name). */
	free(where);
	free(ref);
	where = ref = NULL;
	CU_ASSERT(envol_volume_locate_new(cfg, "other", "rbd", "elsewhere", &where, &ref, err,
					  sizeof err) == 0);
	CU_ASSERT(where && strcmp(where, "rbd:elsewhere/other.vol") == 0);
	CU_ASSERT(ref && strcmp(ref, "elsewhere/other") == 0);
	free(found);
	found = NULL;
	CU_ASSERT(envol_volume_locate(cfg, "elsewhere/ns1/other", &found, err, sizeof err) == 0);
	CU_ASSERT(found && strcmp(found, "rbd:elsewhere/ns1/other.vol") == 0);
	CU_ASSERT(!envol_volume_ref_valid("a/b/c/d"));
	CU_ASSERT(!envol_volume_ref_valid("pool/.hidden"));
	CU_ASSERT(envol_volume_locate_new(cfg, "x", "file", "p", &where, &ref, err, sizeof err) ==
		  -EINVAL);

	destroy_volume(want);
	free(found);
	found = NULL;
	CU_ASSERT(envol_volume_locate(cfg, name, &found, err, sizeof err) == 0);
	CU_ASSERT(envol_volume_query_lock(found, &listed, NULL, 0) == -ENOENT);
	envol_config_free(cfg);
}

static int suite_init(void)
{
	int fd = mkstemp(conf_file);

	if (fd < 0 || !mkdtemp(volume_dir))
		return -1;
	close(fd);
	if (getrandom(dek, sizeof dek, 0) != (ssize_t)sizeof dek)
		return -1;
	return envol_backend_rbd_setup(getenv("CEPH_CONF"), client_id);
}

static int suite_cleanup(void)
{
	unlink(conf_file);
	rmdir(volume_dir);
	return 0;
}

int main(void)
{
	const char *conf = getenv("CEPH_CONF");
	CU_TestInfo tests[] = {
		{ "locations: malformed, missing pool, missing image", test_locations },
		{ "sector I/O, zeros, trim, write-zeroes, extents", test_io },
		{ "one writer: refused opens name the holder", test_one_writer },
		{ "forced takeover: fence, break, take over", test_force_release },
		{ "names across backends (locate)", test_names },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "rbd-backend", suite_init, suite_cleanup, NULL, NULL, tests },
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
