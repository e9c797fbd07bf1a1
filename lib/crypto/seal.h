/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * seal.h — AES-256-GCM sealing, the one authenticated cipher of libenvol.  The KMS's
 * CiphertextBlob (lib/kms/blob.c) and the sealing of CMK material under the root key
 * (lib/kms/root_key.c) both go through it.  One-shot and stateless: each call sets up one EVP
 * context and frees it (OpenSSL wipes the key schedule).
 *
 * Key material stays in secure memory: the key is read from the caller's buffer and never
 * copied, and envol_seal_open() writes plaintext only into the caller's buffer (make it secure
 * memory, util/secure_mem.h, when it is key material), which it wipes when the tag does not
 * verify.
 */
#ifndef ENVOL_CRYPTO_SEAL_H
#define ENVOL_CRYPTO_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define ENVOL_SEAL_KEY_SIZE 32	 /* AES-256 */
#define ENVOL_SEAL_NONCE_SIZE 12 /* 96-bit GCM nonce */
#define ENVOL_SEAL_TAG_SIZE 16	 /* full 128-bit tag */

/* One part of the additional authenticated data; the parts are authenticated in order. */
struct envol_seal_aad {
	const void *data; /* may be NULL when len is 0 */
	size_t len;
};

/* A fresh random nonce (a nonce must never repeat under one key).  Returns 0 or -EIO. */
int envol_seal_nonce(uint8_t nonce[ENVOL_SEAL_NONCE_SIZE]);

/*
 * Encrypts len bytes of pt into ct (len bytes; may be 0) and writes the tag, under key
 * (ENVOL_SEAL_KEY_SIZE bytes) and nonce, authenticating the n_aad parts of aad (aad may be NULL
 * when n_aad is 0).  Returns 0, -EINVAL (a length over INT32_MAX), -ENOMEM or -EIO.
 */
int envol_seal(const uint8_t *key, const uint8_t nonce[ENVOL_SEAL_NONCE_SIZE],
	       const struct envol_seal_aad *aad, size_t n_aad, const uint8_t *pt, size_t len,
	       uint8_t *ct, uint8_t tag[ENVOL_SEAL_TAG_SIZE]);

/*
 * Decrypts len bytes of ct into pt and checks the tag.  Returns 0, -EBADMSG when the tag does
 * not verify (wrong key, nonce, AAD, or changed bytes), -EINVAL, -ENOMEM or -EIO.  On any
 * failure after decryption began, pt is wiped.
 */
int envol_seal_open(const uint8_t *key, const uint8_t nonce[ENVOL_SEAL_NONCE_SIZE],
		    const struct envol_seal_aad *aad, size_t n_aad, const uint8_t *ct, size_t len,
		    const uint8_t tag[ENVOL_SEAL_TAG_SIZE], uint8_t *pt);

#endif
