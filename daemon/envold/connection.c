/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connection.c — one thread per NBD connection.  It runs the fixed-newstyle handshake as an
 * explicit state machine (docs/nbd-handshake.md), then becomes the request reader: it decodes
 * and validates each request (lib/nbd/codec.c, lib/nbd/validate.c), reads WRITE payloads into recycled job buffers
 * and queues the jobs to the worker pool; up to ENVOLD_MAX_INFLIGHT requests per connection are
 * in flight.  Replies from the workers are written under the connection's write mutex.
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
#include "util/log.h"

#define HANDSHAKE_TIMEOUT_S 60		 /* a client silent this long in the handshake is dropped */
#define JOB_KEEP_CAP (UINT32_C(4) << 20) /* bigger job buffers are freed when done */
#define BLOCK_STATUS_MAX_EXTENTS 2048
#define MAX_INFLIGHT_BYTES (UINT64_C(96) << 20) /* buffered payload per connection */
#define META_CONTEXT_ID 1
#define RBUF_SIZE (UINT32_C(64) << 10)	/* transmission read buffer */
#define INLINE_MAX (UINT32_C(64) << 10) /* READ/WRITE up to this size run in the reader */

enum hs_state {
	HS_GREETING,	 /* send NBDMAGIC, IHAVEOPT, handshake flags */
	HS_CLIENT_FLAGS, /* read the client's 32-bit flags */
	HS_OPTION,	 /* read one option (header, bounded payload) and answer it */
	HS_TRANSMISSION, /* export chosen: leave the handshake */
	HS_CLOSE,	 /* abort, error, or a protocol violation: close the connection */
};

struct conn {
	int fd;
	bool tcp;
	/* handshake results */
	uint32_t client_flags;
	bool structured;
	bool meta;			      /* base:allocation selected ... */
	char meta_export[NBD_MAX_STRING + 1]; /* ... for this export name */
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
	uint8_t opt[NBD_MAX_OPTION_LEN + 1];
	uint8_t out[NBD_MAX_STRING * 2 + 64];
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

bool conn_structured(struct conn *c) { return c->structured; }

/* ---- handshake ---- */

static int send_rep(struct conn *c, int len)
{
	if (len < 0)
		return len;
	return send_buf(c, c->out, (size_t)len);
}

static int send_ack(struct conn *c, uint32_t opt)
{
	return send_rep(c,
			nbd_encode_option_reply(c->out, sizeof c->out, opt, NBD_REP_ACK, NULL, 0));
}

static int send_error(struct conn *c, uint32_t opt, uint32_t type, const char *text)
{
	log_debug("%s: replying %#x: %s", nbd_option_name(opt), type, text);
	return send_rep(c, nbd_encode_option_error(c->out, sizeof c->out, opt, type, text));
}

/* Sends an error reply; the handshake goes on unless the reply cannot be sent. */
static enum hs_state refuse(struct conn *c, uint32_t opt, uint32_t type, const char *text)
{
	return send_error(c, opt, type, text) < 0 ? HS_CLOSE : HS_OPTION;
}

static uint16_t transmission_flags(const struct export *e)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		     NBD_FLAG_SEND_CACHE | NBD_FLAG_CAN_MULTI_CONN;

	if (e->read_only)
		f |= NBD_FLAG_READ_ONLY;
	else
		f |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
	return f;
}

static uint16_t facts_flags(const struct export_facts *f)
{
	struct export e = {.read_only = f->read_only};

	return transmission_flags(&e);
}

static uint32_t preferred_block(uint32_t sector) { return sector > 4096 ? sector : 4096; }

/* Copies an option string into a NUL-terminated buffer; -EINVAL on embedded NULs. */
static int copy_name(const char *p, uint32_t len, char *out, size_t cap)
{
	if (len >= cap || memchr(p, 0, len))
		return -EINVAL;
	memcpy(out, p, len);
	out[len] = 0;
	return 0;
}

static void enter_transmission(struct conn *c, struct export *e, const char *name)
{
	c->exp = e;
	c->lim = (struct nbd_export_limits){
	    .size = e->info->size,
	    .min_block = e->info->sector_size,
	    .max_payload = NBD_MAX_PAYLOAD,
	    .transmission_flags = transmission_flags(e),
	    .structured = c->structured,
	    .meta_base_allocation = c->meta && strcmp(c->meta_export, name) == 0,
	};
}

static enum hs_state opt_export_name(struct conn *c, uint32_t len)
{
	char name[NBD_MAX_STRING + 1], err[ENVOLD_ERR_TEXT] = "";
	struct export *e;
	int n;

	if (copy_name((const char *)c->opt, len, name, sizeof name) < 0)
		return HS_CLOSE;
	if (exports_attach(name, &e, err, sizeof err) < 0)
		return HS_CLOSE; /* NBD_OPT_EXPORT_NAME cannot carry an error */
	n = nbd_encode_export_name_reply(c->out, sizeof c->out, e->info->size,
					 transmission_flags(e),
					 c->client_flags & NBD_FLAG_C_NO_ZEROES);
	enter_transmission(c, e, name);
	if (send_rep(c, n) < 0)
		return HS_CLOSE; /* the reader releases c->exp */
	return HS_TRANSMISSION;
}

static enum hs_state opt_list(struct conn *c, uint32_t opt, uint32_t len)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	if (len != 0)
		return refuse(c, opt, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
	r = exports_list(&names, &n);
	if (r < 0)
		return refuse(c, opt, NBD_REP_ERR_PLATFORM, "cannot read the volume directory");
	for (size_t i = 0; i < n; i++) {
		struct export_facts f;
		char err[ENVOLD_ERR_TEXT];

		if (exports_facts(names[i], &f, err, sizeof err) < 0)
			snprintf(f.description, sizeof f.description, "%s", err);
		r = send_rep(
		    c, nbd_encode_rep_server(c->out, sizeof c->out, opt, names[i], f.description));
		if (r < 0)
			break;
	}
	envol_volume_name_list_free(names, n);
	if (r < 0 || send_ack(c, opt) < 0)
		return HS_CLOSE;
	return HS_OPTION;
}

static enum hs_state opt_info_go(struct conn *c, uint32_t opt, uint32_t len)
{
	struct nbd_info_request req;
	struct export_facts f;
	struct export *e = NULL;
	char name[NBD_MAX_STRING + 1], err[ENVOLD_ERR_TEXT] = "";
	int r;

	if (nbd_decode_info_request(c->opt, len, &req) < 0 ||
	    copy_name(req.name, req.name_len, name, sizeof name) < 0)
		return refuse(c, opt, NBD_REP_ERR_INVALID, "malformed NBD_OPT_INFO/GO request");
	if (name[0] == 0)
		return refuse(c, opt, NBD_REP_ERR_UNKNOWN,
			      "no default export: name a volume (NBD_OPT_LIST shows them)");
	if (opt == NBD_OPT_GO) {
		r = exports_attach(name, &e, err, sizeof err);
		if (r < 0)
			return refuse(c, opt, nbd_errno_to_rep_error(r), err);
		f.size = e->info->size;
		f.sector_size = e->info->sector_size;
		f.read_only = e->read_only;
		exports_describe(e, f.description, sizeof f.description);
	} else {
		r = exports_facts(name, &f, err, sizeof err);
		if (r < 0)
			return refuse(c, opt, nbd_errno_to_rep_error(r), err);
	}
	/* NBD_INFO_EXPORT always; name, description and block size whether asked or not */
	r = send_rep(
	    c, nbd_encode_rep_info_export(c->out, sizeof c->out, opt, f.size, facts_flags(&f)));
	if (r >= 0)
		r = send_rep(
		    c, nbd_encode_rep_info_string(c->out, sizeof c->out, opt, NBD_INFO_NAME, name));
	if (r >= 0)
		r = send_rep(c, nbd_encode_rep_info_string(c->out, sizeof c->out, opt,
							   NBD_INFO_DESCRIPTION, f.description));
	if (r >= 0)
		r = send_rep(c, nbd_encode_rep_info_block_size(
				    c->out, sizeof c->out, opt, f.sector_size,
				    preferred_block(f.sector_size), NBD_MAX_PAYLOAD));
	if (r >= 0)
		r = send_ack(c, opt);
	if (opt == NBD_OPT_INFO)
		return r < 0 ? HS_CLOSE : HS_OPTION;
	enter_transmission(c, e, name);
	return r < 0 ? HS_CLOSE : HS_TRANSMISSION;
}

static enum hs_state opt_meta(struct conn *c, uint32_t opt, uint32_t len)
{
	struct nbd_meta_request req;
	bool listing = opt == NBD_OPT_LIST_META_CONTEXT, selected = false;
	int r = 0;

	if (!c->structured)
		return refuse(c, opt, NBD_REP_ERR_INVALID,
			      "negotiate NBD_OPT_STRUCTURED_REPLY first");
	if (nbd_decode_meta_request(c->opt, len, &req) < 0)
		return refuse(c, opt, NBD_REP_ERR_INVALID, "malformed meta context request");
	if (listing && req.n_queries == 0)
		selected = true;
	for (uint32_t i = 0; i < req.n_queries; i++)
		if (nbd_meta_query_selects_base_allocation(req.query[i], req.query_len[i], listing))
			selected = true;
	if (!listing) {
		c->meta = false;
		if (copy_name(req.name, req.name_len, c->meta_export, sizeof c->meta_export) < 0)
			return refuse(c, opt, NBD_REP_ERR_INVALID, "bad export name");
		c->meta = selected;
	}
	if (selected)
		r = send_rep(c, nbd_encode_rep_meta_context(c->out, sizeof c->out, opt,
							    listing ? 0 : META_CONTEXT_ID,
							    NBD_META_BASE_ALLOCATION));
	if (r < 0 || send_ack(c, opt) < 0)
		return HS_CLOSE;
	return HS_OPTION;
}

static enum hs_state handle_option(struct conn *c, uint32_t opt, uint32_t len)
{
	char text[128];

	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(c, len);
	case NBD_OPT_ABORT:
		(void)send_ack(c, opt);
		return HS_CLOSE;
	case NBD_OPT_LIST:
		return opt_list(c, opt, len);
	case NBD_OPT_STARTTLS:
		return refuse(c, opt, NBD_REP_ERR_POLICY, "TLS not supported yet");
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info_go(c, opt, len);
	case NBD_OPT_STRUCTURED_REPLY:
		if (len != 0)
			return refuse(c, opt, NBD_REP_ERR_INVALID,
				      "NBD_OPT_STRUCTURED_REPLY takes no data");
		c->structured = true;
		return send_ack(c, opt) < 0 ? HS_CLOSE : HS_OPTION;
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return opt_meta(c, opt, len);
	default:
		snprintf(text, sizeof text, "option %u (%s) is not supported", opt,
			 nbd_option_name(opt));
		return refuse(c, opt, NBD_REP_ERR_UNSUP, text);
	}
}

/* Runs the handshake; returns true when the connection enters transmission. */
static bool handshake(struct conn *c)
{
	enum hs_state state = HS_GREETING;
	unsigned n_options = 0;
	uint8_t b[NBD_GREETING_SIZE + NBD_OPTION_HEADER_SIZE];
	struct nbd_option_header h;
	char text[128];

	for (;;) {
		switch (state) {
		case HS_GREETING:
			nbd_encode_greeting(b, sizeof b,
					    NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
			state = send_buf(c, b, NBD_GREETING_SIZE) < 0 ? HS_CLOSE : HS_CLIENT_FLAGS;
			break;
		case HS_CLIENT_FLAGS:
			if (read_full(c->fd, b, 4) < 0 ||
			    nbd_decode_client_flags(b, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES,
						    &c->client_flags) < 0) {
				state = HS_CLOSE;
				break;
			}
			state = HS_OPTION;
			break;
		case HS_OPTION:
			if (++n_options > NBD_MAX_OPTIONS ||
			    read_full(c->fd, b, NBD_OPTION_HEADER_SIZE) < 0 ||
			    nbd_decode_option_header(b, &h) < 0) {
				state = HS_CLOSE;
				break;
			}
			if (h.length > NBD_MAX_OPTION_LEN) {
				/* bounded before anything is read into memory */
				if (h.length > NBD_MAX_DISCARD || discard(c, h.length) < 0) {
					state = HS_CLOSE;
					break;
				}
				snprintf(text, sizeof text, "option data of %u bytes is too long",
					 h.length);
				state = refuse(c, h.option, NBD_REP_ERR_TOO_BIG, text);
				break;
			}
			if (read_full(c->fd, c->opt, h.length) < 0) {
				state = HS_CLOSE;
				break;
			}
			log_debug("option %s, %u bytes", nbd_option_name(h.option), h.length);
			state = handle_option(c, h.option, h.length);
			break;
		case HS_TRANSMISSION:
			return true;
		case HS_CLOSE:
			return false;
		}
	}
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

	if (c->structured && (req->type == NBD_CMD_READ || req->type == NBD_CMD_BLOCK_STATUS))
		n = nbd_encode_error_chunk(b, sizeof b, NBD_REPLY_FLAG_DONE, req->cookie,
					   nbd_errno_to_wire(err), msg);
	else
		n = nbd_encode_simple_reply(b, sizeof b, nbd_errno_to_wire(err), req->cookie);
	if (n < 0)
		return n;
	return send_buf(c, b, (size_t)n);
}

/* Served by the reader itself rather than a worker (see the top of the file). */
static bool run_inline(const struct nbd_request *req)
{
	if (req->length > INLINE_MAX)
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
		if (run_inline(&req))
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

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

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
		exports_release(c->exp);
	conn_unlink(c);
	conn_free(c);
	/* Free this thread's OpenSSL state now: the thread is detached, and once it counts down
	 * main may exit before the thread-local destructors would have run. */
	OPENSSL_thread_stop();
	conn_count_down();
	return NULL;
}

int conn_start(int fd, bool is_tcp)
{
	pthread_attr_t attr;
	pthread_t t;
	struct conn *c;
	int r, one = 1;

	c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->tcp = is_tcp;
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
