/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listen.h — the listening sockets of envol-kmsd and envold: a Unix socket made at a path
 * (missing directories created 0755, a stale socket replaced, anything that is not a socket
 * refused and left alone, mode 0660), a TCP socket bound to an address, and the sockets
 * systemd passes (socket activation, sd_listen_fds).  Every listening fd is O_NONBLOCK and
 * O_CLOEXEC.  Functions return 0 (or a count) or a negative errno with a message in err.
 */
#ifndef ENVOL_DAEMON_LISTEN_H
#define ENVOL_DAEMON_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct daemon_listener {
	int fd;		   /* -1 when closed */
	bool tcp;	   /* AF_INET or AF_INET6; else AF_UNIX */
	bool activated;	   /* passed by systemd */
	char *unlink_path; /* the Unix socket file we made: removed by daemon_listener_close */
	struct sockaddr_storage addr; /* bound address (tcp only) */
	char name[160];		      /* "unix:/run/envol/kms.sock" or "tcp:127.0.0.1:8440" */
};

#define DAEMON_LISTENER_INIT ((struct daemon_listener){.fd = -1})

/*
 * Listens on a Unix socket at path.  setting names the configuration setting for messages
 * ("kms.socket").  -EEXIST when something other than a socket is at path (left intact).
 */
int daemon_listen_unix(struct daemon_listener *l, const char *setting, const char *path, char *err,
		       size_t errlen);

/* Listens on TCP at sa; v6only sets IPV6_V6ONLY on an AF_INET6 socket.  spec is for messages. */
int daemon_listen_tcp(struct daemon_listener *l, const char *setting, const char *spec,
		      const struct sockaddr *sa, socklen_t len, bool v6only, char *err,
		      size_t errlen);

/*
 * Takes the listening stream sockets systemd passed (sd_listen_fds) into ls[0..max).
 * Returns how many (0 when not socket-activated), -E2BIG when more than max were passed,
 * -EBADF when one is not a listening stream socket (Unix or TCP; the ones taken before it are
 * closed again).
 */
int daemon_listen_activated(struct daemon_listener *ls, size_t max, char *err, size_t errlen);

/* Closes the socket and removes the socket file we made; the listener may be reused. */
void daemon_listener_close(struct daemon_listener *l);

/* Creates the missing directories above the file path with mode (not the umask's). */
int daemon_mkdir_parents(const char *path, mode_t mode);

bool daemon_address_is_loopback(const struct sockaddr *sa);
/* "tcp:127.0.0.1:8440", "tcp:[::1]:8440" */
void daemon_address_format(const struct sockaddr *sa, char *out, size_t n);

#endif
