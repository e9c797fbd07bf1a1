/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * blob.h — the CiphertextBlob format (v1): build, parse, open.  Pure: no I/O, no SQLite; the
 * parser treats every byte as hostile and is fuzzed (tests/fuzz/fuzz_kms_blob.c).  The cipher is
 * crypto/seal.h's AES-256-GCM.
 *
 * Blob v1 layout (all integers big-endian):
 *   0   3  magic "EVK"
 *   3   1  format version (1)
 *   4  16  key id (the CMK's UUID, binary)
 *  20   4  key material version (>= 1)
 *  24  12  GCM nonce (random)
 *  36   n  ciphertext (n >= 1, n == plaintext length)
 *  36+n 16 GCM tag
 * AES-256-GCM under the CMK material of that version, AAD = bytes 0..35 || canonical context
 * (kms_context_canonical(), context.h).
 */
#ifndef ENVOL_KMS_BLOB_H
#define ENVOL_KMS_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/seal.h"

#define KMS_BLOB_VERSION 1
#define KMS_BLOB_HEADER_LEN 36
#define KMS_KEY_LEN ENVOL_SEAL_KEY_SIZE /* one version of CMK material */
#define KMS_BLOB_OVERHEAD (KMS_BLOB_HEADER_LEN + ENVOL_SEAL_TAG_SIZE)

struct kms_blob {
	uint8_t key_id[16];
	uint32_t key_version;
	const uint8_t *header; /* KMS_BLOB_HEADER_LEN bytes, inside the parsed buffer */
	const uint8_t *nonce;
	const uint8_t *ciphertext;
	size_t ciphertext_len;
	const uint8_t *tag;
};

/* Parses (does not decrypt) a blob; pointers point into data.  Returns 0 or -EBADMSG. */
int kms_blob_parse(const uint8_t *data, size_t len, struct kms_blob *ret);

/*
 * Encrypts pt (1..) under key into a new malloc'd blob.  canon may be NULL (empty context).
 * Returns 0, -EINVAL, -ENOMEM or -EIO.
 */
int kms_blob_seal(const uint8_t *key, const uint8_t key_id[16], uint32_t key_version,
		  const uint8_t *canon, size_t canon_len, const uint8_t *pt, size_t pt_len,
		  uint8_t **ret, size_t *ret_len);

/*
 * Decrypts a parsed blob into out (b->ciphertext_len bytes, caller's secure buffer).
 * Returns 0, -EBADMSG (tag mismatch: wrong key, context or tampered bytes), -ENOMEM, -EIO.
 */
int kms_blob_open(const uint8_t *key, const struct kms_blob *b, const uint8_t *canon,
		  size_t canon_len, uint8_t *out);

#endif
