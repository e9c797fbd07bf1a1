/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_xts.c — differential libFuzzer target for the sector-cipher backends (lib/crypto/xts*.c):
 * the same key, sector number, sector size and data through every backend usable here (openssl,
 * gcrypt, vaes), one call over all sectors and, for the first backend, one call per sector;
 * ciphertexts must be identical, each backend must decrypt every other's, and argument errors
 * must be the same everywhere.  Any difference aborts.
 *
 * Input: 64 key bytes, 8 bytes of sector number (little-endian), one control byte (bit 0:
 * 4096-byte sectors, else 512; bits 1-7: extra sectors, so 1 to 128 sectors), then data,
 * repeated or cut to fill the sectors (zeros when there is none).  Inputs shorter than 73 bytes
 * are ignored.  Seeds: tests/fuzz/corpus/fuzz_xts/ (made by hand, see the file names).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/xts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD (ENVOL_XTS_KEY_SIZE + 8 + 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum envol_xts_backend bs[ENVOL_XTS_BACKEND_MAX];
	struct envol_xts *x[ENVOL_XTS_BACKEND_MAX] = { 0 };
	uint8_t *plain, *ref, *buf;
	uint64_t sector = 0;
	unsigned ss;
	size_t nb = 0, n, len;
	int r0 = 0;

	if (size < HEAD)
		return 0;
	for (int b = ENVOL_XTS_BACKEND_AUTO + 1; b < ENVOL_XTS_BACKEND_MAX; b++) {
		int r = envol_xts_backend_status((enum envol_xts_backend)b, NULL, 0);

		if (r == 0)
			bs[nb++] = (enum envol_xts_backend)b;
		else if (r != -EOPNOTSUPP)
			abort(); /* a failed start-up self-test is a finding too */
	}
	if (nb == 0)
		abort(); /* openssl at least must pass its self-test */
	for (int i = 0; i < 8; i++)
		sector |= (uint64_t)data[ENVOL_XTS_KEY_SIZE + i] << (8 * i);
	ss = data[HEAD - 1] & 1 ? 4096 : 512;
	n = 1 + (data[HEAD - 1] >> 1);
	len = n * ss;
	plain = malloc(len);
	ref = malloc(len);
	buf = malloc(len);
	if (!plain || !ref || !buf)
		abort();
	memset(plain, 0, len);
	for (size_t i = 0; size > HEAD && i < len; i++)
		plain[i] = data[HEAD + i % (size - HEAD)];

	/* Keying: the same verdict everywhere (equal key halves are refused). */
	for (size_t b = 0; b < nb; b++) {
		int r = envol_xts_new_backend(data, ENVOL_XTS_KEY_SIZE, ss, bs[b], &x[b]);

		if (b == 0)
			r0 = r;
		else if (r != r0)
			abort();
	}
	if (r0 < 0)
		goto out;

	/* Past sector 2^64 - 1: refused by everyone, the buffer untouched. */
	if (sector + (n - 1) < sector) {
		for (size_t b = 0; b < nb; b++) {
			memcpy(buf, plain, len);
			if (envol_xts_encrypt(x[b], sector, buf, len) != -EINVAL ||
			    envol_xts_decrypt(x[b], sector, buf, len) != -EINVAL ||
			    memcmp(buf, plain, len) != 0)
				abort();
		}
		goto out;
	}
	/* Encrypt: the first backend one sector per call, then everyone in one call. */
	memcpy(ref, plain, len);
	for (size_t i = 0; i < n; i++)
		if (envol_xts_encrypt(x[0], sector + i, ref + i * ss, ss) != 0)
			abort();
	for (size_t b = 0; b < nb; b++) {
		memcpy(buf, plain, len);
		if (envol_xts_encrypt(x[b], sector, buf, len) != 0 || memcmp(buf, ref, len) != 0)
			abort();
	}
	/* Decrypt: every backend undoes the ciphertext (which every backend made identically). */
	for (size_t b = 0; b < nb; b++) {
		memcpy(buf, ref, len);
		if (envol_xts_decrypt(x[b], sector, buf, len) != 0 || memcmp(buf, plain, len) != 0)
			abort();
	}
out:
	for (size_t b = 0; b < nb; b++)
		envol_xts_free(x[b]);
	free(plain);
	free(ref);
	free(buf);
	return 0;
}
