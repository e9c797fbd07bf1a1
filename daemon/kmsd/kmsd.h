/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmsd.h — envol-kmsd internals shared by main.c (options, configuration, key maintenance on
 * the daemon/common ticker, sd_notify), listen.c (which sockets: activated ones, kms.socket,
 * a loopback kms.listen; daemon/common makes them) and http.c (libmicrohttpd transport: peer
 * credentials, SigV4, limits, hand-off to kms_handle()).
 */
#ifndef ENVOL_KMSD_H
#define ENVOL_KMSD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "aws/sigv4.h"
#include "common/listen.h"
#include "kms/kms.h"
#include "util/config.h"

#define KMSD_MAX_BODY (64 * 1024)   /* request bodies above this get 413 */
#define KMSD_MAX_HEADERS 64	    /* more request headers than this get 400 */
#define KMSD_CONNECTION_LIMIT 1000  /* per listener; more are closed at accept */
#define KMSD_CONNECTION_TIMEOUT 15  /* seconds of inactivity before a connection is cut */
#define KMSD_PER_SOURCE_LIMIT 128   /* TCP connections per client address; more are closed */
#define KMSD_REQUEST_TIME_LIMIT 30  /* seconds from accept (or the last answer) to an answer */
#define KMSD_DRAIN_TIMEOUT_MS 10000 /* how long SIGTERM waits for in-flight requests */

struct kmsd;

struct kmsd_conn;

struct kmsd_listener {
	struct daemon_listener sock; /* fd owned until the HTTP server takes it; name; tcp */
	struct MHD_Daemon *mhd;
	struct kmsd *kmsd;
	pthread_mutex_t conns_lock; /* the open connections, for the time limit */
	struct kmsd_conn *conns;
};

struct kmsd {
	const struct envol_config *cfg;
	struct kms *kms;
	struct sigv4_credential *creds; /* views into cfg->kms.credentials */
	size_t n_creds;
	unsigned threads; /* MHD thread pool size per listener */
	struct kmsd_listener listeners[4];
	size_t n_listeners;
	atomic_long inflight; /* requests between first callback and completion */
	atomic_bool stopping; /* SIGTERM seen: every response closes its connection */
	atomic_ulong served;
};

/* listen.c */
/* Fills k->listeners from systemd socket activation and/or kms.socket and kms.listen. */
int kmsd_listeners_open(struct kmsd *k, char *err, size_t errlen);
void kmsd_listeners_close(struct kmsd *k);
/* Parses "HOST:PORT" / "[V6]:PORT"; fails with -EADDRNOTAVAIL if HOST is not loopback. */
int kmsd_parse_listen(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len, char *err,
		      size_t errlen);

/* http.c */
int kmsd_http_start(struct kmsd *k, struct kmsd_listener *l, char *err, size_t errlen);
/* Stop accepting (listening sockets closed), keep serving open connections. */
void kmsd_http_quiesce(struct kmsd *k);
void kmsd_http_stop(struct kmsd *k);
/* Cuts connections that have not finished a request within KMSD_REQUEST_TIME_LIMIT (a client
 * that trickles its request byte by byte never goes idle); called every second. */
void kmsd_http_reap(struct kmsd *k);

#endif
