/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * secure_mem.h — memory for key material (DEKs, CMK material, root key, HMAC keys).
 * Every buffer is its own anonymous mapping: mlock()ed so it never reaches swap, marked
 * MADV_DONTDUMP so it never reaches a core file, and wiped with OPENSSL_cleanse() before it
 * is unmapped.  Also the process hardening every daemon calls first.
 */
#ifndef ENVOL_SECURE_MEM_H
#define ENVOL_SECURE_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "util/macros.h"

/*
 * Returns a zeroed, locked buffer of n bytes (n > 0), or NULL with errno set: ENOMEM when
 * RLIMIT_MEMLOCK is too small (the error is logged, naming the limit and LimitMEMLOCK=).
 */
void *envol_secure_alloc(size_t n);
/* Wipes and releases a buffer from envol_secure_alloc(); NULL is fine. Returns NULL. */
void *envol_secure_free(void *p);
static inline void envol_secure_freep(void *p)
{
	envol_secure_free(*(void **)p);
}
#define _cleanup_secure_ _cleanup_(envol_secure_freep)

/* Size the buffer was allocated with (0 for NULL). */
size_t envol_secure_size(const void *p);

/* Wipe n bytes that were on the stack or in ordinary memory (OPENSSL_cleanse). */
void envol_wipe(void *p, size_t n);

/* Constant-time comparison (CRYPTO_memcmp): true when the n bytes at a and b are equal. */
bool envol_memequal_consttime(const void *a, const void *b, size_t n);

/*
 * Daemon hardening: not dumpable (PR_SET_DUMPABLE 0, so no core files and no ptrace by other
 * users), RLIMIT_CORE 0.  Returns 0 or -errno.
 */
int envol_harden_process(void);

#endif
