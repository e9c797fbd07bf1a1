/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * workers.c — the worker pool: server.threads threads take validated requests from one FIFO,
 * call the volume (which encrypts or decrypts in place in the job's buffer) and queue the reply
 * on the request's connection (conn_queue_reply(): a worker never blocks on a client's socket,
 * so a client that stops reading its replies stalls only itself).  No allocation per request.
 * READ and small WRITE requests of file volumes are run by the connection thread itself through
 * workers_execute() (connection.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "envold.h"
#include "nbd/handshake.h"
#include "util/log.h"

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct job *queue_head, *queue_tail;
static bool stopping;
static pthread_t *threads;
static unsigned n_threads;

void workers_submit(struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&queue_lock);
	if (queue_tail)
		queue_tail->next = j;
	else
		queue_head = j;
	queue_tail = j;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
}

struct extent_acc {
	uint8_t *buf;
	size_t max; /* descriptors that fit */
	size_t n;
	uint64_t start; /* requested range */
	uint64_t end;
	uint64_t covered; /* end of the last descriptor */
	uint32_t last_status;
	uint32_t last_len;
	bool one;
};

static int extent_cb(void *opaque, uint64_t off, uint64_t len, bool hole)
{
	struct extent_acc *a = opaque;
	uint32_t status = hole ? (NBD_STATE_HOLE | NBD_STATE_ZERO) : 0;
	uint64_t s = off, e;

	if (ADD_OVERFLOW(off, len, &e))
		e = UINT64_MAX;
	if (s < a->covered)
		s = a->covered;
	if (e > a->end)
		e = a->end;
	if (a->one && a->n == 1)
		return 1; /* NBD_CMD_FLAG_REQ_ONE: one extent is enough */
	if (e <= s)
		return 0; /* before the range */
	if (s != a->covered)
		return 1; /* a gap (never expected): report what is contiguous */
	if (a->n > 0 && a->last_status == status && !a->one) {
		/* merge with the previous descriptor (the range is < 4 GiB, no overflow) */
		a->last_len += (uint32_t)(e - s);
		nbd_encode_block_descriptor(a->buf + (a->n - 1) * NBD_BLOCK_DESCRIPTOR_SIZE,
					    NBD_BLOCK_DESCRIPTOR_SIZE, a->last_len, status);
	} else {
		if (a->n >= a->max)
			return 1; /* buffer full: a shorter answer is allowed */
		a->last_len = (uint32_t)(e - s);
		a->last_status = status;
		nbd_encode_block_descriptor(a->buf + a->n * NBD_BLOCK_DESCRIPTOR_SIZE,
					    NBD_BLOCK_DESCRIPTOR_SIZE, a->last_len, status);
		a->n++;
	}
	a->covered = e;
	return a->covered >= a->end ? 1 : 0;
}

static int do_block_status(struct job *j, struct envol_volume *v, size_t *ret_n)
{
	struct extent_acc a = {
	    .buf = j->buf,
	    .max = j->cap / NBD_BLOCK_DESCRIPTOR_SIZE,
	    .start = j->req.offset,
	    .end = j->req.offset + j->req.length,
	    .covered = j->req.offset,
	    .one = j->req.flags & NBD_CMD_FLAG_REQ_ONE,
	};
	int r;

	r = envol_volume_extents(v, j->req.offset, j->req.length, extent_cb, &a);
	if (r < 0)
		return r;
	if (a.n == 0)
		return -EIO;
	*ret_n = a.n;
	return 0;
}

/* Client mistakes and states the client asked for; anything else is the server's failure. */
static bool client_error(int r)
{
	return r == -EINVAL || r == -ENOSPC || r == -EPERM || r == -EROFS || r == -ENOTSUP ||
	       r == -EOPNOTSUPP;
}

void workers_execute(struct job *j)
{
	struct conn *c = j->conn;
	struct export *e = conn_export(c);
	struct envol_volume *v = e->vol;
	const struct nbd_request *q = &j->req;
	bool fua = q->flags & NBD_CMD_FLAG_FUA;
	bool structured = conn_structured(c);
	size_t n_extents = 0;
	int r, n;

	switch (q->type) {
	case NBD_CMD_READ:
		r = envol_volume_pread(v, j->buf, q->length, q->offset);
		break;
	case NBD_CMD_WRITE:
		r = envol_volume_pwrite(v, j->buf, q->length, q->offset, fua ? ENVOL_IO_FUA : 0);
		break;
	case NBD_CMD_FLUSH:
		r = envol_volume_flush(v);
		break;
	case NBD_CMD_TRIM:
		r = envol_volume_trim(v, q->offset, q->length, fua ? ENVOL_IO_FUA : 0);
		break;
	case NBD_CMD_WRITE_ZEROES:
		if ((q->flags & NBD_CMD_FLAG_FAST_ZERO) && (q->flags & NBD_CMD_FLAG_NO_HOLE)) {
			r = -ENOTSUP; /* writing allocated zeros is not fast: say so at once */
			break;
		}
		r = envol_volume_zero(
		    v, q->offset, q->length,
		    (fua ? ENVOL_IO_FUA : 0) |
			((q->flags & NBD_CMD_FLAG_NO_HOLE) ? ENVOL_IO_NO_HOLE : 0));
		if (r == -EOPNOTSUPP && !(q->flags & NBD_CMD_FLAG_FAST_ZERO))
			r = -EIO;
		break;
	case NBD_CMD_CACHE:
		r = 0;
		break;
	case NBD_CMD_BLOCK_STATUS:
		r = do_block_status(j, v, &n_extents);
		break;
	default:
		r = -EINVAL;
		break;
	}

	j->rdata_len = 0;
	if (r < 0) {
		char msg[128];

		if (client_error(r))
			log_debug("%s offset %" PRIu64 " length %u: %s", nbd_command_name(q->type),
				  q->offset, q->length, strerror(-r));
		else
			log_error("export %s: %s offset %" PRIu64 " length %u failed: %s", e->name,
				  nbd_command_name(q->type), q->offset, q->length, strerror(-r));
		if (structured && (q->type == NBD_CMD_READ || q->type == NBD_CMD_BLOCK_STATUS)) {
			snprintf(msg, sizeof msg, "%s failed: %s", nbd_command_name(q->type),
				 strerror(-r));
			n = nbd_encode_error_chunk(j->rhdr, sizeof j->rhdr, NBD_REPLY_FLAG_DONE,
						   q->cookie, nbd_errno_to_wire(r), msg);
		} else {
			n = nbd_encode_simple_reply(j->rhdr, sizeof j->rhdr, nbd_errno_to_wire(r),
						    q->cookie);
		}
	} else if (q->type == NBD_CMD_READ) {
		if (structured)
			n = nbd_encode_offset_data_header(j->rhdr, sizeof j->rhdr,
							  NBD_REPLY_FLAG_DONE, q->cookie, q->offset,
							  q->length);
		else
			n = nbd_encode_simple_reply(j->rhdr, sizeof j->rhdr, NBD_SUCCESS,
						    q->cookie);
		j->rdata_len = q->length;
	} else if (q->type == NBD_CMD_BLOCK_STATUS) {
		n = nbd_encode_block_status_header(j->rhdr, sizeof j->rhdr, NBD_REPLY_FLAG_DONE,
						   q->cookie, NBD_META_ID_BASE_ALLOCATION,
						   (uint32_t)n_extents);
		j->rdata_len = n_extents * NBD_BLOCK_DESCRIPTOR_SIZE;
	} else {
		n = nbd_encode_simple_reply(j->rhdr, sizeof j->rhdr, NBD_SUCCESS, q->cookie);
	}
	if (n < 0) { /* cannot happen: the header buffer fits every reply */
		log_error("cannot encode the reply of %s: %s", nbd_command_name(q->type),
			  strerror(-n));
		n = 0;
		j->rdata_len = 0;
	}
	j->rhdr_len = (size_t)n;
	conn_queue_reply(c, j);
}

static void *worker_main(void *arg)
{
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&queue_lock);
		while (!queue_head && !stopping)
			pthread_cond_wait(&queue_cond, &queue_lock);
		j = queue_head;
		if (!j) { /* stopping and drained */
			pthread_mutex_unlock(&queue_lock);
			return NULL;
		}
		queue_head = j->next;
		if (!queue_head)
			queue_tail = NULL;
		pthread_mutex_unlock(&queue_lock);
		workers_execute(j);
	}
}

int workers_start(unsigned n)
{
	threads = calloc(n, sizeof *threads);
	if (!threads)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&threads[i], NULL, worker_main, NULL);

		if (r != 0) {
			workers_stop();
			return -r;
		}
		n_threads++;
	}
	return 0;
}

void workers_stop(void)
{
	pthread_mutex_lock(&queue_lock);
	stopping = true;
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	n_threads = 0;
}
