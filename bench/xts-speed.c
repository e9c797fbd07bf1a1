/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-speed.c — the crypto ceiling: envol_xts_encrypt/decrypt throughput on one core for
 * 512- and 4096-byte sectors, one sector per call (what `openssl speed -evp aes-256-xts
 * -bytes N` measures) and 128 KiB per call (a typical NBD request), ~1 s per cell.
 * MB/s are 10^6 bytes per second, like openssl speed's "1000s of bytes".  BACKEND picks the
 * backend (xts.h): auto (default, what envold uses) or a backend name.  Time is the wall
 * clock (compare with `openssl speed -elapsed`), or with --cpu this process's CPU time, which is
 * what plain `openssl speed` divides by and is far less disturbed by a busy machine.
 *
 *   xts-speed [--cpu] [SECONDS_PER_CELL [auto|BACKEND]]
 */
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/macros.h"
#include "crypto/xts.h"

#define BIG_CALL (128 * 1024)

static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs one cell for about `seconds`; returns MB/s or a negative errno. */
static double run(struct envol_xts *x, int enc, uint8_t *buf, size_t call_len, double seconds)
{
	unsigned sector_size = envol_xts_sector_size(x);
	uint64_t sector = UINT64_C(0x100000000); /* above 2^32, as on a large volume */
	double start = now(), elapsed;
	size_t bytes = 0;

	/*
	 * Check the clock every ~2 MiB (at least 64 calls) only, so timing costs nothing
	 * measurable: the CPU-time clock is a system call, not a vDSO read.
	 */
	size_t per_check = call_len < 2 * 1024 * 1024 / 64 ? 2 * 1024 * 1024 / call_len : 64;

	do {
		for (size_t i = 0; i < per_check; i++) {
			int r = enc ? envol_xts_encrypt(x, sector, buf, call_len) :
				      envol_xts_decrypt(x, sector, buf, call_len);
			if (r < 0)
				return r;
			sector += call_len / sector_size;
			bytes += call_len;
		}
		elapsed = now() - start;
	} while (elapsed < seconds);
	return (double)bytes / elapsed / 1e6;
}

int main(int argc, char **argv)
{
	static const unsigned sizes[] = { 512, 4096 };
	bool cpu = argc > 1 && strcmp(argv[1], "--cpu") == 0;
	double seconds;
	enum envol_xts_backend backend = ENVOL_XTS_BACKEND_AUTO;
	uint8_t key[ENVOL_XTS_KEY_SIZE];
	uint8_t *buf = aligned_alloc(64, BIG_CALL);

	if (cpu) {
		clock_id = CLOCK_PROCESS_CPUTIME_ID;
		argc--;
		argv++;
	}
	seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (argc > 2)
		backend = envol_xts_backend_from_string(argv[2]);
	if (!buf || seconds <= 0 || argc > 3 || backend < 0 || RAND_bytes(key, sizeof(key)) != 1) {
		fprintf(stderr, "usage: xts-speed [--cpu] [SECONDS_PER_CELL [auto|BACKEND]]\n");
		return 2;
	}
	memset(buf, 0xa5, BIG_CALL);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		size_t calls[] = { sizes[s], BIG_CALL };
		struct envol_xts *x = NULL;
		int r = envol_xts_new_backend(key, sizeof(key), sizes[s], backend, &x);

		if (r < 0) {
			fprintf(stderr, "envol_xts_new: %s\n", strerror(-r));
			return 1;
		}
		if (s == 0) {
			printf("AES-256-XTS via envol_xts (%s), one core, %g %s s per cell, "
			       "MB/s (10^6 bytes/s)\n",
			       envol_xts_backend_to_string(envol_xts_get_backend(x)), seconds,
			       cpu ? "CPU" : "wall");
			printf("%-12s %-10s %12s %12s\n", "sector size", "per call", "encrypt",
			       "decrypt");
		}
		for (size_t c = 0; c < ARRAY_SIZE(calls); c++) {
			double e = run(x, 1, buf, calls[c], seconds);
			double d = run(x, 0, buf, calls[c], seconds);
			char per[16];

			if (e < 0 || d < 0) {
				fprintf(stderr, "envol_xts failed\n");
				return 1;
			}
			snprintf(per, sizeof(per), "%zu", calls[c]);
			printf("%-12u %-10s %12.1f %12.1f\n", sizes[s], per, e, d);
		}
		envol_xts_free(x);
	}
	free(buf);
	return 0;
}
