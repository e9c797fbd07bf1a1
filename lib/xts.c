/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts.c — the sector cipher: AES-256-XTS, "plain64" tweak (sector number as a 128-bit
 * little-endian integer), through OpenSSL 3's EVP interface.  The cipher implementation is
 * fetched once per process; each struct envol_xts keys one encrypt and one decrypt context
 * once, and per sector only the 16-byte tweak changes.  Owns nothing else.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "log.h"
#include "secure_mem.h"
#include "xts.h"

#define XTS_HALF (ENVOL_XTS_KEY_SIZE / 2)
#define XTS_TWEAK_SIZE 16

struct envol_xts {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	uint8_t *key; /* ENVOL_XTS_KEY_SIZE bytes of envol_secure_alloc() memory */
	unsigned sector_size;
	unsigned sector_shift;
};

/*
 * The fetched "AES-256-XTS" from the default library context, shared by every thread for the
 * life of the process (EVP_CIPHER objects are reference counted and safe to share; each
 * thread owns its own contexts).
 */
static pthread_once_t xts_cipher_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *xts_cipher;

static void xts_cipher_fetch(void)
{
	xts_cipher = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
}

static const EVP_CIPHER *xts_cipher_get(void)
{
	if (pthread_once(&xts_cipher_once, xts_cipher_fetch) != 0)
		return NULL;
	return xts_cipher;
}

static EVP_CIPHER_CTX *xts_ctx_new(const EVP_CIPHER *cipher, const uint8_t *key, int enc)
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

int envol_xts_new(const uint8_t *key, size_t key_len, unsigned sector_size, struct envol_xts **ret)
{
	const EVP_CIPHER *cipher;
	struct envol_xts *x;

	if (!key || !ret || key_len != ENVOL_XTS_KEY_SIZE)
		return -EINVAL;
	if (sector_size != 512 && sector_size != 4096)
		return -EINVAL;
	/* IEEE 1619 key halves must differ; OpenSSL refuses equal halves for encryption. */
	if (CRYPTO_memcmp(key, key + XTS_HALF, XTS_HALF) == 0)
		return log_debug_errno(-EINVAL, "XTS key halves are equal");

	cipher = xts_cipher_get();
	if (!cipher)
		return log_debug_errno(-EIO, "cannot fetch AES-256-XTS from OpenSSL");

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->sector_size = sector_size;
	x->sector_shift = sector_size == 512 ? 9 : 12;
	x->key = envol_secure_alloc(ENVOL_XTS_KEY_SIZE);
	if (!x->key) {
		envol_xts_free(x);
		return -ENOMEM;
	}
	memcpy(x->key, key, ENVOL_XTS_KEY_SIZE);

	x->enc = xts_ctx_new(cipher, x->key, 1);
	x->dec = x->enc ? xts_ctx_new(cipher, x->key, 0) : NULL;
	if (!x->enc || !x->dec) {
		envol_xts_free(x);
		return log_debug_errno(-EIO, "cannot key AES-256-XTS contexts");
	}
	*ret = x;
	return 0;
}

struct envol_xts *envol_xts_free(struct envol_xts *x)
{
	if (!x)
		return NULL;
	/* EVP_CIPHER_CTX_free() cleanses the provider's key schedule before freeing it. */
	EVP_CIPHER_CTX_free(x->enc);
	EVP_CIPHER_CTX_free(x->dec);
	envol_secure_free(x->key);
	free(x);
	return NULL;
}

unsigned envol_xts_sector_size(const struct envol_xts *x)
{
	return x ? x->sector_size : 0;
}

/* Fills the 16-byte plain64 tweak: sector as a 128-bit little-endian integer. */
static inline void xts_tweak(uint8_t tweak[XTS_TWEAK_SIZE], uint64_t sector)
{
	for (unsigned i = 0; i < 8; i++)
		tweak[i] = (uint8_t)(sector >> (8 * i));
	memset(tweak + 8, 0, 8);
}

static int xts_crypt(struct envol_xts *x, EVP_CIPHER_CTX *ctx, int enc, uint64_t sector,
		     uint8_t *buf, size_t len)
{
	uint8_t tweak[XTS_TWEAK_SIZE];
	uint64_t last;
	size_t n;
	int outl;

	if (!x || (!buf && len > 0))
		return -EINVAL;
	if (len & (x->sector_size - 1))
		return -EINVAL;
	n = len >> x->sector_shift;
	if (n == 0)
		return 0;
	/* The last sector number must not wrap around 2^64. */
	if (ADD_OVERFLOW(sector, (uint64_t)(n - 1), &last))
		return -EINVAL;

	for (size_t i = 0; i < n; i++, buf += x->sector_size) {
		xts_tweak(tweak, sector + i);
		if (EVP_CipherInit_ex2(ctx, NULL, NULL, tweak, enc, NULL) != 1 ||
		    EVP_CipherUpdate(ctx, buf, &outl, buf, (int)x->sector_size) != 1 ||
		    outl != (int)x->sector_size)
			return log_debug_errno(-EIO, "AES-256-XTS %s failed at sector %llu",
					       enc ? "encryption" : "decryption",
					       (unsigned long long)(sector + i));
	}
	return 0;
}

int envol_xts_encrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len)
{
	return xts_crypt(x, x ? x->enc : NULL, 1, sector, buf, len);
}

int envol_xts_decrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len)
{
	return xts_crypt(x, x ? x->dec : NULL, 0, sector, buf, len);
}
