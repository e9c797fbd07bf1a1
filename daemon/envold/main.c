/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c — envold: options, configuration, listeners (Unix socket server.socket, TCP
 * server.listen, or sockets passed by systemd), the accept loop, sd_notify (READY, STATUS,
 * WATCHDOG, STOPPING) and the orderly stop on SIGTERM/SIGINT: stop accepting, drain the
 * requests in flight, flush every attached volume, close them (wiping the keys), exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "crypto/xts.h"
#include "envold.h"
#include "util/log.h"
#include "util/secure_mem.h"

#define MAX_LISTENERS 16

struct listener {
	int fd;
	bool tcp;
};

static struct listener listeners[MAX_LISTENERS];
static size_t n_listeners;
static char *unix_path; /* the socket file we created (removed at exit) */

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

static int add_listener(int fd, bool tcp)
{
	if (n_listeners >= MAX_LISTENERS) {
		close(fd);
		return log_error_errno(-EMFILE, "too many listening sockets");
	}
	listeners[n_listeners++] = (struct listener){.fd = fd, .tcp = tcp};
	return 0;
}

static int mkdir_parent(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof sa.sun_path)
		return log_error_errno(-ENAMETOOLONG, "server.socket %s: path too long", path);
	strcpy(sa.sun_path, path);
	(void)mkdir_parent(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(negative_errno(), "socket: %m");
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return log_error_errno(negative_errno(), "bind %s: %m", path);
	if (chmod(path, 0660) < 0)
		return log_error_errno(negative_errno(), "chmod %s: %m", path);
	if (listen(fd, 128) < 0)
		return log_error_errno(negative_errno(), "listen %s: %m", path);
	unix_path = strdup(path);
	r = add_listener(TAKE_FD(fd), false);
	if (r >= 0)
		log_info("listening on %s", path);
	return r;
}

/* "host:port" or "[v6]:port". */
static int listen_tcp(const char *spec)
{
	_cleanup_free_ char *host = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	const char *port;
	int r, n = 0;

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
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		int one = 1;

		if (fd < 0)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
			r = negative_errno();
			close(fd);
			continue;
		}
		if (add_listener(fd, true) == 0)
			n++;
	}
	freeaddrinfo(res);
	if (n == 0)
		return log_error_errno(r < 0 ? r : -EADDRNOTAVAIL, "server.listen '%s': %m", spec);
	log_info("listening on %s", spec);
	return 0;
}

static int setup_listeners(const struct envol_config *cfg)
{
	int n = sd_listen_fds(1), r;

	if (n < 0)
		return log_error_errno(n, "sd_listen_fds: %m");
	if (n > 0) {
		for (int i = 0; i < n; i++) {
			int fd = SD_LISTEN_FDS_START + i;
			bool tcp = sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) > 0;

			if (!tcp && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0)
				return log_error_errno(-EINVAL,
						       "passed fd %d is not a listening "
						       "stream socket",
						       fd);
			r = add_listener(fd, tcp);
			if (r < 0)
				return r;
		}
		log_info("using %d socket(s) from systemd", n);
		return 0;
	}
	r = listen_unix(cfg->server.socket);
	if (r < 0)
		return r;
	if (cfg->server.listen && cfg->server.listen[0])
		return listen_tcp(cfg->server.listen);
	return 0;
}

static void notify_status(unsigned *last_exports, unsigned *last_conns, bool force)
{
	unsigned e = exports_attached_count(), c = conns_count();

	if (!force && e == *last_exports && c == *last_conns)
		return;
	*last_exports = e;
	*last_conns = c;
	(void)sd_notifyf(0, "STATUS=%u export%s attached, %u connection%s", e, e == 1 ? "" : "s", c,
			 c == 1 ? "" : "s");
}

static void accept_one(const struct listener *l)
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

static int serve(int sfd)
{
	struct pollfd pfd[MAX_LISTENERS + 1];
	uint64_t wd_usec = 0;
	unsigned last_e = 0, last_c = 0;
	int timeout = 1000;

	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		uint64_t half = wd_usec / 2000;

		timeout = half < 1000 ? (int)(half ? half : 1) : 1000;
	}
	for (size_t i = 0; i < n_listeners; i++)
		pfd[i] = (struct pollfd){.fd = listeners[i].fd, .events = POLLIN};
	pfd[n_listeners] = (struct pollfd){.fd = sfd, .events = POLLIN};
	(void)sd_notify(0, "READY=1");
	notify_status(&last_e, &last_c, true);
	for (;;) {
		int n = poll(pfd, n_listeners + 1, timeout);

		if (n < 0 && errno != EINTR)
			return log_error_errno(negative_errno(), "poll: %m");
		if (wd_usec)
			(void)sd_notify(0, "WATCHDOG=1");
		if (n > 0) {
			if (pfd[n_listeners].revents) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
					log_info("signal %u: stopping", si.ssi_signo);
				return 0;
			}
			for (size_t i = 0; i < n_listeners; i++)
				if (pfd[i].revents & POLLIN)
					accept_one(&listeners[i]);
		}
		notify_status(&last_e, &last_c, false);
	}
}

static void stop(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=draining requests in flight");
	for (size_t i = 0; i < n_listeners; i++)
		close(listeners[i].fd);
	n_listeners = 0;
	if (unix_path) {
		(void)unlink(unix_path);
		free(unix_path);
		unix_path = NULL;
	}
	conns_stop_all();
	if (!conns_wait_all(30000)) {
		log_warning("%u connection(s) still busy after 30 s: cutting them", conns_count());
		conns_stop_all();
		(void)conns_wait_all(5000);
	}
	exports_flush_all();
	workers_stop();
	exports_done(); /* closes what is left, wiping the keys */
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
	r = envol_xts_select(cfg->server.cipher_backend, err, sizeof err);
	(void)envol_log_errno(r < 0 ? LOG_ERR : r > 0 ? LOG_WARNING : LOG_INFO, 0, "%s", err);
	if (r < 0)
		goto fail;

	/* signals are read from a signalfd by the main loop; every thread inherits the mask */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		log_error_errno(negative_errno(), "signalfd: %m");
		goto fail;
	}

	threads = cfg->server.threads > 0 ? cfg->server.threads : sysconf(_SC_NPROCESSORS_ONLN);
	if (threads < 1)
		threads = 1;
	exports_init(cfg, read_only);
	r = workers_start((unsigned)threads);
	if (r < 0) {
		log_error_errno(r, "cannot start %ld worker threads: %m", threads);
		goto fail;
	}
	r = setup_listeners(cfg);
	if (r < 0) {
		workers_stop();
		goto fail;
	}
	log_info("serving volumes in %s with %ld worker threads%s", cfg->server.volume_dir, threads,
		 read_only ? ", read-only" : "");
	r = serve(sfd);
	stop();
	close(sfd);
	envol_config_free(cfg);
	log_info("stopped");
	return r < 0 ? 1 : 0;
fail:
	(void)sd_notifyf(0, "STATUS=failed: %s", strerror(r < 0 ? -r : EIO));
	envol_config_free(cfg);
	return 1;
}
