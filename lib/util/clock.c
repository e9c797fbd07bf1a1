/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock.c — real time; in test builds only (ENVOL_TEST_CLOCK defined), plus an offset read
 * from $ENVOL_TEST_CLOCK_FILE.  libenvol and the installed programs are built without it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"

#ifdef ENVOL_TEST_CLOCK
static int64_t test_offset_seconds(void)
{
	const char *path = getenv("ENVOL_TEST_CLOCK_FILE");
	long long off = 0;
	FILE *f;

	if (!path || !*path)
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%lld", &off) != 1)
		off = 0;
	fclose(f);
	return off;
}
#else
static int64_t test_offset_seconds(void) { return 0; }
#endif

int64_t envol_clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + test_offset_seconds()) * 1000 + ts.tv_nsec / 1000000;
}

time_t envol_clock_now(void)
{
	return (time_t)(envol_clock_now_ms() / 1000);
}
