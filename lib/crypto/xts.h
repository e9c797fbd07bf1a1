/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts.h — the sector cipher: AES-256-XTS with the "plain64" tweak (sector number as a 128-bit
 * little-endian integer), exactly what dm-crypt's aes-xts-plain64 with --iv-large-sectors does.
 * One struct envol_xts per thread: the key schedule is set up once in envol_xts_new(), and each
 * sector only changes the 16-byte tweak.  Not thread-safe; keep one per worker.
 */
#ifndef ENVOL_XTS_H
#define ENVOL_XTS_H

#include <stddef.h>
#include <stdint.h>

#define ENVOL_XTS_KEY_SIZE 64 /* two AES-256 keys */

struct envol_xts;

/*
 * key: 64 bytes (copied into secure memory; the caller may wipe its copy). sector_size: 512 or
 * 4096.  Returns 0 and *ret, or -EINVAL (bad size, or the two key halves equal, which OpenSSL
 * refuses for XTS), -ENOMEM, -EIO (OpenSSL failure).
 */
int envol_xts_new(const uint8_t *key, size_t key_len, unsigned sector_size, struct envol_xts **ret);
/* Wipes and frees; NULL is fine; returns NULL. */
struct envol_xts *envol_xts_free(struct envol_xts *x);

unsigned envol_xts_sector_size(const struct envol_xts *x);

/*
 * En/decrypt len bytes in place, starting at sector number `sector` (counted in units of the
 * sector size given to envol_xts_new).  len must be a whole number of sectors (else -EINVAL,
 * buffer untouched; also -EINVAL for NULL arguments or when the last sector number would pass
 * 2^64 - 1).  len 0 is a no-op.  Returns 0 or -EIO (OpenSSL failure; buffer contents are then
 * undefined).
 */
int envol_xts_encrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len);
int envol_xts_decrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len);

/*
 * Which OpenSSL interface does the per-sector work.  Both give identical output; they differ only
 * in speed.  EVP re-initialises an EVP_CIPHER_CTX with the tweak for every sector, which costs
 * ~60 ns per sector in OpenSSL 3.0 (parameter look-ups by name).  DISPATCH calls the providing
 * provider's cipher functions (OSSL_FUNC_cipher_*) for the same fetched "AES-256-XTS" directly,
 * so a sector costs what `openssl speed -evp` measures.  DISPATCH is set up once per process and
 * only used if the provider offers every function it needs and passes a known-answer self-test
 * (IEEE 1619 vector 10) and a comparison with EVP; otherwise AUTO quietly means EVP.
 */
enum envol_xts_impl {
	ENVOL_XTS_IMPL_AUTO = 0, /* DISPATCH when usable and ENVOL_XTS_FORCE_EVP is not "1" */
	ENVOL_XTS_IMPL_EVP,
	ENVOL_XTS_IMPL_DISPATCH,
};

/*
 * envol_xts_new() with an explicit implementation (for tests and benchmarks; daemons use
 * envol_xts_new(), which is AUTO).  Same errors, plus -EOPNOTSUPP when DISPATCH is asked for
 * but not usable in this process, and -EINVAL for an unknown impl.
 */
int envol_xts_new_impl(const uint8_t *key, size_t key_len, unsigned sector_size,
		       enum envol_xts_impl impl, struct envol_xts **ret);
/* EVP or DISPATCH: what x actually uses; AUTO for NULL. */
enum envol_xts_impl envol_xts_get_impl(const struct envol_xts *x);
/* "auto", "evp", "dispatch" (or "?"), for messages. */
const char *envol_xts_impl_name(enum envol_xts_impl impl);

#endif
