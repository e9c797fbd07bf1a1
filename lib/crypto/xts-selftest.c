/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-selftest.c — the start-up self-test every sector-cipher backend passes before it is used
 * (sector_cipher.h): IEEE 1619 known answers, then a cross-check against a reference XTS built
 * here from single-block AES-256-ECB, on inputs drawn once per process.  Test keys only: no
 * secret ever passes through this file.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sector_cipher.h"
#include "util/log.h"
#include "util/macros.h"

/*
 * IEEE Std 1619-2007, Annex B, vectors 10–14 (XTS-AES-256): Key1 = 2718…7627 and
 * Key2 = 3141…4592 (digits of e and pi, public test values), one 512-byte data unit holding bytes
 * 00..ff twice, data unit sequence numbers 0xff … 0xffffffffff.  The whole ciphertexts are in
 * tests/unit/test_xts.c; here each is pinned by its SHA-256 (checked against python3-cryptography),
 * and vector 10 by its first two blocks as well.
 */
static const uint8_t kat_key[ENVOL_XTS_KEY_SIZE] = {
	0x27, 0x18, 0x28, 0x18, 0x28, 0x45, 0x90, 0x45, 0x23, 0x53, 0x60, 0x28, 0x74,
	0x71, 0x35, 0x26, 0x62, 0x49, 0x77, 0x57, 0x24, 0x70, 0x93, 0x69, 0x99, 0x59,
	0x57, 0x49, 0x66, 0x96, 0x76, 0x27, 0x31, 0x41, 0x59, 0x26, 0x53, 0x58, 0x97,
	0x93, 0x23, 0x84, 0x62, 0x64, 0x33, 0x83, 0x27, 0x95, 0x02, 0x88, 0x41, 0x97,
	0x16, 0x93, 0x99, 0x37, 0x51, 0x05, 0x82, 0x09, 0x74, 0x94, 0x45, 0x92,
};

static const uint8_t kat10_head[32] = {
	0x1c, 0x3b, 0x3a, 0x10, 0x2f, 0x77, 0x03, 0x86, 0xe4, 0x83, 0x6c, 0x99, 0xe3, 0x70, 0xcf, 0x9b,
	0xea, 0x00, 0x80, 0x3f, 0x5e, 0x48, 0x23, 0x57, 0xa4, 0xae, 0x12, 0xd4, 0x14, 0xa3, 0xe6, 0x3b,
};

static const struct {
	unsigned number; /* the vector's number in IEEE 1619 */
	uint64_t sector;
	uint8_t sha256[32];
} kat_vectors[] = {
	{ 10, UINT64_C(0xff),
	  { 0xe9, 0x7e, 0x97, 0x4f, 0xa3, 0x93, 0xaf, 0x79, 0x4f, 0x7a, 0x46, 0x84, 0x39, 0x58, 0x14, 0xcf,
	    0x82, 0x0d, 0xe6, 0x0a, 0x01, 0xea, 0xec, 0x67, 0x7d, 0x87, 0xb4, 0x52, 0xe3, 0x16, 0xb3, 0x64 } },
	{ 11, UINT64_C(0xffff),
	  { 0xde, 0xf4, 0xfa, 0xd2, 0x9e, 0x95, 0xdf, 0xe1, 0xa2, 0x4b, 0x1a, 0xd4, 0x62, 0x0f, 0x86, 0xd7,
	    0xbe, 0x09, 0x4c, 0xce, 0xd5, 0xb1, 0x9e, 0x0b, 0x12, 0x1a, 0xa8, 0x2d, 0x9e, 0x6b, 0xaf, 0x98 } },
	{ 12, UINT64_C(0xffffff),
	  { 0x8b, 0xf4, 0x48, 0x61, 0xa0, 0x81, 0xdd, 0x66, 0x0d, 0x91, 0xce, 0x61, 0x5b, 0x5c, 0xdf, 0xb4,
	    0xd5, 0xdf, 0x9d, 0x72, 0xc3, 0x02, 0x5c, 0x12, 0xe6, 0x7c, 0xc0, 0xae, 0x09, 0x7f, 0xa5, 0xd5 } },
	{ 13, UINT64_C(0xffffffff),
	  { 0xc7, 0x06, 0x14, 0x0a, 0x11, 0xaf, 0xfd, 0xa7, 0x40, 0x22, 0x34, 0xf5, 0xe6, 0x33, 0x1e, 0xac,
	    0xbf, 0xeb, 0x68, 0x7d, 0x8e, 0x80, 0xd8, 0x39, 0x62, 0x69, 0x18, 0x23, 0xbb, 0x36, 0x36, 0xf0 } },
	{ 14, UINT64_C(0xffffffffff),
	  { 0xaf, 0xba, 0x71, 0xab, 0xc4, 0xe9, 0x5b, 0x18, 0x6d, 0x89, 0xa6, 0x3a, 0x54, 0x37, 0xc1, 0xba,
	    0xfc, 0xfd, 0x1a, 0x18, 0xca, 0x27, 0x39, 0x70, 0xc5, 0x34, 0xab, 0xa4, 0xf8, 0xd0, 0x52, 0x82 } },
};

/* ---- the reference: XTS composed from AES-256-ECB (IEEE 1619 section 5.3) ------------------ */

/* T = T * alpha in GF(2^128), little-endian byte order, reduction polynomial 0x87. */
static void gf_double(uint8_t t[16])
{
	unsigned carry = t[15] >> 7;

	for (unsigned i = 15; i > 0; i--)
		t[i] = (uint8_t)((t[i] << 1) | (t[i - 1] >> 7));
	t[0] = (uint8_t)((t[0] << 1) ^ (carry ? 0x87 : 0));
}

static EVP_CIPHER_CTX *ecb_ctx(const uint8_t *key32, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (ctx && (EVP_CipherInit_ex(ctx, EVP_aes_256_ecb(), NULL, key32, NULL, enc) != 1 ||
		    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)) {
		EVP_CIPHER_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/*
 * Per sector: the tweak stream (E_K2(plain64) times alpha^j for block j) into a side buffer,
 * then XOR, one ECB pass of the whole sector under K1, XOR again.
 */
int sector_cipher_reference(const uint8_t key[ENVOL_XTS_KEY_SIZE], bool enc, uint64_t sector,
			    unsigned sector_size, uint8_t *buf, size_t n)
{
	EVP_CIPHER_CTX *data = ecb_ctx(key, enc), *tw = ecb_ctx(key + 32, 1);
	uint8_t *stream = malloc(sector_size);
	int r = data && tw && stream ? 0 : -EIO;

	for (size_t i = 0; r == 0 && i < n; i++, buf += sector_size) {
		uint8_t t[XTS_TWEAK_SIZE];
		int outl = 0;

		xts_plain64(t, sector + i);
		if (EVP_CipherUpdate(tw, t, &outl, t, XTS_TWEAK_SIZE) != 1 || outl != XTS_TWEAK_SIZE) {
			r = -EIO;
			break;
		}
		for (unsigned off = 0; off < sector_size; off += XTS_TWEAK_SIZE) {
			memcpy(stream + off, t, XTS_TWEAK_SIZE);
			gf_double(t);
		}
		for (unsigned j = 0; j < sector_size; j++)
			buf[j] ^= stream[j];
		if (EVP_CipherUpdate(data, buf, &outl, buf, (int)sector_size) != 1 ||
		    outl != (int)sector_size)
			r = -EIO;
		for (unsigned j = 0; j < sector_size; j++)
			buf[j] ^= stream[j];
	}
	EVP_CIPHER_CTX_free(data);
	EVP_CIPHER_CTX_free(tw);
	free(stream);
	return r;
}

/* ---- the inputs of the cross-check, drawn once per process ---------------------------------- */

struct xcase {
	unsigned shift;
	uint64_t first;
	size_t n;
	uint8_t key[ENVOL_XTS_KEY_SIZE];
	uint8_t *plain;
	uint8_t *cipher; /* the reference's ciphertext */
};

/* Per sector size: below 2^32, across 2^32, far above it, up to 2^64 - 1, and a lone sector. */
#define XCASES_PER_SIZE 5
static struct xcase xcases[2 * XCASES_PER_SIZE];
static pthread_once_t xcases_once = PTHREAD_ONCE_INIT;
static int xcases_r = -EIO;

static uint64_t rand_u64(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
		return UINT64_C(0x9e3779b97f4a7c15); /* the caller's RAND_bytes check fails anyway */
	return v;
}

static void xcases_setup(void)
{
	for (size_t s = 0; s < 2; s++) {
		unsigned shift = s == 0 ? 9 : 12;
		const struct {
			uint64_t first;
			size_t n;
		} runs[XCASES_PER_SIZE] = {
			{ rand_u64() % UINT64_C(0xffff0000), 3 },
			{ UINT64_C(0x100000000) - 2, 4 },
			{ UINT64_C(0x100000000) + rand_u64() % (UINT64_MAX / 2), 5 },
			{ UINT64_MAX - 2, 3 },
			{ rand_u64() >> 1, 1 },
		};

		for (size_t i = 0; i < XCASES_PER_SIZE; i++) {
			struct xcase *c = &xcases[s * XCASES_PER_SIZE + i];
			size_t len = runs[i].n << shift;

			c->shift = shift;
			c->first = runs[i].first;
			c->n = runs[i].n;
			c->plain = malloc(len);
			c->cipher = malloc(len);
			if (!c->plain || !c->cipher)
				return;
			do {
				if (RAND_bytes(c->key, sizeof c->key) != 1)
					return;
			} while (CRYPTO_memcmp(c->key, c->key + 32, 32) == 0);
			if (RAND_bytes(c->plain, (int)len) != 1)
				return;
			memcpy(c->cipher, c->plain, len);
			if (sector_cipher_reference(c->key, true, c->first, 1u << shift, c->cipher,
						    c->n) < 0)
				return;
		}
	}
	xcases_r = 0;
}

/* ---- the self-test ------------------------------------------------------------------------- */

_printf_(3, 4) static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EIO;
}

static int kat(const struct sector_cipher_ops *ops, void *st, char *why, size_t len)
{
	uint8_t buf[512], md[32];
	unsigned mdlen = 0;

	for (size_t v = 0; v < ARRAY_SIZE(kat_vectors); v++) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = (uint8_t)i;
		if (ops->crypt(st, true, kat_vectors[v].sector, 9, buf, 1) < 0)
			return fail(why, len, "IEEE 1619 vector %u: encryption failed",
				    kat_vectors[v].number);
		if (EVP_Digest(buf, sizeof buf, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
			return fail(why, len, "SHA-256 failed");
		if (CRYPTO_memcmp(md, kat_vectors[v].sha256, sizeof md) != 0 ||
		    (v == 0 && CRYPTO_memcmp(buf, kat10_head, sizeof kat10_head) != 0))
			return fail(why, len, "IEEE 1619 vector %u: wrong ciphertext",
				    kat_vectors[v].number);
		if (ops->crypt(st, false, kat_vectors[v].sector, 9, buf, 1) < 0)
			return fail(why, len, "IEEE 1619 vector %u: decryption failed",
				    kat_vectors[v].number);
		for (size_t i = 0; i < sizeof buf; i++)
			if (buf[i] != (uint8_t)i)
				return fail(why, len, "IEEE 1619 vector %u: wrong decryption",
					    kat_vectors[v].number);
	}
	return 0;
}

/* One case: a many-sector call, then sector by sector, then decryption of the reference's. */
static int cross(const struct sector_cipher_ops *ops, const struct xcase *c, uint8_t *buf,
		 char *why, size_t len)
{
	size_t ss = (size_t)1 << c->shift, total = c->n << c->shift;
	void *st = NULL;
	int r = ops->new_state(c->key, &st);

	if (r < 0)
		return r == -ENOMEM ? r : fail(why, len, "cannot key a random key");
	memcpy(buf, c->plain, total);
	r = ops->crypt(st, true, c->first, c->shift, buf, c->n);
	if (r == 0 && memcmp(buf, c->cipher, total) != 0)
		r = fail(why, len, "cross-check: %zu sectors of %zu bytes from %#llx encrypt differently",
			 c->n, ss, (unsigned long long)c->first);
	memcpy(buf, c->plain, total);
	for (size_t i = 0; r == 0 && i < c->n; i++)
		r = ops->crypt(st, true, c->first + i, c->shift, buf + i * ss, 1);
	if (r == 0 && memcmp(buf, c->cipher, total) != 0)
		r = fail(why, len, "cross-check: sector-by-sector from %#llx (%zu bytes) differs",
			 (unsigned long long)c->first, ss);
	memcpy(buf, c->cipher, total);
	if (r == 0)
		r = ops->crypt(st, false, c->first, c->shift, buf, c->n);
	if (r == 0 && memcmp(buf, c->plain, total) != 0)
		r = fail(why, len, "cross-check: %zu sectors of %zu bytes from %#llx decrypt differently",
			 c->n, ss, (unsigned long long)c->first);
	ops->free_state(st);
	return r < 0 && r != -ENOMEM && r != -EIO ? -EIO : r;
}

int sector_cipher_selftest(const struct sector_cipher_ops *ops, char *why, size_t why_len)
{
	const char *reason = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	void *st = NULL;
	int r;

	if (why && why_len)
		why[0] = 0;
	r = ops->probe(&reason);
	if (r < 0) {
		if (why && why_len)
			snprintf(why, why_len, "%s", reason ? reason : "not usable");
		return -EOPNOTSUPP;
	}
	if (pthread_once(&xcases_once, xcases_setup) != 0 || xcases_r < 0)
		return fail(why, why_len, "cannot draw the cross-check's inputs");

	r = ops->new_state(kat_key, &st);
	if (r < 0)
		return r == -ENOMEM ? r : fail(why, why_len, "cannot key the IEEE 1619 key");
	r = kat(ops, st, why, why_len);
	ops->free_state(st);
	if (r < 0)
		return r;

	buf = malloc((size_t)5 << 12);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(xcases); i++) {
		r = cross(ops, &xcases[i], buf, why, why_len);
		if (r < 0)
			return r;
	}
	log_debug("sector cipher %s: self-test passed (IEEE 1619 vectors 10-14, %zu cross-checks)",
		  ops->name, ARRAY_SIZE(xcases));
	return 0;
}
