/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hkdf.h — HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF, and HMAC-SHA256. */
#ifndef ENVOL_HKDF_H
#define ENVOL_HKDF_H

#include <stddef.h>
#include <stdint.h>

/* Extract-and-expand. salt may be NULL/0 (RFC 5869: zeros). Returns 0, -EINVAL or -EIO. */
int envol_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* HMAC-SHA256 of data under key into out[32]. Returns 0 or -EIO. */
int envol_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
		      uint8_t out[32]);

#endif
