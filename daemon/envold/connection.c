/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connection.c — one thread per NBD connection.  It runs the fixed-newstyle handshake of
 * lib/nbd/handshake.c (docs/nbd-handshake.md) through this file's socket I/O and export
 * callbacks, then becomes the request reader: it decodes and validates each request
 * (lib/nbd/codec.c, lib/nbd/validate.c), reads WRITE payloads into recycled job buffers and
 * queues the jobs to the worker pool; up to ENVOLD_MAX_INFLIGHT requests per connection are in
 * flight.  Replies from the workers are written under the connection's write mutex.
 * Requests are read through a per-connection buffer (one recv() for many small requests), and
 * small READ and non-FUA WRITE requests are served by the reader itself: a hand-off to a worker
 * costs more (wakeup, context switch) than the request.  Large ones, FUA, FLUSH, TRIM, zeroes
 * and block status go to the pool.
 * A protocol violation ends this connection only.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "envold.h"
#include "nbd/handshake.h"
#include "util/log.h"

#define HANDSHAKE_TIMEOUT_S 60		 /* a client silent this long in the handshake is dropped */
#define JOB_KEEP_CAP (UINT32_C(4) << 20) /* bigger job buffers are freed when done */
#define BLOCK_STATUS_MAX_EXTENTS 2048
#define MAX_INFLIGHT_BYTES (UINT64_C(96) << 20) /* buffered payload per connection */
#define RBUF_SIZE (UINT32_C(64) << 10)	/* transmission read buffer */
#define INLINE_MAX (UINT32_C(64) << 10) /* READ/WRITE up to this size run in the reader */

struct conn {
	int fd;
	bool tcp;
	const struct nbd_server_ops *ops; /* where the handshake finds exports */
	struct export *fixed;		  /* conn_serve(): the only export, owned by the caller */
	/* handshake results */
	struct export *exp;
	struct nbd_export_limits lim;
	/* transmission */
	pthread_mutex_t wlock; /* serialises replies */
	bool dead;	       /* a reply could not be sent */
	pthread_mutex_t lock;  /* inflight, free_jobs */
	pthread_cond_t cond;
	unsigned waiters; /* threads waiting on cond (the reader) */
	unsigned inflight;
	uint64_t inflight_bytes;
	struct job *free_jobs;
	struct conn *prev, *next;
	/* buffered transmission reads (reader thread only) */
	uint8_t *rbuf;
	size_t rpos, rlen;
};

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cond = PTHREAD_COND_INITIALIZER;
static struct conn *conns;
static unsigned n_conns;

static int read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = recv(fd, p, n, MSG_WAITALL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * Reads n bytes through c's buffer (reader thread only).  The buffer exists only in
 * transmission: during the handshake (rbuf NULL) nothing is read ahead of what was asked.
 */
static int read_buffered(struct conn *c, void *buf, size_t n)
{
	uint8_t *p = buf;

	if (!c->rbuf)
		return read_full(c->fd, p, n);
	while (n > 0) {
		size_t avail = c->rlen - c->rpos;
		ssize_t k;

		if (avail > 0) {
			size_t m = avail < n ? avail : n;

			memcpy(p, c->rbuf + c->rpos, m);
			c->rpos += m;
			p += m;
			n -= m;
			continue;
		}
		if (n >= RBUF_SIZE / 2)
			return read_full(c->fd, p, n); /* big payload: straight into place */
		c->rpos = c->rlen = 0;
		k = recv(c->fd, c->rbuf, RBUF_SIZE, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -EPIPE;
		c->rlen = (size_t)k;
	}
	return 0;
}

/* Reads and drops n bytes of a payload. */
static int discard(struct conn *c, uint64_t n)
{
	uint8_t scratch[16384];

	while (n > 0) {
		size_t k = n > sizeof scratch ? sizeof scratch : (size_t)n;
		int r = read_buffered(c, scratch, k);

		if (r < 0)
			return r;
		n -= k;
	}
	return 0;
}

int conn_send_reply(struct conn *c, const struct iovec *iov_in, int n)
{
	struct iovec iov[8];
	struct msghdr msg = {.msg_iov = iov};
	int r = 0;

	if (n > (int)ARRAY_SIZE(iov))
		return -EINVAL;
	memcpy(iov, iov_in, sizeof *iov * (size_t)n);
	msg.msg_iovlen = (size_t)n;
	pthread_mutex_lock(&c->wlock);
	if (c->dead) {
		r = -EPIPE;
		goto out;
	}
	while (msg.msg_iovlen > 0) {
		ssize_t k = sendmsg(c->fd, &msg, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = negative_errno();
			c->dead = true;
			(void)shutdown(c->fd, SHUT_RDWR); /* wakes the reader */
			goto out;
		}
		while (k > 0 && msg.msg_iovlen > 0) {
			if ((size_t)k >= msg.msg_iov->iov_len) {
				k -= (ssize_t)msg.msg_iov->iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			} else {
				msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + k;
				msg.msg_iov->iov_len -= (size_t)k;
				k = 0;
			}
		}
	}
out:
	pthread_mutex_unlock(&c->wlock);
	return r;
}

static int send_buf(struct conn *c, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return conn_send_reply(c, &iov, 1);
}

struct export *conn_export(struct conn *c) { return c->exp; }

bool conn_structured(struct conn *c) { return c->lim.structured; }

/* ---- handshake: the socket and the exports behind lib/nbd/handshake.c ---- */

static int hs_read(void *opaque, void *buf, size_t n)
{
	struct conn *c = opaque;

	return read_full(c->fd, buf, n);
}

static int hs_write(void *opaque, const void *buf, size_t n)
{
	return send_buf(opaque, buf, n);
}

static uint16_t transmission_flags(bool read_only)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		     NBD_FLAG_SEND_CACHE | NBD_FLAG_CAN_MULTI_CONN;

	if (read_only)
		f |= NBD_FLAG_READ_ONLY;
	else
		f |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
	return f;
}

/* What envold advertises for an export: flags, block sizes (min = sector size), description. */
static void export_info(const struct export_facts *f, struct nbd_export_info *ret)
{
	ret->size = f->size;
	ret->transmission_flags = transmission_flags(f->read_only);
	ret->min_block = f->sector_size;
	ret->preferred_block = f->sector_size > 4096 ? f->sector_size : 4096;
	ret->max_block = NBD_MAX_PAYLOAD;
	snprintf(ret->description, sizeof ret->description, "%s", f->description);
}

static void attached_facts(const struct export *e, struct export_facts *ret)
{
	ret->size = e->info->size;
	ret->sector_size = e->info->sector_size;
	ret->read_only = e->read_only;
	exports_describe(e, ret->description, sizeof ret->description);
}

/* Client texts are as long as the registry writes them (ENVOLD_ERR_TEXT). */
static size_t err_cap(size_t errlen) { return errlen < ENVOLD_ERR_TEXT ? errlen : ENVOLD_ERR_TEXT; }

/* The export registry (exports.c): every volume in server.volume_dir, attached on open. */

static int registry_list(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err,
			 size_t errlen)
{
	struct export_facts f;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = exports_list(&names, &n);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the volume directory");
		return r;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		char ferr[ENVOLD_ERR_TEXT];

		if (exports_facts(names[i], &f, ferr, sizeof ferr) < 0)
			snprintf(f.description, sizeof f.description, "%s", ferr);
		r = emit(ctx, names[i], f.description);
	}
	envol_volume_name_list_free(names, n);
	return r;
}

static int registry_describe(void *opaque, const char *name, struct nbd_export_info *ret,
			     char *err, size_t errlen)
{
	struct export_facts f;
	int r;

	r = exports_facts(name, &f, err, err_cap(errlen));
	if (r < 0)
		return r;
	export_info(&f, ret);
	return 0;
}

static int registry_open(void *opaque, const char *name, struct nbd_export_info *ret,
			 void **ret_export, char *err, size_t errlen)
{
	struct export_facts f;
	struct export *e;
	int r;

	r = exports_attach(name, &e, err, err_cap(errlen));
	if (r < 0)
		return r;
	attached_facts(e, &f);
	export_info(&f, ret);
	*ret_export = e;
	return 0;
}

static void registry_release(void *opaque, void *export) { exports_release(export); }

static const struct nbd_server_ops registry_ops = {
    .list = registry_list,
    .describe = registry_describe,
    .open = registry_open,
    .release = registry_release,
};

/* conn_serve(): one export, prepared and owned by the caller; no other name exists. */

static int fixed_list(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	struct conn *c = opaque;
	struct export_facts f;

	attached_facts(c->fixed, &f);
	return emit(ctx, c->fixed->name, f.description);
}

static int fixed_open(void *opaque, const char *name, struct nbd_export_info *ret,
		      void **ret_export, char *err, size_t errlen)
{
	struct conn *c = opaque;
	struct export_facts f;

	if (strcmp(name, c->fixed->name) != 0) {
		snprintf(err, err_cap(errlen), "no export named '%s'", name);
		return -ENOENT;
	}
	attached_facts(c->fixed, &f);
	export_info(&f, ret);
	*ret_export = c->fixed;
	return 0;
}

static int fixed_describe(void *opaque, const char *name, struct nbd_export_info *ret, char *err,
			  size_t errlen)
{
	void *e;

	return fixed_open(opaque, name, ret, &e, err, errlen);
}

static void fixed_release(void *opaque, void *export) {}

static const struct nbd_server_ops fixed_ops = {
    .list = fixed_list,
    .describe = fixed_describe,
    .open = fixed_open,
    .release = fixed_release,
};

/* Runs the handshake; returns true when the connection enters transmission. */
static bool handshake(struct conn *c)
{
	const struct nbd_io io = {.read = hs_read, .write = hs_write, .opaque = c};
	struct nbd_handshake_result res;
	int r;

	r = nbd_handshake_run(&io, c->ops, c, &res);
	if (r < 0) {
		log_debug_errno(r, "handshake ended: %m");
		return false;
	}
	c->exp = res.export;
	c->lim = res.limits;
	return true;
}

/* ---- transmission ---- */

static struct job *get_job(struct conn *c, size_t need)
{
	struct job *j;

	pthread_mutex_lock(&c->lock);
	/* bounded queue: requests and buffered bytes (one request may always proceed) */
	while (c->inflight >= ENVOLD_MAX_INFLIGHT ||
	       (c->inflight > 0 && c->inflight_bytes + need > MAX_INFLIGHT_BYTES)) {
		c->waiters++;
		pthread_cond_wait(&c->cond, &c->lock);
		c->waiters--;
	}
	j = c->free_jobs;
	if (j)
		c->free_jobs = j->next;
	c->inflight++;
	c->inflight_bytes += need;
	pthread_mutex_unlock(&c->lock);
	if (!j) {
		j = calloc(1, sizeof *j);
		if (!j)
			goto fail;
	}
	if (j->cap < need) {
		void *p = NULL;
		size_t cap = (need + 65535) & ~(size_t)65535;

		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
		if (posix_memalign(&p, 4096, cap) != 0)
			goto fail;
		j->buf = p;
		j->cap = cap;
	}
	j->conn = c;
	j->next = NULL;
	j->charged = need;
	return j;
fail:
	if (j) {
		free(j->buf);
		free(j);
	}
	pthread_mutex_lock(&c->lock);
	c->inflight--;
	c->inflight_bytes -= need;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void conn_job_done(struct conn *c, struct job *j)
{
	if (j->cap > JOB_KEEP_CAP) {
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
	pthread_mutex_lock(&c->lock);
	j->next = c->free_jobs;
	c->free_jobs = j;
	c->inflight--;
	c->inflight_bytes -= j->charged;
	if (c->waiters > 0) /* only the reader ever waits: no futex call when it does not */
		pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Error reply from the reader (validation failures, out of memory). */
static int reply_error(struct conn *c, const struct nbd_request *req, int err, const char *msg)
{
	uint8_t b[NBD_STRUCTURED_REPLY_SIZE + 6 + 256];
	int n;

	if (c->lim.structured && (req->type == NBD_CMD_READ || req->type == NBD_CMD_BLOCK_STATUS))
		n = nbd_encode_error_chunk(b, sizeof b, NBD_REPLY_FLAG_DONE, req->cookie,
					   nbd_errno_to_wire(err), msg);
	else
		n = nbd_encode_simple_reply(b, sizeof b, nbd_errno_to_wire(err), req->cookie);
	if (n < 0)
		return n;
	return send_buf(c, b, (size_t)n);
}

/*
 * Served by the reader itself rather than a worker (see the top of the file), where the
 * export's storage answers fast enough for that (export.inline_io).
 */
static bool run_inline(struct conn *c, const struct nbd_request *req)
{
	if (req->length > INLINE_MAX || !c->exp->inline_io)
		return false;
	return req->type == NBD_CMD_READ ||
	       (req->type == NBD_CMD_WRITE && !(req->flags & NBD_CMD_FLAG_FUA));
}

static void transmission(struct conn *c)
{
	uint8_t b[NBD_REQUEST_SIZE];
	struct nbd_request req;
	int r;

	c->rbuf = malloc(RBUF_SIZE);
	if (!c->rbuf) {
		log_error("out of memory for a connection's read buffer: disconnecting");
		return;
	}
	for (;;) {
		size_t need = 0;
		struct job *j;

		if (read_buffered(c, b, sizeof b) < 0)
			break;
		if (nbd_decode_request(b, &req) < 0) {
			log_warning("bad request magic: disconnecting the client");
			break;
		}
		if (req.type == NBD_CMD_DISC)
			break;
		r = nbd_validate_request(&req, &c->lim);
		if (r < 0) {
			log_debug("%s offset %" PRIu64 " length %u flags %#x refused: %s",
				  nbd_command_name(req.type), req.offset, req.length, req.flags,
				  nbd_validate_strerror(r));
			if (req.type == NBD_CMD_WRITE) {
				/* the payload must still be consumed, or the stream is lost */
				if (req.length > NBD_MAX_DISCARD ||
				    discard(c, req.length) < 0) {
					log_warning("write payload of %u bytes too large: "
						    "disconnecting the client",
						    req.length);
					break;
				}
			}
			if (reply_error(c, &req, r, nbd_validate_strerror(r)) < 0)
				break;
			continue;
		}
		if (req.type == NBD_CMD_READ || req.type == NBD_CMD_WRITE)
			need = req.length;
		else if (req.type == NBD_CMD_BLOCK_STATUS)
			need = (size_t)BLOCK_STATUS_MAX_EXTENTS * NBD_BLOCK_DESCRIPTOR_SIZE;
		j = get_job(c, need);
		if (!j) {
			if (req.type == NBD_CMD_WRITE && discard(c, req.length) < 0)
				break;
			if (reply_error(c, &req, -ENOMEM, "out of memory") < 0)
				break;
			continue;
		}
		j->req = req;
		if (req.type == NBD_CMD_WRITE && read_buffered(c, j->buf, req.length) < 0) {
			conn_job_done(c, j);
			break;
		}
		if (run_inline(c, &req))
			workers_execute(j);
		else
			workers_submit(j);
	}
}

static void conn_free(struct conn *c)
{
	while (c->free_jobs) {
		struct job *j = c->free_jobs;

		c->free_jobs = j->next;
		free(j->buf);
		free(j);
	}
	free(c->rbuf);
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->wlock);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

static void set_recv_timeout(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* Takes c off the list of connections (it still counts until conn_count_down()). */
static void conn_unlink(struct conn *c)
{
	pthread_mutex_lock(&conns_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&conns_lock);
}

/* The connection is gone for good: wakes conns_wait_all(). */
static void conn_count_down(void)
{
	pthread_mutex_lock(&conns_lock);
	n_conns--;
	pthread_cond_broadcast(&conns_cond);
	pthread_mutex_unlock(&conns_lock);
}

/* Handshake, transmission, drain; then c is gone (the caller still counts it down). */
static void serve(struct conn *c)
{
	set_recv_timeout(c->fd, HANDSHAKE_TIMEOUT_S);
	if (handshake(c)) {
		set_recv_timeout(c->fd, 0); /* an attached client may idle as long as it likes */
		transmission(c);
	}
	/* drain: every queued request finishes and replies before the export is released */
	pthread_mutex_lock(&c->lock);
	while (c->inflight > 0) {
		c->waiters++;
		pthread_cond_wait(&c->cond, &c->lock);
		c->waiters--;
	}
	pthread_mutex_unlock(&c->lock);
	if (c->exp)
		c->ops->release(c, c->exp);
	conn_unlink(c);
	conn_free(c);
}

static void *conn_thread(void *arg)
{
	serve(arg);
	/* Free this thread's OpenSSL state now: the thread is detached, and once it counts down
	 * main may exit before the thread-local destructors would have run. */
	OPENSSL_thread_stop();
	conn_count_down();
	return NULL;
}

/* A connection on fd (owned from here on), on the list of connections.  NULL: out of memory. */
static struct conn *conn_new(int fd, bool is_tcp, struct export *fixed)
{
	struct conn *c;
	int one = 1;

	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->tcp = is_tcp;
	c->fixed = fixed;
	c->ops = fixed ? &fixed_ops : &registry_ops;
	pthread_mutex_init(&c->wlock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (is_tcp)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	pthread_mutex_lock(&conns_lock);
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	n_conns++;
	pthread_mutex_unlock(&conns_lock);
	return c;
}

int conn_start(int fd, bool is_tcp)
{
	pthread_attr_t attr;
	pthread_t t;
	struct conn *c;
	int r;

	c = conn_new(fd, is_tcp, NULL);
	if (!c)
		return -ENOMEM;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	r = -pthread_create(&t, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		conn_unlink(c);
		conn_free(c);
		conn_count_down();
	}
	return r;
}

int conn_serve(int fd, struct export *e)
{
	struct conn *c = conn_new(fd, false, e);

	if (!c)
		return -ENOMEM;
	serve(c);
	conn_count_down();
	return 0;
}

void conns_stop_all(void)
{
	pthread_mutex_lock(&conns_lock);
	for (struct conn *c = conns; c; c = c->next)
		(void)shutdown(c->fd, SHUT_RD);
	pthread_mutex_unlock(&conns_lock);
}

unsigned conns_count(void)
{
	unsigned n;

	pthread_mutex_lock(&conns_lock);
	n = n_conns;
	pthread_mutex_unlock(&conns_lock);
	return n;
}

bool conns_wait_all(int timeout_ms)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&conns_lock);
	while (n_conns > 0)
		if (pthread_cond_timedwait(&conns_cond, &conns_lock, &ts) == ETIMEDOUT)
			break;
	done = n_conns == 0;
	pthread_mutex_unlock(&conns_lock);
	return done;
}
