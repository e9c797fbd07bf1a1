/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* signals.c — SIGTERM/SIGINT blocked for synchronous reading, SIGPIPE ignored (signals.h). */
#include <pthread.h>

#include "common/signals.h"

void daemon_signals_block(sigset_t *ret_set)
{
	sigemptyset(ret_set);
	sigaddset(ret_set, SIGTERM);
	sigaddset(ret_set, SIGINT);
	pthread_sigmask(SIG_BLOCK, ret_set, NULL);
	signal(SIGPIPE, SIG_IGN);
}
