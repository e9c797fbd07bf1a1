/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * transfer.c — "envolctl volume import|export": moves a raw image into a new volume, or a
 * volume out to a file, through envold over NBD (libnbd on server.socket), so no plaintext
 * key ever exists in envolctl.  An import writes a temporary volume that becomes NAME only when
 * complete (volume.c); an export never follows a symbolic link at its target.  1 MiB requests,
 * several in flight; zero blocks are skipped (a fresh volume reads as zeros; an exported regular
 * file stays sparse); a progress bar on stderr when stdout is a terminal.  NAME may instead be
 * an NBD URI (nbds://host:port/NAME, nbds+unix://…, nbd://…) naming an export of a remote
 * envold: an import then overwrites that existing volume (zero blocks as NBD_CMD_WRITE_ZEROES),
 * and TLS uses client.tls_ca/tls_cert/tls_key (--ca, --cert, --tls-key) or the URI's own
 * tls-certificates= or tls-psk-file=.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libnbd.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "envolctl.h"
#include "parse.h"

#define XFER_CHUNK (UINT64_C(1) << 20)
#define XFER_DEPTH 8

struct progress {
	bool on;
	const char *what;
	uint64_t total, done;
	struct timespec last;
};

static void progress_show(struct progress *p, bool final)
{
	struct timespec now;
	char done[32], total[32];
	int pct, bars;

	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final &&
	    (now.tv_sec - p->last.tv_sec) * 1000 + (now.tv_nsec - p->last.tv_nsec) / 1000000 < 100)
		return;
	p->last = now;
	pct = p->total ? (int)(p->done * 100 / p->total) : 100;
	bars = pct * 30 / 100;
	ctl_format_size(p->done, done, sizeof done);
	ctl_format_size(p->total, total, sizeof total);
	fprintf(stderr, "\r%s [%.*s%*s] %3d%% %s / %s   ", p->what, bars,
		"##############################", 30 - bars, "", pct, done, total);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off, size_t *ret_got)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*ret_got = got;
	return 0;
}

static int full_write(int fd, const void *buf, size_t len, uint64_t off, bool seekable)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n =
		    seekable ? pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done))
			     : write(fd, (const char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		done += (size_t)n;
	}
	return 0;
}

static int fd_size(int fd, uint64_t *ret)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (S_ISREG(st.st_mode)) {
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, ret) < 0 ? negative_errno() : 0;
	return -EINVAL;
}

/* libnbd's URI schemes for one export: a remote (or another local) envold. */
static bool is_nbd_uri(const char *s)
{
	static const char *const schemes[] = {"nbd://", "nbds://", "nbd+unix://", "nbds+unix://"};

	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (strncmp(s, schemes[i], strlen(schemes[i])) == 0)
			return true;
	return false;
}

/* Symbolic link dir/name -> the absolute path of target; prints errors. */
static int tls_link(const char *dir, const char *name, const char *target, const char *what)
{
	_cleanup_free_ char *abs = realpath(target, NULL);
	_cleanup_free_ char *link = NULL;

	if (!abs) {
		ctl_error("%s %s: %s", what, target, strerror(errno));
		return negative_errno();
	}
	if (asprintf(&link, "%s/%s", dir, name) < 0) {
		link = NULL;
		return -ENOMEM;
	}
	if (symlink(abs, link) < 0) {
		ctl_error("cannot make %s: %s", link, strerror(errno));
		return negative_errno();
	}
	return 0;
}

/* Removes what tls_dir_make made (the links, then the directory) and frees dir. */
static void tls_dir_remove(char *dir)
{
	static const char *const names[] = {"ca-cert.pem", "client-cert.pem", "client-key.pem"};
	char path[PATH_MAX];

	if (!dir)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) < sizeof path)
			(void)unlink(path);
	(void)rmdir(dir);
	free(dir);
}

/*
 * libnbd takes X.509 files only as a directory holding ca-cert.pem, client-cert.pem and
 * client-key.pem.  Makes one, private (0700, in $TMPDIR or /tmp), of symbolic links to
 * client.tls_ca (a file, or a directory holding ca-cert.pem), client.tls_cert and
 * client.tls_key (the last two optional, together), so no key is copied.  *ret_dir is NULL
 * when none is set: libnbd then looks in its default places (/etc/pki/libnbd for root, else
 * $HOME/.pki/libnbd).  Prints errors.
 */
static int tls_dir_make(const struct envol_config *cfg, char **ret_dir)
{
	const char *ca = cfg->client.tls_ca, *cert = cfg->client.tls_cert,
		   *key = cfg->client.tls_key, *tmp = getenv("TMPDIR");
	const bool has_ca = ca && *ca, has_cert = cert && *cert, has_key = key && *key;
	_cleanup_free_ char *ca_file = NULL;
	char *dir = NULL;
	struct stat st;
	int r;

	*ret_dir = NULL;
	if (!has_ca && !has_cert)
		return 0;
	if (!has_ca) {
		ctl_error("nbds:// with a client certificate needs the server's CA too: --ca FILE "
			  "or client.tls_ca");
		return -EINVAL;
	}
	if (has_cert != has_key) {
		ctl_error("nbds://: a client certificate and its key go together: --cert and "
			  "--tls-key, or client.tls_cert and client.tls_key");
		return -EINVAL;
	}
	if (stat(ca, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (asprintf(&ca_file, "%s/ca-cert.pem", ca) < 0) {
			ca_file = NULL;
			return -ENOMEM;
		}
		ca = ca_file;
	}
	if (asprintf(&dir, "%s/envolctl-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(dir)) {
		r = negative_errno();
		ctl_error("cannot make a directory for libnbd's certificates (%s): %s", dir,
			  strerror(errno));
		free(dir);
		return r;
	}
	r = tls_link(dir, "ca-cert.pem", ca, "--ca/client.tls_ca");
	if (r == 0 && has_cert)
		r = tls_link(dir, "client-cert.pem", cert, "--cert/client.tls_cert");
	if (r == 0 && has_cert)
		r = tls_link(dir, "client-key.pem", key, "--tls-key/client.tls_key");
	if (r < 0) {
		tls_dir_remove(dir);
		return r;
	}
	*ret_dir = dir;
	return 0;
}

/* Connects to the export an NBD URI names, with TLS as tls_dir_make says; prints errors. */
static int nbd_open_uri(struct ctl *c, const char *uri, struct nbd_handle **ret)
{
	struct nbd_handle *h;
	char *dir = NULL;
	int r;

	if (strncmp(uri, "nbds", 4) == 0 && !strstr(uri, "tls-certificates=") &&
	    !strstr(uri, "tls-psk-file=")) {
		r = tls_dir_make(c->cfg, &dir);
		if (r < 0)
			return r;
	}
	h = nbd_create();
	if (!h) {
		ctl_error("libnbd: %s", nbd_get_error());
		tls_dir_remove(dir);
		return -ENOMEM;
	}
	/* the URI is the operator's own: its tls-certificates= and tls-psk-file= are allowed */
	if (nbd_set_uri_allow_local_file(h, true) < 0 ||
	    (dir && nbd_set_tls_certificates(h, dir) < 0) || nbd_connect_uri(h, uri) < 0) {
		ctl_error("cannot attach %s: %s", uri, nbd_get_error());
		nbd_close(h);
		tls_dir_remove(dir);
		return -EIO;
	}
	tls_dir_remove(dir); /* the handshake is over: libnbd has read the files */
	*ret = h;
	return 0;
}

/* Connects to export name on envold's Unix socket; prints errors. */
static int nbd_open(struct ctl *c, const char *name, struct nbd_handle **ret)
{
	struct nbd_handle *h;
	const char *sock = c->cfg->server.socket;

	if (is_nbd_uri(name))
		return nbd_open_uri(c, name, ret);
	if (access(sock, F_OK) < 0) {
		ctl_error("envold is not running: no socket at %s (systemctl start envold)", sock);
		return -EHOSTDOWN;
	}
	h = nbd_create();
	if (!h) {
		ctl_error("libnbd: %s", nbd_get_error());
		return -ENOMEM;
	}
	if (nbd_set_export_name(h, name) < 0 || nbd_connect_unix(h, sock) < 0) {
		ctl_error("cannot attach volume %s through envold at %s: %s", name, sock,
			  nbd_get_error());
		nbd_close(h);
		return -EIO;
	}
	*ret = h;
	return 0;
}

struct slot {
	uint8_t *buf;
	int64_t cookie;
	uint64_t off;
	size_t len;
};

struct xfer {
	struct nbd_handle *h;
	int fd;
	bool import;	 /* file -> volume; else volume -> file */
	bool overwrite;	 /* import into an existing volume: zero blocks are written too */
	bool zero_cmd;	 /* ... as NBD_CMD_WRITE_ZEROES (the server offers it) */
	bool seekable, sparse;
	uint64_t size;	   /* volume bytes */
	uint64_t src_size; /* import: file bytes (the rest of the volume is zero padding) */
	struct progress prog;
	struct slot slots[XFER_DEPTH];
};

/* Waits for the oldest request in flight. */
static int wait_cookie(struct xfer *x, int64_t cookie)
{
	int r;

	while ((r = nbd_aio_command_completed(x->h, (uint64_t)cookie)) == 0)
		if (nbd_poll(x->h, -1) < 0)
			return -EIO;
	return r < 0 ? -EIO : 0;
}

static int xfer_run(struct xfer *x, const char *what)
{
	uint64_t next = 0;
	size_t head = 0, busy = 0;
	int r = 0;

	for (size_t i = 0; i < XFER_DEPTH; i++) {
		x->slots[i].buf = aligned_alloc(4096, XFER_CHUNK);
		if (!x->slots[i].buf) {
			r = -ENOMEM;
			goto out;
		}
	}
	while (next < x->size || busy) {
		while (busy < XFER_DEPTH && next < x->size) {
			struct slot *s = &x->slots[(head + busy) % XFER_DEPTH];
			uint64_t len = x->size - next < XFER_CHUNK ? x->size - next : XFER_CHUNK;

			s->off = next;
			s->len = (size_t)len;
			next += len;
			if (x->import) {
				size_t got = 0;

				if (s->off < x->src_size) {
					r = full_pread(x->fd, s->buf, s->len, s->off, &got);
					if (r < 0) {
						ctl_error(
						    "cannot read the image at offset %llu: %s",
						    (unsigned long long)s->off, strerror(-r));
						goto out;
					}
				}
				if (got < s->len)
					memset(s->buf + got, 0, s->len - got);
				if (ctl_all_zero(s->buf, s->len) && !x->overwrite) {
					x->prog.done += s->len; /* a fresh volume reads as zeros */
					progress_show(&x->prog, false);
					continue;
				}
				if (x->zero_cmd && ctl_all_zero(s->buf, s->len))
					s->cookie = nbd_aio_zero(x->h, s->len, s->off,
								 NBD_NULL_COMPLETION, 0);
				else
					s->cookie = nbd_aio_pwrite(x->h, s->buf, s->len, s->off,
								   NBD_NULL_COMPLETION, 0);
			} else {
				s->cookie = nbd_aio_pread(x->h, s->buf, s->len, s->off,
							  NBD_NULL_COMPLETION, 0);
			}
			if (s->cookie < 0) {
				r = -EIO;
				ctl_error("%s: NBD request failed: %s", what, nbd_get_error());
				goto out;
			}
			busy++;
		}
		if (!busy)
			break;
		{
			struct slot *s = &x->slots[head];

			r = wait_cookie(x, s->cookie);
			if (r < 0) {
				ctl_error("%s: NBD %s at offset %llu failed: %s", what,
					  x->import ? "write" : "read", (unsigned long long)s->off,
					  nbd_get_error());
				goto out;
			}
			if (!x->import && !(x->sparse && ctl_all_zero(s->buf, s->len))) {
				r = full_write(x->fd, s->buf, s->len, s->off, x->seekable);
				if (r < 0) {
					ctl_error("%s: cannot write the output at offset %llu: %s",
						  what, (unsigned long long)s->off, strerror(-r));
					goto out;
				}
			}
			x->prog.done += s->len;
			progress_show(&x->prog, false);
			head = (head + 1) % XFER_DEPTH;
			busy--;
		}
	}
out:
	/* On error, let what is in flight finish before the buffers go. */
	while (busy) {
		(void)wait_cookie(x, x->slots[head].cookie);
		head = (head + 1) % XFER_DEPTH;
		busy--;
	}
	for (size_t i = 0; i < XFER_DEPTH; i++)
		free(x->slots[i].buf);
	return r;
}

/*
 * Copies between fd and the open NBD handle x->h with progress, flushes an import, and shuts
 * the connection down cleanly on success; x->h is closed either way.  Returns 0 or -errno.
 */
static int xfer_finish(struct xfer *x, int fd, const char *name)
{
	int r;

	x->fd = fd;
	x->prog.on = isatty(STDOUT_FILENO);
	x->prog.what = x->import ? "import" : "export";
	x->prog.total = x->size;
	r = xfer_run(x, name);
	if (r == 0 && x->import && nbd_flush(x->h, 0) < 0) {
		ctl_error("%s: NBD flush failed: %s", name, nbd_get_error());
		r = -EIO;
	}
	progress_show(&x->prog, true);
	if (r == 0)
		(void)nbd_shutdown(x->h, 0);
	nbd_close(x->h);
	return r;
}

/* Opens the image an import reads (a regular file or a block device), and its size; prints
 * errors. */
static int image_open(const char *file, int *ret_fd, uint64_t *ret_size)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		ctl_error("cannot open %s: %s", file, strerror(errno));
		return negative_errno();
	}
	if (fd_size(fd, ret_size) < 0) {
		ctl_error("%s: not a regular file or block device", file);
		return -EINVAL;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/*
 * "volume import FILE URI": writes the image over the existing export the URI names (a remote
 * envold's volume, made there with volume create), the rest of it with zeros.  Returns an exit
 * status.
 */
static int import_over_nbd(struct ctl *c, const char *file, const char *uri)
{
	struct xfer x = {.import = true, .overwrite = true};
	_cleanup_close_ int fd = -1;
	int64_t size;

	if (ctl_config(c) < 0 || image_open(file, &fd, &x.src_size) < 0)
		return EXIT_ERROR;
	if (nbd_open_uri(c, uri, &x.h) < 0)
		return EXIT_ERROR;
	size = nbd_get_size(x.h);
	if (size < 0 || nbd_is_read_only(x.h) != 0) {
		ctl_error("%s: %s", uri, size < 0 ? nbd_get_error() : "the export is read-only");
		nbd_close(x.h);
		return EXIT_ERROR;
	}
	x.size = (uint64_t)size;
	if (x.src_size > x.size) {
		ctl_error("%s (%llu bytes) does not fit in %s (%llu bytes)", file,
			  (unsigned long long)x.src_size, uri, (unsigned long long)x.size);
		nbd_close(x.h);
		return EXIT_ERROR;
	}
	x.zero_cmd = nbd_can_zero(x.h) == 1;
	if (xfer_finish(&x, fd, uri) < 0)
		return EXIT_ERROR;
	if (c->json) {
		json_t *j = json_pack("{s:s,s:I,s:I}", "uri", uri, "size", (json_int_t)x.size,
				      "imported_bytes", (json_int_t)x.src_size);
		ctl_print_json(j);
		json_decref(j);
	} else {
		printf("%s: %llu bytes written from %s\n", uri, (unsigned long long)x.src_size,
		       file);
	}
	return EXIT_OK;
}

int ctl_volume_import(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},  {"sector-size", required_argument, NULL, 'S'},
	    {"size", required_argument, NULL, 's'}, {"from-image", required_argument, NULL, 'i'},
	    {"read-only", no_argument, NULL, 'r'},  {"backend", required_argument, NULL, 'b'},
	    {"pool", required_argument, NULL, 'p'}, {}};
	const char *key = NULL, *size_text = NULL, *file = NULL, *name, *backend = NULL,
		   *pool = NULL;
	_cleanup_free_ char *import_name = NULL;
	struct xfer x = {.import = true};
	_cleanup_close_ int fd = -1;
	uint32_t sector_size = 512;
	bool new_volume_option = false; /* an option for the volume import creates */
	char uuid[37], err[256];
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		new_volume_option = new_volume_option || o != 'i';
		switch (o) {
		case 'k':
			key = optarg;
			break;
		case 'S':
			if (strcmp(optarg, "512") == 0)
				sector_size = 512;
			else if (strcmp(optarg, "4096") == 0)
				sector_size = 4096;
			else
				return ctl_usage("--sector-size %s: must be 512 or 4096", optarg);
			break;
		case 's':
			size_text = optarg;
			break;
		case 'i':
			file = optarg;
			break;
		case 'b':
			if (strcmp(optarg, "file") != 0 && strcmp(optarg, "rbd") != 0)
				return ctl_usage("--backend %s: must be file or rbd", optarg);
			backend = optarg;
			break;
		case 'p':
			pool = optarg;
			break;
		default:
			return ctl_usage("volume import: unknown option, or it needs a value");
		}
	}
	if (file && argc - optind == 1) {
		name = argv[optind];
	} else if (!file && argc - optind == 2) {
		file = argv[optind];
		name = argv[optind + 1];
	} else {
		return ctl_usage("usage: envolctl volume import FILE NAME [--key KEY] "
				 "[--sector-size 512|4096] [--size SIZE] [--backend file|rbd] "
				 "[--pool POOL]");
	}
	if (is_nbd_uri(name)) {
		if (new_volume_option)
			return ctl_usage("volume import FILE %s: the volume exists already; --key, "
					 "--sector-size, --size, --backend and --pool are for a new one",
					 name);
		return import_over_nbd(c, file, name);
	}
	r = ctl_parse_place(&backend, pool);
	if (r)
		return r;
	if (ctl_config(c) < 0 || image_open(file, &fd, &x.src_size) < 0)
		return EXIT_ERROR;
	if (size_text) {
		if (ctl_parse_volume_size(size_text, sector_size, &x.size, err, sizeof err) < 0)
			return ctl_usage("--size: %s", err);
		if (x.size < x.src_size) {
			ctl_error("--size %s is smaller than %s (%llu bytes)", size_text, file,
				  (unsigned long long)x.src_size);
			return EXIT_ERROR;
		}
	} else {
		if (x.src_size == 0) {
			ctl_error("%s is empty; give the volume a --size", file);
			return EXIT_ERROR;
		}
		if (ctl_round_up(x.src_size, sector_size, &x.size) < 0) {
			ctl_error("%s is too large", file);
			return EXIT_ERROR;
		}
	}
	if (access(c->cfg->server.socket, F_OK) < 0) {
		ctl_error("envold is not running: no socket at %s (systemctl start envold); import "
			  "writes through it",
			  c->cfg->server.socket);
		return EXIT_ERROR;
	}
	/* written under a temporary name that nobody attaches as name, renamed when complete */
	if (ctl_volume_import_begin(c, name, x.size, key, sector_size, backend, pool, &import_name,
				    uuid, sizeof uuid) < 0)
		return EXIT_ERROR;
	if (nbd_open(c, import_name, &x.h) < 0 || xfer_finish(&x, fd, name) < 0) {
		ctl_volume_import_abandon(c, name, import_name);
		return EXIT_ERROR;
	}
	if (ctl_volume_import_finish(c, name, import_name) < 0)
		return EXIT_ERROR;
	if (c->json) {
		json_t *j = json_pack("{s:s,s:s,s:I,s:I}", "name", name, "volume_id", uuid, "size",
				      (json_int_t)x.size, "imported_bytes", (json_int_t)x.src_size);
		ctl_print_json(j);
		json_decref(j);
	} else {
		printf("%s\n", uuid);
	}
	return EXIT_OK;
}

/* Where an export writes: a new file, a temporary file renamed over the target, or a device. */
struct export_target {
	const char *path;
	int fd;
	char *tmp;    /* --force over a regular file: written here, renamed over path at the end */
	bool created; /* path was created by us (removed again if the export fails) */
};

/*
 * Opens the target of an export without ever following a symbolic link at it: "-" is standard
 * output; a missing file is created 0600 with O_EXCL; an existing one is refused unless force,
 * and then a regular file is replaced (a new 0600 file renamed over it at the end, so neither
 * its owner, its mode nor any hard link to it carries over) and a device is written in place.
 * Prints errors.  Returns 0 or -errno.
 */
static int export_target_open(const char *path, bool force, struct export_target *t)
{
	const int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW;
	struct stat st;

	*t = (struct export_target){.path = path, .fd = -1};
	if (strcmp(path, "-") == 0) {
		t->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
		if (t->fd < 0) {
			ctl_error("cannot use standard output: %s", strerror(errno));
			return negative_errno();
		}
		return 0;
	}
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT) {
			ctl_error("cannot check %s: %s", path, strerror(errno));
			return negative_errno();
		}
		t->fd = open(path, flags | O_CREAT | O_EXCL, 0600);
		if (t->fd < 0) {
			ctl_error("cannot create %s: %s", path,
				  errno == EEXIST ? "it appeared meanwhile; try again"
						  : strerror(errno));
			return negative_errno();
		}
		t->created = true;
		if (fchmod(t->fd, 0600) < 0) { /* whatever the umask */
			ctl_error("cannot make %s mode 0600: %s", path, strerror(errno));
			return negative_errno();
		}
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		ctl_error("%s is a symbolic link; an export never follows one: give the path it "
			  "points to, or remove the link",
			  path);
		return -ELOOP;
	}
	if (S_ISDIR(st.st_mode)) {
		ctl_error("%s is a directory; give a file name", path);
		return -EISDIR;
	}
	if (!force) {
		ctl_error("%s already exists; add --force to replace it", path);
		return -EEXIST;
	}
	if (S_ISREG(st.st_mode)) {
		const char *slash = strrchr(path, '/');
		int dlen = slash ? (int)(slash - path) : 1;
		const char *dir = slash ? path : ".";

		if (asprintf(&t->tmp, "%.*s/.%s.envolctl-XXXXXX", dlen, dir,
			     slash ? slash + 1 : path) < 0) {
			t->tmp = NULL;
			return -ENOMEM;
		}
		t->fd = mkostemp(t->tmp, O_CLOEXEC); /* mode 0600, O_EXCL */
		if (t->fd < 0) {
			ctl_error("cannot create a temporary file next to %s: %s", path,
				  strerror(errno));
			free(t->tmp);
			t->tmp = NULL;
			return negative_errno();
		}
		return 0;
	}
	/* a block or character device, or a FIFO: written in place */
	t->fd = open(path, flags);
	if (t->fd < 0) {
		ctl_error("cannot open %s: %s", path, strerror(errno));
		return negative_errno();
	}
	if (fstat(t->fd, &st) < 0 || S_ISREG(st.st_mode)) {
		ctl_error("%s changed while it was opened; try again", path);
		return -EAGAIN;
	}
	return 0;
}

/* Puts a finished export in place (renames the temporary file over the target). */
static int export_target_commit(struct export_target *t)
{
	if (t->tmp && rename(t->tmp, t->path) < 0) {
		ctl_error("cannot replace %s: %s", t->path, strerror(errno));
		return negative_errno();
	}
	free(t->tmp);
	t->tmp = NULL;
	t->created = false;
	return 0;
}

/* Closes the target; an unfinished export removes what it created. */
static void export_target_done(struct export_target *t)
{
	if (t->tmp)
		(void)unlink(t->tmp);
	else if (t->created)
		(void)unlink(t->path);
	free(t->tmp);
	if (t->fd >= 0)
		close(t->fd);
	*t = (struct export_target){.fd = -1};
}

int ctl_volume_export(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {}};
	struct xfer x = {.import = false};
	struct export_target t = {.fd = -1};
	const char *name, *file;
	bool force = false;
	struct stat st;
	int64_t size;
	int o, r, ret = EXIT_ERROR;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o != 'f')
			return ctl_bad_option("volume", "export", argv);
		force = true;
	}
	if (argc - optind != 2)
		return ctl_usage("usage: envolctl volume export NAME|URI FILE [--force]");
	name = argv[optind];
	file = argv[optind + 1];
	if (ctl_config(c) < 0)
		return EXIT_ERROR;
	if (nbd_open(c, name, &x.h) < 0)
		return EXIT_ERROR;
	size = nbd_get_size(x.h);
	if (size < 0) {
		ctl_error("%s: %s", name, nbd_get_error());
		nbd_close(x.h);
		return EXIT_ERROR;
	}
	x.size = (uint64_t)size;
	if (export_target_open(file, force, &t) < 0 || fstat(t.fd, &st) < 0) {
		nbd_close(x.h);
		goto out;
	}
	x.seekable = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
	x.sparse = S_ISREG(st.st_mode);
	r = xfer_finish(&x, t.fd, name); /* closes x.h */
	if (r < 0)
		goto out;
	if (S_ISREG(st.st_mode) && (ftruncate(t.fd, (off_t)x.size) < 0 || fsync(t.fd) < 0)) {
		ctl_error("cannot finish %s: %s", file, strerror(errno));
		goto out;
	}
	if (export_target_commit(&t) < 0)
		goto out;
	if (c->json) {
		json_t *j = json_pack("{s:s,s:s,s:I}", "name", name, "file", file, "size",
				      (json_int_t)x.size);
		ctl_print_json(j);
		json_decref(j);
	} else if (strcmp(file, "-") != 0) {
		char sz[32];

		ctl_format_size(x.size, sz, sizeof sz);
		printf("%s: %s exported from volume %s\n", file, sz, name);
	}
	ret = EXIT_OK;
out:
	export_target_done(&t);
	return ret;
}
