/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * buffer.h — the one growable byte buffer of libenvol.  Always NUL-terminated (so it doubles
 * as a string builder); an allocation failure is sticky (every later append is a no-op and
 * envol_buffer_take() reports -ENOMEM), so callers append freely and check once.  A buffer made
 * with .wipe = true wipes every block it lets go of (growth and free): use it for request and
 * response bodies that may hold key material or plaintext.
 */
#ifndef ENVOL_UTIL_BUFFER_H
#define ENVOL_UTIL_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/macros.h"

struct envol_buffer {
	char *data;
	size_t len, cap;
	size_t max; /* 0: no limit; appends past it fail with -EMSGSIZE */
	bool wipe;  /* wipe blocks before freeing them */
	int error;  /* 0, or the first -errno (sticky) */
};

#define ENVOL_BUFFER_INIT { 0 }

/* Appends n bytes.  Returns 0 or the sticky -errno (-ENOMEM, -EMSGSIZE). */
int envol_buffer_append(struct envol_buffer *b, const void *data, size_t n);
int envol_buffer_append_str(struct envol_buffer *b, const char *s);
int envol_buffer_append_char(struct envol_buffer *b, char c);
int envol_buffer_printf(struct envol_buffer *b, const char *fmt, ...) _printf_(2, 3);
/* Hands the NUL-terminated contents over (an empty buffer gives ""), and resets the buffer.
 * Returns 0, or the sticky -errno after freeing what was there; *ret_len may be NULL. */
int envol_buffer_take(struct envol_buffer *b, char **ret, size_t *ret_len);
/* Frees (wiping first when b->wipe) and resets; the buffer may be reused. */
void envol_buffer_done(struct envol_buffer *b);
static inline void envol_buffer_donep(struct envol_buffer *b)
{
	envol_buffer_done(b);
}
#define _cleanup_buffer_ _cleanup_(envol_buffer_donep)

#endif
