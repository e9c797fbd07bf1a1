/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* secure_mem.c — locked, non-dumpable, wiped-on-free buffers for key material. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "util/secure_mem.h"

/* Header at the start of every mapping: how big it is, and how much the caller asked for. */
struct secure_hdr {
	size_t map_len;
	size_t user_len;
	uint64_t magic;
	uint64_t pad; /* keeps the user area 32-byte aligned for AES-NI friendly loads */
};

#define SECURE_MAGIC UINT64_C(0x53454355524b4559) /* "SECURKEY" */

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	return ps > 0 ? (size_t)ps : 4096;
}

void *envol_secure_alloc(size_t n)
{
	size_t ps = page_size(), len;
	struct secure_hdr *h;

	if (n == 0 || ADD_OVERFLOW(n, sizeof(*h) + ps - 1, &len)) {
		errno = EINVAL;
		return NULL;
	}
	len &= ~(ps - 1);
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	/* The raw syscall: sanitizer runtimes intercept mlock() and make it a silent no-op. */
	if (syscall(SYS_mlock, h, len) < 0) {
		int r = -errno;
		struct rlimit rl = { 0 };

		(void)getrlimit(RLIMIT_MEMLOCK, &rl);
		(void)munmap(h, len);
		log_error_errno(r,
				"cannot lock %zu bytes of key memory: %m; RLIMIT_MEMLOCK is %llu "
				"bytes (raise it with ulimit -l or LimitMEMLOCK=)",
				len, (unsigned long long)rl.rlim_cur);
		errno = ENOMEM;
		return NULL;
	}
	(void)madvise(h, len, MADV_DONTDUMP);
	/* Also keep it out of a child's address space after fork(). */
	(void)madvise(h, len, MADV_WIPEONFORK);
	h->map_len = len;
	h->user_len = n;
	h->magic = SECURE_MAGIC;
	return h + 1;
}

void *envol_secure_free(void *p)
{
	struct secure_hdr *h;
	size_t len;

	if (!p)
		return NULL;
	h = (struct secure_hdr *)p - 1;
	if (h->magic != SECURE_MAGIC)
		abort(); /* not ours: a bug, never input */
	len = h->map_len;
	OPENSSL_cleanse(h, len);
	(void)syscall(SYS_munlock, h, len);
	(void)munmap(h, len);
	return NULL;
}

size_t envol_secure_size(const void *p)
{
	return p ? ((const struct secure_hdr *)p - 1)->user_len : 0;
}

void envol_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

bool envol_memequal_consttime(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int envol_harden_process(void)
{
	struct rlimit no_core = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		return log_debug_errno(-errno, "setrlimit(RLIMIT_CORE): %m");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_debug_errno(-errno, "prctl(PR_SET_DUMPABLE): %m");
	return 0;
}
