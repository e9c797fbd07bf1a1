/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_kms_blob.c — the CiphertextBlob parser (lib/kms/blob.c): parse every input, try to
 * open what parses (must fail: the fuzzer cannot forge a GCM tag), and check that sealing
 * the input as plaintext round-trips.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kms/blob.h"
#include "kms/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[KMS_KEY_LEN]; /* zero: the seed blobs were made under it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t id[16] = {1, 2, 3};
	struct kms_blob b;
	uint8_t *blob = NULL, *out;
	size_t blob_len;

	if (kms_blob_parse(data, size, &b) == 0) {
		if (b.ciphertext_len + KMS_BLOB_OVERHEAD != size || b.key_version == 0 ||
		    b.header != data || b.tag + ENVOL_SEAL_TAG_SIZE != data + size)
			abort();
		out = malloc(b.ciphertext_len);
		if (!out)
			return 0;
		/* a random input almost never carries a valid tag under this key */
		(void)kms_blob_open(key, &b, NULL, 0, out);
		free(out);
	}
	if (size >= 1 && size <= KMS_MAX_PLAINTEXT) {
		const uint8_t canon[] = {0, 0, 0, 1, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v'};

		if (kms_blob_seal(key, id, 7, canon, sizeof canon, data, size, &blob, &blob_len))
			abort();
		if (kms_blob_parse(blob, blob_len, &b) || b.key_version != 7 ||
		    memcmp(b.key_id, id, 16) != 0)
			abort();
		out = malloc(size);
		if (!out || kms_blob_open(key, &b, canon, sizeof canon, out) ||
		    memcmp(out, data, size) != 0)
			abort();
		/* the context is bound */
		if (kms_blob_open(key, &b, NULL, 0, out) != -EBADMSG)
			abort();
		free(out);
		free(blob);
	}
	return 0;
}
