/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tls.h — envold's NBD TLS transport (GnuTLS): the server credentials of server.tls_certificates
 * (X.509) and server.tls_psk_file (PSK), the per-listener policy of server.tls, one session per
 * connection after NBD_OPT_STARTTLS, and the client identity of server.tls_identities.
 * connection.c reads and writes through these functions instead of recv()/sendmsg() once the
 * connection has a session.  Session keys are never logged (no key log, SSLKEYLOGFILE ignored).
 */
#ifndef ENVOLD_TLS_H
#define ENVOLD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "nbd/handshake.h"
#include "util/config.h"

struct tls_session;

/* Loads the credentials named by cfg (none: TLS unavailable).  0 or -errno, err filled. */
int tls_init(const struct envol_config *cfg, char *err, size_t errlen);
/* Loads them again (SIGHUP); on failure the old ones stay.  0 or -errno, err filled. */
int tls_reload(char *err, size_t errlen);
void tls_done(void);
/* Whether credentials are loaded. */
bool tls_available(void);
/* server.tls for a listener: as configured; unset, require on TCP (off there when no
 * credentials are loaded) and off on the Unix socket. */
enum nbd_tls_mode tls_mode_for(bool tcp);

/*
 * The server side of the TLS handshake on fd (after NBD_REP_ACK to NBD_OPT_STARTTLS).
 * 0 with *ret set; -EACCES with *ret set when require_identity (a require listener),
 * server.tls_identities is set and the client's identity is not in it (err says why); other
 * -errno on a failed handshake (err says why).
 */
int tls_session_start(int fd, bool require_identity, struct tls_session **ret, char *err,
		      size_t errlen);
void tls_session_free(struct tls_session *s);
/* Reads exactly n bytes: 0, -EPIPE at the end, -errno. */
int tls_read_full(struct tls_session *s, void *buf, size_t n);
/* Reads 1..n bytes: the count, -EPIPE at the end, -errno. */
ssize_t tls_recv(struct tls_session *s, void *buf, size_t n);
/* Writes all of iov: 0 or -errno.  Safe against a concurrent tls_recv() in another thread. */
int tls_sendv(struct tls_session *s, const struct iovec *iov, int n);
/* The client identity as matched ("CN=…", "sha256:…", PSK username), or "" for none. */
const char *tls_session_identity(const struct tls_session *s);
/* The principal server.tls_identities maps it to, or NULL. */
const char *tls_session_principal(const struct tls_session *s);

#endif
