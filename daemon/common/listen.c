/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* listen.c — listening sockets shared by envol-kmsd and envold (listen.h). */
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

#include "common/listen.h"
#include "util/error.h"
#include "util/macros.h"

bool daemon_address_is_loopback(const struct sockaddr *sa)
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

void daemon_address_format(const struct sockaddr *sa, char *out, size_t n)
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

int daemon_mkdir_parents(const char *path, mode_t mode)
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

int daemon_listen_unix(struct daemon_listener *l, const char *setting, const char *path, char *err,
		       size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	struct stat st;
	mode_t old;
	int r;

	if (strlen(path) >= sizeof sa.sun_path)
		return envol_fail(-ENAMETOOLONG, err, errlen,
				  "%s \"%s\": path too long for a Unix socket", setting, path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = daemon_mkdir_parents(path, 0755);
	if (r < 0)
		return envol_fail(r, err, errlen, "%s \"%s\": cannot create its directory: %s",
				  setting, path, strerror(-r));
	/* A socket left by a daemon that died is replaced; anything else is not ours to remove. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return envol_fail(-EEXIST, err, errlen,
					  "%s \"%s\" exists and is not a socket; remove it or "
					  "choose another path",
					  setting, path);
		if (unlink(path) < 0 && errno != ENOENT) {
			r = negative_errno();
			return envol_fail(r, err, errlen,
					  "%s \"%s\": cannot remove the stale socket: %m", setting,
					  path);
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "socket(AF_UNIX): %m");
	}
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "%s \"%s\": bind: %m", setting, path);
	}
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "%s \"%s\": %m", setting, path);
		(void)unlink(path);
		return r;
	}
	l->unlink_path = strdup(path);
	if (!l->unlink_path) {
		(void)unlink(path);
		return envol_fail(-ENOMEM, err, errlen, "out of memory");
	}
	l->tcp = false;
	l->activated = false;
	snprintf(l->name, sizeof l->name, "unix:%s", path);
	l->fd = TAKE_FD(fd);
	return 0;
}

int daemon_listen_tcp(struct daemon_listener *l, const char *setting, const char *spec,
		      const struct sockaddr *sa, socklen_t len, bool v6only, char *err,
		      size_t errlen)
{
	_cleanup_close_ int fd = -1;
	int one = 1, r;

	if (len > sizeof l->addr)
		return envol_fail(-EINVAL, err, errlen, "%s \"%s\": address too long", setting,
				  spec);
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "%s \"%s\": socket: %m", setting, spec);
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (sa->sa_family == AF_INET6 && v6only)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "%s \"%s\": %m", setting, spec);
	}
	memset(&l->addr, 0, sizeof l->addr);
	memcpy(&l->addr, sa, len);
	l->tcp = true;
	l->activated = false;
	l->unlink_path = NULL;
	daemon_address_format(sa, l->name, sizeof l->name);
	l->fd = TAKE_FD(fd);
	return 0;
}

int daemon_listen_activated(struct daemon_listener *ls, size_t max, char *err, size_t errlen)
{
	int n = sd_listen_fds(1);

	if (n < 0)
		return envol_fail(n, err, errlen, "sd_listen_fds: %s", strerror(-n));
	if ((size_t)n > max)
		return envol_fail(-E2BIG, err, errlen,
				  "too many sockets passed by systemd (%d, at most %zu)", n, max);
	for (int i = 0; i < n; i++)
		ls[i] = DAEMON_LISTENER_INIT;
	for (int i = 0; i < n; i++) {
		struct daemon_listener *l = &ls[i];
		int fd = SD_LISTEN_FDS_START + i;
		struct sockaddr_storage ss = {0};
		socklen_t len = sizeof ss;

		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0) {
			struct sockaddr_un *un = (struct sockaddr_un *)&ss;
			char path[sizeof un->sun_path + 1] = "";

			if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
			    len > offsetof(struct sockaddr_un, sun_path))
				snprintf(path, sizeof path, "%.*s",
					 (int)(len - offsetof(struct sockaddr_un, sun_path)),
					 un->sun_path);
			snprintf(l->name, sizeof l->name, "unix:%s",
				 path[0] ? path : "(activated)");
		} else if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0) {
			if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
				ss.ss_family = AF_UNSPEC;
			l->tcp = true;
			l->addr = ss;
			daemon_address_format((struct sockaddr *)&ss, l->name, sizeof l->name);
		} else {
			for (int j = 0; j < i; j++)
				daemon_listener_close(&ls[j]);
			return envol_fail(-EBADF, err, errlen,
					  "systemd passed fd %d, which is not a listening stream "
					  "socket",
					  fd);
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		l->fd = fd;
		l->activated = true;
	}
	return n;
}

void daemon_listener_close(struct daemon_listener *l)
{
	if (l->fd >= 0)
		(void)close(l->fd);
	l->fd = -1;
	if (l->unlink_path) {
		(void)unlink(l->unlink_path);
		free(l->unlink_path);
		l->unlink_path = NULL;
	}
}
