/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-tool.c — test driver for lib/crypto/xts.c: en/decrypts stdin to stdout with envol_xts so
 * a shell test can compare libenvol, backend by backend, against an independent XTS
 * implementation.
 *
 *   xts-tool [--backend NAME] encrypt|decrypt KEYFILE FIRST_SECTOR SECTOR_SIZE
 *   xts-tool --list
 *
 * --backend: auto (the default: what envol_xts_new() picks) or a backend name (xts.h).  --list
 * prints one line per backend: "NAME passed|not-usable|FAILED REASON-OR-DESCRIPTION".
 * KEYFILE holds the 64-byte key as 128 hex digits (a file, so the key is never on argv).
 * FIRST_SECTOR is decimal or 0x-hex, counted in SECTOR_SIZE (512 or 4096) units; the input
 * length must be a whole number of sectors.  Exit 0 ok, 1 error, 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/macros.h"
#include "util/encoding.h"
#include "util/log.h"
#include "util/secure_mem.h"
#include "crypto/xts.h"

#define CHUNK (1024 * 1024) /* a multiple of both sector sizes */

static int usage(void)
{
	fprintf(stderr, "usage: xts-tool [--backend NAME] encrypt|decrypt KEYFILE FIRST_SECTOR "
			"512|4096\n       xts-tool --list\n");
	return 2;
}

/* Reads KEYFILE (128 hex digits, optional trailing newline) into key[64]. */
static int read_key(const char *path, uint8_t key[ENVOL_XTS_KEY_SIZE])
{
	_cleanup_secure_ char *text = envol_secure_alloc(2 * ENVOL_XTS_KEY_SIZE + 2);
	FILE *f;
	size_t n;

	if (!text)
		return -ENOMEM;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IONBF, 0); /* no copy of the key left in a stdio buffer */
	n = fread(text, 1, 2 * ENVOL_XTS_KEY_SIZE + 2, f);
	fclose(f);
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	return envol_hex_decode(text, n, key, ENVOL_XTS_KEY_SIZE);
}

/* Reads up to len bytes; returns the count (short only at end of input) or -errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t r = write(fd, buf, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

static int list(void)
{
	for (int b = ENVOL_XTS_BACKEND_AUTO + 1; b < ENVOL_XTS_BACKEND_MAX; b++) {
		char why[256];
		int r = envol_xts_backend_status((enum envol_xts_backend)b, why, sizeof why);

		printf("%s %s %s\n", envol_xts_backend_to_string((enum envol_xts_backend)b),
		       r == 0 ? "passed" : r == -EOPNOTSUPP ? "not-usable" : "FAILED", why);
	}
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_secure_ uint8_t *key = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct envol_xts *x = NULL;
	unsigned long long sector;
	unsigned long ss;
	char *end;
	enum envol_xts_backend backend = ENVOL_XTS_BACKEND_AUTO;
	int enc, r;

	envol_log_set_ident("xts-tool");
	if (argc == 2 && strcmp(argv[1], "--list") == 0)
		return list();
	if (argc > 2 && strcmp(argv[1], "--backend") == 0) {
		backend = envol_xts_backend_from_string(argv[2]);
		if (backend < 0)
			return usage();
		argc -= 2;
		argv += 2;
	}
	if (argc != 5)
		return usage();
	if (strcmp(argv[1], "encrypt") == 0)
		enc = 1;
	else if (strcmp(argv[1], "decrypt") == 0)
		enc = 0;
	else
		return usage();
	errno = 0;
	sector = strtoull(argv[3], &end, 0);
	if (errno || end == argv[3] || *end || argv[3][0] == '-')
		return usage();
	errno = 0;
	ss = strtoul(argv[4], &end, 10);
	if (errno || end == argv[4] || *end || (ss != 512 && ss != 4096))
		return usage();

	key = envol_secure_alloc(ENVOL_XTS_KEY_SIZE);
	buf = malloc(CHUNK);
	if (!key || !buf) {
		fprintf(stderr, "xts-tool: out of memory\n");
		return 1;
	}
	r = read_key(argv[2], key);
	if (r < 0) {
		fprintf(stderr, "xts-tool: cannot read key from %s: %s (want 128 hex digits)\n",
			argv[2], strerror(-r));
		return 1;
	}
	r = envol_xts_new_backend(key, ENVOL_XTS_KEY_SIZE, (unsigned)ss, backend, &x);
	if (r < 0) {
		fprintf(stderr, "xts-tool: envol_xts_new_backend(%s): %s\n",
			envol_xts_backend_to_string(backend), strerror(-r));
		return 1;
	}

	for (;;) {
		ssize_t n = read_full(STDIN_FILENO, buf, CHUNK);

		if (n < 0) {
			r = (int)n;
			fprintf(stderr, "xts-tool: read: %s\n", strerror(-r));
			break;
		}
		if (n == 0) {
			r = 0;
			break;
		}
		r = enc ? envol_xts_encrypt(x, sector, buf, (size_t)n) :
			  envol_xts_decrypt(x, sector, buf, (size_t)n);
		if (r < 0) {
			fprintf(stderr, "xts-tool: %s at sector %llu (%zd bytes): %s\n", argv[1],
				sector, n, strerror(-r));
			break;
		}
		r = write_full(STDOUT_FILENO, buf, (size_t)n);
		if (r < 0) {
			fprintf(stderr, "xts-tool: write: %s\n", strerror(-r));
			break;
		}
		sector += (unsigned long long)n / ss;
	}
	envol_xts_free(x);
	return r < 0 ? 1 : 0;
}
