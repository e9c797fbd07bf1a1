/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* buffer.c — the growable byte buffer (buffer.h). */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buffer.h"

static void release(struct envol_buffer *b)
{
	if (b->data && b->wipe)
		OPENSSL_cleanse(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Makes room for extra more bytes plus the terminating NUL. */
static int reserve(struct envol_buffer *b, size_t extra)
{
	size_t need, cap;
	char *n;

	if (b->error)
		return b->error;
	if (ADD_OVERFLOW(b->len, extra, &need) || ADD_OVERFLOW(need, (size_t)1, &need))
		return b->error = -ENOMEM;
	if (b->max && need - 1 > b->max)
		return b->error = -EMSGSIZE;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		if (MUL_OVERFLOW(cap, (size_t)2, &cap))
			return b->error = -ENOMEM;
	if (b->wipe) {
		/* not realloc: the old block must be wiped before it is freed */
		size_t len = b->len;

		n = malloc(cap);
		if (n && len)
			memcpy(n, b->data, len);
		if (n) {
			release(b); /* resets len */
			b->len = len;
		}
	} else {
		n = realloc(b->data, cap);
	}
	if (!n)
		return b->error = -ENOMEM;
	b->data = n;
	b->cap = cap;
	return 0;
}

int envol_buffer_append(struct envol_buffer *b, const void *data, size_t n)
{
	size_t len = b->len;
	int r = reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + len, data, n);
	b->len = len + n;
	b->data[b->len] = '\0';
	return 0;
}

int envol_buffer_append_str(struct envol_buffer *b, const char *s)
{
	return envol_buffer_append(b, s, strlen(s));
}

int envol_buffer_append_char(struct envol_buffer *b, char c)
{
	return envol_buffer_append(b, &c, 1);
}

int envol_buffer_printf(struct envol_buffer *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return b->error ? b->error : (b->error = -EINVAL);
	r = reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int envol_buffer_take(struct envol_buffer *b, char **ret, size_t *ret_len)
{
	int r = reserve(b, 0);

	if (r < 0) {
		envol_buffer_done(b);
		return r;
	}
	b->data[b->len] = '\0';
	*ret = b->data;
	if (ret_len)
		*ret_len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return 0;
}

void envol_buffer_done(struct envol_buffer *b)
{
	release(b);
	b->error = 0;
}
