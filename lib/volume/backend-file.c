/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-file.c — the file backend (volume/backend.h): a volume in a regular file (sparse) or
 * on a block device, at the location that is its path.  I/O is pread/pwrite, FLUSH is
 * fdatasync, discard punches a hole, write_zeroes is BLKZEROOUT or FALLOC_FL_ZERO_RANGE,
 * extents come from SEEK_DATA/SEEK_HOLE.  The lock is an open-file-description lock over the
 * whole file; its holder is found through /proc/PID/fdinfo, since /proc/locks shows OFD locks
 * without a pid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/macros.h"
#include "volume/backend.h"

struct file_backend {
	struct envol_backend base;
	int fd;
	bool blockdev;
};

static struct file_backend *to_file(struct envol_backend *b)
{
	return (struct file_backend *)b;
}

/* All of len bytes, retrying after EINTR and short transfers. */
static int full_io(int fd, bool write, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);

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

static int file_pread(struct envol_backend *b, void *buf, size_t len, uint64_t off)
{
	return full_io(to_file(b)->fd, false, buf, len, off);
}

static int file_pwrite(struct envol_backend *b, const void *buf, size_t len, uint64_t off)
{
	return full_io(to_file(b)->fd, true, (void *)buf, len, off);
}

static int file_flush(struct envol_backend *b)
{
	if (fdatasync(to_file(b)->fd) < 0)
		return negative_errno();
	return 0;
}

static int file_discard(struct envol_backend *b, uint64_t off, uint64_t len)
{
	if (fallocate(to_file(b)->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len) < 0)
		return negative_errno();
	return 0;
}

static int file_write_zeroes(struct envol_backend *b, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[64 << 10];
	struct file_backend *f = to_file(b);

	if (len == 0)
		return 0;
	if (f->blockdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(f->fd, BLKZEROOUT, range) == 0)
			return 0;
	} else if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			     (off_t)len) == 0) {
		return 0;
	}
	while (len > 0) {
		size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
		int r = full_io(f->fd, true, (void *)zeros, n, off);

		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* Holes and data of the file by SEEK_DATA/SEEK_HOLE; a block device is all data. */
static int file_extents(struct envol_backend *b, uint64_t off, uint64_t len,
			envol_backend_extent_cb cb, void *opaque)
{
	struct file_backend *f = to_file(b);
	uint64_t pos = off, end = off + len;

	if (f->blockdev)
		return len ? cb(opaque, off, len, false) : 0;
	while (pos < end) {
		off_t d = lseek(f->fd, (off_t)pos, SEEK_DATA), h;
		int r;

		if (d < 0 && errno != ENXIO)
			return negative_errno();
		if (d < 0 || (uint64_t)d > end)
			d = (off_t)end; /* ENXIO: no data after pos */
		if ((uint64_t)d > pos) {
			r = cb(opaque, pos, (uint64_t)d - pos, true);
			if (r != 0)
				return r;
			pos = (uint64_t)d;
			continue;
		}
		h = lseek(f->fd, (off_t)pos, SEEK_HOLE);
		if (h < 0)
			return negative_errno();
		if ((uint64_t)h > end)
			h = (off_t)end;
		if ((uint64_t)h <= pos)
			h = (off_t)(pos + 1); /* the file changed under us: move on */
		r = cb(opaque, pos, (uint64_t)h - pos, false);
		if (r != 0)
			return r;
		pos = (uint64_t)h;
	}
	return 0;
}

/* Size of a regular file or block device; -EINVAL for anything else. */
static int file_size(struct envol_backend *b, uint64_t *ret_size)
{
	struct file_backend *f = to_file(b);
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return negative_errno();
	if (S_ISREG(st.st_mode)) {
		*ret_size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz = 0;

		if (ioctl(f->fd, BLKGETSIZE64, &sz) < 0)
			return negative_errno();
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
 * Finds a process with an open file description of fd's file that holds a lock on it and
 * writes "pid N (comm)" into holder; 0 when found, -ESRCH if not (holder then untouched).
 */
static int find_lock_holder(int fd, char *holder, size_t holder_len)
{
	struct stat st;
	struct dirent *pe;
	int r = -ESRCH;
	DIR *proc;

	if (fstat(fd, &st) < 0)
		return -ESRCH;
	proc = opendir("/proc");
	if (!proc)
		return -ESRCH;
	while (r < 0 && (pe = readdir(proc))) {
		char comm_path[64], comm[64] = "?";
		long pid = parse_num(pe->d_name);
		FILE *f;

		if (pid <= 0 || !pid_holds_lock(pid, st.st_dev, st.st_ino))
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

static int set_ofd_lock(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
		return negative_errno();
	return 0;
}

static int file_lock_acquire(struct envol_backend *b, bool exclusive, char *holder,
			     size_t holder_len)
{
	int fd = to_file(b)->fd, r;

	if (holder && holder_len > 0)
		holder[0] = 0;
	r = set_ofd_lock(fd, exclusive ? F_WRLCK : F_RDLCK);
	if (r != -EAGAIN && r != -EACCES)
		return r;
	if (holder && holder_len > 0)
		(void)find_lock_holder(fd, holder, holder_len);
	return -EBUSY;
}

static int file_lock_release(struct envol_backend *b)
{
	return set_ofd_lock(to_file(b)->fd, F_UNLCK);
}

static int file_lock_query(struct envol_backend *b, bool *ret_locked, char *holder,
			   size_t holder_len)
{
	int fd = to_file(b)->fd;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return negative_errno();
	if (holder && holder_len > 0) {
		holder[0] = 0;
		if (fl.l_type != F_UNLCK && find_lock_holder(fd, holder, holder_len) < 0)
			holder[0] = 0;
	}
	*ret_locked = fl.l_type != F_UNLCK;
	return 0;
}

static void file_close(struct envol_backend *b)
{
	struct file_backend *f = to_file(b);

	if (f->fd >= 0)
		(void)close(f->fd); /* releases the OFD lock */
	free(f);
}

static const struct envol_backend_ops file_ops = {
	.pread = file_pread,
	.pwrite = file_pwrite,
	.flush = file_flush,
	.discard = file_discard,
	.write_zeroes = file_write_zeroes,
	.extents = file_extents,
	.size = file_size,
	.lock_acquire = file_lock_acquire,
	.lock_release = file_lock_release,
	.lock_query = file_lock_query,
	.close = file_close,
};

/* ---- open, create, remove ------------------------------------------------------------------ */

/* Wraps fd (owned from here on) into a backend. */
static int file_wrap(int fd, struct envol_backend **ret)
{
	struct file_backend *f = calloc(1, sizeof(*f));
	struct stat st;

	if (!f) {
		(void)close(fd);
		return -ENOMEM;
	}
	f->base.ops = &file_ops;
	f->fd = fd;
	f->blockdev = fstat(fd, &st) == 0 && S_ISBLK(st.st_mode);
	*ret = &f->base;
	return 0;
}

static int file_open(const char *location, bool writable, struct envol_backend **ret, char *err,
		     size_t errlen)
{
	int fd = open(location, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY), r;

	if (fd < 0) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "cannot open %s: %s", location, strerror(-r));
	}
	return file_wrap(fd, ret);
}

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

/*
 * A new regular file (O_EXCL, mode 0600) of size bytes, sparse, durable with its directory
 * entry; or an existing block device, opened O_EXCL (which fails while it is mounted).
 */
static int file_create(const char *location, uint64_t size, struct envol_backend **ret,
		       bool *ret_created, char *err, size_t errlen)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open(location, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (stat(location, &st) < 0 || !S_ISBLK(st.st_mode))
			return envol_fail(-EEXIST, err, errlen, "%s already exists", location);
		fd = open(location, O_RDWR | O_EXCL | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			r = negative_errno();
			return envol_fail(r, err, errlen, "cannot open %s: %s", location,
					  strerror(-r));
		}
		*ret_created = false;
		return file_wrap(TAKE_FD(fd), ret);
	}
	if (fd < 0) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "cannot create %s: %s", location, strerror(-r));
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "cannot size %s to %llu bytes: %s", location,
				(unsigned long long)size, strerror(-r));
		goto fail;
	}
	r = fsync(fd) < 0 ? negative_errno() : fsync_parent_dir(location);
	if (r < 0) {
		envol_set_error(err, errlen, "fsync of %s and its directory: %s", location,
				strerror(-r));
		goto fail;
	}
	*ret_created = true;
	return file_wrap(TAKE_FD(fd), ret);
fail:
	(void)unlink(location);
	return r;
}

static int file_remove(const char *location)
{
	if (unlink(location) < 0)
		return negative_errno();
	return 0;
}

static int file_rename(const char *from, const char *to)
{
	int r = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0 ? negative_errno() : 0;

	if (r == -EINVAL || r == -ENOSYS) /* no RENAME_NOREPLACE here: link() never replaces */
		r = link(from, to) < 0 || unlink(from) < 0 ? negative_errno() : 0;
	if (r == 0)
		r = fsync_parent_dir(to);
	return r;
}

const struct envol_backend_type envol_backend_file = {
	.name = "file",
	.prefix = NULL,
	.open = file_open,
	.create = file_create,
	.remove = file_remove,
	.rename = file_rename,
};
