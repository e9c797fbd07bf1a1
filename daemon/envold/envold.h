/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envold.h — internals shared by envold's files:
 *   main.c        options, configuration, listeners (socket activation), signals, sd_notify
 *   exports.c     export registry: volume name -> attached volume, refcounted attach/detach
 *   attach.c      the KMS side of an attach: principals, the grant per volume (attach.h)
 *   connection.c  per connection a reader thread (the handshake of lib/nbd/handshake.c over
 *                 the socket, then the request reader) and a writer thread draining its reply
 *                 queue; the limits (server.max_connections, in-flight budgets, handshake
 *                 timeout) and the stop (NBD_ESHUTDOWN, then disconnect)
 *   workers.c     the worker pool executing requests and queueing their replies
 *   tls.c         NBD over TLS: credentials, the session after NBD_OPT_STARTTLS, identities
 */
#ifndef ENVOLD_H
#define ENVOLD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "attach.h"
#include "util/config.h"
#include "nbd/codec.h"
#include "nbd/validate.h"
#include "volume/volume.h"
#include "volume/locate.h"
#include "volume/name.h"

#define ENVOLD_MAX_INFLIGHT 64 /* requests queued or running per connection */
#define ENVOLD_ERR_TEXT 512
#define ENVOLD_RBD_MIN_THREADS 16 /* default worker threads when Ceph is enabled (main.c) */
#define ENVOLD_REPLY_HDR_MAX (NBD_STRUCTURED_REPLY_SIZE + 6 + 256) /* reply header + error text */

/* ---- exports.c ---- */

enum export_state {
	EXPORT_ATTACHING, /* the first connection opens it and asks the KMS, without the lock */
	EXPORT_ATTACHED,
	EXPORT_FAILED, /* off the registry; waiters take attach_error and attach_err */
	EXPORT_DETACHING, /* the last connection left: closed, its grant being retired */
};

struct export
{
	char name[ENVOL_VOLUME_REF_MAX + 1]; /* NAME, or POOL[/NAMESPACE]/NAME on Ceph */
	enum export_state state; /* under the registry lock */
	struct envol_volume *vol;
	const struct envol_volume_info *info;
	bool read_only;
	/*
	 * Small requests may run in the connection's reader thread: the storage answers in
	 * microseconds (a file).  Not on RBD, where a request waits a network round trip and
	 * only the worker pool keeps several of a connection's requests in flight.
	 */
	bool inline_io;
	unsigned refs; /* connections using or waiting for it (under the registry lock) */
	char uuid[37]; /* the volume's, once opened (under the registry lock); "" before */
	struct attach_grant grant; /* envold's grant for this volume, retired at detach */
	int attach_error;
	char attach_err[ENVOLD_ERR_TEXT];
	struct export *next;
};

/* Static facts about an export, for NBD_OPT_LIST / NBD_OPT_INFO (no key needed). */
struct export_facts {
	uint64_t size;
	uint32_t sector_size;
	bool read_only;
	char description[ENVOL_VOLUME_MAX_KEY_ARN + 256];
};

int exports_init(const struct envol_config *cfg, bool force_read_only);
void exports_done(void);
/* Names of the exports (sorted, free with envol_volume_name_list_free). */
int exports_list(char ***ret_names, size_t *ret_n);
/* Returns 0, -ENOENT (no such export), or -errno with err filled. */
int exports_facts(const char *name, struct export_facts *ret, char *err, size_t errlen);
/*
 * Attach for the client principal client (first connection: open, CreateGrant on client's
 * behalf, Decrypt through the grant, attach key) or take another reference (CreateGrant DryRun
 * on client's behalf).  On failure returns -errno (-EACCES: client may not) and writes the
 * reason for the client into err.
 */
int exports_attach(const char *name, const char *client, struct export **ret, char *err,
		   size_t errlen);
/*
 * Start: retires, in a thread of its own, the grants an earlier envold left behind (those of
 * volumes attached meanwhile are left alone).  Returns 0 or -errno.
 */
int exports_retire_stale_start(void);
/* Waits for that thread to end (before exit). */
void exports_retire_stale_stop(void);
/* "envol volume <uuid>, key <arn>, AES-256-XTS[, read-only]" */
void exports_describe(const struct export *e, char *buf, size_t len);
/* Drops a reference; the last one flushes and closes the volume (DEK wiped). */
void exports_release(struct export *e);
unsigned exports_attached_count(void);
/* Flush every attached volume (shutdown). */
void exports_flush_all(void);

/* ---- connection.c ---- */

struct conn;
/* Limits from cfg (server.max_connections, max_inflight_mib, handshake_timeout); again on reload. */
void conns_configure(const struct envol_config *cfg);
/*
 * Starts a detached thread serving fd (which it owns).  Beyond server.max_connections the
 * connection is closed at once (before the greeting) with a log line, and 0 is returned.
 */
int conn_start(int fd, bool is_tcp);
/*
 * Serves fd (which it owns) in the calling thread until the client leaves and its requests have
 * replied, with e as the only export: e is prepared (volume open, key attached) and owned by
 * the caller, who keeps it after the return (the transmission fuzzer uses this).
 * Needs the worker pool (workers_start).  Returns 0 or -ENOMEM.
 */
int conn_serve(int fd, struct export *e);
/*
 * Stop: from now on every connection answers new requests with NBD_ESHUTDOWN and disconnects
 * once its requests in flight have replied; connections still in the handshake are closed.
 */
void conns_stop_all(void);
/* Cuts every connection (shutdown SHUT_RDWR): for clients that do not read their replies. */
void conns_cut_all(void);
unsigned conns_count(void);
/* Waits until no connection is left, up to timeout_ms. Returns true when all are gone. */
bool conns_wait_all(int timeout_ms);

/* ---- workers.c ---- */

struct job {
	struct conn *conn;
	struct nbd_request req;
	uint8_t *buf;
	size_t cap;
	size_t charged; /* bytes counted against the connection's and the global budget */
	/* the reply, queued on the connection (conn_queue_reply) */
	uint8_t rhdr[ENVOLD_REPLY_HDR_MAX];
	size_t rhdr_len;
	size_t rdata_len; /* bytes of buf after the header */
	size_t rsent;	  /* of header + data, already sent */
	bool hold;	  /* run by the reader: conn_queue_reply() holds the reply for a batch */
	struct job *next;
};

int workers_start(unsigned n);
void workers_stop(void);
void workers_submit(struct job *j);
/* Runs j in the calling thread: executes and queues the reply (conn_queue_reply()). */
void workers_execute(struct job *j);

/* Provided by connection.c for the workers. */
struct export *conn_export(struct conn *c);
bool conn_structured(struct conn *c);
/* The principal the connection's TLS client identity maps to (server.tls_identities), or NULL
 * (no TLS, or an unmapped identity).  An attach is authorized as it, else (Unix socket) as the
 * peer's user (conn-handshake.c). */
const char *conn_principal(struct conn *c);
/*
 * Queues j's reply (rhdr_len bytes of rhdr, then rdata_len bytes of buf) on c and never blocks:
 * sent at once when the socket takes it, else by c's writer thread.  j is handed back
 * (recycled, its budget returned) once the reply is sent or the connection is dead.  A job
 * with hold set (the reader's own, connection.c) is kept for the reader's next batch.
 */
void conn_queue_reply(struct conn *c, struct job *j);

#endif
