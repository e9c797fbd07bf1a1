/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connection.c — NBD connections.  Each has a reader thread, which runs the fixed-newstyle
 * handshake (conn-handshake.c) through this file's socket I/O, then reads requests: it decodes
 * and validates each one (lib/nbd/codec.c, lib/nbd/validate.c), reads WRITE payloads into recycled job buffers and queues the jobs to the
 * worker pool.  READ and small non-FUA WRITE requests are served by the reader itself: a
 * hand-off to a worker costs more (wakeup, context switch) than the request.
 *
 * Replies never block a thread that serves others: a finished job is handed to its connection
 * (conn_queue_reply()), which sends it at once with a non-blocking send when the socket takes
 * it, and otherwise queues it for the connection's own writer thread.  A client that stops
 * reading stalls only its writer and, once its in-flight budget is spent, its reader.  The
 * reader holds the small replies of the requests it served while another whole request waits
 * in its read buffer and sends them together (flush_held(): one sendmsg, one wakeup of the
 * client), up to HELD_MAX, and always before it could wait for anything.
 *
 * Limits: server.max_connections (more are closed at accept), per connection
 * ENVOLD_MAX_INFLIGHT requests and CONN_MAX_INFLIGHT_BYTES of buffered payload, for all
 * connections server.max_inflight_mib (a request waits while it is spent; a connection with
 * nothing in flight may always start one request, so none starves), and server.handshake_timeout
 * for the whole handshake.  On stop, new requests get NBD_ESHUTDOWN and the connection closes
 * once its requests in flight have replied.  A protocol violation ends this connection only.
 * The socket is read and written only by sock_recv() and sock_send().
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "conn-internal.h"
#include "tls.h"
#include "util/log.h"

#define JOB_KEEP_CAP (UINT32_C(4) << 20) /* bigger job buffers are freed when done */
#define BLOCK_STATUS_MAX_EXTENTS 2048
#define CONN_MAX_INFLIGHT_BYTES (UINT64_C(96) << 20) /* buffered payload per connection */
#define RBUF_SIZE (UINT32_C(64) << 10)	/* transmission read buffer */
#define INLINE_MAX (UINT32_C(64) << 10) /* WRITE up to this size runs in the reader */
#define CONN_SNDBUF (4 << 20) /* SO_SNDBUF asked for in transmission (capped by wmem_max) */
#define HELD_MAX 16			/* replies the reader sends in one sendmsg ... */
#define HELD_MAX_BYTES (UINT32_C(256) << 10) /* ... and their bytes */
#define STOP_POLL_MS 100		/* stopping: how often the reader looks at its in-flight */

static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cond = PTHREAD_COND_INITIALIZER;
static struct conn *conns;
static unsigned n_conns;

/* Limits (conns_configure()); the defaults serve conn_serve() without a configuration. */
static _Atomic unsigned max_conns = ENVOL_DEFAULT_MAX_CONNECTIONS;
static _Atomic int handshake_timeout_s = ENVOL_DEFAULT_HANDSHAKE_TIMEOUT;
static time_t last_refusal_log;
static unsigned long refusals; /* not logged yet */

/* The global in-flight budget. */
static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_cond = PTHREAD_COND_INITIALIZER;
static uint64_t budget_max = (uint64_t)ENVOL_DEFAULT_MAX_INFLIGHT_MIB << 20;
static uint64_t budget_used;
static unsigned budget_waiters;

/* The stop: readable once conns_stop_all() was called. */
static atomic_bool stopping;
static int stop_fd = -1;

void conns_configure(const struct envol_config *cfg)
{
	if (cfg->server.max_connections > 0)
		max_conns = (unsigned)cfg->server.max_connections;
	if (cfg->server.handshake_timeout > 0)
		handshake_timeout_s = cfg->server.handshake_timeout;
	pthread_mutex_lock(&budget_lock);
	if (cfg->server.max_inflight_mib > 0)
		budget_max = (uint64_t)cfg->server.max_inflight_mib << 20;
	pthread_cond_broadcast(&budget_cond);
	pthread_mutex_unlock(&budget_lock);
	pthread_mutex_lock(&conns_lock);
	if (stop_fd < 0)
		stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_unlock(&conns_lock);
}

int conn_handshake_timeout(void) { return atomic_load(&handshake_timeout_s); }

/* ---- the socket: every read and write of a connection goes through these two ---- */

static ssize_t sock_recv(struct conn *c, void *buf, size_t n, int flags)
{
	return recv(c->fd, buf, n, flags);
}

static ssize_t sock_send(struct conn *c, struct msghdr *msg, int flags)
{
	return sendmsg(c->fd, msg, flags | MSG_NOSIGNAL);
}

/* Milliseconds left until ts (CLOCK_MONOTONIC), at least 0. */
static int ms_until(const struct timespec *ts)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(ts->tv_sec - now.tv_sec) * 1000 + (ts->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int conn_read_full(struct conn *c, void *buf, size_t n, const struct timespec *deadline)
{
	uint8_t *p = buf;

	if (c->tls) /* the handshake deadline is SO_RCVTIMEO's then (serve()) */
		return tls_read_full(c->tls, buf, n);
	while (n > 0) {
		ssize_t k;

		if (deadline) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
			int m = poll(&pfd, 1, ms_until(deadline));

			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0)
				return negative_errno();
			if (m == 0)
				return -ETIMEDOUT;
		}
		k = sock_recv(c, p, n, deadline ? MSG_DONTWAIT : MSG_WAITALL);
		if (k < 0) {
			if (errno == EINTR || (deadline && errno == EAGAIN))
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
		return conn_read_full(c, p, n, &c->hs_deadline);
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
			return conn_read_full(c, p, n, NULL); /* big payload: straight into place */
		c->rpos = c->rlen = 0;
		if (c->tls) {
			k = tls_recv(c->tls, c->rbuf, RBUF_SIZE);
			if (k < 0)
				return (int)k;
		} else {
			k = sock_recv(c, c->rbuf, RBUF_SIZE, 0);
		}
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

/*
 * Before a request header, with nothing buffered: waits until the client sends something
 * (1, the buffer is filled), the stop begins (0), or the stream ends (-errno).  Data already
 * there is taken without a poll.
 */
static int wait_request(struct conn *c)
{
	for (;;) {
		struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN},
					{.fd = stop_fd, .events = POLLIN}};
		ssize_t k;

		if (c->rpos < c->rlen)
			return 1;
		if (atomic_load_explicit(&stopping, memory_order_relaxed))
			return 0;
		if (c->tls) {
			/* records may wait decrypted in the session: read; the stop ends it with
			 * SHUT_RD (conns_stop_all()) */
			k = tls_recv(c->tls, c->rbuf, RBUF_SIZE);
			if (k < 0)
				return (int)k;
			c->rpos = 0;
			c->rlen = (size_t)k;
			return 1;
		}
		k = sock_recv(c, c->rbuf, RBUF_SIZE, MSG_DONTWAIT);
		if (k > 0) {
			c->rpos = 0;
			c->rlen = (size_t)k;
			return 1;
		}
		if (k == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EINTR)
			return negative_errno();
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return negative_errno();
	}
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

/* The connection cannot be written: every queued and future reply is dropped (wlock held). */
static void mark_dead_locked(struct conn *c)
{
	c->dead = true;
	(void)shutdown(c->fd, SHUT_RDWR); /* wakes the reader */
}

/* Blocking, bounded by the handshake timeout (SO_SNDTIMEO). */
int conn_send_blocking(struct conn *c, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (c->tls)
		return tls_sendv(c->tls, &iov, 1);
	while (iov.iov_len > 0) {
		ssize_t k = sock_send(c, &msg, 0);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : negative_errno();
		}
		iov.iov_base = (uint8_t *)iov.iov_base + k;
		iov.iov_len -= (size_t)k;
	}
	return 0;
}

/* Sends what is left of j's reply (header, then data): 1 done, 0 not all (EAGAIN), -errno. */
static int send_job(struct conn *c, struct job *j, int flags)
{
	if (c->tls) { /* blocking, all at once: only the writer calls it (conn_queue_reply()) */
		struct iovec iov[2] = {{.iov_base = j->rhdr, .iov_len = j->rhdr_len},
				       {.iov_base = j->buf, .iov_len = j->rdata_len}};
		int r = tls_sendv(c->tls, iov, j->rdata_len ? 2 : 1);

		if (r < 0)
			return r;
		j->rsent = j->rhdr_len + j->rdata_len;
		return 1;
	}
	for (;;) {
		struct iovec iov[2];
		struct msghdr msg = {.msg_iov = iov};
		size_t total = j->rhdr_len + j->rdata_len;
		ssize_t k;

		if (j->rsent >= total)
			return 1;
		if (j->rsent < j->rhdr_len) {
			iov[0] = (struct iovec){.iov_base = j->rhdr + j->rsent,
						.iov_len = j->rhdr_len - j->rsent};
			iov[1] = (struct iovec){.iov_base = j->buf, .iov_len = j->rdata_len};
			msg.msg_iovlen = j->rdata_len ? 2 : 1;
		} else {
			size_t off = j->rsent - j->rhdr_len;

			iov[0] = (struct iovec){.iov_base = j->buf + off,
						.iov_len = j->rdata_len - off};
			msg.msg_iovlen = 1;
		}
		k = sock_send(c, &msg, flags);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return negative_errno();
		}
		j->rsent += (size_t)k;
	}
}

static void conn_job_done(struct conn *c, struct job *j);

/* Appends j to the list head..tail. */
static void job_append(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

/* The writer's queue takes j (wlock held): false when nobody would ever send it. */
static bool enqueue_locked(struct conn *c, struct job *j)
{
	if (!c->writer_running) { /* the socket is full and nobody drains: cannot be */
		mark_dead_locked(c);
		return false;
	}
	job_append(&c->rq_head, &c->rq_tail, j);
	pthread_cond_signal(&c->wcond);
	return true;
}

/*
 * Sends the replies the reader holds (see transmission()) with one non-blocking sendmsg when
 * nothing is queued for the writer; what the socket does not take goes to the writer.  Called
 * before the reader could wait for anything, so held replies never hold up the client or the
 * budgets the reader waits on.
 */
static void flush_held(struct conn *c)
{
	struct iovec iov[2 * HELD_MAX];
	struct msghdr msg = {.msg_iov = iov};
	struct job *j = c->held_head, *done = NULL, *next;
	size_t sent = 0;

	if (!j)
		return;
	c->held_head = c->held_tail = NULL;
	c->n_held = 0;
	c->held_bytes = 0;
	pthread_mutex_lock(&c->wlock);
	if (!c->dead && !c->rq_head) {
		ssize_t k;

		for (struct job *h = j; h && msg.msg_iovlen + 2 <= ARRAY_SIZE(iov); h = h->next) {
			iov[msg.msg_iovlen++] =
			    (struct iovec){.iov_base = h->rhdr, .iov_len = h->rhdr_len};
			if (h->rdata_len)
				iov[msg.msg_iovlen++] =
				    (struct iovec){.iov_base = h->buf, .iov_len = h->rdata_len};
		}
		do
			k = sock_send(c, &msg, MSG_DONTWAIT);
		while (k < 0 && errno == EINTR);
		if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			mark_dead_locked(c);
		else if (k > 0)
			sent = (size_t)k;
	}
	for (; j; j = next) {
		size_t total = j->rhdr_len + j->rdata_len;

		next = j->next;
		j->rsent = sent < total ? sent : total;
		sent -= j->rsent;
		if (c->dead || j->rsent == total || !enqueue_locked(c, j)) {
			j->next = done;
			done = j;
		}
	}
	pthread_mutex_unlock(&c->wlock);
	for (; done; done = next) {
		next = done->next;
		conn_job_done(c, done);
	}
}

void conn_queue_reply(struct conn *c, struct job *j)
{
	int r;

	j->rsent = 0;
	j->next = NULL;
	if (j->hold) { /* the reader's: sent with its batch (flush_held()) */
		j->hold = false;
		job_append(&c->held_head, &c->held_tail, j);
		c->n_held++;
		c->held_bytes += j->rhdr_len + j->rdata_len;
		return;
	}
	pthread_mutex_lock(&c->wlock);
	if (c->dead)
		goto done;
	if (!c->rq_head && !c->tls) {
		/* nothing queued: try at once, without blocking (TLS: always the writer) */
		r = send_job(c, j, MSG_DONTWAIT);
		if (r < 0)
			mark_dead_locked(c);
		if (r != 0)
			goto done;
	}
	if (!enqueue_locked(c, j))
		goto done;
	pthread_mutex_unlock(&c->wlock);
	return;
done:
	pthread_mutex_unlock(&c->wlock);
	conn_job_done(c, j);
}

/* The writer: sends the queued replies in order, blocking on this connection's socket only. */
static void *writer_main(void *arg)
{
	struct conn *c = arg;

	pthread_mutex_lock(&c->wlock);
	for (;;) {
		struct job *j;
		int r = -EPIPE;

		while (!c->rq_head && !c->wstop)
			pthread_cond_wait(&c->wcond, &c->wlock);
		j = c->rq_head;
		if (!j)
			break;
		if (!c->dead) {
			/* the head stays queued while it is sent: later replies go behind it */
			pthread_mutex_unlock(&c->wlock);
			r = send_job(c, j, 0);
			pthread_mutex_lock(&c->wlock);
			if (r < 0 && !c->dead) {
				log_debug_errno(r, "reply not sent, disconnecting: %m");
				mark_dead_locked(c);
			}
		}
		c->rq_head = j->next;
		if (!c->rq_head)
			c->rq_tail = NULL;
		pthread_mutex_unlock(&c->wlock);
		conn_job_done(c, j);
		pthread_mutex_lock(&c->wlock);
	}
	pthread_mutex_unlock(&c->wlock);
	OPENSSL_thread_stop();
	return NULL;
}

struct export *conn_export(struct conn *c) { return c->exp; }

bool conn_structured(struct conn *c) { return c->lim.structured; }

/* ---- transmission ---- */

/* Takes need bytes of the global budget; waits while it is spent (see the top of the file). */
static void budget_take(struct conn *c, size_t need)
{
	if (need == 0)
		return;
	pthread_mutex_lock(&budget_lock);
	while (c->global_charged > 0 && budget_used + need > budget_max) {
		if (c->held_head) { /* they hold budget: send them before waiting */
			pthread_mutex_unlock(&budget_lock);
			flush_held(c);
			pthread_mutex_lock(&budget_lock);
			continue;
		}
		budget_waiters++;
		pthread_cond_wait(&budget_cond, &budget_lock);
		budget_waiters--;
	}
	budget_used += need;
	c->global_charged += need;
	pthread_mutex_unlock(&budget_lock);
}

static void budget_give(struct conn *c, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&budget_lock);
	budget_used -= n;
	c->global_charged -= n;
	if (budget_waiters > 0)
		pthread_cond_broadcast(&budget_cond);
	pthread_mutex_unlock(&budget_lock);
}

static struct job *get_job(struct conn *c, size_t need)
{
	struct job *j;

	pthread_mutex_lock(&c->lock);
	/* bounded queue: requests and buffered bytes (one request may always proceed) */
	while (c->inflight >= ENVOLD_MAX_INFLIGHT ||
	       (c->inflight > 0 && c->inflight_bytes + need > CONN_MAX_INFLIGHT_BYTES)) {
		if (c->held_head) { /* they count in flight: send them before waiting */
			pthread_mutex_unlock(&c->lock);
			flush_held(c);
			pthread_mutex_lock(&c->lock);
			continue;
		}
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
	budget_take(c, need);
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
	j->hold = false;
	j->charged = need;
	return j;
fail:
	if (j) {
		free(j->buf);
		free(j);
	}
	budget_give(c, need);
	pthread_mutex_lock(&c->lock);
	c->inflight--;
	c->inflight_bytes -= need;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void conn_job_done(struct conn *c, struct job *j)
{
	size_t charged = j->charged;

	if (j->cap > JOB_KEEP_CAP) {
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
	budget_give(c, charged);
	pthread_mutex_lock(&c->lock);
	j->next = c->free_jobs;
	c->free_jobs = j;
	c->inflight--;
	c->inflight_bytes -= charged;
	if (c->waiters > 0) /* only the reader ever waits: no futex call when it does not */
		pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Error reply from the reader (validation failures, stop): queued like any reply. */
static int reply_error(struct conn *c, const struct nbd_request *req, int err, const char *msg)
{
	struct job *j = get_job(c, 0);
	int n;

	if (!j)
		return -ENOMEM;
	if (c->lim.structured && (req->type == NBD_CMD_READ || req->type == NBD_CMD_BLOCK_STATUS))
		n = nbd_encode_error_chunk(j->rhdr, sizeof j->rhdr, NBD_REPLY_FLAG_DONE,
					   req->cookie, nbd_errno_to_wire(err), msg);
	else
		n = nbd_encode_simple_reply(j->rhdr, sizeof j->rhdr, nbd_errno_to_wire(err),
					    req->cookie);
	if (n < 0) {
		conn_job_done(c, j);
		return n;
	}
	j->req = *req;
	j->rhdr_len = (size_t)n;
	j->rdata_len = 0;
	conn_queue_reply(c, j);
	return 0;
}

static bool conn_idle(struct conn *c)
{
	bool idle;

	pthread_mutex_lock(&c->lock);
	idle = c->inflight == 0;
	pthread_mutex_unlock(&c->lock);
	return idle;
}

/*
 * The stop: every new request is answered NBD_ESHUTDOWN (a WRITE's payload read and dropped);
 * returns when the client leaves or once nothing of it is in flight and it sends nothing.
 */
static void answer_shutdown(struct conn *c)
{
	uint8_t b[NBD_REQUEST_SIZE];
	struct nbd_request req;

	for (;;) {
		if (c->rpos == c->rlen) {
			struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
			bool idle = conn_idle(c);
			int n = poll(&pfd, 1, idle ? 0 : STOP_POLL_MS);

			if (n < 0 && errno != EINTR)
				return;
			if (n <= 0) {
				if (idle)
					return;
				continue;
			}
		}
		if (read_buffered(c, b, sizeof b) < 0 || nbd_decode_request(b, &req) < 0 ||
		    req.type == NBD_CMD_DISC)
			return;
		if (req.type == NBD_CMD_WRITE &&
		    (req.length > NBD_MAX_DISCARD || discard(c, req.length) < 0))
			return;
		if (reply_error(c, &req, -ESHUTDOWN, "the server is shutting down") < 0)
			return;
	}
}

/*
 * Served by the reader itself rather than a worker (see the top of the file), where the
 * export's storage answers fast enough for that (export.inline_io): every READ, and WRITE up
 * to INLINE_MAX without FUA.  A 1 MiB READ from the page cache costs the reader less than the
 * hand-off (a worker's wakeup, lock traffic) and the pool adds no core the client does not
 * need for its own copy (docs/performance.md, "Sequential reads").
 */
static bool run_inline(struct conn *c, const struct nbd_request *req)
{
	if (!c->exp->inline_io)
		return false;
	return req->type == NBD_CMD_READ ||
	       (req->type == NBD_CMD_WRITE && req->length <= INLINE_MAX &&
		!(req->flags & NBD_CMD_FLAG_FUA));
}

static void transmission(struct conn *c)
{
	uint8_t b[NBD_REQUEST_SIZE];
	struct nbd_request req;
	int r;

	/*
	 * A send buffer that takes whole 1 MiB READ replies: with the default (~200 KiB) the
	 * sender sleeps in sendmsg() several times per reply until the client drains the socket,
	 * and the reply goes to the writer thread (docs/performance.md, "Sequential reads").
	 */
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &(int){CONN_SNDBUF}, sizeof(int));
	c->rbuf = malloc(RBUF_SIZE);
	if (!c->rbuf) {
		log_error("out of memory for a connection's read buffer: disconnecting");
		return;
	}
	for (;;) {
		size_t need = 0;
		struct job *j;

		/* the held replies go out once no whole request header waits in the buffer */
		if (c->rlen - c->rpos < NBD_REQUEST_SIZE || c->n_held >= HELD_MAX ||
		    c->held_bytes >= HELD_MAX_BYTES)
			flush_held(c);
		r = wait_request(c);
		if (r == 0) {
			flush_held(c);
			answer_shutdown(c);
			break;
		}
		if (r < 0 || read_buffered(c, b, sizeof b) < 0)
			break;
		if (nbd_decode_request(b, &req) < 0) {
			log_warning("bad request magic: disconnecting the client");
			break;
		}
		if (req.type == NBD_CMD_DISC)
			break;
		if (req.type == NBD_CMD_WRITE && c->rlen - c->rpos < req.length)
			flush_held(c); /* its payload may make the reader wait */
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
		if (run_inline(c, &req)) {
			/* small replies wait for the next ones (one sendmsg for several) */
			j->hold = !c->tls && req.length <= INLINE_MAX;
			workers_execute(j);
		} else {
			workers_submit(j);
		}
	}
	flush_held(c);
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
	tls_session_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->wlock);
	pthread_cond_destroy(&c->wcond);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}

static void set_recv_timeout(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static void set_send_timeout(int fd, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int writer_start(struct conn *c)
{
	pthread_attr_t attr;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	r = -pthread_create(&c->writer, &attr, writer_main, c);
	pthread_attr_destroy(&attr);
	if (r == 0)
		c->writer_running = true;
	return r;
}

/* After the drain: the queue is empty, the writer leaves. */
static void writer_stop(struct conn *c)
{
	if (!c->writer_running)
		return;
	pthread_mutex_lock(&c->wlock);
	c->wstop = true;
	pthread_cond_signal(&c->wcond);
	pthread_mutex_unlock(&c->wlock);
	pthread_join(c->writer, NULL);
	c->writer_running = false;
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
	int timeout = atomic_load(&handshake_timeout_s);

	clock_gettime(CLOCK_MONOTONIC, &c->hs_deadline);
	c->hs_deadline.tv_sec += timeout;
	set_send_timeout(c->fd, timeout);
	set_recv_timeout(c->fd, timeout); /* bounds the TLS reads, which do not poll */
	if (conn_handshake(c)) {
		set_send_timeout(c->fd, 0); /* the writer waits on a slow reader as long as needed */
		set_recv_timeout(c->fd, 0); /* an attached client may idle as long as it likes */
		if (writer_start(c) < 0)
			log_error("cannot start a connection's writer thread: disconnecting");
		else {
			atomic_store(&c->tls_up, c->tls != NULL);
			atomic_store(&c->transmitting, true);
			transmission(c);
		}
	}
	/* drain: every queued request finishes and replies before the export is released */
	pthread_mutex_lock(&c->lock);
	while (c->inflight > 0) {
		c->waiters++;
		pthread_cond_wait(&c->cond, &c->lock);
		c->waiters--;
	}
	pthread_mutex_unlock(&c->lock);
	writer_stop(c);
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
	c->ops = fixed ? &conn_fixed_ops : &conn_registry_ops;
	pthread_mutex_init(&c->wlock, NULL);
	pthread_cond_init(&c->wcond, NULL);
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

/* Beyond server.max_connections: closed before the greeting, logged at most once a second. */
static bool refuse_over_limit(int fd)
{
	unsigned max = atomic_load(&max_conns), n;
	unsigned long dropped = 0;
	time_t now = time(NULL);
	bool refuse, log = false;

	pthread_mutex_lock(&conns_lock);
	n = n_conns;
	refuse = n >= max;
	if (refuse) {
		refusals++;
		if (now != last_refusal_log) {
			last_refusal_log = now;
			dropped = refusals;
			refusals = 0;
			log = true;
		}
	}
	pthread_mutex_unlock(&conns_lock);
	if (!refuse)
		return false;
	close(fd);
	if (log)
		log_warning("connection refused: %u connections open, server.max_connections is %u "
			    "(%lu refused since the last such line)",
			    n, max, dropped);
	return true;
}

int conn_start(int fd, bool is_tcp)
{
	pthread_attr_t attr;
	pthread_t t;
	struct conn *c;
	int r;

	if (refuse_over_limit(fd))
		return 0;
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
	uint64_t one = 1;
	unsigned n;

	atomic_store(&stopping, true);
	pthread_mutex_lock(&conns_lock);
	n = n_conns;
	if (stop_fd >= 0 && write(stop_fd, &one, sizeof one) < 0)
		log_warning_errno(negative_errno(), "cannot wake the connections: %m");
	/* those still in the handshake are closed: nothing of theirs is in flight */
	for (struct conn *c = conns; c; c = c->next)
		if (!atomic_load(&c->transmitting))
			(void)shutdown(c->fd, SHUT_RDWR);
		else if (atomic_load(&c->tls_up)) /* its reader waits in tls_recv(): EOF */
			(void)shutdown(c->fd, SHUT_RD);
	pthread_mutex_unlock(&conns_lock);
	if (n > 0)
		log_info("stopping %u connection(s): new requests get NBD_ESHUTDOWN, each closes "
			 "once its requests in flight have replied",
			 n);
}

void conns_cut_all(void)
{
	pthread_mutex_lock(&conns_lock);
	for (struct conn *c = conns; c; c = c->next)
		(void)shutdown(c->fd, SHUT_RDWR);
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
