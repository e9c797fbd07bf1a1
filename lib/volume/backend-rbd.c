/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-rbd.c — the Ceph RBD backend (volume/backend.h): a volume in an RBD image, at the
 * location "rbd:POOL/IMAGE" or "rbd:POOL/NAMESPACE/IMAGE", through librbd.  The image holds
 * the volume's bytes as a file would: the header in its first MiB, the data area after it
 * (docs/format.md, "Volumes on Ceph RBD").
 *
 *   I/O           rbd_aio_read/rbd_aio_write, one request per call (librbd splits it into its
 *                 objects and sends those at once); the calls of many worker threads are the
 *                 queue depth the cluster sees
 *   FLUSH         rbd_aio_flush
 *   discard       rbd_aio_write_zeroes without flags: a discard that zeroes partial objects
 *                 (plain rbd_aio_discard skips what is smaller than its granularity)
 *   write_zeroes  rbd_aio_write_zeroes(THICK_PROVISION): zeros, kept allocated
 *   extents       rbd_diff_iterate2 over whole objects (the object map, fast-diff)
 *   lock          RBD's exclusive lock (rbd_lock_acquire: held, never handed over on
 *                 request, and not taken while anyone holds it, even a dead client); who
 *                 holds it is its owner's client address plus what the owner wrote into the
 *                 image metadata "envol.holder" (program, pid, host)
 *   lock_break    blocklist the owner's client address (it is fenced: the OSDs refuse what it
 *                 sends), then break its lock
 *
 * librbd's cache is off (rbd_cache = false, whatever the ceph.conf says): a write completes when
 * the OSDs have it.  Its default write-around mode completes writes before that, and then the
 * write of a client fenced meanwhile, and the FLUSH after it, can be acknowledged
 * (tests/ceph/test-rbd-hosts.sh saw it).
 *
 * Connections: a writable open gets a cluster connection (a RADOS client instance) of its own,
 * so that a forced takeover fences exactly the one volume's holder; read-only opens, listing
 * and removal share one connection per process, made on first use and kept.  The cluster
 * (ceph.conf, cephx user) is set once per process with envol_backend_rbd_setup().
 *
 * Once the cluster has fenced a handle (a request fails with ESHUTDOWN, Ceph's EBLOCKLISTED),
 * every later call on it fails the same way without asking the cluster: a fenced writer
 * stays fenced even if the blocklist entry expires.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"
#include "volume/backend.h"

#define RBD_PREFIX "rbd:"

#if ENVOL_HAVE_RBD

#include <rados/librados.h>
#include <rbd/librbd.h>

#define OBJECT_ORDER 22 /* 4 MiB RADOS objects, librbd's default */
#define IMAGE_FEATURES                                                                             \
	(RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |             \
	 RBD_FEATURE_FAST_DIFF | RBD_FEATURE_DEEP_FLATTEN)
#define HOLDER_KEY "envol.holder" /* image metadata: "ADDRESS DESCRIPTION" of the lock owner */
/* A fenced client instance stays blocklisted this long (its address is never reused). */
#define BLOCKLIST_SECONDS (7 * 24 * 3600)
#define NAME_MAX_RBD 255

/* ---- the cluster ------------------------------------------------------------------------- */

static pthread_mutex_t cluster_lock = PTHREAD_MUTEX_INITIALIZER;
static char *setup_conf;   /* NULL: librados' search */
static char *setup_client; /* NULL: "admin" */
static rados_t shared_cluster;
static bool connected_once;

static bool same_setting(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int envol_backend_rbd_setup(const char *ceph_conf, const char *client_id)
{
	char *conf = NULL, *client = NULL;
	int r = 0;

	if (ceph_conf && !ceph_conf[0])
		ceph_conf = NULL;
	if (client_id && !client_id[0])
		client_id = NULL;
	if ((ceph_conf && !(conf = strdup(ceph_conf))) || (client_id && !(client = strdup(client_id)))) {
		free(conf);
		return -ENOMEM;
	}
	pthread_mutex_lock(&cluster_lock);
	if (same_setting(setup_conf, conf) && same_setting(setup_client, client)) {
		free(conf);
		free(client);
	} else if (connected_once) {
		free(conf);
		free(client);
		r = -EBUSY;
	} else {
		free(setup_conf);
		free(setup_client);
		setup_conf = conf;
		setup_client = client;
	}
	pthread_mutex_unlock(&cluster_lock);
	return r;
}

bool envol_backend_rbd_available(void)
{
	return true;
}

static int set_option(rados_t cl, const char *option, const char *value)
{
	int r = rados_conf_set(cl, option, value);

	if (r < 0)
		log_debug("rbd: cannot set %s = %s: %s", option, value, strerror(-r));
	return r;
}

/*
 * A new connection to the cluster of envol_backend_rbd_setup().  shared: the process-wide
 * one, whose requests give up after a minute (a listing must not hang on a dead OSD); the
 * connections of writers wait for the cluster as a disk would.
 */
static int cluster_connect(bool shared, rados_t *ret, char *err, size_t errlen)
{
	char conf[PATH_MAX] = "", client[NAME_MAX_RBD + 1] = "admin";
	rados_t cl = NULL;
	int r;

	pthread_mutex_lock(&cluster_lock);
	if (setup_conf)
		snprintf(conf, sizeof conf, "%s", setup_conf);
	if (setup_client)
		snprintf(client, sizeof client, "%s", setup_client);
	connected_once = true;
	pthread_mutex_unlock(&cluster_lock);

	r = rados_create(&cl, client);
	if (r < 0)
		return envol_fail(r, err, errlen, "cannot set up Ceph client client.%s: %s", client,
				  strerror(-r));
	/* Defaults the ceph.conf may change: how long to try the monitors, no log on stderr. */
	(void)set_option(cl, "client_mount_timeout", "30");
	(void)set_option(cl, "rados_mon_op_timeout", "30");
	(void)set_option(cl, "log_to_stderr", "false");
	(void)set_option(cl, "err_to_stderr", "false");
	if (shared)
		(void)set_option(cl, "rados_osd_op_timeout", "60");
	r = rados_conf_read_file(cl, conf[0] ? conf : NULL);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot read the Ceph configuration %s: %s",
				conf[0] ? conf
					: "($CEPH_CONF, /etc/ceph/ceph.conf; set rbd.ceph_conf)",
				strerror(-r));
		goto fail;
	}
	/* What the backend's promises rest on, whatever the ceph.conf says (see the top). */
	(void)set_option(cl, "rbd_skip_partial_discard", "false");
	(void)set_option(cl, "rbd_cache", "false");
	r = rados_connect(cl);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot connect to the Ceph cluster as client.%s%s%s: %s",
				client, conf[0] ? " with " : "", conf, strerror(-r));
		goto fail;
	}
	log_debug("rbd: connected as client.%s (%s)", client, shared ? "shared" : "own");
	*ret = cl;
	return 0;
fail:
	rados_shutdown(cl);
	return r;
}

/* The process-wide connection, made on first use. */
static int shared_connection(rados_t *ret, char *err, size_t errlen)
{
	static pthread_mutex_t make_lock = PTHREAD_MUTEX_INITIALIZER;
	int r = 0;

	pthread_mutex_lock(&make_lock);
	if (!shared_cluster)
		r = cluster_connect(true, &shared_cluster, err, errlen);
	if (r == 0)
		*ret = shared_cluster;
	pthread_mutex_unlock(&make_lock);
	return r;
}

/* ---- locations ----------------------------------------------------------------------------- */

struct rbd_spec {
	char pool[NAME_MAX_RBD + 1];
	char ns[NAME_MAX_RBD + 1];
	char image[NAME_MAX_RBD + 1];
};

/* Copies the part [p, p+n) of a spec; -EINVAL when empty, too long, or holding an '@'. */
static int spec_part(char *dst, const char *p, size_t n)
{
	if (n == 0 || n > NAME_MAX_RBD || memchr(p, '@', n))
		return -EINVAL;
	memcpy(dst, p, n);
	dst[n] = 0;
	return 0;
}

/* "rbd:POOL/IMAGE" or "rbd:POOL/NAMESPACE/IMAGE". */
static int parse_location(const char *location, struct rbd_spec *s, char *err, size_t errlen)
{
	const char *p = location + strlen(RBD_PREFIX), *a = strchr(p, '/'), *b = a ? strchr(a + 1, '/') : NULL;
	int r;

	*s = (struct rbd_spec){ 0 };
	if (!a || (b && strchr(b + 1, '/')))
		r = -EINVAL;
	else if (b)
		r = spec_part(s->pool, p, (size_t)(a - p)) ?: spec_part(s->ns, a + 1, (size_t)(b - a - 1))
						       ?: spec_part(s->image, b + 1, strlen(b + 1));
	else
		r = spec_part(s->pool, p, (size_t)(a - p)) ?: spec_part(s->image, a + 1, strlen(a + 1));
	if (r < 0)
		return envol_fail(-EINVAL, err, errlen,
				  "%s is not an RBD location (rbd:POOL/IMAGE or "
				  "rbd:POOL/NAMESPACE/IMAGE)",
				  location);
	return 0;
}

/* An I/O context on the spec's pool and namespace. */
static int open_ioctx(rados_t cl, const struct rbd_spec *s, const char *location,
		      rados_ioctx_t *ret, char *err, size_t errlen)
{
	int r = rados_ioctx_create(cl, s->pool, ret);

	if (r == -ENOENT)
		return envol_fail(r, err, errlen, "%s: the Ceph pool %s does not exist", location,
				  s->pool);
	if (r < 0)
		return envol_fail(r, err, errlen, "%s: cannot use the Ceph pool %s: %s", location,
				  s->pool, strerror(-r));
	rados_ioctx_set_namespace(*ret, s->ns[0] ? s->ns : NULL);
	return 0;
}

/* ---- the backend --------------------------------------------------------------------------- */

struct rbd_backend {
	struct envol_backend base;
	rados_t cluster; /* own (writable) or the shared one */
	bool own_cluster;
	rados_ioctx_t io;
	rbd_image_t image;
	bool writable;
	bool locked;        /* holds the exclusive lock (changed only by lock ops and close) */
	atomic_bool fenced; /* the cluster refused this client: every call fails */
};

static struct rbd_backend *to_rbd(struct envol_backend *b)
{
	return (struct rbd_backend *)b;
}

/* The result of a request submitted on c (submitted: what submitting returned). */
static ssize_t finish(struct rbd_backend *rb, int submitted, rbd_completion_t c)
{
	ssize_t r = submitted;

	if (submitted >= 0) {
		(void)rbd_aio_wait_for_complete(c);
		r = rbd_aio_get_return_value(c);
	}
	rbd_aio_release(c);
	if (r == -ESHUTDOWN && !atomic_exchange(&rb->fenced, true))
		log_debug("rbd: this client is blocklisted (fenced); all further I/O fails");
	return r;
}

#define CHECK_FENCED(rb)                                                                           \
	do {                                                                                       \
		if (atomic_load(&(rb)->fenced))                                                    \
			return -ESHUTDOWN;                                                         \
	} while (0)

#define SUBMIT(rb, call_with_c)                                                                    \
	({                                                                                         \
		rbd_completion_t c = NULL;                                                         \
		int _s = rbd_aio_create_completion(NULL, NULL, &c);                                \
		_s < 0 ? (ssize_t)_s : finish((rb), (call_with_c), c);                             \
	})

static int rbd_be_pread(struct envol_backend *b, void *buf, size_t len, uint64_t off)
{
	struct rbd_backend *rb = to_rbd(b);
	ssize_t r;

	CHECK_FENCED(rb);
	r = SUBMIT(rb, rbd_aio_read(rb->image, off, len, buf, c));
	if (r < 0)
		return (int)r;
	return (size_t)r == len ? 0 : -EIO; /* short: the image ends before off+len */
}

static int rbd_be_pwrite(struct envol_backend *b, const void *buf, size_t len, uint64_t off)
{
	struct rbd_backend *rb = to_rbd(b);
	ssize_t r;

	CHECK_FENCED(rb);
	r = SUBMIT(rb, rbd_aio_write(rb->image, off, len, buf, c));
	return r < 0 ? (int)r : 0;
}

static int rbd_be_flush(struct envol_backend *b)
{
	struct rbd_backend *rb = to_rbd(b);
	ssize_t r;

	CHECK_FENCED(rb);
	r = SUBMIT(rb, rbd_aio_flush(rb->image, c));
	return r < 0 ? (int)r : 0;
}

static int rbd_be_discard(struct envol_backend *b, uint64_t off, uint64_t len)
{
	struct rbd_backend *rb = to_rbd(b);
	ssize_t r;

	CHECK_FENCED(rb);
#if ENVOL_HAVE_RBD_WRITE_ZEROES
	r = SUBMIT(rb, rbd_aio_write_zeroes(rb->image, off, len, c, 0, 0));
#else
	/* With rbd_skip_partial_discard off (cluster_connect), partial objects are zeroed. */
	r = SUBMIT(rb, rbd_aio_discard(rb->image, off, len, c));
#endif
	return r < 0 ? (int)r : 0;
}

static int rbd_be_write_zeroes(struct envol_backend *b, uint64_t off, uint64_t len)
{
	struct rbd_backend *rb = to_rbd(b);
	ssize_t r;

	CHECK_FENCED(rb);
	if (len == 0)
		return 0;
#if ENVOL_HAVE_RBD_WRITE_ZEROES
	r = SUBMIT(rb, rbd_aio_write_zeroes(rb->image, off, len, c,
					    RBD_WRITE_ZEROES_FLAG_THICK_PROVISION, 0));
	return r < 0 ? (int)r : 0;
#else
	{
		static const char zeros[1 << 20];

		for (r = 0; r == 0 && len > 0;) {
			size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;

			r = rbd_be_pwrite(b, zeros, n, off);
			off += n;
			len -= n;
		}
		return (int)r;
	}
#endif
}

/* rbd_diff_iterate2's extents (only those that exist) turned into a walk of the whole range. */
struct diff_walk {
	uint64_t pos, end;
	envol_backend_extent_cb cb;
	void *opaque;
	int stop; /* what cb returned when it stopped the walk */
};

static int diff_step(struct diff_walk *w, uint64_t stop, bool hole)
{
	int r;

	if (stop <= w->pos)
		return 0;
	r = w->cb(w->opaque, w->pos, stop - w->pos, hole);
	w->pos = stop;
	if (r != 0) {
		w->stop = r;
		return -ECANCELED;
	}
	return 0;
}

static int diff_cb(uint64_t off, size_t len, int exists, void *arg)
{
	struct diff_walk *w = arg;
	uint64_t end = off + len < w->end ? off + len : w->end;
	int r;

	if (off > w->pos) {
		r = diff_step(w, off < w->end ? off : w->end, true);
		if (r < 0)
			return r;
	}
	return diff_step(w, end, !exists);
}

static int rbd_be_extents(struct envol_backend *b, uint64_t off, uint64_t len,
			  envol_backend_extent_cb cb, void *opaque)
{
	struct rbd_backend *rb = to_rbd(b);
	struct diff_walk w = { .pos = off, .end = off + len, .cb = cb, .opaque = opaque };
	int r;

	CHECK_FENCED(rb);
	if (len == 0)
		return 0;
	/* whole_object: from the object map (fast-diff), no request per object */
	r = rbd_diff_iterate2(rb->image, NULL, off, len, 1, 1, diff_cb, &w);
	if (w.stop)
		return w.stop;
	if (r < 0)
		return r;
	if (w.pos < w.end)
		return cb(opaque, w.pos, w.end - w.pos, true);
	return 0;
}

static int rbd_be_size(struct envol_backend *b, uint64_t *ret_size)
{
	struct rbd_backend *rb = to_rbd(b);

	CHECK_FENCED(rb);
	return rbd_get_size(rb->image, ret_size);
}

/* ---- the lock ------------------------------------------------------------------------------ */

/* "pid 1234 (envold) on HOST" for this process. */
static void self_description(char *buf, size_t len)
{
	char host[256] = "?";

	if (gethostname(host, sizeof host) < 0)
		strcpy(host, "?");
	host[sizeof host - 1] = 0;
	snprintf(buf, len, "pid %ld (%s) on %s", (long)getpid(), program_invocation_short_name,
		 host);
}

/*
 * Who the owner at addr is: "pid 1234 (envold) on HOST, client ADDR" when the image metadata
 * says so for this very client instance, else "client ADDR".
 */
static void describe_owner(struct rbd_backend *rb, const char *addr, char *holder, size_t len)
{
	char value[512];
	size_t vlen = sizeof value, alen = strlen(addr);

	if (rbd_metadata_get(rb->image, HOLDER_KEY, value, &vlen) == 0 && vlen <= sizeof value) {
		value[sizeof value - 1] = 0;
		if (strncmp(value, addr, alen) == 0 && value[alen] == ' ') {
			snprintf(holder, len, "%s, client %s", value + alen + 1, addr);
			return;
		}
	}
	snprintf(holder, len, "client %s", addr);
}

/*
 * The owner of the exclusive lock, if any, into owner (its address); *ret_locked says.  Read
 * from the image's lockers (the exclusive lock is the one tagged "internal"), which works on a
 * read-only open too, unlike rbd_lock_get_owners; librbd lists them as of the image's last
 * refresh, so this is asked of an image just opened (every caller opens one for it).
 */
static int lock_owner(struct rbd_backend *rb, bool *ret_locked, char *owner, size_t len)
{
	char tag[128], clients[1024], cookies[1024], addrs[1024];
	size_t tag_len = sizeof tag, clients_len = sizeof clients, cookies_len = sizeof cookies,
	       addrs_len = sizeof addrs;
	int exclusive = 0;
	ssize_t n;

	n = rbd_list_lockers(rb->image, &exclusive, tag, &tag_len, clients, &clients_len, cookies,
			     &cookies_len, addrs, &addrs_len);
	if (n < 0)
		return (int)n;
	*ret_locked = n > 0 && strcmp(tag, "internal") == 0;
	if (*ret_locked) {
		size_t a = strnlen(addrs, sizeof addrs); /* the first of a NUL-separated list */

		if (a >= len)
			return -ERANGE;
		memcpy(owner, addrs, a + 1);
	}
	return 0;
}

static int rbd_be_lock_query(struct envol_backend *b, bool *ret_locked, char *holder,
			     size_t holder_len)
{
	struct rbd_backend *rb = to_rbd(b);
	char owner[128] = "";
	bool locked = false;
	int r;

	CHECK_FENCED(rb);
	r = lock_owner(rb, &locked, owner, sizeof owner);
	if (r < 0)
		return r;
	if (holder && holder_len > 0) {
		holder[0] = 0;
		if (locked)
			describe_owner(rb, owner, holder, holder_len);
	}
	*ret_locked = locked;
	return 0;
}

/*
 * Writes who we are into the image metadata, for lock_query elsewhere (best effort), under
 * the address the lock now has: ours, as the lock owner (rbd_lock_get_owners, which asks the
 * cluster; the lockers an open image lists are those of its last refresh).
 */
static void record_holder(struct rbd_backend *rb)
{
	char *owners[4] = { NULL }, self[300], value[440];
	size_t n = ARRAY_SIZE(owners);
	rbd_lock_mode_t mode;
	int r;

	r = rbd_lock_get_owners(rb->image, &mode, owners, &n);
	if (r == 0 && n == 0)
		r = -ENOLCK;
	if (r == 0) {
		self_description(self, sizeof self);
		snprintf(value, sizeof value, "%.127s %s", owners[0], self);
		r = rbd_metadata_set(rb->image, HOLDER_KEY, value);
	}
	if (n > 0 && r != -ERANGE)
		rbd_lock_get_owners_cleanup(owners, n);
	if (r < 0)
		log_debug("rbd: cannot record the lock holder: %s", strerror(-r));
}

static int rbd_be_lock_acquire(struct envol_backend *b, bool exclusive, char *holder,
			       size_t holder_len)
{
	struct rbd_backend *rb = to_rbd(b);
	bool locked = false;
	int r;

	CHECK_FENCED(rb);
	if (holder && holder_len > 0)
		holder[0] = 0;
	if (!exclusive) {
		/*
		 * RBD has no shared lock that its exclusive lock respects: a reader only makes
		 * sure that no writer holds the image now.
		 */
		r = rbd_be_lock_query(b, &locked, holder, holder_len);
		return r < 0 ? r : locked ? -EBUSY : 0;
	}
	if (!rb->writable)
		return -EROFS;
	if (rb->locked)
		return 0;
	/*
	 * Held by anyone, alive or not: refused now.  (rbd_lock_acquire would wait for a dead
	 * owner's watch to time out, about 30 s, and then break its lock by itself; taking a
	 * volume from its holder is the operator's decision, lock_break.)
	 */
	r = rbd_be_lock_query(b, &locked, holder, holder_len);
	if (r < 0)
		return r;
	if (locked)
		return -EBUSY;
	r = rbd_lock_acquire(rb->image, RBD_LOCK_MODE_EXCLUSIVE);
	if (r == -EROFS || r == -EBUSY || r == -EAGAIN) {
		/* another client holds it, and (acquired by request) does not hand it over */
		(void)rbd_be_lock_query(b, &locked, holder, holder_len);
		return -EBUSY;
	}
	if (r < 0)
		return r;
	rb->locked = true;
	record_holder(rb);
	return 0;
}

static int rbd_be_lock_release(struct envol_backend *b)
{
	struct rbd_backend *rb = to_rbd(b);
	int r;

	if (!rb->locked)
		return 0;
	(void)rbd_metadata_remove(rb->image, HOLDER_KEY);
	r = rbd_lock_release(rb->image);
	rb->locked = false;
	return r;
}

static int rbd_be_lock_break(struct envol_backend *b, char *holder, size_t holder_len)
{
	struct rbd_backend *rb = to_rbd(b);
	char owner[128] = "", who[440] = "";
	bool locked = false;
	int r;

	CHECK_FENCED(rb);
	if (holder && holder_len > 0)
		holder[0] = 0;
	if (!rb->writable)
		return -EROFS;
	r = lock_owner(rb, &locked, owner, sizeof owner);
	if (r < 0 || !locked)
		return r;
	describe_owner(rb, owner, who, sizeof who);
	/*
	 * Fence first: once the blocklist is in the OSD map we wait for, the OSDs refuse the
	 * owner's requests, so nothing it still has in flight lands after the lock is gone.
	 */
	r = rados_blocklist_add(rb->cluster, owner, BLOCKLIST_SECONDS);
	if (r < 0) {
		log_debug("rbd: blocklisting %s failed: %s", owner, strerror(-r));
		return r;
	}
	r = rados_wait_for_latest_osdmap(rb->cluster);
	if (r < 0)
		return r;
	r = rbd_lock_break(rb->image, RBD_LOCK_MODE_EXCLUSIVE, owner);
	if (r == -ENOENT)
		r = 0; /* its lock went away meanwhile */
	if (r < 0)
		return r;
	log_debug("rbd: fenced and broke the lock of %s", who);
	if (holder && holder_len > 0)
		snprintf(holder, holder_len, "%s", who);
	return 0;
}

static void rbd_be_close(struct envol_backend *b)
{
	struct rbd_backend *rb = to_rbd(b);

	if (rb->image) {
		if (!atomic_load(&rb->fenced))
			(void)rbd_be_lock_release(b);
		(void)rbd_close(rb->image); /* a lock still held goes with it */
	}
	if (rb->io)
		rados_ioctx_destroy(rb->io);
	if (rb->own_cluster && rb->cluster)
		rados_shutdown(rb->cluster);
	free(rb);
}

static const struct envol_backend_ops rbd_ops = {
	.pread = rbd_be_pread,
	.pwrite = rbd_be_pwrite,
	.flush = rbd_be_flush,
	.discard = rbd_be_discard,
	.write_zeroes = rbd_be_write_zeroes,
	.extents = rbd_be_extents,
	.size = rbd_be_size,
	.lock_acquire = rbd_be_lock_acquire,
	.lock_release = rbd_be_lock_release,
	.lock_query = rbd_be_lock_query,
	.lock_break = rbd_be_lock_break,
	.close = rbd_be_close,
};

/* ---- open, create, remove, list ------------------------------------------------------------ */

/* A backend with its connection and I/O context for spec, no image yet. */
static int backend_new(const struct rbd_spec *s, const char *location, bool writable,
		       struct rbd_backend **ret, char *err, size_t errlen)
{
	struct rbd_backend *rb = calloc(1, sizeof(*rb));
	int r;

	if (!rb)
		return -ENOMEM;
	rb->base.ops = &rbd_ops;
	rb->writable = writable;
	atomic_init(&rb->fenced, false);
	rb->own_cluster = writable;
	r = writable ? cluster_connect(false, &rb->cluster, err, errlen)
		     : shared_connection(&rb->cluster, err, errlen);
	if (r == 0)
		r = open_ioctx(rb->cluster, s, location, &rb->io, err, errlen);
	if (r < 0) {
		rbd_be_close(&rb->base); /* shuts down only a connection of its own */
		return r;
	}
	*ret = rb;
	return 0;
}

static int rbd_be_open(const char *location, bool writable, struct envol_backend **ret,
		       char *err, size_t errlen)
{
	struct rbd_backend *rb = NULL;
	struct rbd_spec s;
	int r;

	r = parse_location(location, &s, err, errlen);
	if (r < 0)
		return r;
	r = backend_new(&s, location, writable, &rb, err, errlen);
	if (r < 0)
		return r;
	r = writable ? rbd_open(rb->io, s.image, &rb->image, NULL)
		     : rbd_open_read_only(rb->io, s.image, &rb->image, NULL);
	if (r < 0) {
		rb->image = NULL;
		rbd_be_close(&rb->base);
		return envol_fail(r, err, errlen, "cannot open %s: %s", location, strerror(-r));
	}
	*ret = &rb->base;
	return 0;
}

static int rbd_be_create(const char *location, uint64_t size, struct envol_backend **ret,
			 bool *ret_created, char *err, size_t errlen)
{
	struct rbd_backend *rb = NULL;
	rbd_image_options_t opts;
	struct rbd_spec s;
	int r;

	r = parse_location(location, &s, err, errlen);
	if (r < 0)
		return r;
	r = backend_new(&s, location, true, &rb, err, errlen);
	if (r < 0)
		return r;
	rbd_image_options_create(&opts);
	r = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, OBJECT_ORDER);
	if (r == 0)
		r = rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, IMAGE_FEATURES);
	if (r == 0)
		r = rbd_create4(rb->io, s.image, size, opts);
	rbd_image_options_destroy(opts);
	if (r < 0) {
		rbd_be_close(&rb->base);
		if (r == -EEXIST)
			return envol_fail(r, err, errlen, "%s already exists", location);
		return envol_fail(r, err, errlen, "cannot create %s: %s", location, strerror(-r));
	}
	r = rbd_open(rb->io, s.image, &rb->image, NULL);
	if (r < 0) {
		rb->image = NULL;
		(void)rbd_remove(rb->io, s.image);
		rbd_be_close(&rb->base);
		return envol_fail(r, err, errlen, "cannot open %s: %s", location, strerror(-r));
	}
	*ret_created = true;
	*ret = &rb->base;
	return 0;
}

static int rbd_be_remove(const char *location)
{
	struct rbd_backend *rb = NULL;
	struct rbd_spec s;
	int r;

	r = parse_location(location, &s, NULL, 0);
	if (r < 0)
		return r;
	r = backend_new(&s, location, false, &rb, NULL, 0);
	if (r < 0)
		return r;
	r = rbd_remove(rb->io, s.image);
	rbd_be_close(&rb->base);
	return r;
}

static int rbd_be_rename(const char *from, const char *to)
{
	struct rbd_backend *rb = NULL;
	struct rbd_spec s, t;
	int r;

	r = parse_location(from, &s, NULL, 0);
	if (r == 0)
		r = parse_location(to, &t, NULL, 0);
	if (r < 0)
		return r;
	if (strcmp(s.pool, t.pool) != 0 || strcmp(s.ns, t.ns) != 0)
		return -EXDEV;
	r = backend_new(&s, from, false, &rb, NULL, 0);
	if (r < 0)
		return r;
	r = rbd_rename(rb->io, s.image, t.image); /* -EEXIST when t exists */
	rbd_be_close(&rb->base);
	return r;
}

int envol_backend_rbd_list(const char *pool, const char *pool_namespace, char ***ret_names,
			   size_t *ret_n, char *err, size_t errlen)
{
	struct rbd_spec s = { 0 };
	rbd_image_spec_t *images = NULL;
	struct rbd_backend *rb = NULL;
	char **names = NULL, where[2 * NAME_MAX_RBD + 8];
	size_t max = 64, listed = 0;
	int r;

	if (!pool || !pool[0] || strlen(pool) > NAME_MAX_RBD ||
	    (pool_namespace && strlen(pool_namespace) > NAME_MAX_RBD))
		return -EINVAL;
	strcpy(s.pool, pool);
	if (pool_namespace)
		strcpy(s.ns, pool_namespace);
	snprintf(where, sizeof where, "rbd:%s%s%s", s.pool, s.ns[0] ? "/" : "", s.ns);
	r = backend_new(&s, where, false, &rb, err, errlen);
	if (r < 0)
		return r;
	do {
		free(images);
		images = calloc(max, sizeof(*images));
		r = images ? rbd_list2(rb->io, images, &max) : -ENOMEM;
	} while (r == -ERANGE);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot list the images of %s: %s", where, strerror(-r));
		goto out;
	}
	listed = max;
	names = calloc(listed + 1, sizeof(*names));
	if (!names) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < listed && r == 0; i++)
		if (!(names[i] = strdup(images[i].name)))
			r = -ENOMEM;
	if (r == 0) {
		*ret_names = TAKE_PTR(names);
		*ret_n = listed;
	}
out:
	for (size_t i = 0; names && i < listed; i++)
		free(names[i]);
	free(names);
	if (images && listed)
		rbd_image_spec_list_cleanup(images, listed);
	free(images);
	rbd_be_close(&rb->base);
	return r;
}

#else /* !ENVOL_HAVE_RBD */

static const char no_rbd[] = "this envol was built without Ceph RBD support (librbd-dev)";

int envol_backend_rbd_setup(const char *ceph_conf, const char *client_id)
{
	(void)ceph_conf;
	(void)client_id;
	return 0;
}

bool envol_backend_rbd_available(void)
{
	return false;
}

static int rbd_be_open(const char *location, bool writable, struct envol_backend **ret,
		       char *err, size_t errlen)
{
	(void)writable;
	(void)ret;
	return envol_fail(-EPROTONOSUPPORT, err, errlen, "%s: %s", location, no_rbd);
}

static int rbd_be_create(const char *location, uint64_t size, struct envol_backend **ret,
			 bool *ret_created, char *err, size_t errlen)
{
	(void)size;
	(void)ret_created;
	return rbd_be_open(location, true, ret, err, errlen);
}

static int rbd_be_remove(const char *location)
{
	(void)location;
	return -EPROTONOSUPPORT;
}

static int rbd_be_rename(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPROTONOSUPPORT;
}

int envol_backend_rbd_list(const char *pool, const char *pool_namespace, char ***ret_names,
			   size_t *ret_n, char *err, size_t errlen)
{
	(void)pool_namespace;
	(void)ret_names;
	(void)ret_n;
	return envol_fail(-EPROTONOSUPPORT, err, errlen, "rbd:%s: %s", pool ? pool : "", no_rbd);
}

#endif /* ENVOL_HAVE_RBD */

const struct envol_backend_type envol_backend_rbd = {
	.name = "rbd",
	.prefix = RBD_PREFIX,
	.open = rbd_be_open,
	.create = rbd_be_create,
	.remove = rbd_be_remove,
	.rename = rbd_be_rename,
};
