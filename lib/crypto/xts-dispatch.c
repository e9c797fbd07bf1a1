/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-dispatch.c — the "dispatch" sector-cipher backend: the same fetched AES-256-XTS as the
 * openssl backend, but driven through the providing provider's own OSSL_FUNC_cipher_*
 * functions, which skips EVP's per-init parameter look-ups (~60 ns per sector in OpenSSL 3.0).
 * Multi-sector calls run two sectors at a time on two contexts (the two sectors' work is
 * independent).
 */
#include <errno.h>
#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/sector_cipher.h"
#include "util/log.h"

#define DISPATCH_LANES 2

/* The provider's cipher functions for the fetched AES-256-XTS. */
struct dispatch_fns {
	void *provctx;
	OSSL_FUNC_cipher_newctx_fn *newctx;
	OSSL_FUNC_cipher_freectx_fn *freectx;
	OSSL_FUNC_cipher_encrypt_init_fn *einit;
	OSSL_FUNC_cipher_decrypt_init_fn *dinit;
	OSSL_FUNC_cipher_update_fn *update;
};

static pthread_once_t disp_once = PTHREAD_ONCE_INIT;
static struct dispatch_fns disp;
static const char *disp_why; /* NULL: usable */
static char disp_desc[96];

/* Is `name` one of the colon-separated names in `names`? */
static bool names_match(const char *names, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = names; p && *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && strncasecmp(p, name, n) == 0)
			return true;
		p = end ? end + 1 : NULL;
	}
	return false;
}

static void disp_setup(void)
{
	const EVP_CIPHER *cipher = xts_openssl_cipher();
	const OSSL_PROVIDER *prov = cipher ? EVP_CIPHER_get0_provider(cipher) : NULL;
	const OSSL_ALGORITHM *algs;
	struct dispatch_fns d = { 0 };
	int no_cache = 0;

	disp_why = "OpenSSL cannot fetch AES-256-XTS";
	if (!prov)
		return;
	d.provctx = OSSL_PROVIDER_get0_provider_ctx(prov);
	algs = OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_cache);
	disp_why = "the provider of AES-256-XTS lacks a cipher function";
	if (!algs)
		return;
	for (const OSSL_ALGORITHM *a = algs; a->algorithm_names; a++) {
		if (!names_match(a->algorithm_names, "AES-256-XTS"))
			continue;
		for (const OSSL_DISPATCH *f = a->implementation; f && f->function_id != 0; f++) {
			switch (f->function_id) {
			case OSSL_FUNC_CIPHER_NEWCTX:
				d.newctx = OSSL_FUNC_cipher_newctx(f);
				break;
			case OSSL_FUNC_CIPHER_FREECTX:
				d.freectx = OSSL_FUNC_cipher_freectx(f);
				break;
			case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
				d.einit = OSSL_FUNC_cipher_encrypt_init(f);
				break;
			case OSSL_FUNC_CIPHER_DECRYPT_INIT:
				d.dinit = OSSL_FUNC_cipher_decrypt_init(f);
				break;
			case OSSL_FUNC_CIPHER_UPDATE:
				d.update = OSSL_FUNC_cipher_update(f);
				break;
			default:
				break;
			}
		}
		break;
	}
	/* The functions are code in the provider, loaded while the fetched cipher is held. */
	OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
	if (!d.newctx || !d.freectx || !d.einit || !d.dinit || !d.update)
		return;
	disp = d;
	disp_why = NULL;
	snprintf(disp_desc, sizeof disp_desc, "OpenSSL %s provider functions (%s provider)",
		 OpenSSL_version(OPENSSL_VERSION_STRING), OSSL_PROVIDER_get0_name(prov));
}

static int disp_probe(const char **ret_why)
{
	if (pthread_once(&disp_once, disp_setup) != 0) {
		*ret_why = "pthread_once failed";
		return -EOPNOTSUPP;
	}
	if (disp_why) {
		*ret_why = disp_why;
		return -EOPNOTSUPP;
	}
	return 0;
}

static const char *disp_describe(void)
{
	return disp_desc[0] ? disp_desc : "OpenSSL provider functions";
}

struct disp_state {
	void *enc[DISPATCH_LANES];
	void *dec[DISPATCH_LANES];
};

static void *disp_ctx_new(const uint8_t *key, int enc)
{
	void *ctx = disp.newctx(disp.provctx);
	int ok;

	if (!ctx)
		return NULL;
	ok = enc ? disp.einit(ctx, key, ENVOL_XTS_KEY_SIZE, NULL, 0, NULL) :
		   disp.dinit(ctx, key, ENVOL_XTS_KEY_SIZE, NULL, 0, NULL);
	if (ok != 1) {
		disp.freectx(ctx); /* the provider cleanses its key schedule */
		return NULL;
	}
	return ctx;
}

static void disp_free(void *state)
{
	struct disp_state *s = state;

	if (!s)
		return;
	for (size_t l = 0; l < DISPATCH_LANES; l++) {
		if (s->enc[l])
			disp.freectx(s->enc[l]);
		if (s->dec[l])
			disp.freectx(s->dec[l]);
	}
	free(s);
}

static int disp_new(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret)
{
	struct disp_state *s;

	if (disp_why)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t l = 0; l < DISPATCH_LANES; l++) {
		s->enc[l] = disp_ctx_new(key, 1);
		s->dec[l] = disp_ctx_new(key, 0);
		if (!s->enc[l] || !s->dec[l]) {
			disp_free(s);
			return log_debug_errno(-EIO, "cannot key AES-256-XTS provider contexts");
		}
	}
	*ret = s;
	return 0;
}

static int disp_crypt(void *state, bool enc, uint64_t sector, unsigned sector_shift, uint8_t *buf,
		      size_t n)
{
	struct disp_state *s = state;
	OSSL_FUNC_cipher_encrypt_init_fn *init = enc ? disp.einit : disp.dinit;
	void *const *ctx = enc ? s->enc : s->dec;
	size_t ss = (size_t)1 << sector_shift, o0 = 0, o1 = 0, i = 0;
	uint8_t t0[XTS_TWEAK_SIZE], t1[XTS_TWEAK_SIZE];

	/* Pairs: both tweaks in, then both sectors through. */
	for (; i + 1 < n; i += 2, buf += 2 * ss) {
		xts_plain64(t0, sector + i);
		xts_plain64(t1, sector + i + 1);
		if (init(ctx[0], NULL, 0, t0, XTS_TWEAK_SIZE, NULL) != 1 ||
		    init(ctx[1], NULL, 0, t1, XTS_TWEAK_SIZE, NULL) != 1 ||
		    disp.update(ctx[0], buf, &o0, ss, buf, ss) != 1 ||
		    disp.update(ctx[1], buf + ss, &o1, ss, buf + ss, ss) != 1 || o0 != ss ||
		    o1 != ss)
			return -EIO;
	}
	if (i < n) {
		xts_plain64(t0, sector + i);
		if (init(ctx[0], NULL, 0, t0, XTS_TWEAK_SIZE, NULL) != 1 ||
		    disp.update(ctx[0], buf, &o0, ss, buf, ss) != 1 || o0 != ss)
			return -EIO;
	}
	return 0;
}

const struct sector_cipher_ops sector_cipher_dispatch = {
	.name = "dispatch",
	.probe = disp_probe,
	.describe = disp_describe,
	.new_state = disp_new,
	.free_state = disp_free,
	.crypt = disp_crypt,
};
