/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * macros.h — small macros every libenvol file uses: scope cleanup, ownership transfer,
 * overflow-checked arithmetic, array size.  No state, no functions with side effects.
 */
#ifndef ENVOL_UTIL_MACROS_H
#define ENVOL_UTIL_MACROS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ADD_OVERFLOW(a, b, r) __builtin_add_overflow(a, b, r)
#define MUL_OVERFLOW(a, b, r) __builtin_mul_overflow(a, b, r)

/* Move ownership out of a _cleanup_ variable: returns the value and leaves NULL behind. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p_ = (p);                                                           \
		(p) = NULL;                                                                        \
		_p_;                                                                               \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd_ = (fd);                                                                   \
		(fd) = -1;                                                                         \
		_fd_;                                                                              \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

/* Negative errno from the current errno, never 0 (for "return -errno" after a libc call). */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

#endif
