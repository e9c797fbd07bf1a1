/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * error.h — the one "printf into a caller's error string" helper.  libenvol functions that can
 * fail for a reason worth telling a user take (char *err, size_t errlen) and fill it with
 * envol_set_error(); err may be NULL or errlen 0 (the message is then dropped).
 */
#ifndef ENVOL_UTIL_ERROR_H
#define ENVOL_UTIL_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "util/macros.h"

void envol_set_error(char *err, size_t errlen, const char *fmt, ...) _printf_(3, 4);
void envol_set_errorv(char *err, size_t errlen, const char *fmt, va_list ap) _printf_(3, 0);

/* envol_set_error(), then return r: "return envol_fail(-EINVAL, err, errlen, "…", …);" */
#define envol_fail(r, err, errlen, ...) (envol_set_error((err), (errlen), __VA_ARGS__), (r))

#endif
