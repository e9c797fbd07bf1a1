/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_nbd_transmission.c — envold's own connection code (daemon/envold/connection.c: the
 * handshake, the request reader, the worker pool, the volume) on hostile bytes, as nbdkit's
 * server/fuzzer.c does it: the input is everything a client sends after the greeting (client
 * flags, options, then requests and write payloads).  A thread feeds it into one end of a
 * socketpair and reads and drops the replies; conn_serve() serves the other end in this thread
 * against one export, "fuzz": a 1 MiB volume with 512-byte sectors, created once in a temporary
 * directory and attached with a fixed test key (no KMS).  Every input ends with the feeder's
 * end-of-stream; conn_serve() returns once its requests have replied.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "envold.h"
#include "util/encoding.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VOLUME_SIZE (UINT64_C(1) << 20)
#define WORKERS 2

/* A fixed test data key (two different AES-256 halves), not a secret. */
static const uint8_t test_dek[ENVOL_VOLUME_DEK_SIZE] = {
    0x46, 0x55, 0x5a, 0x5a, 0x2d, 0x64, 0x65, 0x6b, 0x01, 0x02, 0x03, 0x04, 0x05,
    0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
    0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
    0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3,
    0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
};

static char dir[4096], path[4200];
static struct export fuzz_export;

static void die(const char *what, const char *err, int r)
{
	fprintf(stderr, "fuzz_nbd_transmission: %s: %s\n", what, err && err[0] ? err : strerror(-r));
	exit(2);
}

static void cleanup(void)
{
	workers_stop();
	envol_volume_close(fuzz_export.vol);
	fuzz_export.vol = NULL;
	(void)unlink(path);
	(void)rmdir(dir);
}

/* The volume, the export around it and the worker pool, once per process. */
static void prepare(void)
{
	struct envol_volume_create_params p = {0};
	struct envol_volume_bound_context bc;
	struct envol_volume *v = NULL;
	const char *tmp = getenv("TMPDIR");
	uint8_t blob[96];
	char err[512] = "";
	int r;

	snprintf(dir, sizeof dir, "%s/envol-fuzz-nbd.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", NULL, negative_errno());
	snprintf(path, sizeof path, "%s/fuzz.vol", dir);
	memset(blob, 0x5a, sizeof blob); /* never unwrapped: the key is attached directly */
	for (size_t i = 0; i < sizeof p.uuid; i++)
		p.uuid[i] = (uint8_t)(0xf0 + i);
	if (envol_volume_bound_context(p.uuid, VOLUME_SIZE, 512, false, &bc) < 0)
		die("the volume's encryption context", NULL, -EINVAL);
	p.path = path;
	p.size = VOLUME_SIZE;
	p.sector_size = 512;
	p.key_arn = "arn:aws:kms:local:000000000000:key/fuzz";
	p.blob = blob;
	p.blob_len = sizeof blob;
	p.context = bc.pairs;
	p.n_context = ENVOL_VOLUME_BOUND_PAIRS;
	r = envol_volume_create(&p, err, sizeof err);
	if (r < 0)
		die("create the volume", err, r);
	r = envol_volume_open(path, true, &v, err, sizeof err);
	if (r < 0)
		die("open the volume", err, r);
	r = envol_volume_attach_key(v, test_dek, sizeof test_dek, err, sizeof err);
	if (r < 0)
		die("attach the test key", err, r);
	snprintf(fuzz_export.name, sizeof fuzz_export.name, "fuzz");
	fuzz_export.vol = v;
	fuzz_export.info = envol_volume_get_info(v);
	fuzz_export.inline_io = true; /* a file volume: small requests run in the reader */
	fuzz_export.refs = 1;
	r = workers_start(WORKERS);
	if (r < 0)
		die("start the workers", NULL, r);
	atexit(cleanup);
	/* a hostile client makes envold warn on every input: keep the fuzzer's output readable */
	envol_log_set_level(LOG_ERR);
}

struct feed {
	int fd;
	const uint8_t *data;
	size_t size;
};

/* The client: writes the input, then end-of-stream; reads and drops replies until envold closes. */
static void *feeder(void *arg)
{
	struct feed *f = arg;
	uint8_t buf[65536];

	if (f->size == 0)
		(void)shutdown(f->fd, SHUT_WR);
	for (;;) {
		struct pollfd pfd = {.fd = f->fd, .events = POLLIN | (f->size > 0 ? POLLOUT : 0)};
		ssize_t k;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			k = recv(f->fd, buf, sizeof buf, MSG_DONTWAIT);
			if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
				break; /* envold closed the connection */
		}
		if ((pfd.revents & POLLOUT) && f->size > 0) {
			k = send(f->fd, f->data, f->size, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (k < 0 && errno != EAGAIN && errno != EINTR) {
				f->size = 0; /* envold stopped reading: drain its replies */
				continue;
			}
			if (k > 0) {
				f->data += k;
				f->size -= (size_t)k;
				if (f->size == 0)
					(void)shutdown(f->fd, SHUT_WR);
			}
		}
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct feed f = {.data = data, .size = size};
	pthread_t t;
	int sv[2], r;

	if (!ready) {
		prepare();
		ready = true;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair", NULL, negative_errno());
	f.fd = sv[1];
	r = -pthread_create(&t, NULL, feeder, &f);
	if (r < 0)
		die("pthread_create", NULL, r);
	r = conn_serve(sv[0], &fuzz_export); /* closes sv[0] */
	if (r < 0)
		die("conn_serve", NULL, r);
	pthread_join(t, NULL);
	close(sv[1]);
	if (fuzz_export.refs != 1 || !envol_volume_key_attached(fuzz_export.vol))
		__builtin_trap(); /* the caller's export is never released by a connection */
	return 0;
}
