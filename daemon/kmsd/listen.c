/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listen.c — envol-kmsd's listening sockets: the Unix socket kms.socket, the optional TCP
 * listener kms.listen, or whatever systemd passed by socket activation.  The sockets themselves
 * are made by daemon/common/listen.c (stale-socket check, modes); what is kmsd's here is the
 * policy: which ones, and TCP (on any address) only with HTTPS (kms.tls_certificates) or with
 * kms.allow_plain_http, warned at every start, as envold's rule for server.listen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "kmsd.h"
#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"

/*
 * A TCP listener (where: the setting or the socket, for messages) speaks HTTPS, or plain HTTP
 * when kms.allow_plain_http says so (logged as a warning, a stronger one off loopback).
 * Checked before anything is bound.  Returns 0 or -EPERM with err set.
 */
static int check_tcp(const struct envol_config *cfg, const char *where, const struct sockaddr *sa,
		     char *err, size_t errlen)
{
	if (cfg->kms.tls_certificates && cfg->kms.tls_certificates[0])
		return 0;
	if (!cfg->kms.allow_plain_http)
		return envol_fail(-EPERM, err, errlen,
				  "%s: a TCP listener without TLS: set kms.tls_certificates, or "
				  "kms.allow_plain_http = true",
				  where);
	if (daemon_address_is_loopback(sa))
		log_warning("%s: plain HTTP over TCP (kms.allow_plain_http = true): requests and "
			    "answers travel unencrypted",
			    where);
	else
		log_warning("%s: plain HTTP over TCP beyond loopback (kms.allow_plain_http = true): "
			    "anyone on the network path reads the data keys in the answers "
			    "(set kms.tls_certificates)",
			    where);
	return 0;
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
		return envol_fail(-EINVAL, err, errlen,
				  "kms.listen \"%s\": \"%s\" is not an IP address (e.g. 0.0.0.0, "
				  "192.0.2.10, 127.0.0.1, ::, ::1 or localhost)",
				  spec, host);
	}
	*ret = ss;
	*ret_len = len;
	return 0;
bad:
	return envol_fail(-EINVAL, err, errlen,
			  "kms.listen \"%s\": expected HOST:PORT, e.g. 127.0.0.1:8440 or "
			  "[::1]:8440",
			  spec);
}

/* Takes the sockets systemd passed; returns how many, or -errno. */
static int take_activated(struct kmsd *k, bool *have_unix, bool *have_tcp, char *err,
			  size_t errlen)
{
	struct daemon_listener socks[ARRAY_SIZE(k->listeners)];
	int n = daemon_listen_activated(socks, ARRAY_SIZE(socks), err, errlen);

	for (int i = 0; i < n; i++)
		k->listeners[k->n_listeners++] =
		    (struct kmsd_listener){.sock = socks[i], .kmsd = k};
	for (int i = 0; i < n; i++) {
		const struct daemon_listener *l = &socks[i];

		if (l->tcp) {
			int r = check_tcp(k->cfg, l->name, (const struct sockaddr *)&l->addr, err,
					  errlen);
			if (r < 0)
				return r;
			*have_tcp = true;
		} else {
			*have_unix = true;
		}
	}
	return n;
}

static int open_tcp(struct kmsd_listener *l, const struct envol_config *cfg, const char *spec,
		    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	char where[300];
	socklen_t len;
	int r;

	r = kmsd_parse_listen(spec, &ss, &len, err, errlen);
	if (r < 0)
		return r;
	snprintf(where, sizeof where, "kms.listen \"%s\"", spec);
	r = check_tcp(cfg, where, (struct sockaddr *)&ss, err, errlen);
	if (r < 0)
		return r;
	return daemon_listen_tcp(&l->sock, "kms.listen", spec, (struct sockaddr *)&ss, len, true,
				 err, errlen);
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

		if (k->n_listeners == ARRAY_SIZE(k->listeners)) {
			r = envol_fail(-E2BIG, err, errlen, "too many listeners");
			goto fail;
		}
		*l = (struct kmsd_listener){.sock = DAEMON_LISTENER_INIT, .kmsd = k};
		r = daemon_listen_unix(&l->sock, "kms.socket", cfg->kms.socket, err, errlen);
		if (r < 0)
			goto fail;
		k->n_listeners++;
	}
	if (!have_tcp && cfg->kms.listen && cfg->kms.listen[0]) {
		struct kmsd_listener *l = &k->listeners[k->n_listeners];

		if (k->n_listeners == ARRAY_SIZE(k->listeners)) {
			r = envol_fail(-E2BIG, err, errlen, "too many listeners");
			goto fail;
		}
		*l = (struct kmsd_listener){.sock = DAEMON_LISTENER_INIT, .kmsd = k};
		r = open_tcp(l, cfg, cfg->kms.listen, err, errlen);
		if (r < 0)
			goto fail;
		k->n_listeners++;
	}
	if (k->n_listeners == 0)
		return envol_fail(-EINVAL, err, errlen,
				  "nothing to listen on: kms.socket and kms.listen are empty");
	return 0;
fail:
	kmsd_listeners_close(k);
	return r;
}

void kmsd_listeners_close(struct kmsd *k)
{
	for (size_t i = 0; i < k->n_listeners; i++)
		daemon_listener_close(&k->listeners[i].sock);
	k->n_listeners = 0;
}
