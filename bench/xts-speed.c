/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-speed.c — the crypto ceiling: AES-256-XTS throughput on one core for 512- and 4096-byte
 * sectors, one sector per call (what `openssl speed -evp aes-256-xts -bytes N` measures) and
 * 128 KiB per call (a typical NBD request), for each sector-cipher backend through envol_xts,
 * and for "libgcrypt-ref": libgcrypt called directly, one gcry_cipher_setiv() and one
 * gcry_cipher_encrypt() per sector (the 40-line program of issue 12), as the library's own
 * reference.  MB/s are 10^6 bytes per second, like openssl speed's "1000s of bytes".
 *
 *   xts-speed [--cpu] [--reps N] [SECONDS_PER_CELL [auto|BACKEND|all]]
 *
 * BACKEND: a server.cipher_backend name; auto (the default) is what envold would pick; all is
 * every backend usable here plus libgcrypt-ref.  With --reps N every cell is measured N times,
 * the rows interleaved (row order rotated per repetition), and the median printed.  Time is the
 * wall clock (compare with `openssl speed -elapsed`), or with --cpu this process's CPU time,
 * which is what plain `openssl speed` divides by and is far less disturbed by a busy machine.
 * Output: a comment line (ending "auto=BACKEND": what envold would pick here), a header line,
 * then one line per backend, sector size and call size: "BACKEND SECTOR PER_CALL ENCRYPT
 * DECRYPT".  Never run by ctest (speed is not a test).
 */
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef ENVOL_HAVE_GCRYPT
#include <gcrypt.h>
#endif

#include "crypto/xts.h"
#include "util/macros.h"

#define BIG_CALL (128 * 1024)
#define MAX_REPS 99
#define REF_GCRYPT ENVOL_XTS_BACKEND_MAX /* the row of libgcrypt-ref */

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One row's keyed object: an envol_xts on a backend, or a libgcrypt handle for the reference. */
struct subject {
	int backend; /* enum envol_xts_backend, or REF_GCRYPT */
	const char *name;
	struct envol_xts *x[2]; /* per sector size */
#ifdef ENVOL_HAVE_GCRYPT
	gcry_cipher_hd_t h;
#endif
};

static int crypt_call(struct subject *s, size_t si, unsigned ss, int enc, uint64_t sector,
		      uint8_t *buf, size_t len)
{
#ifdef ENVOL_HAVE_GCRYPT
	if (s->backend == REF_GCRYPT) {
		for (size_t off = 0; off < len; off += ss, sector++) {
			uint8_t tweak[16] = { 0 };

			for (unsigned i = 0; i < 8; i++)
				tweak[i] = (uint8_t)(sector >> (8 * i));
			if (gcry_cipher_setiv(s->h, tweak, sizeof tweak) ||
			    (enc ? gcry_cipher_encrypt(s->h, buf + off, ss, NULL, 0) :
				   gcry_cipher_decrypt(s->h, buf + off, ss, NULL, 0)))
				return -1;
		}
		return 0;
	}
#endif
	return enc ? envol_xts_encrypt(s->x[si], sector, buf, len) :
		     envol_xts_decrypt(s->x[si], sector, buf, len);
}

/* Runs one cell for about `seconds`; returns MB/s or a negative number on failure. */
static double run(struct subject *s, size_t si, unsigned ss, int enc, uint8_t *buf, size_t len,
		  double seconds)
{
	uint64_t sector = UINT64_C(0x100000000); /* above 2^32, as on a large volume */
	double start = now(), elapsed;
	size_t bytes = 0;
	/*
	 * Check the clock every ~2 MiB (at least 64 calls) only, so timing costs nothing
	 * measurable: the CPU-time clock is a system call, not a vDSO read.
	 */
	size_t per_check = len < 2 * 1024 * 1024 / 64 ? 2 * 1024 * 1024 / len : 64;

	do {
		for (size_t i = 0; i < per_check; i++) {
			if (crypt_call(s, si, ss, enc, sector, buf, len) < 0)
				return -1;
			sector += len / ss;
			bytes += len;
		}
		elapsed = now() - start;
	} while (elapsed < seconds);
	return (double)bytes / elapsed / 1e6;
}

static int subject_open(struct subject *s, const uint8_t key[ENVOL_XTS_KEY_SIZE])
{
	static const unsigned sizes[] = { 512, 4096 };

	if (s->backend == REF_GCRYPT) {
#ifdef ENVOL_HAVE_GCRYPT
		/* libenvol has initialised libgcrypt (its gcrypt backend's self-test ran). */
		if (gcry_cipher_open(&s->h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_XTS, 0) ||
		    gcry_cipher_setkey(s->h, key, ENVOL_XTS_KEY_SIZE))
			return -1;
		return 0;
#else
		return -1;
#endif
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		int r = envol_xts_new_backend(key, ENVOL_XTS_KEY_SIZE, sizes[i],
					      (enum envol_xts_backend)s->backend, &s->x[i]);
		if (r < 0) {
			fprintf(stderr, "xts-speed: %s: %s\n", s->name, strerror(-r));
			return -1;
		}
	}
	if (s->backend == ENVOL_XTS_BACKEND_AUTO)
		s->name = envol_xts_backend_to_string(envol_xts_get_backend(s->x[0]));
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int usage(void)
{
	fprintf(stderr, "usage: xts-speed [--cpu] [--reps N] [SECONDS_PER_CELL [auto|BACKEND|all]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = { 512, 4096 };
	struct subject subj[ENVOL_XTS_BACKEND_MAX + 1];
	/* results[row][size][call][enc][rep] */
	static double results[ENVOL_XTS_BACKEND_MAX + 1][2][2][2][MAX_REPS];
	uint8_t key[ENVOL_XTS_KEY_SIZE];
	uint8_t *buf = aligned_alloc(64, BIG_CALL);
	const char *which = "auto";
	double seconds = 1.0;
	size_t n = 0;
	long reps = 1;
	char *end;

	for (; argc > 1 && argv[1][0] == '-'; argc--, argv++) {
		if (strcmp(argv[1], "--cpu") == 0) {
			clock_id = CLOCK_PROCESS_CPUTIME_ID;
		} else if (strcmp(argv[1], "--reps") == 0 && argc > 2) {
			reps = strtol(argv[2], &end, 10);
			if (*end || reps < 1 || reps > MAX_REPS)
				return usage();
			argc--;
			argv++;
		} else {
			return usage();
		}
	}
	if (argc > 1)
		seconds = atof(argv[1]);
	if (argc > 2)
		which = argv[2];
	if (!buf || seconds <= 0 || argc > 3 || RAND_bytes(key, sizeof(key)) != 1)
		return usage();

	if (strcmp(which, "all") == 0) {
		for (int b = ENVOL_XTS_BACKEND_AUTO + 1; b < ENVOL_XTS_BACKEND_MAX; b++)
			if (envol_xts_backend_status((enum envol_xts_backend)b, NULL, 0) == 0)
				subj[n++] = (struct subject){ .backend = b,
							      .name = envol_xts_backend_to_string(
								      (enum envol_xts_backend)b) };
#ifdef ENVOL_HAVE_GCRYPT
		if (envol_xts_backend_status(ENVOL_XTS_BACKEND_GCRYPT, NULL, 0) == 0)
			subj[n++] = (struct subject){ .backend = REF_GCRYPT, .name = "libgcrypt-ref" };
#endif
	} else {
		enum envol_xts_backend b = envol_xts_backend_from_string(which);

		if (b < 0)
			return usage();
		subj[n++] = (struct subject){ .backend = b, .name = which };
	}
	for (size_t i = 0; i < n; i++)
		if (subject_open(&subj[i], key) < 0)
			return 1;
	memset(buf, 0xa5, BIG_CALL);

	for (long rep = 0; rep < reps; rep++) {
		for (size_t k = 0; k < n; k++) {
			size_t i = (k + (size_t)rep) % n; /* rotate the order per repetition */

			for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
				size_t calls[] = { sizes[si], BIG_CALL };

				for (size_t c = 0; c < ARRAY_SIZE(calls); c++) {
					for (int enc = 1; enc >= 0; enc--) {
						double v = run(&subj[i], si, sizes[si], enc, buf,
							       calls[c], seconds);

						if (v < 0) {
							fprintf(stderr, "xts-speed: %s failed\n",
								subj[i].name);
							return 1;
						}
						results[i][si][c][enc][rep] = v;
					}
				}
			}
		}
	}

	(void)envol_xts_select("auto", NULL, 0);
	printf("# AES-256-XTS, one core, %g %s s per cell, median of %ld, MB/s (10^6 bytes/s); "
	       "auto=%s\n",
	       seconds, clock_id == CLOCK_MONOTONIC ? "wall" : "CPU", reps,
	       envol_xts_backend_to_string(envol_xts_selected()));
	printf("%-14s %6s %8s %10s %10s\n", "backend", "sector", "per_call", "encrypt", "decrypt");
	for (size_t i = 0; i < n; i++) {
		for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
			size_t calls[] = { sizes[si], BIG_CALL };

			for (size_t c = 0; c < ARRAY_SIZE(calls); c++)
				printf("%-14s %6u %8zu %10.1f %10.1f\n", subj[i].name, sizes[si],
				       calls[c], median(results[i][si][c][1], (size_t)reps),
				       median(results[i][si][c][0], (size_t)reps));
		}
	}
	for (size_t i = 0; i < n; i++) {
		envol_xts_free(subj[i].x[0]);
		envol_xts_free(subj[i].x[1]);
#ifdef ENVOL_HAVE_GCRYPT
		if (subj[i].backend == REF_GCRYPT)
			gcry_cipher_close(subj[i].h);
#endif
	}
	free(buf);
	return 0;
}
