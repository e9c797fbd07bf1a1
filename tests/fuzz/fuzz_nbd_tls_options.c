/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_nbd_tls_options.c — the option phase after TLS: envold's own TLS transport
 * (daemon/envold/tls.c, GnuTLS, server.tls = "require" with a PSK file and
 * server.tls_identities) and the handshake machine (lib/nbd/handshake.c) serve one end of a
 * socketpair; a GnuTLS client thread on the other end sends the client flags and
 * NBD_OPT_STARTTLS in plaintext, completes a real TLS 1.3 PSK handshake, and then sends the
 * fuzz input, after its first byte, as the option-phase bytes inside the TLS session, reading
 * and dropping whatever the server answers until it closes.  The first byte picks the PSK user:
 * even, one that server.tls_identities maps (the options are answered); odd, one it does not
 * (every option is refused with NBD_REP_ERR_POLICY).  Checked on every input: TLS came up
 * (with the refusal exactly for the unmapped user), each reply after STARTTLS is one
 * well-framed option reply or a final EXPORT_NAME reply, an export the machine opened is
 * handed over or released and never leaked, and the client never waits for more than 30 s.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd/codec.h"
#include "nbd/handshake.h"
#include "tls.h"
#include "util/config.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
			__builtin_trap();                                                          \
		}                                                                                  \
	} while (0)

#define PSK_HEX "8c6a0d1f3e5b7a9c2d4f6e8a0b1c3d5e7f9a1b2c3d4e5f60718293a4b5c6d7e8"
#define CLIENT_WAIT_MS 30000

static const unsigned char psk_key[32] = {
    0x8c, 0x6a, 0x0d, 0x1f, 0x3e, 0x5b, 0x7a, 0x9c, 0x2d, 0x4f, 0x6e, 0x8a, 0x0b, 0x1c, 0x3d, 0x5e,
    0x7f, 0x9a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7, 0xe8,
};

/* ---- the stub export registry (as in fuzz_nbd_handshake.c) ---- */

struct stub_export {
	const char *name;
	uint64_t size;
	unsigned refs;
};

static struct stub_export stubs[] = {
    {.name = "vol1", .size = UINT64_C(1) << 20},
    {.name = "vol2", .size = UINT64_C(1) << 30},
};

static struct stub_export *find(const char *name)
{
	for (size_t i = 0; i < sizeof stubs / sizeof stubs[0]; i++)
		if (strcmp(stubs[i].name, name) == 0)
			return &stubs[i];
	return NULL;
}

static int stub_list(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof stubs / sizeof stubs[0]; i++) {
		int r = emit(ctx, stubs[i].name, "stub");

		if (r < 0)
			return r;
	}
	return 0;
}

static int stub_describe(void *opaque, const char *name, struct nbd_export_info *ret, char *err,
			 size_t errlen)
{
	const struct stub_export *s = find(name);

	if (!s) {
		snprintf(err, errlen, "no export named '%s'", name);
		return -ENOENT;
	}
	ret->size = s->size;
	ret->transmission_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH;
	ret->min_block = 512;
	ret->preferred_block = 4096;
	ret->max_block = NBD_MAX_PAYLOAD;
	snprintf(ret->description, sizeof ret->description, "stub %s", s->name);
	return 0;
}

static int stub_open(void *opaque, const char *name, struct nbd_export_info *ret,
		     void **ret_export, char *err, size_t errlen)
{
	int r = stub_describe(opaque, name, ret, err, errlen);

	if (r < 0)
		return r;
	find(name)->refs++;
	*ret_export = find(name);
	return 0;
}

static void stub_release(void *opaque, void *export)
{
	struct stub_export *s = export;

	check(s->refs > 0);
	s->refs--;
}

/* ---- the server end: plaintext until STARTTLS, then envold's TLS session ---- */

struct server {
	int fd;
	struct tls_session *tls;
	int starttls_result;
	bool starttls_called;
	unsigned writes, writes_after_tls;
	bool export_name_reply;
};

static int srv_read(void *opaque, void *buf, size_t n)
{
	struct server *s = opaque;
	size_t got = 0;

	if (s->tls)
		return tls_read_full(s->tls, buf, n);
	while (got < n) {
		ssize_t k = recv(s->fd, (char *)buf + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		got += (size_t)k;
	}
	return 0;
}

static int srv_write(void *opaque, const void *buf, size_t n)
{
	struct server *s = opaque;
	struct nbd_option_reply rep;

	check(!s->export_name_reply); /* nothing may follow it */
	s->writes++;
	if (s->tls) {
		struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};

		s->writes_after_tls++;
		if (n >= NBD_OPTION_REPLY_HEADER_SIZE && nbd_decode_option_reply(buf, &rep) == 0) {
			check(rep.length == n - NBD_OPTION_REPLY_HEADER_SIZE);
			check(!(rep.type & NBD_REP_FLAG_ERROR) || rep.length <= NBD_MAX_ERROR_TEXT);
			/* an unmapped identity gets nothing but refusals */
			check(s->starttls_result == 0 || rep.type == NBD_REP_ERR_POLICY);
		} else {
			check(s->starttls_result == 0);
			check(n == 10 || n == NBD_EXPORT_NAME_REPLY_SIZE);
			s->export_name_reply = true;
		}
		return tls_sendv(s->tls, &iov, 1);
	}
	/* plaintext: the greeting, then the ACK to the client's STARTTLS */
	check(s->writes <= 2);
	for (size_t done = 0; done < n;) {
		ssize_t k = send(s->fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		done += (size_t)k;
	}
	return 0;
}

static enum nbd_tls_mode srv_tls_mode(void *opaque)
{
	return NBD_TLS_REQUIRE;
}

static int srv_starttls(void *opaque, char *err, size_t errlen)
{
	struct server *s = opaque;
	int r;

	check(!s->starttls_called); /* a second STARTTLS is refused by the machine */
	s->starttls_called = true;
	r = tls_session_start(s->fd, true, &s->tls, err, errlen);
	s->starttls_result = r;
	return r;
}

static const struct nbd_server_ops ops = {
    .list = stub_list,
    .describe = stub_describe,
    .open = stub_open,
    .release = stub_release,
    .tls_mode = srv_tls_mode,
    .starttls = srv_starttls,
};

/* ---- the client thread ---- */

struct client {
	int fd;
	const char *user;
	const uint8_t *data;
	size_t size;
	bool tls_up;
};

static int read_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = recv(fd, (char *)buf + got, n - got, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	return send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* After the TLS handshake: sends the input and drains the answers, without blocking on either. */
static void client_exchange(struct client *c, gnutls_session_t gs)
{
	size_t sent = 0, chunk = 0;
	bool again = false, bye = false;
	char sink[16384];

	check(fcntl(c->fd, F_SETFL, O_NONBLOCK) == 0);
	for (;;) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		bool want_out = sent < c->size || !bye;
		int n;

		if (want_out)
			p.events |= POLLOUT;
		if (gnutls_record_check_pending(gs) == 0) {
			n = poll(&p, 1, CLIENT_WAIT_MS);
			check(n >= 0 || errno == EINTR);
			check(n != 0); /* the server neither read nor answered nor closed */
		} else {
			p.revents = POLLIN;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t k = gnutls_record_recv(gs, sink, sizeof sink);

			if (k == 0 || (k < 0 && k != GNUTLS_E_AGAIN && k != GNUTLS_E_INTERRUPTED))
				return; /* the server closed: with close_notify or without */
		}
		if (!(p.revents & POLLOUT))
			continue;
		if (sent < c->size) {
			ssize_t k;

			if (!again) {
				chunk = c->size - sent < 4096 ? c->size - sent : 4096;
				k = gnutls_record_send(gs, c->data + sent, chunk);
			} else {
				k = gnutls_record_send(gs, NULL, 0);
			}
			again = k == GNUTLS_E_AGAIN || k == GNUTLS_E_INTERRUPTED;
			if (k > 0)
				sent += (size_t)k;
			else if (!again)
				return; /* the server is gone */
		} else if (!bye) {
			int r = gnutls_bye(gs, GNUTLS_SHUT_WR);

			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
			bye = true;
			(void)shutdown(c->fd, SHUT_WR);
		}
	}
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	uint8_t greeting[NBD_GREETING_SIZE], rep[NBD_OPTION_REPLY_HEADER_SIZE];
	uint8_t hello[4 + NBD_OPTION_HEADER_SIZE];
	const uint32_t flags = htobe32(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	struct nbd_option_reply ack;
	gnutls_psk_client_credentials_t psk = NULL;
	gnutls_session_t gs = NULL;
	const gnutls_datum_t key = {.data = (unsigned char *)psk_key, .size = sizeof psk_key};
	int r;

	/* client flags, then NBD_OPT_STARTTLS (magic, option, length 0) */
	memcpy(hello, &flags, 4);
	check(nbd_encode_option(hello + 4, sizeof hello - 4, NBD_OPT_STARTTLS, NULL, 0) ==
	      NBD_OPTION_HEADER_SIZE);
	check(read_exact(c->fd, greeting, sizeof greeting) == 0);
	check(write_all(c->fd, hello, sizeof hello) == 0);
	check(read_exact(c->fd, rep, sizeof rep) == 0);
	check(nbd_decode_option_reply(rep, &ack) == 0 && ack.type == NBD_REP_ACK &&
	      ack.option == NBD_OPT_STARTTLS && ack.length == 0);

	check(gnutls_psk_allocate_client_credentials(&psk) == 0);
	check(gnutls_psk_set_client_credentials(psk, c->user, &key, GNUTLS_PSK_KEY_RAW) == 0);
	check(gnutls_init(&gs, GNUTLS_CLIENT) == 0);
	check(gnutls_priority_set_direct(gs, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+PSK", NULL) == 0);
	check(gnutls_credentials_set(gs, GNUTLS_CRD_PSK, psk) == 0);
	gnutls_transport_set_int(gs, c->fd);
	gnutls_handshake_set_timeout(gs, CLIENT_WAIT_MS);
	do
		r = gnutls_handshake(gs);
	while (r < 0 && !gnutls_error_is_fatal(r));
	check(r == 0);
	c->tls_up = true;
	client_exchange(c, gs);
	gnutls_deinit(gs);
	gnutls_psk_free_client_credentials(psk);
	close(c->fd);
	return NULL;
}

/* ---- setup once: a PSK file and a configuration that maps one of its users ---- */

static struct envol_config *config;

static void setup(void)
{
	char dir[] = "/tmp/fuzz-nbd-tls.XXXXXX", psk[64], conf[64], err[256] = "";
	FILE *f;

	signal(SIGPIPE, SIG_IGN);
	envol_log_set_level(LOG_CRIT);
	check(mkdtemp(dir));
	snprintf(psk, sizeof psk, "%s/psk.keys", dir);
	snprintf(conf, sizeof conf, "%s/envol.conf", dir);
	f = fopen(psk, "w");
	check(f);
	fprintf(f, "mapped:%s\nunmapped:%s\n", PSK_HEX, PSK_HEX);
	check(fclose(f) == 0);
	f = fopen(conf, "w");
	check(f);
	fprintf(f,
		"state_dir = \"%s\";\nruntime_dir = \"%s\";\n"
		"server: {\n  tls = \"require\";\n  tls_psk_file = \"%s\";\n"
		"  tls_identities = ( { match = \"mapped\"; "
		"principal = \"arn:aws:iam::000000000000:role/fuzz\"; } );\n};\n",
		dir, dir, psk);
	check(fclose(f) == 0);
	if (envol_config_load(conf, &config, err, sizeof err) < 0 ||
	    tls_init(config, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_nbd_tls_options: setup: %s\n", err);
		__builtin_trap();
	}
	/* GnuTLS reads the PSK file at each handshake: it stays until the process ends */
	(void)unlink(conf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct server s = {.fd = -1};
	struct client c = {.fd = -1};
	const struct nbd_io io = {.read = srv_read, .write = srv_write, .opaque = &s};
	struct nbd_handshake_result res;
	bool mapped = size == 0 || !(data[0] & 1);
	pthread_t t;
	unsigned refs = 0;
	int sv[2], r;

	pthread_once(&once, setup);
	check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	s.fd = sv[0];
	c = (struct client){.fd = sv[1],
			    .user = mapped ? "mapped" : "unmapped",
			    .data = size ? data + 1 : data,
			    .size = size ? size - 1 : 0};
	check(pthread_create(&t, NULL, client_run, &c) == 0);

	r = nbd_handshake_run(&io, &ops, &s, &res);
	for (size_t i = 0; i < sizeof stubs / sizeof stubs[0]; i++)
		refs += stubs[i].refs;
	if (r == 0) {
		struct stub_export *e = res.export;

		check(mapped && e && e->refs == 1 && refs == 1);
		stub_release(NULL, e);
	} else {
		check(refs == 0);
		check(!s.export_name_reply);
	}
	tls_session_free(s.tls);
	close(s.fd); /* the client sees the end and returns */
	check(pthread_join(t, NULL) == 0);

	/* TLS came up for every input; only the unmapped identity is refused */
	check(c.tls_up && s.starttls_called && s.tls);
	check(s.starttls_result == (mapped ? 0 : -EACCES));
	return 0;
}
