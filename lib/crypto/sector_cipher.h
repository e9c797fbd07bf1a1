/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sector_cipher.h — the one interface every sector-cipher backend implements (xts-openssl.c,
 * xts-gcrypt.c, …), and the start-up self-test and selection that xts.c runs over them.
 * Internal to libenvol: callers use xts.h.  A backend does AES-256-XTS with the plain64 tweak
 * (sector number as a 128-bit little-endian integer) on whole sectors in place; xts.c has
 * already checked every argument (key halves differ, sector size 512 or 4096, n >= 1, no
 * sector number past 2^64 - 1), so a backend only reports its own failures.
 */
#ifndef ENVOL_SECTOR_CIPHER_H
#define ENVOL_SECTOR_CIPHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/xts.h"

#define XTS_TWEAK_SIZE 16

/* The plain64 tweak of a sector: its number as a 128-bit little-endian integer. */
static inline void xts_plain64(uint8_t tweak[XTS_TWEAK_SIZE], uint64_t sector)
{
	for (unsigned i = 0; i < 8; i++)
		tweak[i] = (uint8_t)(sector >> (8 * i));
	for (unsigned i = 8; i < XTS_TWEAK_SIZE; i++)
		tweak[i] = 0;
}

struct sector_cipher_ops {
	const char *name; /* the server.cipher_backend name */
	/*
	 * Whether the backend can run in this process (library present and initialised, CPU
	 * features): 0, or -EOPNOTSUPP with *ret_why set to a static reason.  Cheap; may be called
	 * often (the first call may initialise the library).
	 */
	int (*probe)(const char **ret_why);
	/* What does the work, for the log: "OpenSSL 3.0.19 EVP (default provider)". Static. */
	const char *(*describe)(void);
	/*
	 * A state keyed with the 64-byte key (both halves).  Key schedules live in the backend's
	 * state; the caller's key may be wiped afterwards.  0, -ENOMEM or -EIO.
	 */
	int (*new_state)(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret);
	/* Wipes the key schedules and frees; NULL is fine. */
	void (*free_state)(void *state);
	/*
	 * n whole sectors of (1 << sector_shift) bytes in place, the first numbered `sector`.
	 * 0, or -EIO (the buffer is then undefined).  One state is used by one thread at a time.
	 */
	int (*crypt)(void *state, bool enc, uint64_t sector, unsigned sector_shift, uint8_t *buf,
		     size_t n);
};

/*
 * A backend compiled out of this build (library or instruction set missing): its probe says
 * why, and nothing else is ever called.  The stubs are in xts.c.
 */
int sector_cipher_stub_new(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret);
void sector_cipher_stub_free(void *state);
int sector_cipher_stub_crypt(void *state, bool enc, uint64_t sector, unsigned sector_shift,
			     uint8_t *buf, size_t n);
#define SECTOR_CIPHER_UNAVAILABLE(var, backend_name, why_text)                                      \
	static int var##_probe(const char **ret_why)                                               \
	{                                                                                          \
		*ret_why = why_text;                                                               \
		return -EOPNOTSUPP;                                                                \
	}                                                                                          \
	static const char *var##_describe(void)                                                    \
	{                                                                                          \
		return backend_name " (not built)";                                                \
	}                                                                                          \
	const struct sector_cipher_ops var = {                                                     \
		.name = backend_name,                                                              \
		.probe = var##_probe,                                                              \
		.describe = var##_describe,                                                        \
		.new_state = sector_cipher_stub_new,                                               \
		.free_state = sector_cipher_stub_free,                                             \
		.crypt = sector_cipher_stub_crypt,                                                 \
	}

extern const struct sector_cipher_ops sector_cipher_openssl;
extern const struct sector_cipher_ops sector_cipher_gcrypt;
extern const struct sector_cipher_ops sector_cipher_vaes;

/*
 * The start-up self-test of one backend (xts-selftest.c), run before the backend is used:
 *  1. known answers: IEEE Std 1619-2007 vectors 10–14 (XTS-AES-256, 512-byte data units,
 *     sequence numbers 0xff … 0xffffffffff), encrypt and decrypt;
 *  2. cross-check: random keys, random data, both sector sizes, sector numbers below and above
 *     2^32, runs that cross 2^32 and end at 2^64 - 1, one- and many-sector calls, encrypt and
 *     decrypt, compared byte for byte with a reference XTS that xts-selftest.c composes from
 *     OpenSSL's single-block AES-256-ECB (no backend's XTS code).  The inputs are drawn once per
 *     process and every backend gets the same ones, so backends that pass agree with each other
 *     byte for byte on all of them.
 * Returns 0, -EOPNOTSUPP (probe said no; why says why), -EIO (a wrong answer; why names the
 * case), -ENOMEM.  why may be NULL.
 */
int sector_cipher_selftest(const struct sector_cipher_ops *ops, char *why, size_t why_len);

/*
 * The reference of the cross-check: XTS-AES-256 with the plain64 tweak composed from
 * AES-256-ECB, in place, n sectors of sector_size bytes.  Slow; for tests.  0 or -EIO.
 */
int sector_cipher_reference(const uint8_t key[ENVOL_XTS_KEY_SIZE], bool enc, uint64_t sector,
			    unsigned sector_size, uint8_t *buf, size_t n);

/*
 * The selection rule of envol_xts_select(), without side effects (for unit tests): want is a
 * backend or AUTO; status[b] is each backend's self-test result (0 passed, -EOPNOTSUPP
 * unusable, -EIO failed), whys[b] its reason (may be NULL); fips: the process runs in FIPS
 * mode.  Order of preference for auto (and for falling back): the fastest first, see
 * sector_cipher_preference[].  Under FIPS, auto means openssl.  Writes one line for the log
 * into why.  Returns the backend chosen, or -EIO when none passed.
 */
int sector_cipher_choose(enum envol_xts_backend want, const int status[ENVOL_XTS_BACKEND_MAX],
			 const char *const whys[ENVOL_XTS_BACKEND_MAX], bool fips, char *why,
			 size_t why_len);

#endif
