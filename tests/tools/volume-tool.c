/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume-tool.c — test driver for lib/volume, used by tests/interop/test-volume-dmcrypt.sh
 * and to (re)generate the fuzz seed corpus.  Not installed.
 *
 * The DEK is read as 128 hex digits on the first line of STANDARD INPUT, never from argv
 * (argv is visible to every user in /proc/PID/cmdline).
 *
 *   volume-tool create PATH SIZE SECTOR_SIZE [ro]     prints the volume uuid
 *   volume-tool info PATH                             prints key=value lines
 *   volume-tool write PATH OFFSET FILE [fua]          (DEK on stdin) FILE's bytes at OFFSET
 *   volume-tool read PATH OFFSET LEN FILE             (DEK on stdin) LEN bytes into FILE
 *   volume-tool trim|zero PATH OFFSET LEN             (DEK on stdin)
 *   volume-tool rekey PATH ARN                        new ARN and a random blob, no DEK
 *   volume-tool corpus DIR                            writes fuzz seeds for fuzz_volume_header
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/encoding.h"
#include "util/secure_mem.h"
#include "volume/volume.h"
#include "volume/header.h"

static int usage(void)
{
	fprintf(stderr, "usage: volume-tool create|info|write|read|trim|zero|rekey|corpus ...\n"
			"  (the DEK is read in hex from stdin, never from argv)\n");
	return 2;
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "volume-tool: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

/* Reads 64 bytes of DEK as hex from stdin into secure memory. */
static uint8_t *read_dek(void)
{
	_cleanup_secure_ char *line = envol_secure_alloc(256);
	uint8_t *dek = envol_secure_alloc(ENVOL_VOLUME_DEK_SIZE);

	if (!line || !dek)
		exit(1);
	setvbuf(stdin, NULL, _IONBF, 0); /* no copy of the DEK left in a stdio buffer */
	if (!fgets(line, 256, stdin)) {
		fprintf(stderr, "volume-tool: expected the DEK in hex on stdin\n");
		exit(1);
	}
	line[strcspn(line, "\r\n")] = 0;
	if (envol_hex_decode(line, strlen(line), dek, ENVOL_VOLUME_DEK_SIZE) < 0) {
		fprintf(stderr, "volume-tool: the DEK must be %d hex digits\n",
			2 * ENVOL_VOLUME_DEK_SIZE);
		exit(1);
	}
	return dek;
}

static struct envol_volume *open_attached(const char *path, bool writable)
{
	struct envol_volume *v = NULL;
	char err[512] = "";
	uint8_t *dek;
	int r;

	r = envol_volume_open(path, writable, &v, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "volume-tool: open: %s (%s)\n", err, strerror(-r));
		exit(1);
	}
	dek = read_dek();
	r = envol_volume_attach_key(v, dek, ENVOL_VOLUME_DEK_SIZE, err, sizeof err);
	envol_secure_free(dek);
	if (r < 0) {
		fprintf(stderr, "volume-tool: attach: %s (%s)\n", err, strerror(-r));
		exit(1);
	}
	return v;
}

static int cmd_create(int argc, char **argv)
{
	struct envol_volume_create_params p = { 0 };
	struct envol_volume_bound_context bc;
	uint8_t blob[120];
	char uuid[37], err[512] = "";
	int r;

	if (argc < 5)
		return usage();
	p.path = argv[2];
	p.size = parse_u64(argv[3]);
	p.sector_size = (uint32_t)parse_u64(argv[4]);
	p.read_only = argc > 5 && strcmp(argv[5], "ro") == 0;
	if (envol_uuid_generate(p.uuid) < 0 || getrandom(blob, sizeof blob, 0) != sizeof blob)
		return 1;
	envol_uuid_format(p.uuid, uuid);
	r = envol_volume_bound_context(p.uuid, p.size, p.sector_size, p.read_only, &bc);
	if (r < 0) {
		fprintf(stderr, "volume-tool: create: sector size must be 512 or 4096\n");
		return 1;
	}
	p.context = bc.pairs;
	p.n_context = ENVOL_VOLUME_BOUND_PAIRS;
	p.key_arn = "arn:aws:kms:local:000000000000:key/11111111-2222-4333-8444-555555555555";
	p.blob = blob;
	p.blob_len = sizeof blob;
	r = envol_volume_create(&p, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "volume-tool: create: %s (%s)\n", err, strerror(-r));
		return 1;
	}
	printf("%s\n", uuid);
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	struct envol_volume *v = NULL;
	const struct envol_volume_info *i;
	char err[512] = "";
	int r;

	if (argc < 3)
		return usage();
	r = envol_volume_open(argv[2], false, &v, err, sizeof err);
	if (r < 0) {
		fprintf(stderr, "volume-tool: open: %s (%s)\n", err, strerror(-r));
		return 1;
	}
	i = envol_volume_get_info(v);
	printf("uuid=%s\nsize=%llu\nsector_size=%u\ndata_offset=%llu\nsequence=%llu\n"
	       "created=%llu\ncipher=%s\nkey_arn=%s\nblob_len=%zu\nread_only=%d\nmac_pending=%d\n",
	       i->uuid_str, (unsigned long long)i->size, i->sector_size,
	       (unsigned long long)i->data_offset, (unsigned long long)i->sequence,
	       (unsigned long long)i->created, i->cipher, i->key_arn, i->blob_len, i->read_only,
	       i->mac_pending);
	for (size_t k = 0; k < i->n_context; k++)
		printf("context=%s=%s\n", i->context[k].key, i->context[k].value);
	envol_volume_close(v);
	return 0;
}

static int cmd_write(int argc, char **argv)
{
	struct envol_volume *v;
	uint8_t *buf;
	struct stat st;
	uint64_t off;
	int fd, r;

	if (argc < 5)
		return usage();
	off = parse_u64(argv[3]);
	fd = open(argv[4], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[4]);
		return 1;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		fprintf(stderr, "volume-tool: cannot read %s\n", argv[4]);
		return 1;
	}
	close(fd);
	v = open_attached(argv[2], true);
	r = envol_volume_pwrite(v, buf, (size_t)st.st_size, off,
				argc > 5 && strcmp(argv[5], "fua") == 0 ? ENVOL_IO_FUA : 0);
	if (r == 0)
		r = envol_volume_flush(v);
	envol_volume_close(v);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "volume-tool: write: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}

static int cmd_read(int argc, char **argv)
{
	struct envol_volume *v;
	uint8_t *buf;
	uint64_t off, len;
	FILE *f;
	int r;

	if (argc < 6)
		return usage();
	off = parse_u64(argv[3]);
	len = parse_u64(argv[4]);
	buf = malloc(len ? len : 1);
	if (!buf)
		return 1;
	v = open_attached(argv[2], false);
	r = envol_volume_pread(v, buf, len, off);
	envol_volume_close(v);
	if (r < 0) {
		fprintf(stderr, "volume-tool: read: %s\n", strerror(-r));
		return 1;
	}
	f = fopen(argv[5], "we");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(argv[5]);
		return 1;
	}
	free(buf);
	return 0;
}

static int cmd_discard(int argc, char **argv, bool trim)
{
	struct envol_volume *v;
	uint64_t off, len;
	int r;

	if (argc < 5)
		return usage();
	off = parse_u64(argv[3]);
	len = parse_u64(argv[4]);
	v = open_attached(argv[2], true);
	r = trim ? envol_volume_trim(v, off, len, ENVOL_IO_FUA)
		 : envol_volume_zero(v, off, len, ENVOL_IO_FUA);
	envol_volume_close(v);
	if (r < 0) {
		fprintf(stderr, "volume-tool: %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	return 0;
}

static int cmd_rekey(int argc, char **argv)
{
	struct envol_volume *v = NULL;
	uint8_t blob[150];
	char err[512] = "";
	int r;

	if (argc < 4)
		return usage();
	if (getrandom(blob, sizeof blob, 0) != sizeof blob)
		return 1;
	r = envol_volume_open(argv[2], true, &v, err, sizeof err);
	if (r == 0)
		r = envol_volume_update_key(v, argv[3], blob, sizeof blob, err, sizeof err);
	envol_volume_close(v);
	if (r < 0) {
		fprintf(stderr, "volume-tool: rekey: %s (%s)\n", err, strerror(-r));
		return 1;
	}
	return 0;
}

/* ---- fuzz seed corpus ---------------------------------------------------------------------- */

static void fill_header(struct envol_volume_header *h, uint32_t sector_size, size_t n_ctx,
			uint32_t flags)
{
	char uuid[37];

	memset(h, 0, sizeof(*h));
	for (int i = 0; i < 16; i++)
		h->uuid[i] = (uint8_t)(0x11 * (i + 1));
	h->uuid[6] = 0x4f;
	h->uuid[8] = 0x9a;
	envol_uuid_format(h->uuid, uuid);
	h->sequence = 7;
	h->flags = flags;
	h->sector_size = sector_size;
	h->size = UINT64_C(10) << 30;
	h->data_offset = ENVOL_VOLUME_DATA_OFFSET;
	h->created = 1790000000;
	strcpy(h->cipher, ENVOL_VOLUME_CIPHER);
	strcpy(h->key_arn,
	       "arn:aws:kms:local:000000000000:key/0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9");
	h->blob_len = 184;
	for (size_t i = 0; i < h->blob_len; i++)
		h->blob[i] = (uint8_t)(i * 37 + 11);
	strcpy(h->context[0].key, ENVOL_VOLUME_CONTEXT_VOLUME_ID);
	strcpy(h->context[0].value, uuid);
	for (size_t i = 1; i < n_ctx; i++) {
		snprintf(h->context[i].key, sizeof h->context[i].key, "key-%zu", i);
		snprintf(h->context[i].value, sizeof h->context[i].value, "välue %zu", i);
	}
	h->n_context = n_ctx;
	if (!(flags & ENVOL_HEADER_FLAG_MAC_PENDING))
		for (int i = 0; i < 32; i++)
			h->mac[i] = (uint8_t)(0xa0 + i);
}

static int save(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* Recomputes the trailing checksum after a deliberate change, so the parser gets past it. */
static void reseal(uint8_t *buf, size_t len)
{
	unsigned n = 0;

	EVP_Digest(buf, len - 32, buf + len - 32, &n, EVP_sha256(), NULL);
}

static int cmd_corpus(int argc, char **argv)
{
	struct envol_volume_header *h = calloc(1, sizeof(*h));
	uint8_t *buf = calloc(1, ENVOL_HEADER_SLOT_SIZE);
	char err[256];
	int len;

	if (argc < 3 || !h || !buf)
		return usage();
#define ENCODE()                                                                                   \
	do {                                                                                       \
		memset(buf, 0, ENVOL_HEADER_SLOT_SIZE);                                            \
		len = envol_header_encode(h, buf, ENVOL_HEADER_SLOT_SIZE, err, sizeof err);        \
		if (len < 0) {                                                                     \
			fprintf(stderr, "encode: %s\n", err);                                      \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)
#define SAVE(name, n)                                                                              \
	do {                                                                                       \
		if (save(argv[2], name, buf, n) < 0)                                               \
			return 1;                                                                  \
	} while (0)

	fill_header(h, 512, 1, ENVOL_HEADER_FLAG_MAC_PENDING);
	ENCODE();
	SAVE("valid-512-pending", (size_t)len);
	fill_header(h, 4096, 3, ENVOL_HEADER_FLAG_READ_ONLY);
	ENCODE();
	SAVE("valid-4096-sealed-ro", (size_t)len);
	fill_header(h, 4096, ENVOL_VOLUME_MAX_CONTEXT, 0);
	h->blob_len = ENVOL_VOLUME_MAX_BLOB;
	memset(h->key_arn, 'a', ENVOL_VOLUME_MAX_KEY_ARN);
	ENCODE();
	SAVE("valid-max", (size_t)len);
	fill_header(h, 512, 2, 0);
	ENCODE();
	SAVE("valid-with-padding", 4096);

	/* Near-valid: one thing wrong each, checksum fixed so the field checks run. */
	fill_header(h, 512, 2, 0);
	ENCODE();
	SAVE("truncated", (size_t)len - 1);
	buf[200] ^= 1;
	SAVE("bad-checksum", (size_t)len);
	buf[200] ^= 1;
	buf[28] = 0xe8, buf[29] = 0x03; /* sector_size 1000 */
	reseal(buf, (size_t)len);
	SAVE("bad-sector-size", (size_t)len);
	ENCODE();
	buf[8] = 2; /* version 2 */
	reseal(buf, (size_t)len);
	SAVE("bad-version", (size_t)len);
	ENCODE();
	buf[104] = 0xff, buf[105] = 0x7f; /* key_arn_len past the end */
	reseal(buf, (size_t)len);
	SAVE("bad-arn-len", (size_t)len);
	ENCODE();
	buf[108] = 9; /* n_context 9, only 2 there */
	reseal(buf, (size_t)len);
	SAVE("bad-n-context", (size_t)len);
	ENCODE();
	buf[12] = 0xff, buf[13] = 0xff, buf[14] = 0xff, buf[15] = 0xff; /* slot_len */
	SAVE("bad-slot-len", (size_t)len);
	ENCODE();
	buf[24] |= 0x80; /* unknown flag */
	reseal(buf, (size_t)len);
	SAVE("bad-flags", (size_t)len);
	SAVE("empty", 0);
	free(h);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "create") == 0)
		return cmd_create(argc, argv);
	if (strcmp(argv[1], "info") == 0)
		return cmd_info(argc, argv);
	if (strcmp(argv[1], "write") == 0)
		return cmd_write(argc, argv);
	if (strcmp(argv[1], "read") == 0)
		return cmd_read(argc, argv);
	if (strcmp(argv[1], "trim") == 0 || strcmp(argv[1], "zero") == 0)
		return cmd_discard(argc, argv, strcmp(argv[1], "trim") == 0);
	if (strcmp(argv[1], "rekey") == 0)
		return cmd_rekey(argc, argv);
	if (strcmp(argv[1], "corpus") == 0)
		return cmd_corpus(argc, argv);
	return usage();
}
