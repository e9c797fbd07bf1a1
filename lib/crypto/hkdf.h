/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hkdf.h — HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF, and HMAC-SHA256. */
#ifndef ENVOL_HKDF_H
#define ENVOL_HKDF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extract-and-expand. salt may be NULL/0 (RFC 5869: zeros). out_len 1..8160. Returns 0,
 * -EINVAL, -ENOMEM or -EIO; out is untouched on failure.
 */
int envol_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/*
 * The two halves, for callers that reuse a PRK and for the RFC 5869 test vectors.
 * extract: prk = HMAC-SHA256(salt, ikm) into prk[32] (salt may be NULL/0).
 * expand: out_len (1..8160) bytes from prk (at least 32 bytes) and info.
 * Return 0, -EINVAL, -ENOMEM or -EIO.
 */
#define ENVOL_HKDF_SHA256_PRK_SIZE 32
#define ENVOL_HKDF_SHA256_MAX_OUT (255 * 32)
int envol_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
			      size_t ikm_len, uint8_t prk[32]);
int envol_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
			     size_t info_len, uint8_t *out, size_t out_len);

/*
 * HMAC-SHA256 of data under key into out[32] (key may be empty). Returns 0, -EINVAL, -ENOMEM
 * or -EIO; out is untouched on failure.
 */
int envol_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
		      uint8_t out[32]);

#endif
