/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listen.c — envol-kmsd's listening sockets: the Unix socket kms.socket (stale file removed,
 * parent directory created 0755, socket mode 0660), the optional TCP listener kms.listen (loopback
 * only until TLS exists), or whatever systemd passed by socket activation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "util/macros.h"
#include "kmsd.h"
#include "util/log.h"

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			return in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		snprintf(out, n, "tcp:%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		snprintf(out, n, "tcp:[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, n, "tcp:?");
	}
}

int kmsd_parse_listen(const char *spec, struct sockaddr_storage *ret, socklen_t *ret_len, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss = {0};
	char host[256];
	const char *port_s;
	char *end;
	unsigned long port;
	socklen_t len;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
			goto bad;
		memcpy(host, spec + 1, (size_t)(close - spec - 1));
		host[close - spec - 1] = '\0';
		port_s = close + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof host || colon == spec)
			goto bad;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (errno || *port_s == '\0' || *end != '\0' || port == 0 || port > 65535)
		goto bad;

	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		len = sizeof *in;
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof *in6;
	} else {
		snprintf(err, errlen,
			 "kms.listen \"%s\": \"%s\" is not an IP address (use 127.0.0.1, ::1 or "
			 "localhost)",
			 spec, host);
		return -EINVAL;
	}
	if (!is_loopback((struct sockaddr *)&ss)) {
		snprintf(
		    err, errlen,
		    "kms.listen \"%s\": %s is not a loopback address; envol-kmsd serves TCP only "
		    "on 127.0.0.0/8 or ::1 until TLS is supported (use the Unix socket "
		    "kms.socket, or a TLS-terminating proxy)",
		    spec, host);
		return -EADDRNOTAVAIL;
	}
	*ret = ss;
	*ret_len = len;
	return 0;
bad:
	snprintf(err, errlen,
		 "kms.listen \"%s\": expected HOST:PORT, e.g. 127.0.0.1:8440 or [::1]:8440", spec);
	return -EINVAL;
}

int kmsd_mkdir_parents(const char *path, mode_t mode)
{
	_cleanup_free_ char *copy = strdup(path);
	char *p;

	if (!copy)
		return -ENOMEM;
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) == 0)
			(void)chmod(copy, mode); /* whatever the umask (UMask=0077 under systemd) */
		else if (errno != EEXIST)
			return negative_errno();
		*p = '/';
	}
	return 0;
}

static int open_unix(struct kmsd_listener *l, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "kms.socket \"%s\": path too long for a Unix socket", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = kmsd_mkdir_parents(path, 0755);
	if (r < 0) {
		snprintf(err, errlen, "kms.socket \"%s\": cannot create its directory: %s", path,
			 strerror(-r));
		return r;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(
			    err, errlen,
			    "kms.socket \"%s\" exists and is not a socket; remove it or choose "
			    "another path",
			    path);
			return -EEXIST;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			r = negative_errno();
			snprintf(err, errlen,
				 "kms.socket \"%s\": cannot remove the stale socket: %m", path);
			return r;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = negative_errno();
		snprintf(err, errlen, "socket(AF_UNIX): %m");
		return r;
	}
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0) {
		r = negative_errno();
		snprintf(err, errlen, "kms.socket \"%s\": bind: %m", path);
		return r;
	}
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = negative_errno();
		snprintf(err, errlen, "kms.socket \"%s\": %m", path);
		(void)unlink(path);
		return r;
	}
	l->unlink_path = strdup(path);
	if (!l->unlink_path) {
		(void)unlink(path);
		return -ENOMEM;
	}
	l->kind = KMSD_LISTENER_UNIX;
	snprintf(l->name, sizeof l->name, "unix:%s", path);
	l->fd = TAKE_FD(fd);
	return 0;
}

static int open_tcp(struct kmsd_listener *l, const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	_cleanup_close_ int fd = -1;
	int one = 1, r;

	r = kmsd_parse_listen(spec, &ss, &len, err, errlen);
	if (r < 0)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = negative_errno();
		snprintf(err, errlen, "kms.listen \"%s\": socket: %m", spec);
		return r;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = negative_errno();
		snprintf(err, errlen, "kms.listen \"%s\": %m", spec);
		return r;
	}
	l->kind = KMSD_LISTENER_TCP;
	format_addr((struct sockaddr *)&ss, l->name, sizeof l->name);
	l->fd = TAKE_FD(fd);
	return 0;
}

/* Takes the sockets systemd passed; returns how many, or -errno. */
static int take_activated(struct kmsd *k, bool *have_unix, bool *have_tcp, char *err, size_t errlen)
{
	int n = sd_listen_fds(1);

	if (n <= 0)
		return n < 0 ? n : 0;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct kmsd_listener *l;
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;

		if (k->n_listeners == ARRAY_SIZE(k->listeners)) {
			snprintf(err, errlen, "too many sockets passed by systemd (at most %zu)",
				 ARRAY_SIZE(k->listeners));
			return -E2BIG;
		}
		l = &k->listeners[k->n_listeners];
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
			char path[108] = "";
			struct sockaddr_un *un = (struct sockaddr_un *)&ss;

			if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
			    len > offsetof(struct sockaddr_un, sun_path))
				snprintf(path, sizeof path, "%.*s",
					 (int)(len - offsetof(struct sockaddr_un, sun_path)),
					 un->sun_path);
			l->kind = KMSD_LISTENER_UNIX;
			snprintf(l->name, sizeof l->name, "unix:%s",
				 path[0] ? path : "(activated)");
			*have_unix = true;
		} else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0) {
			if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
			    !is_loopback((struct sockaddr *)&ss)) {
				snprintf(
				    err, errlen,
				    "systemd passed a TCP socket that is not bound to a loopback "
				    "address; envol-kmsd serves TCP only on 127.0.0.0/8 or ::1 "
				    "until TLS is supported");
				return -EADDRNOTAVAIL;
			}
			l->kind = KMSD_LISTENER_TCP;
			format_addr((struct sockaddr *)&ss, l->name, sizeof l->name);
			*have_tcp = true;
		} else {
			snprintf(err, errlen,
				 "systemd passed fd %d, which is not a listening stream socket",
				 fd);
			return -EBADF;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		l->fd = fd;
		l->activated = true;
		l->kmsd = k;
		k->n_listeners++;
	}
	return n;
}

int kmsd_listeners_open(struct kmsd *k, char *err, size_t errlen)
{
	const struct envol_config *cfg = k->cfg;
	bool have_unix = false, have_tcp = false;
	int r;

	r = take_activated(k, &have_unix, &have_tcp, err, errlen);
	if (r < 0)
		goto fail;
	if (!have_unix && cfg->kms.socket && cfg->kms.socket[0]) {
		struct kmsd_listener *l = &k->listeners[k->n_listeners];

		r = open_unix(l, cfg->kms.socket, err, errlen);
		if (r < 0)
			goto fail;
		l->kmsd = k;
		k->n_listeners++;
	}
	if (!have_tcp && cfg->kms.listen && cfg->kms.listen[0]) {
		struct kmsd_listener *l = &k->listeners[k->n_listeners];

		if (k->n_listeners == ARRAY_SIZE(k->listeners)) {
			snprintf(err, errlen, "too many listeners");
			r = -E2BIG;
			goto fail;
		}
		r = open_tcp(l, cfg->kms.listen, err, errlen);
		if (r < 0)
			goto fail;
		l->kmsd = k;
		k->n_listeners++;
	}
	if (k->n_listeners == 0) {
		snprintf(err, errlen, "nothing to listen on: kms.socket and kms.listen are empty");
		return -EINVAL;
	}
	return 0;
fail:
	kmsd_listeners_close(k);
	return r;
}

void kmsd_listeners_close(struct kmsd *k)
{
	for (size_t i = 0; i < k->n_listeners; i++) {
		struct kmsd_listener *l = &k->listeners[i];

		if (l->fd >= 0)
			(void)close(l->fd);
		l->fd = -1;
		if (l->unlink_path) {
			(void)unlink(l->unlink_path);
			free(l->unlink_path);
			l->unlink_path = NULL;
		}
	}
	k->n_listeners = 0;
}
