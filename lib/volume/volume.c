/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume.c — envol volumes (format v1, docs/format.md): create, open with an OFD lock, the
 * two-slot crash-safe header update, the header MAC, and sector I/O through AES-256-XTS.
 *
 * Locking: key_lock (rwlock) is held shared by every I/O call and exclusively by attach and
 * detach, so the DEK and the XTS pool never change under an I/O.  hdr_lock serialises header
 * updates.  A partial-sector write (read-modify-write) holds the stripe mutex of its sector, so
 * concurrent writes to disjoint bytes of one sector all survive.  Writes of whole sectors take
 * no lock: concurrent writes to overlapping bytes leave the overlap unspecified, as NBD allows.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/macros.h"
#include "util/encoding.h"
#include "crypto/hkdf.h"
#include "util/error.h"
#include "util/log.h"
#include "util/secure_mem.h"
#include "volume/volume.h"
#include "volume/header.h"
#include "crypto/xts.h"

#define STRIPES 64
#define MAX_SECTOR 4096
#define ZERO_CHUNK (UINT64_C(1) << 20)

struct envol_volume {
	int fd;
	bool writable;
	bool blockdev;
	bool read_only; /* the header's read-only flag (never changes while open) */
	uint64_t dev_size; /* bytes of the backing file or device */
	unsigned sector_size;
	uint64_t size;
	uint64_t data_offset;

	pthread_mutex_t hdr_lock;
	struct envol_volume_header *hdr; /* the slot in use; updated in place */
	int slot;                        /* 0 = A, 1 = B */
	struct envol_volume_info info;
	struct envol_context_pair pairs[ENVOL_VOLUME_MAX_CONTEXT];

	pthread_rwlock_t key_lock;
	uint8_t *dek;     /* secure memory, NULL when detached */
	uint8_t *mac_key; /* secure memory, 32 bytes */

	pthread_mutex_t pool_lock;
	struct envol_xts **pool; /* idle XTS contexts */
	size_t n_pool, cap_pool;

	pthread_mutex_t stripes[STRIPES];
};

static const uint64_t slot_offsets[2] = { ENVOL_HEADER_SLOT_A_OFFSET, ENVOL_HEADER_SLOT_B_OFFSET };


static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EIO; /* the backing store is shorter than the header says */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Size of a regular file or block device. */
static int backing_size(int fd, bool *ret_blockdev, uint64_t *ret_size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISREG(st.st_mode)) {
		*ret_blockdev = false;
		*ret_size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz = 0;

		if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
			return negative_errno();
		*ret_blockdev = true;
		*ret_size = sz;
		return 0;
	}
	return -EINVAL;
}

/* ---- who holds the lock ------------------------------------------------------------------ */

/* Parses a non-negative decimal directory entry name; -1 if it is not one. */
static long parse_num(const char *s)
{
	char *end;
	long n;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n < 0 || n > INT_MAX)
		return -1;
	return n;
}

/* Does /proc/PID/fdinfo/FD list a lock? */
static bool fdinfo_has_lock(long pid, long fd)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/fdinfo/%ld", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "lock:", 5) == 0) {
			found = true;
			break;
		}
	fclose(f);
	return found;
}

/* Is one of PID's open files (dev, ino) with a lock on it? */
static bool pid_holds_lock(long pid, dev_t dev, ino_t ino)
{
	char fddir[64];
	struct dirent *fe;
	bool found = false;
	DIR *fds;

	snprintf(fddir, sizeof fddir, "/proc/%ld/fd", pid);
	fds = opendir(fddir);
	if (!fds)
		return false;
	while (!found && (fe = readdir(fds))) {
		char fdpath[96];
		struct stat st;
		long fd = parse_num(fe->d_name);

		if (fd < 0)
			continue;
		snprintf(fdpath, sizeof fdpath, "%s/%ld", fddir, fd);
		if (stat(fdpath, &st) < 0 || st.st_dev != dev || st.st_ino != ino)
			continue;
		found = fdinfo_has_lock(pid, fd);
	}
	closedir(fds);
	return found;
}

/*
 * Finds a process with an open file description of (dev, ino) that holds a lock on it.
 * /proc/locks shows -1 as the pid of OFD locks, so walk /proc/PID/fd and read fdinfo's
 * "lock:" lines instead.  Writes "pid N (comm)" into holder; 0 when found, -ESRCH if not.
 */
static int find_lock_holder(dev_t dev, ino_t ino, char *holder, size_t holder_len)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	int r = -ESRCH;

	if (!proc)
		return -ESRCH;
	while (r < 0 && (pe = readdir(proc))) {
		char comm_path[64], comm[64] = "?";
		long pid = parse_num(pe->d_name);
		FILE *f;

		if (pid <= 0 || !pid_holds_lock(pid, dev, ino))
			continue;
		snprintf(comm_path, sizeof comm_path, "/proc/%ld/comm", pid);
		f = fopen(comm_path, "re");
		if (f) {
			if (fgets(comm, sizeof comm, f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
		snprintf(holder, holder_len, "pid %ld (%s)", pid, comm);
		r = 0;
	}
	closedir(proc);
	return r;
}

/* Takes the whole-file OFD lock; -EBUSY names the holder in err. */
static int take_lock(int fd, bool exclusive, const char *path, char *err, size_t errlen)
{
	struct flock fl = {
		.l_type = exclusive ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0,
	};
	char holder[128] = "another process";
	struct stat st;

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES)
		return negative_errno();
	if (fstat(fd, &st) == 0)
		(void)find_lock_holder(st.st_dev, st.st_ino, holder, sizeof holder);
	envol_set_error(err, errlen, "%s is in use by %s (attached)", path, holder);
	return -EBUSY;
}

int envol_volume_query_lock(const char *path, bool *ret_locked, char *holder, size_t holder_len)
{
	_cleanup_close_ int fd = -1;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st;

	if (!path || !ret_locked)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return negative_errno();
	if (fl.l_type != F_UNLCK && holder && holder_len > 0) {
		holder[0] = 0;
		if (fstat(fd, &st) == 0 &&
		    find_lock_holder(st.st_dev, st.st_ino, holder, holder_len) < 0)
			holder[0] = 0;
	}
	*ret_locked = fl.l_type != F_UNLCK;
	return 0;
}

/* ---- header slots ------------------------------------------------------------------------ */

/* Encodes h into a zero-padded slot buffer and writes the whole slot, then syncs. */
static int write_slot(int fd, int slot, const struct envol_volume_header *h, char *err,
		      size_t errlen)
{
	_cleanup_free_ uint8_t *buf = calloc(1, ENVOL_HEADER_SLOT_SIZE);
	int r;

	if (!buf)
		return -ENOMEM;
	r = envol_header_encode(h, buf, ENVOL_HEADER_SLOT_SIZE, err, errlen);
	if (r < 0)
		return r;
	r = full_pwrite(fd, buf, ENVOL_HEADER_SLOT_SIZE, slot_offsets[slot]);
	if (r < 0) {
		envol_set_error(err, errlen, "writing header slot %c: %s", 'A' + slot, strerror(-r));
		return r;
	}
	if (fdatasync(fd) < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "syncing header slot %c: %s", 'A' + slot, strerror(-r));
		return r;
	}
	return 0;
}

/* Reads and decodes one slot; the message (prefixed "slot X: ") goes to err. */
static int read_slot(int fd, uint64_t dev_size, int slot, struct envol_volume_header *ret,
		     char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = malloc(ENVOL_HEADER_SLOT_SIZE);
	char msg[256] = "";
	size_t avail = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	if (dev_size > slot_offsets[slot])
		avail = dev_size - slot_offsets[slot] < ENVOL_HEADER_SLOT_SIZE
				? (size_t)(dev_size - slot_offsets[slot])
				: ENVOL_HEADER_SLOT_SIZE;
	if (avail > 0) {
		r = full_pread(fd, buf, avail, slot_offsets[slot]);
		if (r < 0) {
			envol_set_error(err, errlen, "slot %c: read failed: %s", 'A' + slot, strerror(-r));
			return r;
		}
	}
	r = envol_header_decode(buf, avail, ret, msg, sizeof msg);
	if (r < 0)
		envol_set_error(err, errlen, "slot %c: %s", 'A' + slot, msg);
	return r;
}

/*
 * Reads both slots and picks the valid one with the higher sequence into ret (*ret_slot: 0 = A,
 * 1 = B).  -EBADMSG (or -EPROTONOSUPPORT) with both slots' reasons when neither is valid.
 */
static int pick_slot(int fd, uint64_t dev_size, const char *path, struct envol_volume_header *ret,
		     int *ret_slot, char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *ha = calloc(1, sizeof(*ha));
	_cleanup_free_ struct envol_volume_header *hb = calloc(1, sizeof(*hb));
	char err_a[300] = "", err_b[300] = "";
	int ra, rb;

	if (!ha || !hb)
		return -ENOMEM;
	ra = read_slot(fd, dev_size, 0, ha, err_a, sizeof err_a);
	rb = read_slot(fd, dev_size, 1, hb, err_b, sizeof err_b);
	if (ra == -ENOMEM || rb == -ENOMEM)
		return -ENOMEM;
	if (ra < 0 && rb < 0) {
		envol_set_error(err, errlen, "%s: no valid volume header: %s; %s", path, err_a, err_b);
		return (ra == -EPROTONOSUPPORT || rb == -EPROTONOSUPPORT) ? -EPROTONOSUPPORT
									  : -EBADMSG;
	}
	if (ra == 0 && rb == 0 && memcmp(ha->uuid, hb->uuid, 16) != 0)
		log_debug("%s: header slots name different volumes; using the newer", path);
	if (ra < 0 || (rb == 0 && hb->sequence > ha->sequence)) {
		*ret = *hb;
		*ret_slot = 1;
		if (ra < 0)
			log_debug("%s: %s; using slot B", path, err_a);
	} else {
		*ret = *ha;
		*ret_slot = 0;
		if (rb < 0)
			log_debug("%s: %s; using slot A", path, err_b);
	}
	return 0;
}

int envol_volume_read_header(const char *path, struct envol_volume_header *ret, char *err,
			     size_t errlen)
{
	_cleanup_close_ int fd = -1;
	uint64_t dev_size;
	bool blockdev;
	int slot, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	r = backing_size(fd, &blockdev, &dev_size);
	if (r < 0) {
		envol_set_error(err, errlen, "%s is not a regular file or block device", path);
		return r;
	}
	return pick_slot(fd, dev_size, path, ret, &slot, err, errlen);
}

static void refresh_info(struct envol_volume *v)
{
	struct envol_volume_header *h = v->hdr;
	struct envol_volume_info *i = &v->info;

	memcpy(i->uuid, h->uuid, 16);
	envol_uuid_format(h->uuid, i->uuid_str);
	i->size = h->size;
	i->sector_size = h->sector_size;
	i->data_offset = h->data_offset;
	i->sequence = h->sequence;
	i->created = h->created;
	i->cipher = h->cipher;
	i->key_arn = h->key_arn;
	i->blob = h->blob;
	i->blob_len = h->blob_len;
	for (size_t k = 0; k < h->n_context; k++) {
		v->pairs[k].key = h->context[k].key;
		v->pairs[k].value = h->context[k].value;
	}
	i->context = v->pairs;
	i->n_context = h->n_context;
	i->read_only = h->flags & ENVOL_HEADER_FLAG_READ_ONLY;
	i->mac_pending = h->flags & ENVOL_HEADER_FLAG_MAC_PENDING;
}

/*
 * Writes nh into the older slot; on success it becomes the header in use.  The sequence number
 * is set here, and so is the MAC when mac_key is given (nh must not be MAC pending then).
 */
static int commit_header(struct envol_volume *v, struct envol_volume_header *nh,
			 const uint8_t *mac_key, char *err, size_t errlen)
{
	int target = 1 - v->slot, r;

	if (v->hdr->sequence == UINT64_MAX) {
		envol_set_error(err, errlen, "header sequence number exhausted");
		return -EOVERFLOW;
	}
	nh->sequence = v->hdr->sequence + 1;
	memset(nh->mac, 0, sizeof nh->mac);
	if (mac_key) {
		r = envol_header_compute_mac(nh, mac_key, nh->mac);
		if (r < 0) {
			envol_set_error(err, errlen, "computing the header MAC failed");
			return r;
		}
	}
	r = write_slot(v->fd, target, nh, err, errlen);
	if (r < 0)
		return r;
	*v->hdr = *nh;
	v->slot = target;
	refresh_info(v);
	log_debug("volume header sequence %llu written to slot %c",
		  (unsigned long long)nh->sequence, 'A' + target);
	return 0;
}

/* ---- create, open, close, erase ---------------------------------------------------------- */

static int fsync_parent_dir(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	_cleanup_close_ int fd = -1;
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fsync(fd) < 0)
		return negative_errno();
	return 0;
}

static int zero_range(int fd, bool blockdev, uint64_t off, uint64_t len);

int envol_volume_create(const struct envol_volume_create_params *p, char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *h = NULL;
	_cleanup_close_ int fd = -1;
	bool created = false, blockdev = false;
	uint64_t dev_size = 0, end;
	size_t arn_len;
	int r;

	if (!p || !p->path || !p->key_arn || (!p->blob && p->blob_len) ||
	    (!p->context && p->n_context)) {
		envol_set_error(err, errlen, "missing parameters");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	arn_len = strlen(p->key_arn);
	if (arn_len == 0 || arn_len > ENVOL_VOLUME_MAX_KEY_ARN) {
		envol_set_error(err, errlen, "key ARN length %zu is not 1..%d", arn_len,
			ENVOL_VOLUME_MAX_KEY_ARN);
		return -EINVAL;
	}
	if (p->blob_len == 0 || p->blob_len > ENVOL_VOLUME_MAX_BLOB) {
		envol_set_error(err, errlen, "CiphertextBlob length %zu is not 1..%d", p->blob_len,
			ENVOL_VOLUME_MAX_BLOB);
		return -EINVAL;
	}
	if (p->n_context > ENVOL_VOLUME_MAX_CONTEXT) {
		envol_set_error(err, errlen, "%zu encryption context pairs, at most %d", p->n_context,
			ENVOL_VOLUME_MAX_CONTEXT);
		return -EINVAL;
	}
	for (size_t i = 0; i < p->n_context; i++) {
		const struct envol_context_pair *c = &p->context[i];

		if (!c->key || !c->value || strlen(c->key) > ENVOL_HEADER_MAX_CONTEXT_KEY ||
		    strlen(c->value) > ENVOL_HEADER_MAX_CONTEXT_VALUE) {
			envol_set_error(err, errlen,
				"encryption context pair %zu is missing or too long (key <= %d, "
				"value <= %d bytes)",
				i, ENVOL_HEADER_MAX_CONTEXT_KEY, ENVOL_HEADER_MAX_CONTEXT_VALUE);
			return -EINVAL;
		}
		strcpy(h->context[i].key, c->key);
		strcpy(h->context[i].value, c->value);
	}
	h->n_context = p->n_context;
	h->sequence = 1;
	h->flags = ENVOL_HEADER_FLAG_MAC_PENDING | (p->read_only ? ENVOL_HEADER_FLAG_READ_ONLY : 0);
	h->sector_size = p->sector_size;
	memcpy(h->uuid, p->uuid, 16);
	h->size = p->size;
	h->data_offset = ENVOL_VOLUME_DATA_OFFSET;
	{
		time_t now = envol_clock_now();
		h->created = now > 0 ? (uint64_t)now : 0;
	}
	strcpy(h->cipher, ENVOL_VOLUME_CIPHER);
	memcpy(h->key_arn, p->key_arn, arn_len + 1);
	memcpy(h->blob, p->blob, p->blob_len);
	h->blob_len = p->blob_len;
	r = envol_header_validate(h, err, errlen);
	if (r < 0)
		return r;
	end = h->data_offset + h->size; /* no overflow: size <= 2^62 */

	fd = open(p->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd >= 0) {
		created = true;
	} else if (errno == EEXIST) {
		struct stat st;

		if (stat(p->path, &st) < 0 || !S_ISBLK(st.st_mode)) {
			envol_set_error(err, errlen, "%s already exists", p->path);
			return -EEXIST;
		}
		/* A block device: O_EXCL makes the open fail while it is mounted or in use. */
		fd = open(p->path, O_RDWR | O_EXCL | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			r = negative_errno();
			envol_set_error(err, errlen, "cannot open %s: %s", p->path, strerror(-r));
			return r;
		}
	} else {
		r = negative_errno();
		envol_set_error(err, errlen, "cannot create %s: %s", p->path, strerror(-r));
		return r;
	}

	r = take_lock(fd, true, p->path, err, errlen);
	if (r < 0)
		goto fail;
	r = backing_size(fd, &blockdev, &dev_size);
	if (r < 0) {
		envol_set_error(err, errlen, "%s: %s", p->path, strerror(-r));
		goto fail;
	}
	if (blockdev) {
		if (dev_size < end) {
			envol_set_error(err, errlen, "%s has %llu bytes, the volume needs %llu", p->path,
				(unsigned long long)dev_size, (unsigned long long)end);
			r = -ENOSPC;
			goto fail;
		}
		/* Old contents must not decrypt to garbage: a fresh volume reads as zeros. */
		r = zero_range(fd, true, 0, end);
		if (r < 0) {
			envol_set_error(err, errlen, "zeroing %s: %s", p->path, strerror(-r));
			goto fail;
		}
	} else if (ftruncate(fd, (off_t)end) < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "cannot size %s to %llu bytes: %s", p->path,
			(unsigned long long)end, strerror(-r));
		goto fail;
	}
	r = write_slot(fd, 0, h, err, errlen);
	if (r < 0)
		goto fail;
	/* Slot B: the same header with sequence 0, a fallback if slot A is ever damaged. */
	h->sequence = 0;
	r = write_slot(fd, 1, h, err, errlen);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "fsync %s: %s", p->path, strerror(-r));
		goto fail;
	}
	if (created) {
		r = fsync_parent_dir(p->path);
		if (r < 0) {
			envol_set_error(err, errlen, "fsync of the directory of %s: %s", p->path,
				strerror(-r));
			goto fail;
		}
	}
	return 0;
fail:
	if (created)
		(void)unlink(p->path);
	return r;
}

int envol_volume_open(const char *path, bool writable, struct envol_volume **ret, char *err,
		      size_t errlen)
{
	struct envol_volume *v = NULL;
	uint64_t end;
	int r;

	if (!path || !ret)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->fd = -1;
	pthread_mutex_init(&v->hdr_lock, NULL);
	pthread_mutex_init(&v->pool_lock, NULL);
	pthread_rwlock_init(&v->key_lock, NULL);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&v->stripes[i], NULL);
	v->writable = writable;
	v->hdr = calloc(1, sizeof(*v->hdr));
	if (!v->hdr) {
		r = -ENOMEM;
		goto fail;
	}

	v->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
	if (v->fd < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "cannot open %s: %s", path, strerror(-r));
		goto fail;
	}
	r = backing_size(v->fd, &v->blockdev, &v->dev_size);
	if (r < 0) {
		envol_set_error(err, errlen, "%s is not a regular file or block device", path);
		goto fail;
	}
	r = take_lock(v->fd, writable, path, err, errlen);
	if (r < 0)
		goto fail;

	r = pick_slot(v->fd, v->dev_size, path, v->hdr, &v->slot, err, errlen);
	if (r < 0)
		goto fail;
	end = v->hdr->data_offset + v->hdr->size;
	if (v->dev_size < end) {
		envol_set_error(err, errlen,
			"%s is truncated: %llu bytes, but the header says the data area ends at %llu",
			path, (unsigned long long)v->dev_size, (unsigned long long)end);
		r = -EBADMSG;
		goto fail;
	}
	v->sector_size = v->hdr->sector_size;
	v->size = v->hdr->size;
	v->data_offset = v->hdr->data_offset;
	v->read_only = v->hdr->flags & ENVOL_HEADER_FLAG_READ_ONLY;
	refresh_info(v);
	*ret = v;
	return 0;
fail:
	envol_volume_close(v);
	return r;
}

const struct envol_volume_info *envol_volume_get_info(const struct envol_volume *v)
{
	return &v->info;
}

static void pool_free_all(struct envol_volume *v)
{
	for (size_t i = 0; i < v->n_pool; i++)
		envol_xts_free(v->pool[i]);
	free(v->pool);
	v->pool = NULL;
	v->n_pool = v->cap_pool = 0;
}

void envol_volume_detach_key(struct envol_volume *v)
{
	if (!v)
		return;
	pthread_rwlock_wrlock(&v->key_lock);
	pthread_mutex_lock(&v->pool_lock);
	pool_free_all(v);
	pthread_mutex_unlock(&v->pool_lock);
	v->dek = envol_secure_free(v->dek);
	v->mac_key = envol_secure_free(v->mac_key);
	pthread_rwlock_unlock(&v->key_lock);
}

void envol_volume_close(struct envol_volume *v)
{
	if (!v)
		return;
	envol_volume_detach_key(v);
	if (v->fd >= 0)
		(void)close(v->fd); /* releases the OFD lock */
	pthread_mutex_destroy(&v->hdr_lock);
	pthread_mutex_destroy(&v->pool_lock);
	pthread_rwlock_destroy(&v->key_lock);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&v->stripes[i]);
	free(v->hdr);
	free(v);
}

bool envol_volume_key_attached(const struct envol_volume *v)
{
	bool r;

	pthread_rwlock_rdlock((pthread_rwlock_t *)&v->key_lock);
	r = v->dek != NULL;
	pthread_rwlock_unlock((pthread_rwlock_t *)&v->key_lock);
	return r;
}

int envol_volume_erase(const char *path, char *err, size_t errlen)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t size = 0;
	bool blockdev = false;
	int r;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	r = backing_size(fd, &blockdev, &size);
	if (r < 0 || size < ENVOL_VOLUME_DATA_OFFSET) {
		envol_set_error(err, errlen, "%s is not a volume (too small or not a file)", path);
		return -EINVAL;
	}
	r = take_lock(fd, true, path, err, errlen);
	if (r < 0)
		return r;
	buf = malloc(ENVOL_VOLUME_DATA_OFFSET);
	if (!buf)
		return -ENOMEM;
	/* Refuse to wipe the start of something that is not a volume (a wrong path or device). */
	{
		bool magic = false;

		for (int s = 0; s < 2; s++) {
			r = full_pread(fd, buf, 8, slot_offsets[s]);
			if (r < 0)
				return r;
			magic |= memcmp(buf, ENVOL_HEADER_MAGIC, 8) == 0;
		}
		if (!magic) {
			envol_set_error(err, errlen, "%s is not an envol volume (no header magic); not erased",
				path);
			return -EMEDIUMTYPE;
		}
	}
	for (size_t off = 0; off < ENVOL_VOLUME_DATA_OFFSET;) {
		ssize_t n = getrandom(buf + off, ENVOL_VOLUME_DATA_OFFSET - off, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		off += (size_t)n;
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			memset(buf, 0, ENVOL_VOLUME_DATA_OFFSET);
		r = full_pwrite(fd, buf, ENVOL_VOLUME_DATA_OFFSET, 0);
		if (r >= 0 && fdatasync(fd) < 0)
			r = negative_errno();
		if (r < 0) {
			envol_set_error(err, errlen, "overwriting the header of %s: %s", path,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

/* ---- key ----------------------------------------------------------------------------------- */

static int derive_mac_key(const uint8_t *dek, const uint8_t uuid[16], uint8_t *out)
{
	static const char info[] = ENVOL_HEADER_MAC_INFO;

	return envol_hkdf_sha256(uuid, 16, dek, ENVOL_VOLUME_DEK_SIZE, (const uint8_t *)info,
				 sizeof info - 1, out, 32);
}

int envol_volume_attach_key(struct envol_volume *v, const uint8_t *dek, size_t dek_len, char *err,
			    size_t errlen)
{
	_cleanup_secure_ uint8_t *k = NULL, *mk = NULL;
	_cleanup_free_ struct envol_volume_header *nh = NULL;
	struct envol_xts *x = NULL;
	uint8_t mac[ENVOL_HEADER_MAC_SIZE];
	int r;

	if (!v || !dek || dek_len != ENVOL_VOLUME_DEK_SIZE) {
		envol_set_error(err, errlen, "the data key must be %d bytes", ENVOL_VOLUME_DEK_SIZE);
		return -EINVAL;
	}
	k = envol_secure_alloc(ENVOL_VOLUME_DEK_SIZE);
	mk = envol_secure_alloc(32);
	nh = calloc(1, sizeof(*nh));
	if (!k || !mk || !nh) {
		envol_set_error(err, errlen, "cannot allocate locked memory for the data key");
		return -ENOMEM;
	}
	memcpy(k, dek, ENVOL_VOLUME_DEK_SIZE);

	pthread_rwlock_wrlock(&v->key_lock);
	pthread_mutex_lock(&v->hdr_lock);
	if (v->dek) {
		envol_set_error(err, errlen, "a key is already attached");
		r = -EALREADY;
		goto out;
	}
	r = derive_mac_key(k, v->hdr->uuid, mk);
	if (r < 0) {
		envol_set_error(err, errlen, "HKDF failed");
		goto out;
	}
	r = envol_xts_new(k, ENVOL_VOLUME_DEK_SIZE, v->sector_size, &x);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot set up AES-XTS with this key: %s", strerror(-r));
		goto out;
	}
	if (v->hdr->flags & ENVOL_HEADER_FLAG_MAC_PENDING) {
		if (v->writable) {
			/*
			 * Trust on first attach: seal the header with the MAC now, into both
			 * slots one after the other, so no MAC-pending copy stays behind for an
			 * attacker to fall back to by corrupting the sealed slot.
			 */
			for (int copy = 0; copy < 2; copy++) {
				*nh = *v->hdr;
				nh->flags &= ~ENVOL_HEADER_FLAG_MAC_PENDING;
				r = commit_header(v, nh, mk, err, errlen);
				if (r < 0)
					goto out;
			}
		}
	} else {
		r = envol_header_compute_mac(v->hdr, mk, mac);
		if (r < 0) {
			envol_set_error(err, errlen, "computing the header MAC failed");
			goto out;
		}
		if (envol_memeq_consttime(mac, v->hdr->mac, sizeof mac) != 0) {
			envol_set_error(err, errlen, "header MAC mismatch: wrong key or tampered header");
			r = -EBADMSG;
			goto out;
		}
	}
	pthread_mutex_lock(&v->pool_lock);
	v->pool = calloc(4, sizeof(*v->pool));
	if (v->pool) {
		v->cap_pool = 4;
		v->pool[v->n_pool++] = TAKE_PTR(x);
	}
	pthread_mutex_unlock(&v->pool_lock);
	if (!v->pool) {
		r = -ENOMEM;
		goto out;
	}
	v->dek = TAKE_PTR(k);
	v->mac_key = TAKE_PTR(mk);
	r = 0;
out:
	envol_wipe(mac, sizeof mac);
	envol_xts_free(x);
	pthread_mutex_unlock(&v->hdr_lock);
	pthread_rwlock_unlock(&v->key_lock);
	return r;
}

int envol_volume_update_key(struct envol_volume *v, const char *key_arn, const uint8_t *blob,
			    size_t blob_len, char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *nh = NULL;
	size_t arn_len;
	int r;

	if (!v || !key_arn || !blob)
		return -EINVAL;
	if (!v->writable) {
		envol_set_error(err, errlen, "the volume is open read-only");
		return -EROFS;
	}
	arn_len = strlen(key_arn);
	if (arn_len == 0 || arn_len > ENVOL_VOLUME_MAX_KEY_ARN) {
		envol_set_error(err, errlen, "key ARN length %zu is not 1..%d", arn_len,
			ENVOL_VOLUME_MAX_KEY_ARN);
		return -EINVAL;
	}
	if (blob_len == 0 || blob_len > ENVOL_VOLUME_MAX_BLOB) {
		envol_set_error(err, errlen, "CiphertextBlob length %zu is not 1..%d", blob_len,
			ENVOL_VOLUME_MAX_BLOB);
		return -EINVAL;
	}
	nh = calloc(1, sizeof(*nh));
	if (!nh)
		return -ENOMEM;

	pthread_rwlock_rdlock(&v->key_lock);
	pthread_mutex_lock(&v->hdr_lock);
	*nh = *v->hdr;
	memset(nh->key_arn, 0, sizeof nh->key_arn);
	memcpy(nh->key_arn, key_arn, arn_len);
	memset(nh->blob, 0, sizeof nh->blob);
	memcpy(nh->blob, blob, blob_len);
	nh->blob_len = blob_len;
	memset(nh->mac, 0, sizeof nh->mac);
	if (v->mac_key)
		nh->flags &= ~ENVOL_HEADER_FLAG_MAC_PENDING;
	else
		nh->flags |= ENVOL_HEADER_FLAG_MAC_PENDING;
	r = envol_header_validate(nh, err, errlen);
	if (r == 0)
		r = commit_header(v, nh, v->mac_key, err, errlen);
	pthread_mutex_unlock(&v->hdr_lock);
	pthread_rwlock_unlock(&v->key_lock);
	return r;
}

/* ---- sector I/O ---------------------------------------------------------------------------- */

static struct envol_xts *xts_get(struct envol_volume *v)
{
	struct envol_xts *x = NULL;

	pthread_mutex_lock(&v->pool_lock);
	if (v->n_pool > 0)
		x = v->pool[--v->n_pool];
	pthread_mutex_unlock(&v->pool_lock);
	if (!x && envol_xts_new(v->dek, ENVOL_VOLUME_DEK_SIZE, v->sector_size, &x) < 0)
		return NULL;
	return x;
}

static void xts_put(struct envol_volume *v, struct envol_xts *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&v->pool_lock);
	if (v->n_pool == v->cap_pool) {
		size_t cap = v->cap_pool ? v->cap_pool * 2 : 4;
		struct envol_xts **p = realloc(v->pool, cap * sizeof(*p));

		if (p) {
			v->pool = p;
			v->cap_pool = cap;
		}
	}
	if (v->n_pool < v->cap_pool) {
		v->pool[v->n_pool++] = x;
		x = NULL;
	}
	pthread_mutex_unlock(&v->pool_lock);
	envol_xts_free(x);
}

static bool is_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Decrypts n bytes of whole sectors in place; stored all-zero sectors stay plaintext zeros. */
static int decrypt_sectors(struct envol_volume *v, struct envol_xts *x, uint64_t sector,
			   uint8_t *buf, size_t n)
{
	size_t S = v->sector_size, i = 0, count = n / S;

	while (i < count) {
		size_t j;

		if (is_zero(buf + i * S, S)) {
			i++;
			continue;
		}
		for (j = i + 1; j < count && !is_zero(buf + j * S, S); j++)
			;
		if (envol_xts_decrypt(x, sector + i, buf + i * S, (j - i) * S) < 0)
			return -EIO;
		i = j;
	}
	return 0;
}

static uint64_t sector_pos(const struct envol_volume *v, uint64_t sector)
{
	return v->data_offset + sector * v->sector_size;
}

static int read_sectors(struct envol_volume *v, struct envol_xts *x, uint64_t sector,
			uint8_t *buf, size_t n)
{
	int r = full_pread(v->fd, buf, n, sector_pos(v, sector));

	if (r < 0)
		return r;
	return decrypt_sectors(v, x, sector, buf, n);
}

/*
 * Read-modify-write of bytes [in, in+n) of one sector under its stripe lock: data == NULL
 * writes zeros there.
 */
static int rmw_sector(struct envol_volume *v, struct envol_xts *x, uint64_t sector, size_t in,
		      const uint8_t *data, size_t n)
{
	uint8_t sec[MAX_SECTOR] __attribute__((aligned(64)));
	pthread_mutex_t *m = &v->stripes[sector % STRIPES];
	int r;

	pthread_mutex_lock(m);
	r = read_sectors(v, x, sector, sec, v->sector_size);
	if (r < 0)
		goto out;
	if (data)
		memcpy(sec + in, data, n);
	else
		memset(sec + in, 0, n);
	if (envol_xts_encrypt(x, sector, sec, v->sector_size) < 0) {
		r = -EIO;
		goto out;
	}
	r = full_pwrite(v->fd, sec, v->sector_size, sector_pos(v, sector));
out:
	pthread_mutex_unlock(m);
	envol_wipe(sec, sizeof sec);
	return r;
}

static int check_range(const struct envol_volume *v, uint64_t off, uint64_t len)
{
	if (off > v->size || len > v->size - off)
		return -EINVAL;
	return 0;
}

static int check_writable(const struct envol_volume *v)
{
	if (!v->writable || v->read_only)
		return -EROFS;
	return 0;
}

/*
 * Entry of every data path: takes key_lock for reading, checks the key, writability (when
 * writing) and the range, and takes an XTS context into *ret_x (left NULL for len 0).
 * Returns 0 or -errno; the caller calls io_end() either way.
 */
static int io_begin(struct envol_volume *v, bool write, uint64_t off, uint64_t len,
		    struct envol_xts **ret_x)
{
	int r;

	pthread_rwlock_rdlock(&v->key_lock);
	if (!v->dek)
		return -ENOKEY;
	r = write ? check_writable(v) : 0;
	if (r == 0)
		r = check_range(v, off, len);
	if (r < 0 || len == 0)
		return r;
	*ret_x = xts_get(v);
	return *ret_x ? 0 : -ENOMEM;
}

static void io_end(struct envol_volume *v, struct envol_xts *x)
{
	xts_put(v, x);
	pthread_rwlock_unlock(&v->key_lock);
}

int envol_volume_pread(struct envol_volume *v, void *buf, size_t len, uint64_t off)
{
	size_t S = v->sector_size;
	uint8_t *p = buf;
	struct envol_xts *x = NULL;
	int r;

	r = io_begin(v, false, off, len, &x);
	if (r < 0 || !x)
		goto out;
	if (off % S) {
		uint8_t sec[MAX_SECTOR] __attribute__((aligned(64)));
		size_t in = off % S, n = S - in < len ? S - in : len;

		r = read_sectors(v, x, off / S, sec, S);
		if (r == 0)
			memcpy(p, sec + in, n);
		envol_wipe(sec, sizeof sec);
		if (r < 0)
			goto out;
		p += n;
		off += n;
		len -= n;
	}
	if (len >= S) {
		size_t n = len - len % S;

		r = read_sectors(v, x, off / S, p, n);
		if (r < 0)
			goto out;
		p += n;
		off += n;
		len -= n;
	}
	if (len > 0) {
		uint8_t sec[MAX_SECTOR] __attribute__((aligned(64)));

		r = read_sectors(v, x, off / S, sec, S);
		if (r == 0)
			memcpy(p, sec, len);
		envol_wipe(sec, sizeof sec);
	}
out:
	io_end(v, x);
	return r;
}

static int sync_data(struct envol_volume *v)
{
	if (fdatasync(v->fd) < 0)
		return negative_errno();
	return 0;
}

int envol_volume_pwrite(struct envol_volume *v, void *buf, size_t len, uint64_t off,
			unsigned flags)
{
	size_t S = v->sector_size;
	uint8_t *p = buf;
	struct envol_xts *x = NULL;
	int r;

	r = io_begin(v, true, off, len, &x);
	if (r < 0 || !x)
		goto out;
	if (off % S) {
		size_t in = off % S, n = S - in < len ? S - in : len;

		r = rmw_sector(v, x, off / S, in, p, n);
		if (r < 0)
			goto out;
		p += n;
		off += n;
		len -= n;
	}
	if (len >= S) {
		size_t n = len - len % S;

		/* Encrypted in the caller's buffer: no copy on the hot path. */
		if (envol_xts_encrypt(x, off / S, p, n) < 0) {
			r = -EIO;
			goto out;
		}
		r = full_pwrite(v->fd, p, n, sector_pos(v, off / S));
		if (r < 0)
			goto out;
		p += n;
		off += n;
		len -= n;
	}
	if (len > 0) {
		r = rmw_sector(v, x, off / S, 0, p, len);
		if (r < 0)
			goto out;
	}
	if (flags & ENVOL_IO_FUA)
		r = sync_data(v);
out:
	io_end(v, x);
	return r;
}

int envol_volume_flush(struct envol_volume *v)
{
	return sync_data(v);
}

/* Makes [off, off+len) of the backing store read as zero bytes, allocated. */
static int zero_range(int fd, bool blockdev, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 << 10];

	if (len == 0)
		return 0;
	if (blockdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(fd, BLKZEROOUT, range) == 0)
			return 0;
	} else if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			     (off_t)len) == 0) {
		return 0;
	}
	while (len > 0) {
		size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
		int r = full_pwrite(fd, zeros, n, off);

		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static int discard(struct envol_volume *v, uint64_t off, uint64_t len, unsigned flags,
		   bool keep_allocated)
{
	size_t S = v->sector_size;
	struct envol_xts *x = NULL;
	int r;

	r = io_begin(v, true, off, len, &x);
	if (r < 0 || !x)
		goto out;
	/* Partial sectors at the edges become encrypted zeros. */
	if (off % S) {
		size_t in = off % S, n = S - in < len ? S - in : (size_t)len;

		r = rmw_sector(v, x, off / S, in, NULL, n);
		if (r < 0)
			goto out;
		off += n;
		len -= n;
	}
	if (len % S) {
		r = rmw_sector(v, x, (off + len) / S, 0, NULL, len % S);
		if (r < 0)
			goto out;
		len -= len % S;
	}
	if (len > 0) {
		uint64_t pos = sector_pos(v, off / S);

		/* Whole sectors: stored zero bytes read back as plaintext zeros. */
		if (keep_allocated ||
		    fallocate(v->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)pos,
			      (off_t)len) < 0)
			r = zero_range(v->fd, v->blockdev, pos, len);
		if (r < 0)
			goto out;
	}
	if (flags & ENVOL_IO_FUA)
		r = sync_data(v);
out:
	io_end(v, x);
	return r;
}

int envol_volume_trim(struct envol_volume *v, uint64_t off, uint64_t len, unsigned flags)
{
	return discard(v, off, len, flags, false);
}

int envol_volume_zero(struct envol_volume *v, uint64_t off, uint64_t len, unsigned flags)
{
	return discard(v, off, len, flags, flags & ENVOL_IO_NO_HOLE);
}

/*
 * Extents: holes of the backing file (SEEK_DATA/SEEK_HOLE) shrunk to whole sectors, since a
 * partly stored sector does not read as zeros; everything else is data.  Adjacent extents of
 * the same kind are merged before cb sees them.  cb returning < 0 aborts with that error,
 * > 0 stops early.
 */
int envol_volume_extents(struct envol_volume *v, uint64_t off, uint64_t len, envol_extent_cb cb,
			 void *opaque)
{
	uint64_t S = v->sector_size, pos, end, cur_start = off, span_end;
	bool cur_hole = false, have = false;
	int r;

	r = check_range(v, off, len);
	if (r < 0 || !cb)
		return r < 0 ? r : -EINVAL;
	if (len == 0)
		return 0;
	end = off + len;
	if (v->blockdev)
		return cb(opaque, off, len, false) < 0 ? -EIO : 0;

	pos = off - off % S;
	while (pos < end) {
		off_t fpos = (off_t)(v->data_offset + pos), d, h;
		bool hole;

		d = lseek(v->fd, fpos, SEEK_DATA);
		if (d < 0 && errno != ENXIO)
			return negative_errno();
		if (d < 0 || (uint64_t)d >= v->data_offset + v->size)
			d = (off_t)(v->data_offset + v->size);
		if (d > fpos) {
			/* A hole from pos; only whole sectors of it read as zeros. */
			uint64_t hend = ((uint64_t)d - v->data_offset) / S * S;

			if (hend > pos) {
				hole = true;
				span_end = hend;
			} else {
				hole = false;
				span_end = pos + S;
			}
		} else {
			h = lseek(v->fd, fpos, SEEK_HOLE);
			if (h < 0)
				return negative_errno();
			if ((uint64_t)h > v->data_offset + v->size)
				h = (off_t)(v->data_offset + v->size);
			span_end = ((uint64_t)h - v->data_offset + S - 1) / S * S;
			if (span_end <= pos)
				span_end = pos + S;
			hole = false;
		}
		if (span_end > end)
			span_end = end;
		if (have && hole != cur_hole) {
			uint64_t s = cur_start < off ? off : cur_start;

			r = cb(opaque, s, pos - s, cur_hole);
			if (r != 0)
				return r < 0 ? r : 0;
			cur_start = pos;
		}
		if (!have) {
			cur_start = off;
			have = true;
		}
		cur_hole = hole;
		pos = span_end;
	}
	if (have) {
		r = cb(opaque, cur_start, end - cur_start, cur_hole);
		if (r < 0)
			return r;
	}
	return 0;
}
