/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock.h — the one wall clock every time-dependent decision reads (key rotation due, deletion
 * window over, SigV4 skew, audit timestamps), so tests can move time without sleeping.
 *
 * If the environment variable ENVOL_TEST_CLOCK_FILE names a file, its content (a decimal
 * number of seconds, may be negative) is added to the real time on every call; tests write
 * that file to jump a running daemon forward.  Unset, the real clock is used.
 */
#ifndef ENVOL_CLOCK_H
#define ENVOL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Seconds since the Unix epoch, test offset applied. */
time_t envol_clock_now(void);
/* Milliseconds since the Unix epoch, test offset applied. */
int64_t envol_clock_now_ms(void);

#endif
