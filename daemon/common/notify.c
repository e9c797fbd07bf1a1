/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* notify.c — the periodic tick and systemd watchdog thread of both daemons (notify.h). */
#include <errno.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/notify.h"

static void *ticker_main(void *arg)
{
	struct daemon_ticker *t = arg;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&t->lock);
		t->tick(t->opaque);
		if (t->watchdog_usec)
			(void)sd_notify(0, "WATCHDOG=1");

		pthread_mutex_lock(&t->lock);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(t->period_ms / 1000);
		ts.tv_nsec += (long)(t->period_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!t->stop && pthread_cond_timedwait(&t->cond, &t->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int daemon_ticker_start(struct daemon_ticker *t, unsigned period_ms, void (*tick)(void *opaque),
			void *opaque)
{
	pthread_condattr_t ca;
	uint64_t usec = 0;
	int r;

	t->stop = false;
	t->tick = tick;
	t->opaque = opaque;
	t->period_ms = period_ms ? period_ms : 1;
	t->watchdog_usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		uint64_t half_ms = usec / 2000;

		t->watchdog_usec = usec;
		if (half_ms < t->period_ms)
			t->period_ms = half_ms ? (unsigned)half_ms : 1;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&t->thread, NULL, ticker_main, t);
	if (r) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		return -r;
	}
	return 0;
}

void daemon_ticker_stop(struct daemon_ticker *t)
{
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
}
