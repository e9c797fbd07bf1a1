/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts.h — the sector cipher: AES-256-XTS with the "plain64" tweak (sector number as a 128-bit
 * little-endian integer), exactly what dm-crypt's aes-xts-plain64 with --iv-large-sectors does.
 * One struct envol_xts per thread: the key schedule is set up once in envol_xts_new(), and each
 * sector only changes the 16-byte tweak.  Not thread-safe; keep one per worker.
 */
#ifndef ENVOL_XTS_H
#define ENVOL_XTS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define ENVOL_XTS_KEY_SIZE 64 /* two AES-256 keys */

struct envol_xts;

/*
 * key: 64 bytes (the backend keys its own state from it; the caller may wipe its copy).
 * sector_size: 512 or 4096.  Uses the backend envol_xts_select() chose (auto if never called).
 * Returns 0 and *ret, or -EINVAL (bad size, or the two key halves equal, which IEEE 1619
 * forbids), -ENOMEM, -EIO (backend failure, or no backend passed its self-test).
 */
int envol_xts_new(const uint8_t *key, size_t key_len, unsigned sector_size, struct envol_xts **ret);
/* Wipes and frees; NULL is fine; returns NULL. */
struct envol_xts *envol_xts_free(struct envol_xts *x);

unsigned envol_xts_sector_size(const struct envol_xts *x);

/*
 * En/decrypt len bytes in place, starting at sector number `sector` (counted in units of the
 * sector size given to envol_xts_new).  len must be a whole number of sectors (else -EINVAL,
 * buffer untouched; also -EINVAL for NULL arguments or when the last sector number would pass
 * 2^64 - 1).  len 0 is a no-op.  Returns 0 or -EIO (backend failure; buffer contents are then
 * undefined).
 */
int envol_xts_encrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len);
int envol_xts_decrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len);

/*
 * Backends: who does the work (sector_cipher.h).  All give identical output; they differ in
 * speed and in what they need.  Each one passes a start-up self-test (IEEE 1619 vectors and a
 * cross-check on random keys, data and sector numbers) before it is used in a process.
 */
enum envol_xts_backend {
	ENVOL_XTS_BACKEND_AUTO = 0, /* the fastest one that passes its self-test */
	ENVOL_XTS_BACKEND_OPENSSL,  /* OpenSSL 3 EVP: portable, the one to use under FIPS */
	ENVOL_XTS_BACKEND_GCRYPT,   /* libgcrypt (VAES/AVX2 where the CPU has it) */
	ENVOL_XTS_BACKEND_VAES,     /* ours: VAES + VPCLMULQDQ + AVX-512 intrinsics, many sectors */
	ENVOL_XTS_BACKEND_MAX,
	ENVOL_XTS_BACKEND_INVALID = -EINVAL,
};

/* "auto", "openssl", "gcrypt", "vaes" (server.cipher_backend names); NULL if out of range. */
const char *envol_xts_backend_to_string(enum envol_xts_backend b);
/* The inverse; ENVOL_XTS_BACKEND_INVALID for an unknown name or NULL. */
enum envol_xts_backend envol_xts_backend_from_string(const char *s);

/*
 * Chooses the backend that envol_xts_new() uses from now on in this process (objects already
 * made keep theirs).  name: "auto" or a backend name.  Runs the self-test of every backend
 * (once per process; the results are kept).  auto takes the first of the preference order
 * (fastest first, see docs/performance.md) that is usable here and passed, or openssl when the
 * process runs in FIPS mode; a named backend that is unusable or failed falls back the same
 * way.  Writes one line for the daemon's log into why: the backend, what does its work, why it
 * was chosen, and every backend's self-test result.  Returns 0; 1 when it fell back or a
 * self-test failed (worth a warning); -EINVAL for an unknown name (nothing changes); -EIO when
 * no backend passed (envol_xts_new() then fails with -EIO).  Without a call, the first
 * envol_xts_new() selects "auto".  Thread-safe.
 */
int envol_xts_select(const char *name, char *why, size_t why_len);
/* The backend envol_xts_new() uses now; AUTO before any selection or after one that failed. */
enum envol_xts_backend envol_xts_selected(void);

/*
 * A backend's self-test result in this process, running it if it has not run yet: 0 passed,
 * -EOPNOTSUPP (not usable here), -EIO (failed), -EINVAL (AUTO or out of range).  why (may be
 * NULL) gets the reason or, when it passed, what does the work ("libgcrypt 1.10.1").
 */
int envol_xts_backend_status(enum envol_xts_backend b, char *why, size_t why_len);

/*
 * envol_xts_new() on a given backend (tests, benchmarks, tools); AUTO means the selected one.
 * Same errors, plus -EOPNOTSUPP (backend not usable here), -EIO (it failed its self-test) and
 * -EINVAL for an out-of-range backend.
 */
int envol_xts_new_backend(const uint8_t *key, size_t key_len, unsigned sector_size,
			  enum envol_xts_backend backend, struct envol_xts **ret);
/* The backend x runs on; AUTO for NULL. */
enum envol_xts_backend envol_xts_get_backend(const struct envol_xts *x);

#endif
