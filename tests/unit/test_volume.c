/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_volume.c — lib/volume on real files (the file backend): create/open/info, the two-slot
 * update protocol (bit flips in every header byte, torn writes), the MAC and its pending state,
 * wrong DEKs, I/O at odd offsets, zeros for never-written and trimmed ranges, holes really punched,
 * extents, concurrent read-modify-write writers, the OFD lock naming its holder, erase.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "crypto/hkdf.h"
#include "util/macros.h"
#include "util/encoding.h"
#include "unit.h"
#include "test_volume_util.h"
#include "volume/volume.h"
#include "volume/header.h"

static char dir[64];
static char path[128];
static uint8_t dek[ENVOL_VOLUME_DEK_SIZE];
static char uuid_str[37];

#define SIZE (UINT64_C(8) << 20)

/*
 * A fake KMS, standing in for envold's Decrypt: it remembers the last blob it "wrapped" and the
 * encryption context it was wrapped with; unwrapping needs the same blob and context (the
 * context is the real KMS's AAD) and gives dek.
 */
static struct {
	uint8_t blob[90];
	char context[4096];
} fake;

/* The context as sorted "key=value" lines. */
static void canonical(const struct envol_context_pair *c, size_t n, char *out, size_t len)
{
	bool used[ENVOL_VOLUME_MAX_CONTEXT] = { false };
	size_t pos = 0;

	CU_ASSERT_FATAL(n <= ENVOL_VOLUME_MAX_CONTEXT);
	out[0] = 0;
	for (size_t k = 0; k < n; k++) {
		size_t best = n;

		for (size_t i = 0; i < n; i++)
			if (!used[i] && (best == n || strcmp(c[i].key, c[best].key) < 0))
				best = i;
		used[best] = true;
		pos += (size_t)snprintf(out + pos, len - pos, "%s=%s\n", c[best].key,
					c[best].value);
		CU_ASSERT_FATAL(pos < len);
	}
}

static void fake_wrap(const struct envol_context_pair *c, size_t n)
{
	fill_random(fake.blob, sizeof fake.blob);
	canonical(c, n, fake.context, sizeof fake.context);
}

/* envold's attach: Decrypt of the header's blob with the header's context, then attach_key. */
static int fake_attach(struct envol_volume *v, char *err, size_t len)
{
	const struct envol_volume_info *i = envol_volume_get_info(v);
	char ctx[4096];

	canonical(i->context, i->n_context, ctx, sizeof ctx);
	if (i->blob_len != sizeof fake.blob || memcmp(i->blob, fake.blob, sizeof fake.blob) != 0 ||
	    strcmp(ctx, fake.context) != 0) {
		snprintf(err, len, "InvalidCiphertextException");
		return -EBADMSG;
	}
	return envol_volume_attach_key(v, dek, ENVOL_VOLUME_DEK_SIZE, err, len);
}

static int create_volume_ex(uint32_t sector_size, uint64_t size, bool ro, char *err, size_t len)
{
	struct envol_volume_create_params p = { 0 };
	static const struct envol_context_pair purpose = { "purpose", "unit test" };
	struct envol_context_pair ctx[1 + ENVOL_VOLUME_BOUND_PAIRS];
	struct envol_volume_bound_context bc;

	(void)unlink(path);
	CU_ASSERT_FATAL(envol_uuid_generate(p.uuid) == 0);
	envol_uuid_format(p.uuid, uuid_str);
	p.n_context = make_context(p.uuid, size, sector_size, ro, &purpose, 1, &bc, ctx);
	fake_wrap(ctx, p.n_context);
	p.path = path;
	p.size = size;
	p.sector_size = sector_size;
	p.key_arn = "arn:aws:kms:local:000000000000:key/test";
	p.blob = fake.blob;
	p.blob_len = sizeof fake.blob;
	p.context = ctx;
	p.read_only = ro;
	return envol_volume_create(&p, err, len);
}

static void create_volume(uint32_t sector_size)
{
	char err[256] = "";
	int r = create_volume_ex(sector_size, SIZE, false, err, sizeof err);

	if (r < 0)
		fprintf(stderr, "create: %s\n", err);
	CU_ASSERT_FATAL(r == 0);
	fill_random(dek, sizeof dek);
}

static struct envol_volume *open_vol(bool writable)
{
	struct envol_volume *v = NULL;
	char err[512] = "";
	int r = envol_volume_open(path, writable, &v, err, sizeof err);

	if (r < 0)
		fprintf(stderr, "open: %s\n", err);
	CU_ASSERT_FATAL(r == 0);
	return v;
}

static struct envol_volume *open_attached(bool writable)
{
	struct envol_volume *v = open_vol(writable);
	char err[512] = "";
	int r = envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err);

	if (r < 0)
		fprintf(stderr, "attach: %s\n", err);
	CU_ASSERT_FATAL(r == 0);
	return v;
}

static int suite_init(void)
{
	strcpy(dir, "/tmp/envol-test-volume.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/v.vol", dir);
	return 0;
}

static int suite_clean(void)
{
	(void)unlink(path);
	return rmdir(dir);
}

static void test_create_open_info(void)
{
	struct envol_volume *v;
	const struct envol_volume_info *i;
	struct stat st;
	char err[256] = "";

	create_volume(4096);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL((uint64_t)st.st_size, ENVOL_VOLUME_DATA_OFFSET + SIZE);
	CU_ASSERT(st.st_blocks * 512 < 1 << 20); /* sparse */
	v = open_vol(false);
	i = envol_volume_get_info(v);
	CU_ASSERT_STRING_EQUAL(i->uuid_str, uuid_str);
	CU_ASSERT_EQUAL(i->size, SIZE);
	CU_ASSERT_EQUAL(i->sector_size, 4096);
	CU_ASSERT_EQUAL(i->data_offset, ENVOL_VOLUME_DATA_OFFSET);
	CU_ASSERT_EQUAL(i->sequence, 1);
	CU_ASSERT_STRING_EQUAL(i->cipher, "aes-xts-plain64");
	CU_ASSERT_STRING_EQUAL(i->key_arn, "arn:aws:kms:local:000000000000:key/test");
	CU_ASSERT_EQUAL(i->blob_len, 90);
	CU_ASSERT_EQUAL(i->n_context, 1 + ENVOL_VOLUME_BOUND_PAIRS);
	CU_ASSERT_STRING_EQUAL(i->context[0].key, "purpose");
	CU_ASSERT_STRING_EQUAL(i->context[1].value, uuid_str);
	CU_ASSERT_STRING_EQUAL(i->context[2].key, "envol:format");
	CU_ASSERT_STRING_EQUAL(i->context[3].value, "8388608");
	CU_ASSERT_STRING_EQUAL(i->context[4].value, "4096");
	CU_ASSERT_STRING_EQUAL(i->context[5].value, "1048576");
	CU_ASSERT_STRING_EQUAL(i->context[6].value, "aes-xts-plain64");
	CU_ASSERT_STRING_EQUAL(i->context[7].value, "false");
	CU_ASSERT(i->bound);
	CU_ASSERT(i->mac_pending);
	CU_ASSERT(!i->read_only);
	CU_ASSERT(i->created > 1700000000);
	CU_ASSERT(!envol_volume_key_attached(v));
	envol_volume_close(v);

	/* O_EXCL: never overwrite. */
	{
		struct envol_volume_create_params p = { 0 };
		struct envol_context_pair c[ENVOL_VOLUME_BOUND_PAIRS];
		struct envol_volume_bound_context bc;
		uint8_t blob[4] = { 1, 2, 3, 4 };

		envol_uuid_parse(uuid_str, p.uuid);
		p.n_context = make_context(p.uuid, SIZE, 512, false, NULL, 0, &bc, c);
		p.path = path;
		p.size = SIZE;
		p.sector_size = 512;
		p.key_arn = "arn:x";
		p.blob = blob;
		p.blob_len = 4;
		p.context = c;
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EEXIST);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "already exists"));
		(void)unlink(path);
		p.sector_size = 1000;
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_STRING_EQUAL(err, "sector_size 1000 is not 512 or 4096");
		p.sector_size = 4096;
		p.size = 4096 * 3 + 512;
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a positive multiple of sector_size 4096"));
		p.size = SIZE;
		/* The context must bind every parameter, with the values of the fields. */
		p.sector_size = 512;
		p.read_only = true;
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "header read-only flag true is not the "
						   "encryption context's envol:read-only false"));
		p.read_only = false;
		p.size = SIZE / 2;
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "envol:size 8388608"));
		p.size = SIZE;
		p.n_context = 1; /* only envol:volume-id: an old-style context */
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not bind the volume's parameters"));
		p.n_context = ENVOL_VOLUME_BOUND_PAIRS - 1; /* envol:read-only missing */
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "lacks envol:read-only"));
		p.n_context = ENVOL_VOLUME_BOUND_PAIRS;
		c[0].value = "00000000-0000-4000-8000-000000000000";
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not the volume uuid"));
		p.n_context = 0;
		CU_ASSERT_EQUAL(envol_volume_create(&p, err, sizeof err), -EINVAL);
		CU_ASSERT_EQUAL(access(path, F_OK), -1); /* nothing left behind */
	}
}

static void test_io(void)
{
	static const uint32_t sizes[] = { 512, 4096 };

	for (size_t s = 0; s < 2; s++) {
		uint32_t S = sizes[s];
		struct envol_volume *v;
		uint8_t *data = malloc(200000), *copy = malloc(200000), *back = malloc(200000);

		create_volume(S);
		v = open_vol(true);
		CU_ASSERT_EQUAL(envol_volume_pread(v, back, 10, 0), -ENOKEY);
		CU_ASSERT_EQUAL(envol_volume_pwrite(v, back, 10, 0, 0), -ENOKEY);
		envol_volume_close(v);
		v = open_attached(true);

		/* A fresh volume reads as zeros. */
		memset(back, 0xaa, 200000);
		CU_ASSERT_EQUAL(envol_volume_pread(v, back, 200000, 12345), 0);
		CU_ASSERT(all_zero(back, 200000));

		/* Aligned, unaligned, inside one sector, across sectors, at the very end. */
		{
			const uint64_t offs[] = { 0, 4096, 1, S - 1, 3 * S + 5, 1 << 20,
						  (1 << 20) + 333, SIZE - 100, SIZE - 200000 };
			const size_t lens[] = { S, 8 * S, 10, 2, 3 * S, 200000, 199999, 100,
						200000 };

			for (size_t k = 0; k < ARRAY_SIZE(offs); k++) {
				fill_random(data, lens[k]);
				memcpy(copy, data, lens[k]);
				CU_ASSERT_EQUAL(envol_volume_pwrite(v, data, lens[k], offs[k],
								    k % 2 ? ENVOL_IO_FUA : 0),
						0);
				memset(back, 0, lens[k]);
				CU_ASSERT_EQUAL(envol_volume_pread(v, back, lens[k], offs[k]), 0);
				CU_ASSERT_EQUAL(memcmp(back, copy, lens[k]), 0);
			}
			/* Encrypted in place in the caller's buffer (no copy). */
			fill_random(data, 8 * S);
			memcpy(back, data, 8 * S);
			CU_ASSERT_EQUAL(envol_volume_pwrite(v, data, 8 * S, 16 * S, 0), 0);
			CU_ASSERT_NOT_EQUAL(memcmp(data, back, 8 * S), 0);
		}
		/* Bounds. */
		CU_ASSERT_EQUAL(envol_volume_pread(v, back, 1, SIZE), -EINVAL);
		CU_ASSERT_EQUAL(envol_volume_pread(v, back, 2, SIZE - 1), -EINVAL);
		CU_ASSERT_EQUAL(envol_volume_pwrite(v, back, 1, UINT64_MAX, 0), -EINVAL);
		CU_ASSERT_EQUAL(envol_volume_trim(v, SIZE - 1, 2, 0), -EINVAL);
		CU_ASSERT_EQUAL(envol_volume_pread(v, back, 0, SIZE), 0);
		CU_ASSERT_EQUAL(envol_volume_flush(v), 0);
		envol_volume_close(v);

		/* Survives reopen; read-only open refuses writes. */
		v = open_attached(false);
		CU_ASSERT_EQUAL(envol_volume_pread(v, back, 200000, SIZE - 200000), 0);
		CU_ASSERT_EQUAL(memcmp(back, copy, 200000), 0); /* the last write above */
		CU_ASSERT_EQUAL(envol_volume_pwrite(v, back, 512, 0, 0), -EROFS);
		CU_ASSERT_EQUAL(envol_volume_zero(v, 0, 512, 0), -EROFS);
		envol_volume_close(v);
		free(data);
		free(copy);
		free(back);
	}
}

static void test_trim_zero_extents(void)
{
	struct envol_volume *v;
	uint8_t *buf = malloc(2 << 20), *back = malloc(2 << 20);
	struct extent_log l = { 0 };
	struct stat st1, st2, st3;

	create_volume(4096);
	v = open_attached(true);
	fill_random(buf, 2 << 20);
	CU_ASSERT_EQUAL(envol_volume_pwrite(v, buf, 2 << 20, 1 << 20, ENVOL_IO_FUA), 0);
	CU_ASSERT_EQUAL(stat(path, &st1), 0);

	/* Trim 1 MiB with unaligned edges: the edges are RMW'd to zeros, the middle punched. */
	CU_ASSERT_EQUAL(envol_volume_trim(v, (1 << 20) + 100, (1 << 20) - 200, 0), 0);
	CU_ASSERT_EQUAL(stat(path, &st2), 0);
	CU_ASSERT(st2.st_blocks < st1.st_blocks - 1000); /* ~1 MiB = 2048 blocks freed */
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 2 << 20, 1 << 20), 0);
	CU_ASSERT(all_zero(back + 100, (1 << 20) - 200));
	CU_ASSERT(!all_zero(back, 100));
	CU_ASSERT(!all_zero(back + (1 << 20), 1 << 20));

	/* Extents: [0,1M) hole, [1M, 1M+4K) data (edge sector), then a hole ... */
	CU_ASSERT_EQUAL(envol_volume_extents(v, 0, SIZE, log_extent, &l), 0);
	CU_ASSERT(l.n >= 4);
	CU_ASSERT_EQUAL(l.off[0], 0);
	CU_ASSERT_EQUAL(l.len[0], 1 << 20);
	CU_ASSERT(l.hole[0]);
	CU_ASSERT_EQUAL(l.off[1], 1 << 20);
	CU_ASSERT_EQUAL(l.len[1], 4096);
	CU_ASSERT(!l.hole[1]);
	CU_ASSERT_EQUAL(l.off[2], (1 << 20) + 4096);
	CU_ASSERT_EQUAL(l.len[2], (1 << 20) - 8192);
	CU_ASSERT(l.hole[2]);
	CU_ASSERT_EQUAL(l.off[3], (2 << 20) - 4096);
	CU_ASSERT(!l.hole[3]);
	CU_ASSERT_EQUAL(l.off[l.n - 1] + l.len[l.n - 1], SIZE);
	{
		uint64_t sum = 0;

		for (int k = 0; k < l.n; k++) {
			sum += l.len[k];
			if (k > 0)
				CU_ASSERT_EQUAL(l.off[k], l.off[k - 1] + l.len[k - 1]);
		}
		CU_ASSERT_EQUAL(sum, SIZE);
	}
	/* An unaligned request is clipped to it. */
	memset(&l, 0, sizeof l);
	CU_ASSERT_EQUAL(envol_volume_extents(v, 1000, 5000, log_extent, &l), 0);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_EQUAL(l.off[0], 1000);
	CU_ASSERT_EQUAL(l.len[0], 5000);
	CU_ASSERT(l.hole[0]);

	/* zero with NO_HOLE keeps the blocks; plain zero punches. */
	CU_ASSERT_EQUAL(envol_volume_zero(v, 2 << 20, 512 << 10, ENVOL_IO_NO_HOLE | ENVOL_IO_FUA), 0);
	CU_ASSERT_EQUAL(stat(path, &st3), 0);
	CU_ASSERT(st3.st_blocks >= st2.st_blocks - 8);
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 512 << 10, 2 << 20), 0);
	CU_ASSERT(all_zero(back, 512 << 10));
	CU_ASSERT_EQUAL(envol_volume_zero(v, (5 << 19), 512 << 10, 0), 0);
	CU_ASSERT_EQUAL(stat(path, &st2), 0);
	CU_ASSERT(st2.st_blocks < st3.st_blocks - 500);
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 512 << 10, 5 << 19), 0);
	CU_ASSERT(all_zero(back, 512 << 10));
	/* A sub-sector zero. */
	CU_ASSERT_EQUAL(envol_volume_zero(v, (2 << 20) - 60, 5, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, 20, (2 << 20) - 70), 0);
	CU_ASSERT(all_zero(back + 10, 5));
	CU_ASSERT(!all_zero(back, 10));
	CU_ASSERT_EQUAL(envol_volume_flush(v), 0);
	envol_volume_close(v);
	free(buf);
	free(back);
}

static void test_mac_pending_and_wrong_key(void)
{
	struct envol_volume *v;
	uint8_t wrong[ENVOL_VOLUME_DEK_SIZE], same[ENVOL_VOLUME_DEK_SIZE];
	char err[512] = "";

	create_volume(512);
	/* Read-only attach of a pending header trusts it but cannot seal it. */
	v = open_attached(false);
	CU_ASSERT(envol_volume_get_info(v)->mac_pending);
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 1);
	envol_volume_close(v);
	/* A writable attach seals it into both slots: B gets sequence 2, then A sequence 3. */
	v = open_attached(true);
	CU_ASSERT(!envol_volume_get_info(v)->mac_pending);
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 3);
	CU_ASSERT(envol_volume_key_attached(v));
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err), -EALREADY);
	envol_volume_detach_key(v);
	CU_ASSERT(!envol_volume_key_attached(v));
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err), 0);
	envol_volume_close(v);

	fill_random(wrong, sizeof wrong);
	v = open_vol(true);
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, wrong, sizeof wrong, err, sizeof err), -EBADMSG);
	CU_ASSERT_STRING_EQUAL(err, "header MAC mismatch: wrong key or tampered header");
	CU_ASSERT(!envol_volume_key_attached(v));
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, 32, err, sizeof err), -EINVAL);
	memset(same, 7, sizeof same); /* equal XTS halves */
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, same, sizeof same, err, sizeof err), -EINVAL);
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err), 0);
	envol_volume_close(v);

	/* Tampering a field (with a fixed checksum) is caught by the MAC. */
	{
		int fd = open(path, O_RDWR);
		struct envol_volume_header *h = calloc(1, sizeof(*h));
		uint8_t *slot = calloc(1, ENVOL_HEADER_SLOT_SIZE);

		CU_ASSERT_EQUAL(pread(fd, slot, ENVOL_HEADER_SLOT_SIZE, ENVOL_HEADER_SLOT_A_OFFSET),
				ENVOL_HEADER_SLOT_SIZE);
		CU_ASSERT_EQUAL(envol_header_decode(slot, ENVOL_HEADER_SLOT_SIZE, h, err,
						    sizeof err),
				0);
		CU_ASSERT_EQUAL(h->sequence, 3);
		h->flags |= ENVOL_HEADER_FLAG_READ_ONLY;
		CU_ASSERT(envol_header_encode(h, slot, ENVOL_HEADER_SLOT_SIZE, err, sizeof err) > 0);
		CU_ASSERT_EQUAL(pwrite(fd, slot, ENVOL_HEADER_SLOT_SIZE, ENVOL_HEADER_SLOT_A_OFFSET),
				ENVOL_HEADER_SLOT_SIZE);
		close(fd);
		free(h);
		free(slot);
		v = open_vol(false);
		CU_ASSERT(envol_volume_get_info(v)->read_only);
		CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err),
				-EBADMSG);
		envol_volume_close(v);
	}
}

static void test_update_key(void)
{
	struct envol_volume *v;
	uint8_t blob[200], big[ENVOL_VOLUME_MAX_BLOB + 1];
	char err[512] = "";

	create_volume(4096);
	fill_random(blob, sizeof blob);
	/* Without a DEK: pending. */
	v = open_vol(true);
	CU_ASSERT_EQUAL(envol_volume_update_key(v, "arn:aws:kms:local:000000000000:key/two", blob,
						sizeof blob, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 2);
	CU_ASSERT(envol_volume_get_info(v)->mac_pending);
	CU_ASSERT_EQUAL(envol_volume_update_key(v, "arn:x", big, sizeof big, err, sizeof err),
			-EINVAL);
	CU_ASSERT_EQUAL(envol_volume_update_key(v, "", blob, 10, err, sizeof err), -EINVAL);
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err), 0);
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 4); /* sealed into A (3), then B (4) */
	/* With a DEK: sealed at once. */
	CU_ASSERT_EQUAL(envol_volume_update_key(v, "arn:aws:kms:local:000000000000:key/three", blob,
						100, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 5);
	CU_ASSERT(!envol_volume_get_info(v)->mac_pending);
	envol_volume_close(v);
	v = open_vol(false);
	CU_ASSERT_STRING_EQUAL(envol_volume_get_info(v)->key_arn,
			       "arn:aws:kms:local:000000000000:key/three");
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->blob_len, 100);
	CU_ASSERT_EQUAL(memcmp(envol_volume_get_info(v)->blob, blob, 100), 0);
	CU_ASSERT_EQUAL(envol_volume_update_key(v, "arn:x", blob, 10, err, sizeof err), -EROFS);
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err), 0);
	envol_volume_close(v);
}

/* Both slots valid and sealed: A has sequence 3, B sequence 2.  Returns A's encoded length. */
static size_t two_sealed_slots(void)
{
	struct envol_volume *v;
	size_t len;

	create_volume(512);
	v = open_attached(true); /* seals into B (seq 2), then A (seq 3) */
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 3); /* in A */
	envol_volume_close(v);
	{
		int fd = open(path, O_RDONLY);
		uint8_t b[16];

		CU_ASSERT_FATAL(pread(fd, b, 16, 0) == 16);
		len = (size_t)(b[12] | b[13] << 8);
		close(fd);
	}
	return len;
}

static int flip(uint64_t off, uint8_t mask)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	int r = -1;

	if (fd >= 0 && pread(fd, &b, 1, (off_t)off) == 1) {
		b ^= mask;
		r = pwrite(fd, &b, 1, (off_t)off) == 1 ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static void test_bit_flip_every_byte(void)
{
	size_t len = two_sealed_slots(), ok = 0, both_bad = 0;
	uint64_t slot_off[2] = { ENVOL_HEADER_SLOT_A_OFFSET, ENVOL_HEADER_SLOT_B_OFFSET };
	uint64_t expect_seq[2] = { 2, 3 }; /* damage A: B (2) wins; damage B: A (3) wins */

	CU_ASSERT_FATAL(len > 160 && len < 4096);
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < len + 16; i++) {
			struct envol_volume *v = NULL;
			char err[512] = "";
			uint8_t mask = (uint8_t)(1u << (i % 8));
			int r;

			CU_ASSERT_FATAL(flip(slot_off[s] + i, mask) == 0);
			r = envol_volume_open(path, false, &v, err, sizeof err);
			if (r == 0) {
				/* Past the header, the flip is in unused slot space. */
				uint64_t want = i < len ? expect_seq[s] : 3;

				if (envol_volume_get_info(v)->sequence == want &&
				    envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err) == 0)
					ok++;
				else
					fprintf(stderr, "slot %c byte %zu: seq %llu\n", 'A' + s, i,
						(unsigned long long)envol_volume_get_info(v)->sequence);
				envol_volume_close(v);
			}
			CU_ASSERT_FATAL(flip(slot_off[s] + i, mask) == 0);
		}
	CU_ASSERT_EQUAL(ok, 2 * (len + 16));

	/* Both damaged: a clean error naming both slots. */
	for (size_t i = 0; i < len; i += 37) {
		struct envol_volume *v = NULL;
		char err[512] = "";

		flip(slot_off[0] + i, 0x10);
		flip(slot_off[1] + (len - 1 - i), 0x01);
		if (envol_volume_open(path, true, &v, err, sizeof err) == -EBADMSG &&
		    strstr(err, "no valid volume header") && strstr(err, "slot A: ") &&
		    strstr(err, "slot B: "))
			both_bad++;
		else
			fprintf(stderr, "both bad at %zu: %s\n", i, err);
		envol_volume_close(v);
		flip(slot_off[0] + i, 0x10);
		flip(slot_off[1] + (len - 1 - i), 0x01);
	}
	CU_ASSERT_EQUAL(both_bad, (len + 36) / 37);
}

static void test_torn_write(void)
{
	struct envol_volume_header *h = calloc(1, sizeof(*h));
	uint8_t *newer = calloc(1, ENVOL_HEADER_SLOT_SIZE), *older = calloc(1, ENVOL_HEADER_SLOT_SIZE);
	struct envol_volume *v;
	char err[256];
	int fd, len;

	two_sealed_slots(); /* A seq 3 in use, B seq 2 older */
	fd = open(path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(pread(fd, older, ENVOL_HEADER_SLOT_SIZE, ENVOL_HEADER_SLOT_B_OFFSET) ==
		  ENVOL_HEADER_SLOT_SIZE);
	CU_ASSERT(pread(fd, newer, ENVOL_HEADER_SLOT_SIZE, 0) == ENVOL_HEADER_SLOT_SIZE);
	CU_ASSERT_FATAL(envol_header_decode(newer, ENVOL_HEADER_SLOT_SIZE, h, err, sizeof err) == 0);
	/* The next update (seq 4) goes to B; tear it after n bytes: A (seq 3) must be used. */
	h->sequence = 4;
	strcpy(h->key_arn, "arn:aws:kms:local:000000000000:key/torn-write-test");
	memset(newer, 0, ENVOL_HEADER_SLOT_SIZE);
	len = envol_header_encode(h, newer, ENVOL_HEADER_SLOT_SIZE, err, sizeof err);
	CU_ASSERT_FATAL(len > 0);
	for (int n = 1; n <= len; n += (n < 40 ? 1 : 29)) {
		CU_ASSERT(pwrite(fd, older, ENVOL_HEADER_SLOT_SIZE, ENVOL_HEADER_SLOT_B_OFFSET) ==
			  ENVOL_HEADER_SLOT_SIZE);
		CU_ASSERT(pwrite(fd, newer, (size_t)n, ENVOL_HEADER_SLOT_B_OFFSET) == n);
		v = NULL;
		CU_ASSERT_EQUAL(envol_volume_open(path, false, &v, err, sizeof err), 0);
		if (v) {
			CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, n == len ? 4 : 3);
			envol_volume_close(v);
		}
	}
	/* Complete: the newer slot wins (its MAC no longer matches: we changed the ARN). */
	CU_ASSERT(pwrite(fd, newer, (size_t)len, ENVOL_HEADER_SLOT_B_OFFSET) == len);
	v = open_vol(false);
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 4);
	CU_ASSERT_STRING_EQUAL(envol_volume_get_info(v)->key_arn,
			       "arn:aws:kms:local:000000000000:key/torn-write-test");
	CU_ASSERT_EQUAL(envol_volume_attach_key(v, dek, sizeof dek, err, sizeof err), -EBADMSG);
	envol_volume_close(v);
	close(fd);
	free(h);
	free(newer);
	free(older);
}

static void test_truncated_file(void)
{
	struct envol_volume *v = NULL;
	char err[512] = "";

	create_volume(512);
	CU_ASSERT_EQUAL(truncate(path, (off_t)(ENVOL_VOLUME_DATA_OFFSET + SIZE - 512)), 0);
	CU_ASSERT_EQUAL(envol_volume_open(path, false, &v, err, sizeof err), -EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is truncated"));
	CU_ASSERT_PTR_NULL(v);
	CU_ASSERT_EQUAL(truncate(path, 300), 0);
	CU_ASSERT_EQUAL(envol_volume_open(path, false, &v, err, sizeof err), -EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "slot A: truncated"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "slot B: truncated"));
	CU_ASSERT_EQUAL(truncate(path, 0), 0);
	CU_ASSERT_EQUAL(envol_volume_open(path, false, &v, err, sizeof err), -EBADMSG);
	CU_ASSERT_EQUAL(envol_volume_open("/nonexistent/x.vol", false, &v, err, sizeof err),
			-ENOENT);
	CU_ASSERT_EQUAL(envol_volume_open("/dev/null", false, &v, err, sizeof err), -EINVAL);
}

struct rmw_arg {
	struct envol_volume *v;
	unsigned t;
	uint64_t base;
	int rounds;
};

#define RMW_THREADS 8
#define RMW_SPAN (3 * 4096)

static void *rmw_thread(void *opaque)
{
	struct rmw_arg *a = opaque;
	long fails = 0;

	for (int r = 0; r < a->rounds; r++)
		for (unsigned i = a->t; i < RMW_SPAN; i += RMW_THREADS) {
			uint8_t b = (uint8_t)(r * 31 + i);

			if (envol_volume_pwrite(a->v, &b, 1, a->base + i, 0) < 0)
				fails++;
		}
	return (void *)fails;
}

static void test_concurrent_rmw(void)
{
	struct envol_volume *v;
	pthread_t th[RMW_THREADS];
	struct rmw_arg a[RMW_THREADS];
	uint8_t *back = malloc(RMW_SPAN);
	const int rounds = 3;
	long fails = 0;
	size_t wrong = 0;

	create_volume(4096);
	v = open_attached(true);
	for (unsigned t = 0; t < RMW_THREADS; t++) {
		a[t] = (struct rmw_arg){ v, t, 4096 * 5 - 100, rounds };
		CU_ASSERT_FATAL(pthread_create(&th[t], NULL, rmw_thread, &a[t]) == 0);
	}
	for (unsigned t = 0; t < RMW_THREADS; t++) {
		void *res;

		pthread_join(th[t], &res);
		fails += (long)res;
	}
	CU_ASSERT_EQUAL(fails, 0);
	CU_ASSERT_EQUAL(envol_volume_pread(v, back, RMW_SPAN, 4096 * 5 - 100), 0);
	for (unsigned i = 0; i < RMW_SPAN; i++)
		if (back[i] != (uint8_t)((rounds - 1) * 31 + i))
			wrong++;
	CU_ASSERT_EQUAL(wrong, 0);
	envol_volume_close(v);
	free(back);
}

static void test_lock_conflict(void)
{
	int up[2], down[2];
	pid_t child;
	char c = 0, err[512] = "", holder[128] = "", want[64];
	struct envol_volume *v = NULL, *v2 = NULL;
	bool locked = true;

	create_volume(512);
	CU_ASSERT_EQUAL(envol_volume_query_lock(path, &locked, holder, sizeof holder), 0);
	CU_ASSERT(!locked);
	CU_ASSERT_FATAL(pipe(up) == 0 && pipe(down) == 0);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		struct envol_volume *cv = NULL;

		close(up[0]);
		close(down[1]);
		c = envol_volume_open(path, true, &cv, NULL, 0) == 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1)
			_exit(1);
		if (read(down[0], &c, 1) < 0)
			_exit(1);
		envol_volume_close(cv);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	CU_ASSERT(read(up[0], &c, 1) == 1 && c == 'y');
	snprintf(want, sizeof want, "pid %d (test_volume)", (int)child);

	CU_ASSERT_EQUAL(envol_volume_open(path, true, &v, err, sizeof err), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	if (!strstr(err, want))
		fprintf(stderr, "lock error: \"%s\", want \"%s\"\n", err, want);
	CU_ASSERT_EQUAL(envol_volume_open(path, false, &v, err, sizeof err), -EBUSY);
	CU_ASSERT_EQUAL(envol_volume_erase(path, err, sizeof err), -EBUSY);
	CU_ASSERT_EQUAL(envol_volume_query_lock(path, &locked, holder, sizeof holder), 0);
	CU_ASSERT(locked);
	CU_ASSERT_STRING_EQUAL(holder, want);

	CU_ASSERT(write(down[1], &c, 1) == 1);
	waitpid(child, NULL, 0);
	close(up[0]);
	close(down[1]);
	CU_ASSERT_EQUAL(envol_volume_query_lock(path, &locked, holder, sizeof holder), 0);
	CU_ASSERT(!locked);
	/* Read-only opens share the lock; a writer then conflicts, even in this process. */
	v = open_vol(false);
	v2 = open_vol(false);
	CU_ASSERT_EQUAL(envol_volume_query_lock(path, &locked, holder, sizeof holder), 0);
	CU_ASSERT(locked);
	snprintf(want, sizeof want, "pid %d (test_volume)", (int)getpid());
	CU_ASSERT_STRING_EQUAL(holder, want);
	CU_ASSERT_EQUAL(envol_volume_open(path, true, &v, err, sizeof err), -EBUSY);
	envol_volume_close(v);
	envol_volume_close(v2);
	v = open_vol(true);
	envol_volume_close(v);
}

static void test_erase(void)
{
	struct envol_volume *v = NULL;
	uint8_t *hdr = malloc(ENVOL_VOLUME_DATA_OFFSET);
	char err[512] = "";
	int fd;

	create_volume(4096);
	v = open_attached(true);
	envol_volume_close(v);
	CU_ASSERT_EQUAL(envol_volume_erase(path, err, sizeof err), 0);
	fd = open(path, O_RDONLY);
	CU_ASSERT(pread(fd, hdr, ENVOL_VOLUME_DATA_OFFSET, 0) == (ssize_t)ENVOL_VOLUME_DATA_OFFSET);
	close(fd);
	CU_ASSERT(all_zero(hdr, ENVOL_VOLUME_DATA_OFFSET));
	CU_ASSERT_EQUAL(envol_volume_open(path, true, &v, err, sizeof err), -EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "magic"));
	/* Not a volume (any more): refused, nothing written. */
	CU_ASSERT_EQUAL(envol_volume_erase(path, err, sizeof err), -EMEDIUMTYPE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not an envol volume"));
	fd = open(path, O_RDWR | O_TRUNC);
	fill_random(hdr, ENVOL_VOLUME_DATA_OFFSET);
	CU_ASSERT(write(fd, hdr, ENVOL_VOLUME_DATA_OFFSET) == (ssize_t)ENVOL_VOLUME_DATA_OFFSET);
	close(fd);
	CU_ASSERT_EQUAL(envol_volume_erase(path, err, sizeof err), -EMEDIUMTYPE);
	{
		uint8_t *again = malloc(ENVOL_VOLUME_DATA_OFFSET);

		fd = open(path, O_RDONLY);
		CU_ASSERT(pread(fd, again, ENVOL_VOLUME_DATA_OFFSET, 0) ==
			  (ssize_t)ENVOL_VOLUME_DATA_OFFSET);
		close(fd);
		CU_ASSERT_EQUAL(memcmp(again, hdr, ENVOL_VOLUME_DATA_OFFSET), 0);
		free(again);
	}
	CU_ASSERT_EQUAL(truncate(path, 4096), 0);
	CU_ASSERT_EQUAL(envol_volume_erase(path, err, sizeof err), -EINVAL);
	free(hdr);
}

/* ---- evil headers: every field that decides how sectors are read -------------------------- */

enum tamper {
	T_VERSION,
	T_SECTOR_SIZE,
	T_SIZE,
	T_DATA_OFFSET,
	T_CIPHER,
	T_READ_ONLY,
	T_UUID,
	T_SIZE_AND_CONTEXT,  /* size and its context pair, consistently: only the KMS can tell */
	T_PENDING_SIZE,      /* the forgery: MAC pending set, size changed */
	T_PENDING_READ_ONLY, /* MAC pending set, read-only flag flipped */
	T_MAX
};

static const char *const tamper_names[T_MAX] = {
	"version", "sector_size", "size", "data_offset", "cipher", "read-only flag", "uuid",
	"size and envol:size", "MAC pending + size", "MAC pending + read-only flag",
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

/* Changes one field of the slot at off in the volume file (offsets: docs/format.md), then
 * recomputes its checksum, so that only authentication can tell. */
static void tamper_slot(uint64_t off, enum tamper t)
{
	uint8_t *s = calloc(1, ENVOL_HEADER_SLOT_SIZE);
	int fd = open(path, O_RDWR);
	uint32_t slot_len;
	unsigned n = 0;

	CU_ASSERT_FATAL(s && fd >= 0);
	CU_ASSERT_FATAL(pread(fd, s, ENVOL_HEADER_SLOT_SIZE, (off_t)off) == ENVOL_HEADER_SLOT_SIZE);
	if (t == T_SIZE_AND_CONTEXT) {
		struct envol_volume_header *h = calloc(1, sizeof(*h));
		char err[256] = "";

		CU_ASSERT_FATAL(h && envol_header_decode(s, ENVOL_HEADER_SLOT_SIZE, h, err,
							 sizeof err) == 0);
		h->size /= 2;
		for (size_t i = 0; i < h->n_context; i++)
			if (strcmp(h->context[i].key, ENVOL_VOLUME_CONTEXT_SIZE) == 0)
				snprintf(h->context[i].value, sizeof h->context[i].value, "%llu",
					 (unsigned long long)h->size);
		CU_ASSERT_FATAL(envol_header_encode(h, s, ENVOL_HEADER_SLOT_SIZE, err,
						    sizeof err) > 0);
		free(h);
	} else {
		uint32_t flags = rd32(s + 24);

		switch (t) {
		case T_VERSION:
			wr32(s + 8, 2);
			break;
		case T_SECTOR_SIZE:
			wr32(s + 28, rd32(s + 28) == 512 ? 4096 : 512);
			break;
		case T_SIZE:
			wr64(s + 48, rd64(s + 48) / 2);
			break;
		case T_DATA_OFFSET:
			wr64(s + 56, rd64(s + 56) + 4096);
			break;
		case T_CIPHER:
			memcpy(s + 72, "aes-cbc-essiv:sha256", 21);
			break;
		case T_READ_ONLY:
			wr32(s + 24, flags ^ ENVOL_HEADER_FLAG_READ_ONLY);
			break;
		case T_UUID:
			s[47] ^= 1;
			break;
		case T_PENDING_SIZE:
			wr32(s + 24, flags | ENVOL_HEADER_FLAG_MAC_PENDING);
			memset(s + ENVOL_HEADER_MAC_OFFSET, 0, ENVOL_HEADER_MAC_SIZE);
			wr64(s + 48, rd64(s + 48) / 2);
			break;
		default:
			wr32(s + 24, (flags | ENVOL_HEADER_FLAG_MAC_PENDING) ^
					     ENVOL_HEADER_FLAG_READ_ONLY);
			memset(s + ENVOL_HEADER_MAC_OFFSET, 0, ENVOL_HEADER_MAC_SIZE);
			break;
		}
		slot_len = rd32(s + 12);
		CU_ASSERT_FATAL(slot_len > 32 && slot_len <= ENVOL_HEADER_SLOT_SIZE);
		EVP_Digest(s, slot_len - 32, s + slot_len - 32, &n, EVP_sha256(), NULL);
		CU_ASSERT_FATAL(n == 32);
	}
	CU_ASSERT_FATAL(pwrite(fd, s, ENVOL_HEADER_SLOT_SIZE, (off_t)off) == ENVOL_HEADER_SLOT_SIZE);
	close(fd);
	free(s);
}

static void header_area(uint8_t *buf, bool write)
{
	int fd = open(path, O_RDWR);

	ssize_t n;

	CU_ASSERT_FATAL(fd >= 0);
	n = write ? pwrite(fd, buf, ENVOL_VOLUME_DATA_OFFSET, 0)
		  : pread(fd, buf, ENVOL_VOLUME_DATA_OFFSET, 0);
	CU_ASSERT_FATAL(n == (ssize_t)ENVOL_VOLUME_DATA_OFFSET);
	close(fd);
}

/*
 * Attaches as envold does (open, fake Decrypt with the header's context, attach_key), writable
 * or not.  Returns 0 or the first error; err says which step refused.
 */
static int try_attach(bool writable, char *err, size_t len)
{
	struct envol_volume *v = NULL;
	int r;

	err[0] = 0;
	r = envol_volume_open(path, writable, &v, err, len);
	if (r == 0) {
		r = fake_attach(v, err, len);
		CU_ASSERT_EQUAL(envol_volume_key_attached(v), r == 0);
	}
	envol_volume_close(v);
	return r;
}

enum evil_state { FRESH, REKEYED, SEALED, N_STATES };

/* A 4 KiB-sector volume in state st, its DEK known to the fake KMS. */
static void evil_volume(enum evil_state st)
{
	struct envol_volume *v;
	char err[512] = "";

	create_volume(4096);
	if (st == REKEYED) {
		/* rekey as envolctl does it: a new blob under the same (bound) context */
		const struct envol_volume_info *i;

		v = open_vol(true);
		i = envol_volume_get_info(v);
		fake_wrap(i->context, i->n_context);
		CU_ASSERT_EQUAL_FATAL(envol_volume_update_key(v, "arn:aws:kms:local:0:key/new",
							      fake.blob, sizeof fake.blob, err,
							      sizeof err),
				      0);
		CU_ASSERT(envol_volume_get_info(v)->mac_pending);
		envol_volume_close(v);
	} else if (st == SEALED) {
		CU_ASSERT_EQUAL_FATAL(try_attach(true, err, sizeof err), 0);
	}
}

static void test_evil_header_fields(void)
{
	static const char *const state_names[N_STATES] = { "fresh", "rekeyed", "sealed" };
	uint8_t *orig = malloc(ENVOL_VOLUME_DATA_OFFSET), *forged = malloc(ENVOL_VOLUME_DATA_OFFSET);
	uint8_t *after = malloc(ENVOL_VOLUME_DATA_OFFSET);
	char err[512];

	CU_ASSERT_FATAL(orig && forged && after);
	for (int st = 0; st < N_STATES; st++) {
		for (int t = 0; t < T_MAX; t++) {
			for (int writable = 1; writable >= 0; writable--) {
				int r;

				evil_volume((enum evil_state)st);
				header_area(orig, false);
				/* both slots, so no genuine slot is left to fall back to */
				tamper_slot(ENVOL_HEADER_SLOT_A_OFFSET, (enum tamper)t);
				tamper_slot(ENVOL_HEADER_SLOT_B_OFFSET, (enum tamper)t);
				header_area(forged, false);
				r = try_attach(writable, err, sizeof err);
				if (r == 0)
					fprintf(stderr, "%s volume, %s changed: attached (%s)\n",
						state_names[st], tamper_names[t],
						writable ? "writable" : "read-only");
				CU_ASSERT(r < 0);
				CU_ASSERT(err[0] != 0);
				/* and nothing sealed the forgery */
				header_area(after, false);
				CU_ASSERT_EQUAL(memcmp(after, forged, ENVOL_VOLUME_DATA_OFFSET), 0);
				/* the genuine header attaches: the refusal was the tampering's */
				header_area(orig, true);
				r = try_attach(writable, err, sizeof err);
				if (r < 0)
					fprintf(stderr, "%s volume, restored: %s\n",
						state_names[st], err);
				CU_ASSERT_EQUAL(r, 0);
			}
		}
	}
	/* What the messages say: a bound field names the context pair; the KMS tells the rest. */
	evil_volume(FRESH);
	tamper_slot(ENVOL_HEADER_SLOT_A_OFFSET, T_SIZE);
	tamper_slot(ENVOL_HEADER_SLOT_B_OFFSET, T_SIZE);
	CU_ASSERT_EQUAL(try_attach(true, err, sizeof err), -EBADMSG);
	CU_ASSERT_STRING_EQUAL(err, "header size 4194304 is not the encryption context's "
				    "envol:size 8388608");
	evil_volume(SEALED);
	tamper_slot(ENVOL_HEADER_SLOT_A_OFFSET, T_PENDING_READ_ONLY);
	tamper_slot(ENVOL_HEADER_SLOT_B_OFFSET, T_PENDING_READ_ONLY);
	CU_ASSERT_EQUAL(try_attach(true, err, sizeof err), -EBADMSG);
	CU_ASSERT_STRING_EQUAL(err, "header read-only flag true is not the encryption "
				    "context's envol:read-only false");
	evil_volume(FRESH);
	tamper_slot(ENVOL_HEADER_SLOT_A_OFFSET, T_SIZE_AND_CONTEXT);
	tamper_slot(ENVOL_HEADER_SLOT_B_OFFSET, T_SIZE_AND_CONTEXT);
	CU_ASSERT_EQUAL(try_attach(true, err, sizeof err), -EBADMSG);
	CU_ASSERT_STRING_EQUAL(err, "InvalidCiphertextException");
	free(orig);
	free(forged);
	free(after);
}

/*
 * Rewrites both slots of the volume as an older envol wrote them: the context holds only
 * envol:volume-id; sealed with the MAC under dek, or MAC pending.
 */
static void make_unbound(bool sealed)
{
	static const char info[] = ENVOL_HEADER_MAC_INFO;
	struct envol_volume_header *h = calloc(1, sizeof(*h));
	uint8_t *s = calloc(1, ENVOL_HEADER_SLOT_SIZE), mk[32];
	struct envol_context_pair c = { ENVOL_VOLUME_CONTEXT_VOLUME_ID, NULL };
	char err[256] = "";
	int fd = open(path, O_RDWR);

	CU_ASSERT_FATAL(h && s && fd >= 0);
	CU_ASSERT_FATAL(pread(fd, s, ENVOL_HEADER_SLOT_SIZE, 0) == ENVOL_HEADER_SLOT_SIZE);
	CU_ASSERT_FATAL(envol_header_decode(s, ENVOL_HEADER_SLOT_SIZE, h, err, sizeof err) == 0);
	strcpy(h->context[0].key, ENVOL_VOLUME_CONTEXT_VOLUME_ID);
	envol_uuid_format(h->uuid, h->context[0].value);
	h->n_context = 1;
	c.value = h->context[0].value;
	fake_wrap(&c, 1); /* the fake KMS wraps the DEK under this context */
	memcpy(h->blob, fake.blob, sizeof fake.blob);
	h->blob_len = sizeof fake.blob;
	memset(h->mac, 0, sizeof h->mac);
	h->flags |= ENVOL_HEADER_FLAG_MAC_PENDING;
	if (sealed)
		h->flags &= ~ENVOL_HEADER_FLAG_MAC_PENDING;
	CU_ASSERT_FATAL(envol_hkdf_sha256(h->uuid, 16, dek, sizeof dek, (const uint8_t *)info,
					  sizeof info - 1, mk, 32) == 0);
	CU_ASSERT_EQUAL(envol_header_check_binding(h, NULL, 0), 0);
	for (int slot = 0; slot < 2; slot++) {
		h->sequence = 10 - (uint64_t)slot;
		if (sealed) {
			CU_ASSERT_FATAL(envol_header_compute_mac(h, mk, h->mac) == 0);
		}
		memset(s, 0, ENVOL_HEADER_SLOT_SIZE);
		CU_ASSERT_FATAL(envol_header_encode(h, s, ENVOL_HEADER_SLOT_SIZE, err, sizeof err) >
				0);
		CU_ASSERT_FATAL(pwrite(fd, s, ENVOL_HEADER_SLOT_SIZE,
				       slot ? ENVOL_HEADER_SLOT_B_OFFSET : 0) ==
				ENVOL_HEADER_SLOT_SIZE);
	}
	close(fd);
	free(h);
	free(s);
}

static void test_unbound_volumes(void)
{
	struct envol_volume *v;
	struct envol_volume_bound_context bc;
	struct envol_context_pair ctx[ENVOL_VOLUME_BOUND_PAIRS];
	const struct envol_volume_info *i;
	char err[512] = "";
	size_t n;

	/* Sealed by an older envol: its MAC authenticates it; tampering is still caught. */
	create_volume(512);
	make_unbound(true);
	v = open_vol(true);
	CU_ASSERT(!envol_volume_get_info(v)->bound);
	envol_volume_close(v);
	CU_ASSERT_EQUAL(try_attach(true, err, sizeof err), 0);
	tamper_slot(ENVOL_HEADER_SLOT_A_OFFSET, T_SIZE);
	tamper_slot(ENVOL_HEADER_SLOT_B_OFFSET, T_SIZE);
	CU_ASSERT_EQUAL(try_attach(true, err, sizeof err), -EBADMSG);
	CU_ASSERT_STRING_EQUAL(err, "header MAC mismatch: wrong key or tampered header");

	/* MAC pending and unbound: nothing authenticates it; refused, never sealed. */
	create_volume(512);
	make_unbound(true);
	tamper_slot(ENVOL_HEADER_SLOT_A_OFFSET, T_PENDING_SIZE);
	tamper_slot(ENVOL_HEADER_SLOT_B_OFFSET, T_PENDING_SIZE);
	for (int writable = 0; writable < 2; writable++) {
		CU_ASSERT_EQUAL(try_attach(writable, err, sizeof err), -EKEYREJECTED);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "envolctl volume upgrade"));
	}
	v = open_vol(true);
	CU_ASSERT(envol_volume_get_info(v)->mac_pending);
	/* update_key keeps the context, which does not bind: refused, nothing written */
	CU_ASSERT_EQUAL(envol_volume_update_key(v, "arn:x", fake.blob, sizeof fake.blob, err,
						sizeof err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not bind"));
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->sequence, 10);

	/* Upgrade (what envolctl volume upgrade does): rewrap under a bound context. */
	i = envol_volume_get_info(v);
	CU_ASSERT_EQUAL(i->size, SIZE / 2);
	n = make_context(i->uuid, i->size, i->sector_size, i->read_only, NULL, 0, &bc, ctx);
	ctx[2].value = "8388608"; /* a context that does not match the fields is refused */
	CU_ASSERT_EQUAL(envol_volume_rewrap(v, "arn:x", fake.blob, sizeof fake.blob, ctx, n, err,
					    sizeof err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "envol:size 8388608"));
	ctx[2].value = bc.values[2];
	fake_wrap(ctx, n);
	CU_ASSERT_EQUAL(envol_volume_rewrap(v, "arn:x", fake.blob, sizeof fake.blob, ctx, n, err,
					    sizeof err),
			0);
	CU_ASSERT(envol_volume_get_info(v)->bound);
	CU_ASSERT(envol_volume_get_info(v)->mac_pending);
	envol_volume_close(v);
	CU_ASSERT_EQUAL(try_attach(true, err, sizeof err), 0);
	v = open_vol(false);
	CU_ASSERT(!envol_volume_get_info(v)->mac_pending);
	CU_ASSERT_EQUAL(envol_volume_get_info(v)->size, SIZE / 2);
	envol_volume_close(v);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "create, open, info, create refusals", test_create_open_info },
		{ "I/O at odd offsets, fresh zeros, bounds, read-only", test_io },
		{ "trim/zero punch holes, extents, NO_HOLE", test_trim_zero_extents },
		{ "MAC pending, sealing, wrong DEK, tampering", test_mac_pending_and_wrong_key },
		{ "update_key (rekey) with and without DEK", test_update_key },
		{ "every field changed under a valid checksum, fresh/rekeyed/sealed",
		  test_evil_header_fields },
		{ "volumes of an older envol (context without parameters)", test_unbound_volumes },
		{ "bit flip in every header byte of each slot", test_bit_flip_every_byte },
		{ "torn write of the newer slot", test_torn_write },
		{ "truncated files", test_truncated_file },
		{ "concurrent RMW writers in one sector", test_concurrent_rmw },
		{ "OFD lock conflict names the holder", test_lock_conflict },
		{ "erase", test_erase },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = { { "volume", suite_init, suite_clean, NULL, NULL, tests },
				  CU_SUITE_INFO_NULL };
	return unit_run(suites);
}
