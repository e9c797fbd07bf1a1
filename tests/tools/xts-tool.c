/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-tool.c — test driver for lib/crypto/xts.c: en/decrypts stdin to stdout with envol_xts so
 * a shell test can compare libenvol, backend by backend, against an independent XTS
 * implementation.
 *
 *   xts-tool [--backend NAME] encrypt|decrypt KEYFILE FIRST_SECTOR SECTOR_SIZE
 *   xts-tool [--backend NAME] batch
 *   xts-tool --list
 *
 * --backend: auto (the default: what envol_xts_new() picks) or a backend name (xts.h).  --list
 * prints one line per backend: "NAME passed|not-usable|FAILED REASON-OR-DESCRIPTION".
 * KEYFILE holds the 64-byte key as 128 hex digits (a file, so the key is never on argv).
 * FIRST_SECTOR is decimal or 0x-hex, counted in SECTOR_SIZE (512 or 4096) units; the input
 * length must be a whole number of sectors.  Exit 0 ok, 1 error, 2 usage.
 * batch reads lines "encrypt|decrypt KEYFILE FIRST_SECTOR SECTOR_SIZE INFILE OUTFILE" from
 * stdin and runs each in this one process: the backends' start-up self-tests run once, not
 * once per case (they dominate a sanitizer build's run time).
 */
#include <errno.h>
#include <fcntl.h>
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
			"512|4096\n       xts-tool [--backend NAME] batch\n       xts-tool --list\n");
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

/*
 * One case: en/decrypts in to out with a new envol_xts of backend.  args: encrypt|decrypt,
 * KEYFILE, FIRST_SECTOR, SECTOR_SIZE.  Returns 0, 1 (error, said on stderr) or 2 (usage).
 */
static int crypt_stream(enum envol_xts_backend backend, char **args, int in, int out)
{
	_cleanup_secure_ uint8_t *key = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	struct envol_xts *x = NULL;
	unsigned long long sector;
	unsigned long ss;
	char *end;
	int enc, r;

	if (strcmp(args[0], "encrypt") == 0)
		enc = 1;
	else if (strcmp(args[0], "decrypt") == 0)
		enc = 0;
	else
		return usage();
	errno = 0;
	sector = strtoull(args[2], &end, 0);
	if (errno || end == args[2] || *end || args[2][0] == '-')
		return usage();
	errno = 0;
	ss = strtoul(args[3], &end, 10);
	if (errno || end == args[3] || *end || (ss != 512 && ss != 4096))
		return usage();

	key = envol_secure_alloc(ENVOL_XTS_KEY_SIZE);
	buf = malloc(CHUNK);
	if (!key || !buf) {
		fprintf(stderr, "xts-tool: out of memory\n");
		return 1;
	}
	r = read_key(args[1], key);
	if (r < 0) {
		fprintf(stderr, "xts-tool: cannot read key from %s: %s (want 128 hex digits)\n",
			args[1], strerror(-r));
		return 1;
	}
	r = envol_xts_new_backend(key, ENVOL_XTS_KEY_SIZE, (unsigned)ss, backend, &x);
	if (r < 0) {
		fprintf(stderr, "xts-tool: envol_xts_new_backend(%s): %s\n",
			envol_xts_backend_to_string(backend), strerror(-r));
		return 1;
	}

	for (;;) {
		ssize_t n = read_full(in, buf, CHUNK);

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
			fprintf(stderr, "xts-tool: %s at sector %llu (%zd bytes): %s\n", args[0],
				sector, n, strerror(-r));
			break;
		}
		r = write_full(out, buf, (size_t)n);
		if (r < 0) {
			fprintf(stderr, "xts-tool: write: %s\n", strerror(-r));
			break;
		}
		sector += (unsigned long long)n / ss;
	}
	envol_xts_free(x);
	return r < 0 ? 1 : 0;
}

/* batch: one case per line of stdin; stops at the first that fails. */
static int batch(enum envol_xts_backend backend)
{
	char line[4096];
	unsigned lineno = 0;

	while (fgets(line, sizeof line, stdin)) {
		char *args[6], *save = NULL, *tok = strtok_r(line, " \t\n", &save);
		int n = 0, in, out, r;

		lineno++;
		while (tok && n < 6) {
			args[n++] = tok;
			tok = strtok_r(NULL, " \t\n", &save);
		}
		if (n != 6 || tok) {
			fprintf(stderr, "xts-tool: batch line %u: want 6 fields\n", lineno);
			return 2;
		}
		in = open(args[4], O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			fprintf(stderr, "xts-tool: batch line %u: %s: %s\n", lineno, args[4],
				strerror(errno));
			return 1;
		}
		out = open(args[5], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (out < 0) {
			fprintf(stderr, "xts-tool: batch line %u: %s: %s\n", lineno, args[5],
				strerror(errno));
			close(in);
			return 1;
		}
		r = crypt_stream(backend, args, in, out);
		close(in);
		if (close(out) < 0 && r == 0)
			r = 1;
		if (r != 0) {
			fprintf(stderr, "xts-tool: batch line %u failed\n", lineno);
			return r;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum envol_xts_backend backend = ENVOL_XTS_BACKEND_AUTO;

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
	if (argc == 2 && strcmp(argv[1], "batch") == 0)
		return batch(backend);
	if (argc != 5)
		return usage();
	return crypt_stream(backend, argv + 1, STDIN_FILENO, STDOUT_FILENO);
}
