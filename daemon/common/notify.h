/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify.h — the systemd notify/watchdog loop of both daemons: a thread that calls the
 * daemon's periodic work (envol-kmsd: key rotation and deletion; envold: the STATUS= line)
 * and then sends WATCHDOG=1 when systemd asked for a watchdog (WatchdogSec=).  The period is
 * the daemon's, shortened to half of WATCHDOG_USEC when that is shorter, so the pings come in
 * time; a tick that hangs (a lock never released) stops the pings and systemd restarts us.
 */
#ifndef ENVOL_DAEMON_NOTIFY_H
#define ENVOL_DAEMON_NOTIFY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct daemon_ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	unsigned period_ms;
	uint64_t watchdog_usec; /* 0: no watchdog */
	void (*tick)(void *opaque);
	void *opaque;
};

/*
 * Starts the thread: tick(opaque) at once, then every period_ms (or sooner, see above), each
 * followed by WATCHDOG=1 when the watchdog is on.  Returns 0 or -errno.
 */
int daemon_ticker_start(struct daemon_ticker *t, unsigned period_ms, void (*tick)(void *opaque),
			void *opaque);
/* Wakes the thread, waits for the tick in progress, joins it. */
void daemon_ticker_stop(struct daemon_ticker *t);

#endif
