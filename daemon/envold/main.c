/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c — envold: options, configuration, listeners (Unix socket server.socket, TCP
 * server.listen, or sockets passed by systemd; made by daemon/common/listen.c), the accept
 * loop, the retirement of the grants a crashed envold left (attach.c, in the background),
 * sd_notify (READY, STOPPING; STATUS and WATCHDOG on the daemon/common ticker), SIGHUP
 * (reload the limits) and the orderly stop on SIGTERM/SIGINT: stop accepting, answer new
 * requests NBD_ESHUTDOWN, drain the requests in flight, flush every attached volume, close
 * them (wiping the keys), exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "common/listen.h"
#include "common/notify.h"
#include "common/signals.h"
#include "crypto/xts.h"
#include "envold.h"
#include "tls.h"
#include "util/log.h"
#include "util/secure_mem.h"

#define MAX_LISTENERS 16
#define STATUS_PERIOD_MS 1000 /* how often STATUS= may change (and the watchdog is pinged) */
/* Logged at every start with a TCP listener that does not require TLS (allow_plain_tcp). */
#define TCP_WARNING                                                                                \
	"NBD over TCP on %s without TLS: no encryption and no client identity, so anyone who "     \
	"can reach it lists the volumes and none can attach one (require TLS: server.tls, or use " \
	"the Unix socket: server.listen = \"\")"

static bool allow_plain_tcp;

/* A TCP listener serves only with TLS required, or plaintext when the operator allows it. */
static int check_tcp_tls(const char *where)
{
	enum nbd_tls_mode m = tls_mode_for(true);

	if (m != NBD_TLS_OFF && !tls_available())
		return log_error_errno(-EINVAL,
				       "NBD over TCP on %s: server.tls = \"%s\" needs "
				       "server.tls_certificates or server.tls_psk_file",
				       where, m == NBD_TLS_ON ? "on" : "require");
	if (m == NBD_TLS_REQUIRE)
		return 0;
	if (!allow_plain_tcp)
		return log_error_errno(-EPERM,
				       "NBD over TCP on %s without TLS required: set "
				       "server.tls_certificates or server.tls_psk_file, or "
				       "server.allow_plain_tcp = true to serve plaintext",
				       where);
	log_warning(TCP_WARNING, where);
	return 0;
}

static struct daemon_listener listeners[MAX_LISTENERS];
static size_t n_listeners;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: envold [-c FILE] [-r] [-v]\n"
		"Serve every envol volume in server.volume_dir as an NBD export.\n\n"
		"  -c, --config FILE  configuration file (default " ENVOL_CONFIG_DEFAULT_PATH ")\n"
		"  -r, --read-only    export every volume read-only\n"
		"  -v, --verbose      debug logging\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version\n");
}

/* "host:port" or "[v6]:port"; an empty host is every address. */
static int listen_tcp(const char *spec)
{
	_cleanup_free_ char *host = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char err[512] = "";
	const char *port;
	int r = 0, n = 0;

	if (spec[0] == '[') {
		const char *close_br = strchr(spec, ']');

		if (!close_br || close_br[1] != ':')
			return log_error_errno(-EINVAL, "server.listen '%s': want [ADDR]:PORT",
					       spec);
		host = strndup(spec + 1, (size_t)(close_br - spec - 1));
		port = close_br + 2;
	} else {
		const char *colon = strrchr(spec, ':');

		if (!colon)
			return log_error_errno(-EINVAL, "server.listen '%s': want HOST:PORT", spec);
		host = strndup(spec, (size_t)(colon - spec));
		port = colon + 1;
	}
	if (!host)
		return -ENOMEM;
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (r != 0)
		return log_error_errno(-EINVAL, "server.listen '%s': %s", spec, gai_strerror(r));
	r = check_tcp_tls(spec);
	if (r < 0) {
		freeaddrinfo(res);
		return r;
	}
	for (struct addrinfo *ai = res; ai && n_listeners < MAX_LISTENERS; ai = ai->ai_next) {
		struct daemon_listener *l = &listeners[n_listeners];

		*l = DAEMON_LISTENER_INIT;
		/* an address taken by an earlier one of the list (:: after 0.0.0.0) is skipped */
		r = daemon_listen_tcp(l, "server.listen", spec, ai->ai_addr, ai->ai_addrlen, false,
				      err, sizeof err);
		if (r < 0)
			continue;
		n_listeners++;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0)
		return log_error_errno(r < 0 ? r : -EADDRNOTAVAIL, "%s",
				       err[0] ? err : "server.listen: no address to listen on");
	log_info("listening on %s", spec);
	return 0;
}

static int setup_listeners(const struct envol_config *cfg)
{
	char err[512] = "";
	int n, r;

	n = daemon_listen_activated(listeners, MAX_LISTENERS, err, sizeof err);
	if (n < 0) {
		log_error("%s", err);
		return n;
	}
	if (n > 0) {
		n_listeners = (size_t)n;
		for (size_t i = 0; i < n_listeners; i++)
			if (listeners[i].tcp && check_tcp_tls("a socket passed by systemd") < 0)
				return -EPERM;
		log_info("using %d socket(s) from systemd", n);
		return 0;
	}
	listeners[0] = DAEMON_LISTENER_INIT;
	r = daemon_listen_unix(&listeners[0], "server.socket", cfg->server.socket, err, sizeof err);
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	n_listeners = 1;
	log_info("listening on %s", cfg->server.socket);
	if (cfg->server.listen && cfg->server.listen[0])
		return listen_tcp(cfg->server.listen);
	return 0;
}

static void close_listeners(void)
{
	for (size_t i = 0; i < n_listeners; i++)
		daemon_listener_close(&listeners[i]);
	n_listeners = 0;
}

/* STATUS= when the counts change; on the ticker, which pings the watchdog after it. */
struct status {
	unsigned exports, conns;
	bool sent;
};

static void notify_status(void *opaque)
{
	struct status *st = opaque;
	unsigned e = exports_attached_count(), c = conns_count();

	if (st->sent && e == st->exports && c == st->conns)
		return;
	st->exports = e;
	st->conns = c;
	st->sent = true;
	(void)sd_notifyf(0, "STATUS=%u export%s attached, %u connection%s", e, e == 1 ? "" : "s", c,
			 c == 1 ? "" : "s");
}

static void accept_one(const struct daemon_listener *l)
{
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	int r;

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warning_errno(negative_errno(), "accept: %m");
		if (errno == EMFILE || errno == ENFILE)
			usleep(100000);
		return;
	}
	r = conn_start(fd, l->tcp);
	if (r < 0)
		log_error_errno(r, "cannot start a connection thread: %m");
}

/* SIGHUP: the limits of the configuration file apply to new requests and connections. */
static void reload(const char *config_path)
{
	struct envol_config *cfg = NULL;
	char err[1024] = "";
	int r;

	r = envol_config_load(config_path, &cfg, err, sizeof err);
	if (r < 0) {
		log_error("SIGHUP: configuration not reloaded, keeping the old one: %s", err);
		return;
	}
	conns_configure(cfg);
	log_info("SIGHUP: limits reloaded (server.max_connections %d, server.max_inflight_mib %d, "
		 "server.handshake_timeout %d s); other settings take effect at a restart",
		 cfg->server.max_connections, cfg->server.max_inflight_mib,
		 cfg->server.handshake_timeout);
	envol_config_free(cfg);
}

static int serve(int sfd, const char *config_path)
{
	struct pollfd pfd[MAX_LISTENERS + 1];

	for (size_t i = 0; i < n_listeners; i++)
		pfd[i] = (struct pollfd){.fd = listeners[i].fd, .events = POLLIN};
	pfd[n_listeners] = (struct pollfd){.fd = sfd, .events = POLLIN};
	for (;;) {
		int n = poll(pfd, n_listeners + 1, -1);

		if (n < 0 && errno != EINTR)
			return log_error_errno(negative_errno(), "poll: %m");
		if (n <= 0)
			continue;
		if (pfd[n_listeners].revents) {
			struct signalfd_siginfo si;
			char err[1024] = "";

			if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
				continue;
			if (si.ssi_signo == SIGHUP) {
				reload(config_path);
				if (tls_reload(err, sizeof err) < 0)
					log_error("SIGHUP: TLS credentials not reloaded: %s", err);
				else
					log_info("SIGHUP: TLS credentials reloaded");
				continue;
			}
			log_info("signal %u: stopping", si.ssi_signo);
			return 0;
		}
		for (size_t i = 0; i < n_listeners; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(&listeners[i]);
	}
}

static void stop(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=draining requests in flight");
	close_listeners();
	conns_stop_all();
	if (!conns_wait_all(30000)) {
		log_warning("%u connection(s) still busy after 30 s: cutting them", conns_count());
		conns_cut_all();
		(void)conns_wait_all(5000);
	}
	exports_flush_all();
	workers_stop();
	exports_done(); /* closes what is left, wiping the keys */
	tls_done();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"read-only", no_argument, NULL, 'r'},
	    {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {0},
	};
	const char *config_path = NULL;
	struct envol_config *cfg = NULL;
	struct daemon_ticker ticker;
	struct status status = {.sent = false};
	bool read_only = false;
	char err[1024] = "";
	sigset_t mask;
	long threads;
	int c, r, sfd;

	envol_log_set_ident("envold");
	while ((c = getopt_long(argc, argv, "c:rvhV", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'r':
			read_only = true;
			break;
		case 'v':
			envol_log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("envold %s\n", ENVOL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	r = envol_harden_process();
	if (r < 0)
		log_warning_errno(r, "process hardening failed: %m");
	r = envol_config_load(config_path, &cfg, err, sizeof err);
	if (r < 0) {
		log_error("%s", err);
		return 1;
	}
	r = attach_init(cfg, err, sizeof err);
	if (r < 0) {
		log_error("%s", err);
		goto fail;
	}
	r = envol_xts_select(cfg->server.cipher_backend, err, sizeof err);
	(void)envol_log_errno(r < 0 ? LOG_ERR : r > 0 ? LOG_WARNING : LOG_INFO, 0, "%s", err);
	if (r < 0)
		goto fail;

	/* signals are read from a signalfd by the main loop; every thread inherits the mask */
	daemon_signals_block(&mask);
	sigaddset(&mask, SIGHUP); /* reloads the limits and the TLS credentials */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		log_error_errno(negative_errno(), "signalfd: %m");
		goto fail;
	}

	threads = cfg->server.threads > 0 ? cfg->server.threads : sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	/* RBD requests wait on the network, not a core: enough workers to keep them in flight */
	if (cfg->server.threads == 0 && cfg->rbd.enabled && threads < ENVOLD_RBD_MIN_THREADS)
		threads = ENVOLD_RBD_MIN_THREADS;
	allow_plain_tcp = cfg->server.allow_plain_tcp;
	r = tls_init(cfg, err, sizeof err);
	if (r < 0) {
		log_error("NBD TLS: %s", err);
		goto fail;
	}
	exports_init(cfg, read_only);
	conns_configure(cfg);
	r = workers_start((unsigned)threads);
	if (r < 0) {
		log_error_errno(r, "cannot start %ld worker threads: %m", threads);
		goto fail;
	}
	/* the grants a crashed envold left: retired in the background (exports.c) */
	r = exports_retire_stale_start();
	if (r < 0)
		log_warning_errno(r, "cannot start the retirement of stale grants: %m");
	r = setup_listeners(cfg);
	if (r < 0) {
		close_listeners();
		exports_retire_stale_stop();
		workers_stop();
		tls_done();
		goto fail;
	}
	log_info("serving volumes in %s with %ld worker threads%s", cfg->server.volume_dir, threads,
		 read_only ? ", read-only" : "");
	(void)sd_notify(0, "READY=1");
	r = daemon_ticker_start(&ticker, STATUS_PERIOD_MS, notify_status, &status);
	if (r < 0) {
		log_error_errno(r, "cannot start the status thread: %m");
	} else {
		r = serve(sfd, config_path);
		daemon_ticker_stop(&ticker);
	}
	stop();
	exports_retire_stale_stop();
	close(sfd);
	envol_config_free(cfg);
	log_info("stopped");
	return r < 0 ? 1 : 0;
fail:
	(void)sd_notifyf(0, "STATUS=failed: %s", strerror(r < 0 ? -r : EIO));
	envol_config_free(cfg);
	return 1;
}
