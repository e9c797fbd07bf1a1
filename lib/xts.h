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

#endif
