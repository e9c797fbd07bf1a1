/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-gcrypt.c — the "gcrypt" sector-cipher backend: libgcrypt's AES-256 in XTS mode, which
 * since 1.10 runs a VAES/AVX2 loop on CPUs that have it (and AES-NI otherwise).  One handle per
 * state, keyed once; per sector gcry_cipher_setiv() with the tweak, then the sector in place.
 *
 * Library initialisation follows cryptsetup's gcrypt backend: when the program has not set
 * libgcrypt up itself, check the version, disable libgcrypt's secure memory (a fixed 32 KiB
 * pool that a server with many volumes would exhaust) and finish the initialisation.  The
 * expanded key schedule thus lives in the handle on the ordinary heap, as it does in an
 * OpenSSL EVP context; the handle is wiped by gcry_cipher_close().
 *
 * Built only when CMake found libgcrypt (ENVOL_HAVE_GCRYPT); otherwise the probe says so.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/sector_cipher.h"
#include "util/log.h"

#ifdef ENVOL_HAVE_GCRYPT
#include <gcrypt.h>

#define GCRYPT_MIN_VERSION "1.9.0" /* the first with XTS and a pkg-config file */

static pthread_once_t gc_once = PTHREAD_ONCE_INIT;
static const char *gc_why = "libgcrypt not initialised";
static char gc_desc[64];

static void gc_setup(void)
{
	const char *v;

	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		v = gcry_check_version(GCRYPT_MIN_VERSION);
		if (!v) {
			gc_why = "libgcrypt is older than " GCRYPT_MIN_VERSION;
			return;
		}
		gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	} else {
		v = gcry_check_version(NULL);
	}
	if (gcry_cipher_algo_info(GCRY_CIPHER_AES256, GCRYCTL_TEST_ALGO, NULL, NULL) != 0) {
		gc_why = "libgcrypt has no usable AES-256";
		return;
	}
	snprintf(gc_desc, sizeof gc_desc, "libgcrypt %s", v ? v : "?");
	gc_why = NULL;
}

static int gc_probe(const char **ret_why)
{
	if (pthread_once(&gc_once, gc_setup) != 0) {
		*ret_why = "pthread_once failed";
		return -EOPNOTSUPP;
	}
	if (gc_why) {
		*ret_why = gc_why;
		return -EOPNOTSUPP;
	}
	return 0;
}

static const char *gc_describe(void)
{
	return gc_desc[0] ? gc_desc : "libgcrypt";
}

static void gc_free(void *state)
{
	if (state)
		gcry_cipher_close(state); /* wipes the context before freeing it */
}

static int gc_new(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret)
{
	gcry_cipher_hd_t h = NULL;
	gcry_error_t e;

	if (gc_why)
		return -EIO;
	e = gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_XTS, 0);
	if (e)
		return log_debug_errno(gcry_err_code(e) == GPG_ERR_ENOMEM ? -ENOMEM : -EIO,
				       "gcry_cipher_open: %s", gcry_strerror(e));
	e = gcry_cipher_setkey(h, key, ENVOL_XTS_KEY_SIZE);
	if (e) {
		gcry_cipher_close(h);
		return log_debug_errno(-EIO, "gcry_cipher_setkey: %s", gcry_strerror(e));
	}
	*ret = h;
	return 0;
}

static int gc_crypt(void *state, bool enc, uint64_t sector, unsigned sector_shift, uint8_t *buf,
		    size_t n)
{
	gcry_cipher_hd_t h = state;
	size_t ss = (size_t)1 << sector_shift;
	uint8_t tweak[XTS_TWEAK_SIZE];

	for (size_t i = 0; i < n; i++, buf += ss) {
		gcry_error_t e;

		xts_plain64(tweak, sector + i);
		e = gcry_cipher_setiv(h, tweak, sizeof tweak);
		if (!e)
			e = enc ? gcry_cipher_encrypt(h, buf, ss, NULL, 0) :
				  gcry_cipher_decrypt(h, buf, ss, NULL, 0);
		if (e)
			return log_debug_errno(-EIO, "libgcrypt XTS: %s", gcry_strerror(e));
	}
	return 0;
}

const struct sector_cipher_ops sector_cipher_gcrypt = {
	.name = "gcrypt",
	.probe = gc_probe,
	.describe = gc_describe,
	.new_state = gc_new,
	.free_state = gc_free,
	.crypt = gc_crypt,
};

#else /* !ENVOL_HAVE_GCRYPT */

SECTOR_CIPHER_UNAVAILABLE(sector_cipher_gcrypt, "gcrypt", "built without libgcrypt");

#endif
