/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * signals.h — the signal setup of both daemons: SIGTERM and SIGINT are blocked in the calling
 * thread (call it before starting any thread: they all inherit the mask) and read
 * synchronously (sigwait or signalfd on the returned set); SIGPIPE is ignored, so a peer that
 * goes away is an EPIPE, not a death.
 */
#ifndef ENVOL_DAEMON_SIGNALS_H
#define ENVOL_DAEMON_SIGNALS_H

#include <signal.h>

void daemon_signals_block(sigset_t *ret_set);

#endif
