/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_volume_header.c — libFuzzer target for the volume header parser (lib/volume_header.c).
 * Any input must be refused cleanly (with a message) or decode to a header that validates and
 * re-encodes to exactly the bytes it came from (the encoding is canonical); anything else
 * aborts.  Each input is tried twice: as it is, and with its SHA-256 checksum recomputed, so
 * the mutations reach the field checks behind the checksum.
 * Seeds: tests/fuzz/corpus/fuzz_volume_header/, made by `volume-tool corpus DIR`.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "volume/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, struct envol_volume_header *h, uint8_t *out)
{
	char err[256] = "";
	int r, n;

	r = envol_header_decode(data, size, h, err, sizeof err);
	if (r == 0) {
		if (envol_header_validate(h, err, sizeof err) != 0)
			abort();
		n = envol_header_encode(h, out, ENVOL_HEADER_SLOT_SIZE, err, sizeof err);
		if (n <= 0 || (size_t)n > size || memcmp(out, data, (size_t)n) != 0)
			abort();
	} else if (r != -EBADMSG && r != -EPROTONOSUPPORT && r != -ENOMEM) {
		abort();
	} else if (err[0] == 0) {
		abort(); /* every refusal says why */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envol_volume_header *h = malloc(sizeof(*h));
	uint8_t *out = malloc(ENVOL_HEADER_SLOT_SIZE), *copy = malloc(size ? size : 1);

	if (!h || !out || !copy)
		abort();
	check(data, size, h, out);
	if (size >= 16) {
		uint32_t slot_len = (uint32_t)data[12] | (uint32_t)data[13] << 8 |
				    (uint32_t)data[14] << 16 | (uint32_t)data[15] << 24;

		if (slot_len >= ENVOL_HEADER_MIN_SIZE && slot_len <= size) {
			unsigned n = 0;

			memcpy(copy, data, size);
			if (EVP_Digest(copy, slot_len - 32, copy + slot_len - 32, &n, EVP_sha256(),
				       NULL) == 1)
				check(copy, size, h, out);
		}
	}
	free(copy);
	free(h);
	free(out);
	return 0;
}
