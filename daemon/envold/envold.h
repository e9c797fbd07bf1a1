/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envold.h — internals shared by envold's files:
 *   main.c        options, configuration, listeners (socket activation), signals, sd_notify
 *   exports.c     export registry: volume name -> attached volume, refcounted attach/detach
 *   connection.c  one thread per connection: the handshake of lib/nbd/handshake.c over the
 *                 socket, then the request reader
 *   workers.c     the worker pool executing requests and writing replies
 */
#ifndef ENVOLD_H
#define ENVOLD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/config.h"
#include "nbd/codec.h"
#include "nbd/validate.h"
#include "volume/volume.h"
#include "volume/locate.h"
#include "volume/name.h"

#define ENVOLD_MAX_INFLIGHT 64 /* requests queued or running per connection */
#define ENVOLD_ERR_TEXT 512
#define ENVOLD_RBD_MIN_THREADS 16 /* default worker threads when Ceph is enabled (main.c) */

/* ---- exports.c ---- */

struct export
{
	char name[ENVOL_VOLUME_REF_MAX + 1]; /* NAME, or POOL[/NAMESPACE]/NAME on Ceph */
	struct envol_volume *vol;
	const struct envol_volume_info *info;
	bool read_only;
	/*
	 * Small requests may run in the connection's reader thread: the storage answers in
	 * microseconds (a file).  Not on RBD, where a request waits a network round trip and
	 * only the worker pool keeps several of a connection's requests in flight.
	 */
	bool inline_io;
	unsigned refs; /* connections in transmission (under the registry lock) */
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
 * Attach (first connection: open, KMS Decrypt, attach key) or take another reference.
 * On failure returns -errno and writes the reason for the client into err.
 */
int exports_attach(const char *name, struct export **ret, char *err, size_t errlen);
/* "envol volume <uuid>, key <arn>, AES-256-XTS[, read-only]" */
void exports_describe(const struct export *e, char *buf, size_t len);
/* Drops a reference; the last one flushes and closes the volume (DEK wiped). */
void exports_release(struct export *e);
unsigned exports_attached_count(void);
/* Flush every attached volume (shutdown). */
void exports_flush_all(void);

/* ---- connection.c ---- */

struct conn;
/* Starts a detached thread serving fd (which it owns). */
int conn_start(int fd, bool is_tcp);
/*
 * Serves fd (which it owns) in the calling thread until the client leaves and its requests have
 * replied, with e as the only export: e is prepared (volume open, key attached) and owned by
 * the caller, who keeps it after the return (the transmission fuzzer uses this).
 * Needs the worker pool (workers_start).  Returns 0 or -ENOMEM.
 */
int conn_serve(int fd, struct export *e);
/* Stop reading new requests on every connection (shutdown SHUT_RD); in-flight ones finish. */
void conns_stop_all(void);
unsigned conns_count(void);
/* Waits until no connection is left, up to timeout_ms. Returns true when all are gone. */
bool conns_wait_all(int timeout_ms);

/* ---- workers.c ---- */

struct job {
	struct conn *conn;
	struct nbd_request req;
	uint8_t *buf;
	size_t cap;
	size_t charged; /* bytes counted against the connection's in-flight budget */
	struct job *next;
};

int workers_start(unsigned n);
void workers_stop(void);
void workers_submit(struct job *j);
/* Runs j in the calling thread: executes, replies, and hands it back with conn_job_done(). */
void workers_execute(struct job *j);

/* Provided by connection.c for the workers. */
struct export *conn_export(struct conn *c);
bool conn_structured(struct conn *c);
/* Sends iov atomically with respect to other replies on c; marks the connection dead on error. */
int conn_send_reply(struct conn *c, const struct iovec *iov, int n);
/* A job is finished: recycle it and wake the reader. */
void conn_job_done(struct conn *c, struct job *j);

#endif
