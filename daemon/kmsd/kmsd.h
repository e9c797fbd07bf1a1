/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kmsd.h — envol-kmsd internals shared by main.c (options, signals, systemd, tick thread),
 * listen.c (Unix and TCP sockets, socket activation) and http.c (libmicrohttpd transport:
 * peer credentials, SigV4, limits, hand-off to kms_handle()).
 */
#ifndef ENVOL_KMSD_H
#define ENVOL_KMSD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util/config.h"
#include "kms/kms.h"
#include "aws/sigv4.h"

#define KMSD_MAX_BODY (64 * 1024)   /* request bodies above this get 413 */
#define KMSD_MAX_HEADERS 64	    /* more request headers than this get 400 */
#define KMSD_CONNECTION_LIMIT 1000  /* per listener; more are closed at accept */
#define KMSD_CONNECTION_TIMEOUT 15  /* seconds of inactivity before a connection is cut */
#define KMSD_DRAIN_TIMEOUT_MS 10000 /* how long SIGTERM waits for in-flight requests */

enum kmsd_listener_kind {
	KMSD_LISTENER_UNIX,
	KMSD_LISTENER_TCP,
};

struct kmsd;

struct kmsd_listener {
	enum kmsd_listener_kind kind;
	int fd;		   /* listening socket, owned until the HTTP server takes it */
	bool activated;	   /* came from systemd (sd_listen_fds) */
	char *unlink_path; /* Unix socket we created ourselves: removed at exit */
	char name[160];	   /* "unix:/run/envol/kms.sock" or "tcp:127.0.0.1:8440" */
	struct MHD_Daemon *mhd;
	struct kmsd *kmsd;
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
/* Creates the missing directories above the file path with mode (not the umask's). */
int kmsd_mkdir_parents(const char *path, mode_t mode);
/* Parses "HOST:PORT" / "[V6]:PORT"; fails with -EADDRNOTAVAIL if HOST is not loopback. */
int kmsd_parse_listen(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len, char *err,
		      size_t errlen);

/* http.c */
int kmsd_http_start(struct kmsd *k, struct kmsd_listener *l, char *err, size_t errlen);
/* Stop accepting (listening sockets closed), keep serving open connections. */
void kmsd_http_quiesce(struct kmsd *k);
void kmsd_http_stop(struct kmsd *k);

#endif
