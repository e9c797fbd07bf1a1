/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log.c — stderr or journal output for envol_log_errno(); see log.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "util/log.h"

static int max_level = LOG_INFO;
static const char *log_ident = "envol";

void envol_log_set_level(int max_priority)
{
	max_level = max_priority;
}

int envol_log_get_level(void)
{
	return max_level;
}

void envol_log_set_ident(const char *ident)
{
	log_ident = ident;
}

static const char *priority_name(int priority)
{
	static const char *const names[] = { "emerg", "alert", "crit",   "error",
					     "warning", "notice", "info", "debug" };
	return priority >= 0 && priority < 8 ? names[priority] : "log";
}

size_t envol_log_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (len == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = *p >= 0x20 && *p != 0x7f && *p != '\\';

		if (o + (plain ? 1 : 4) >= len)
			break; /* truncated: never half an escape */
		if (plain) {
			buf[o++] = (char)*p;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
	}
	buf[o] = 0;
	return o;
}

int envol_log_errno(int priority, int r, const char *fmt, ...)
{
	int saved = errno;
	char raw[2048], msg[2048];
	va_list ap;

	if (priority > max_level)
		return r;
	/* %m means the error passed in, not whatever errno happens to be. */
	if (r < 0)
		errno = -r;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	errno = saved;
	/* one message, one line: whatever a client put into a name cannot forge another */
	envol_log_escape(raw, msg, sizeof msg);

	if (getenv("JOURNAL_STREAM"))
		sd_journal_print(priority, "%s", msg);
	else
		fprintf(stderr, "%s: %s: %s\n", log_ident, priority_name(priority), msg);
	return r;
}
