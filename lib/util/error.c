/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* error.c — filling a caller's error string (error.h). */
#include <stdio.h>

#include "util/error.h"

void envol_set_errorv(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (!err || errlen == 0)
		return;
	vsnprintf(err, errlen, fmt, ap);
}

void envol_set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	envol_set_errorv(err, errlen, fmt, ap);
	va_end(ap);
}
