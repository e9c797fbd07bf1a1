/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hkdf.c — HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF "HKDF", and HMAC-SHA256 through
 * EVP_MAC "HMAC".  The KDF and MAC implementations are fetched once per process; every call
 * uses its own context.  Results go to the caller only on success (outputs untouched on
 * failure); intermediate copies are wiped.
 */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "util/macros.h"
#include "crypto/hkdf.h"
#include "util/log.h"
#include "util/secure_mem.h"

#define SHA256_LEN 32

static pthread_once_t hkdf_once = PTHREAD_ONCE_INIT;
static EVP_KDF *hkdf_kdf;
static EVP_MAC *hmac_mac;

static void hkdf_fetch(void)
{
	hkdf_kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static int hkdf_init(void)
{
	if (pthread_once(&hkdf_once, hkdf_fetch) != 0 || !hkdf_kdf || !hmac_mac)
		return log_debug_errno(-EIO, "cannot fetch HKDF/HMAC from OpenSSL");
	return 0;
}

/* OpenSSL wants a non-NULL pointer even for zero-length octet strings. */
static const uint8_t empty_octets[1];

static inline void *octets(const uint8_t *p)
{
	return (void *)(p ? p : empty_octets);
}

/*
 * One EVP_KDF_derive() in `mode` into a wiped scratch buffer, copied to out on success.
 * key is the IKM (extract, extract-and-expand) or the PRK (expand).
 */
static int hkdf_derive(int mode, const uint8_t *salt, size_t salt_len, const uint8_t *key,
		       size_t key_len, const uint8_t *info, size_t info_len, uint8_t *out,
		       size_t out_len)
{
	uint8_t tmp[ENVOL_HKDF_SHA256_MAX_OUT];
	OSSL_PARAM params[6], *p = params;
	EVP_KDF_CTX *ctx;
	int r;

	if (!out || out_len == 0 || out_len > ENVOL_HKDF_SHA256_MAX_OUT)
		return -EINVAL;
	if ((!salt && salt_len) || (!key && key_len) || (!info && info_len))
		return -EINVAL;
	r = hkdf_init();
	if (r < 0)
		return r;

	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, octets(key), key_len);
	if (salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, octets(salt),
							 salt_len);
	if (info_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, octets(info),
							 info_len);
	*p = OSSL_PARAM_construct_end();

	ctx = EVP_KDF_CTX_new(hkdf_kdf);
	if (!ctx)
		return -ENOMEM;
	if (EVP_KDF_derive(ctx, tmp, out_len, params) != 1)
		r = log_debug_errno(-EIO, "HKDF-SHA256 (mode %d) failed", mode);
	else
		memcpy(out, tmp, out_len);
	EVP_KDF_CTX_free(ctx);
	envol_wipe(tmp, out_len);
	return r;
}

int envol_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len,
		      const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	return hkdf_derive(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, salt, salt_len, ikm, ikm_len,
			   info, info_len, out, out_len);
}

int envol_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
			      size_t ikm_len, uint8_t prk[32])
{
	return hkdf_derive(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, salt_len, ikm, ikm_len, NULL, 0,
			   prk, SHA256_LEN);
}

int envol_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
			     size_t info_len, uint8_t *out, size_t out_len)
{
	/* RFC 5869 section 2.3: PRK is at least HashLen octets. */
	if (!prk || prk_len < SHA256_LEN)
		return -EINVAL;
	return hkdf_derive(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, prk_len, info, info_len,
			   out, out_len);
}

int envol_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t data_len,
		      uint8_t out[32])
{
	uint8_t tmp[SHA256_LEN];
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t outl = 0;
	int r;

	if (!out || (!key && key_len) || (!data && data_len))
		return -EINVAL;
	r = hkdf_init();
	if (r < 0)
		return r;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ctx = EVP_MAC_CTX_new(hmac_mac);
	if (!ctx)
		return -ENOMEM;
	if (EVP_MAC_init(ctx, octets(key), key_len, params) != 1 ||
	    EVP_MAC_update(ctx, octets(data), data_len) != 1 ||
	    EVP_MAC_final(ctx, tmp, &outl, sizeof(tmp)) != 1 || outl != SHA256_LEN)
		r = log_debug_errno(-EIO, "HMAC-SHA256 failed");
	else
		memcpy(out, tmp, SHA256_LEN);
	EVP_MAC_CTX_free(ctx);
	envol_wipe(tmp, sizeof(tmp));
	return r;
}
