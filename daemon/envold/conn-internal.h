/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conn-internal.h — what connection.c (the socket and transmission) and conn-handshake.c (the
 * handshake's callbacks) share: the connection itself and its blocking socket I/O.
 */
#ifndef ENVOLD_CONN_INTERNAL_H
#define ENVOLD_CONN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "envold.h"
#include "nbd/handshake.h"

struct conn {
	int fd;
	bool tcp;
	const struct nbd_server_ops *ops; /* where the handshake finds exports */
	struct export *fixed;		  /* conn_serve(): the only export, owned by the caller */
	struct tls_session *tls;	  /* after NBD_OPT_STARTTLS: all I/O goes through it */
	/* handshake */
	struct timespec hs_deadline; /* CLOCK_MONOTONIC */
	struct export *exp;
	struct nbd_export_limits lim;
	atomic_bool transmitting; /* the handshake is over (conns_stop_all() looks) */
	atomic_bool tls_up;	  /* ... over TLS */
	/* replies: the queue and the writer thread draining it */
	pthread_mutex_t wlock;
	pthread_cond_t wcond;
	struct job *rq_head, *rq_tail; /* the head is being sent by the writer */
	bool dead;		       /* a reply could not be sent: the rest are dropped */
	bool wstop;		       /* the writer leaves once the queue is empty */
	bool writer_running;
	pthread_t writer;
	/* in flight */
	pthread_mutex_t lock; /* inflight, free_jobs */
	pthread_cond_t cond;
	unsigned waiters; /* threads waiting on cond (the reader) */
	unsigned inflight;
	uint64_t inflight_bytes;
	uint64_t global_charged; /* of the global budget (under budget_lock) */
	struct job *free_jobs;
	struct conn *prev, *next;
	/* buffered transmission reads (reader thread only) */
	uint8_t *rbuf;
	size_t rpos, rlen;
	/* replies of requests the reader served, held to go out in one sendmsg (reader only) */
	struct job *held_head, *held_tail;
	unsigned n_held;
	size_t held_bytes;
};

/* Reads exactly n bytes; with deadline, gives up with -ETIMEDOUT when it passes. */
int conn_read_full(struct conn *c, void *buf, size_t n, const struct timespec *deadline);
/* Handshake replies: blocking, bounded by the handshake timeout (SO_SNDTIMEO). */
int conn_send_blocking(struct conn *c, const void *buf, size_t len);
/* server.handshake_timeout, seconds. */
int conn_handshake_timeout(void);

/* conn-handshake.c: where the handshake finds exports (envold's registry, or conn_serve()'s
 * one export). */
extern const struct nbd_server_ops conn_registry_ops, conn_fixed_ops;
/* Runs the handshake; returns true when the connection enters transmission. */
bool conn_handshake(struct conn *c);

#endif
