/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seal.c — one-shot AES-256-GCM through OpenSSL EVP (seal.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "crypto/seal.h"
#include "util/macros.h"
#include "util/secure_mem.h"

static void evp_ctx_freep(EVP_CIPHER_CTX **c) { EVP_CIPHER_CTX_free(*c); }

int envol_seal_nonce(uint8_t nonce[ENVOL_SEAL_NONCE_SIZE])
{
	return RAND_bytes(nonce, ENVOL_SEAL_NONCE_SIZE) == 1 ? 0 : -EIO;
}

/* Cipher, key, nonce and every AAD part into c. */
static int gcm_init(EVP_CIPHER_CTX *c, int enc, const uint8_t *key, const uint8_t *nonce,
		    const struct envol_seal_aad *aad, size_t n_aad, size_t len)
{
	int outl;

	if (len > INT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n_aad; i++)
		if (aad[i].len > INT32_MAX)
			return -EINVAL;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, ENVOL_SEAL_NONCE_SIZE, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1)
		return -EIO;
	for (size_t i = 0; i < n_aad; i++)
		if (aad[i].len &&
		    EVP_CipherUpdate(c, NULL, &outl, aad[i].data, (int)aad[i].len) != 1)
			return -EIO;
	return 0;
}

int envol_seal(const uint8_t *key, const uint8_t nonce[ENVOL_SEAL_NONCE_SIZE],
	       const struct envol_seal_aad *aad, size_t n_aad, const uint8_t *pt, size_t len,
	       uint8_t *ct, uint8_t tag[ENVOL_SEAL_TAG_SIZE])
{
	_cleanup_(evp_ctx_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl = 0, fin = 0, r;

	if (!c)
		return -ENOMEM;
	r = gcm_init(c, 1, key, nonce, aad, n_aad, len);
	if (r < 0)
		return r;
	if (len && EVP_EncryptUpdate(c, ct, &outl, pt, (int)len) != 1)
		return -EIO;
	if (EVP_EncryptFinal_ex(c, ct + outl, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, ENVOL_SEAL_TAG_SIZE, tag) != 1)
		return -EIO;
	return 0;
}

int envol_seal_open(const uint8_t *key, const uint8_t nonce[ENVOL_SEAL_NONCE_SIZE],
		    const struct envol_seal_aad *aad, size_t n_aad, const uint8_t *ct, size_t len,
		    const uint8_t tag[ENVOL_SEAL_TAG_SIZE], uint8_t *pt)
{
	_cleanup_(evp_ctx_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t tagcopy[ENVOL_SEAL_TAG_SIZE]; /* OpenSSL wants a non-const tag */
	int outl = 0, fin = 0, r;

	if (!c)
		return -ENOMEM;
	r = gcm_init(c, 0, key, nonce, aad, n_aad, len);
	if (r < 0)
		return r;
	memcpy(tagcopy, tag, sizeof tagcopy);
	if ((len && EVP_DecryptUpdate(c, pt, &outl, ct, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, ENVOL_SEAL_TAG_SIZE, tagcopy) != 1)
		r = -EIO;
	else if (EVP_DecryptFinal_ex(c, pt + outl, &fin) != 1)
		r = -EBADMSG;
	if (r < 0)
		envol_wipe(pt, len); /* no unauthenticated plaintext leaves */
	return r;
}
