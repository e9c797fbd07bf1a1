/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h — the one logging path for libenvol and its programs.  Messages go to the systemd
 * journal when the process runs under systemd (JOURNAL_STREAM is set), to stderr otherwise.
 * lib/ logs at debug level only; daemons and tools log errors once, where they are understood.
 * Never pass key material or plaintext to these functions.
 */
#ifndef ENVOL_LOG_H
#define ENVOL_LOG_H

#include <stddef.h>
#include <syslog.h>

#include "util/macros.h"

void envol_log_set_level(int max_priority); /* LOG_ERR … LOG_DEBUG; default LOG_INFO */
int envol_log_get_level(void);
void envol_log_set_ident(const char *ident); /* program name printed on stderr lines */

/*
 * Copies s into buf (len bytes, NUL-terminated) with control bytes, DEL and backslash written
 * as \xNN; truncates between characters.  Returns the length written.  envol_log_errno() applies
 * it to every message, so a client's string (an export name with a newline) stays on its line.
 */
size_t envol_log_escape(const char *s, char *buf, size_t len);

/* Logs and returns r (a negative errno, or 0).  %m in fmt prints strerror(-r). */
int envol_log_errno(int priority, int r, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) (void)envol_log_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) (void)envol_log_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) (void)envol_log_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) (void)envol_log_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) (void)envol_log_errno(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(r, ...) envol_log_errno(LOG_DEBUG, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) envol_log_errno(LOG_WARNING, (r), __VA_ARGS__)
#define log_error_errno(r, ...) envol_log_errno(LOG_ERR, (r), __VA_ARGS__)

#endif
