/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-openssl.c — the "openssl" sector-cipher backend: AES-256-XTS through OpenSSL 3's EVP
 * interface, the portable one (any provider, FIPS included).  "AES-256-XTS" is fetched once per
 * process; a state keys one encrypt and one decrypt EVP_CIPHER_CTX once, and per sector only
 * the 16-byte tweak changes (EVP_CipherInit_ex2 with the tweak, then EVP_CipherUpdate).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sector_cipher.h"
#include "util/log.h"

static pthread_once_t ossl_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *ossl_cipher;
static char ossl_desc[96];

static void ossl_setup(void)
{
	const char *prov;

	/* EVP_CIPHER objects are reference counted and safe to share between threads. */
	ossl_cipher = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
	if (!ossl_cipher) {
		log_debug("OpenSSL has no AES-256-XTS");
		return;
	}
	prov = OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(ossl_cipher));
	snprintf(ossl_desc, sizeof ossl_desc, "OpenSSL %s EVP (%s provider)",
		 OpenSSL_version(OPENSSL_VERSION_STRING), prov ? prov : "?");
}

static const EVP_CIPHER *xts_openssl_cipher(void)
{
	if (pthread_once(&ossl_once, ossl_setup) != 0)
		return NULL;
	return ossl_cipher;
}

static int ossl_probe(const char **ret_why)
{
	if (xts_openssl_cipher())
		return 0;
	*ret_why = "OpenSSL cannot fetch AES-256-XTS";
	return -EOPNOTSUPP;
}

static const char *ossl_describe(void)
{
	return xts_openssl_cipher() ? ossl_desc : "OpenSSL EVP";
}

struct ossl_state {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

static EVP_CIPHER_CTX *ossl_ctx_new(const EVP_CIPHER *cipher, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if (EVP_CipherInit_ex2(ctx, cipher, key, NULL, enc, NULL) != 1 ||
	    EVP_CIPHER_CTX_get_key_length(ctx) != ENVOL_XTS_KEY_SIZE ||
	    EVP_CIPHER_CTX_get_iv_length(ctx) != XTS_TWEAK_SIZE) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void ossl_free(void *state)
{
	struct ossl_state *s = state;

	if (!s)
		return;
	/* EVP_CIPHER_CTX_free cleanses the provider's key schedule before freeing it. */
	EVP_CIPHER_CTX_free(s->enc);
	EVP_CIPHER_CTX_free(s->dec);
	free(s);
}

static int ossl_new(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret)
{
	const EVP_CIPHER *cipher = xts_openssl_cipher();
	struct ossl_state *s;

	if (!cipher)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->enc = ossl_ctx_new(cipher, key, 1);
	s->dec = ossl_ctx_new(cipher, key, 0);
	if (!s->enc || !s->dec) {
		ossl_free(s);
		return log_debug_errno(-EIO, "cannot key AES-256-XTS EVP contexts");
	}
	*ret = s;
	return 0;
}

static int ossl_crypt(void *state, bool enc, uint64_t sector, unsigned sector_shift, uint8_t *buf,
		      size_t n)
{
	struct ossl_state *s = state;
	EVP_CIPHER_CTX *ctx = enc ? s->enc : s->dec;
	int len = 1 << sector_shift;
	uint8_t tweak[XTS_TWEAK_SIZE];

	for (size_t i = 0; i < n; i++, buf += len) {
		int outl = 0;

		xts_plain64(tweak, sector + i);
		if (EVP_CipherInit_ex2(ctx, NULL, NULL, tweak, enc, NULL) != 1 ||
		    EVP_CipherUpdate(ctx, buf, &outl, buf, len) != 1 || outl != len)
			return -EIO;
	}
	return 0;
}

const struct sector_cipher_ops sector_cipher_openssl = {
	.name = "openssl",
	.probe = ossl_probe,
	.describe = ossl_describe,
	.new_state = ossl_new,
	.free_state = ossl_free,
	.crypt = ossl_crypt,
};
