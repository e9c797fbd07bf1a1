/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock.h — the one wall clock every time-dependent decision reads (key rotation due, deletion
 * window over, SigV4 skew, audit timestamps), so tests can move time without sleeping.
 *
 * Test builds only (clock.c compiled with ENVOL_TEST_CLOCK: the CMake object library
 * envol_test_clock, linked into the unit tests and into build/tests/bin/envol-kmsd-testclock):
 * if the environment variable ENVOL_TEST_CLOCK_FILE names a file, its content (a decimal number
 * of seconds, may be negative) is added to the real time on every call; tests write that file
 * to jump a running daemon forward.  libenvol and the installed programs always read the real
 * clock and do not contain the variable's name (whoever could set it could otherwise
 * crypto-shred keys pending deletion at once, force rotations and move the SigV4 window).
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
