/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * listen.c — envol-kmsd's listening sockets: the Unix socket kms.socket, the optional TCP
 * listener kms.listen (loopback only until TLS exists), or whatever systemd passed by socket
 * activation.  The sockets themselves are made by daemon/common/listen.c (stale-socket check,
 * modes); what is kmsd's here is the policy: which ones, and TCP on loopback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "kmsd.h"
#include "util/error.h"
#include "util/macros.h"

#define LOOPBACK_ONLY "envol-kmsd serves TCP only on 127.0.0.0/8 or ::1 until TLS is supported"

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
				  "kms.listen \"%s\": \"%s\" is not an IP address (use 127.0.0.1, "
				  "::1 or localhost)",
				  spec, host);
	}
	if (!daemon_address_is_loopback((struct sockaddr *)&ss))
		return envol_fail(-EADDRNOTAVAIL, err, errlen,
				  "kms.listen \"%s\": %s is not a loopback address; " LOOPBACK_ONLY
				  " (use the Unix socket kms.socket, or a TLS-terminating proxy)",
				  spec, host);
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
static int take_activated(struct kmsd *k, bool *have_unix, bool *have_tcp, char *err, size_t errlen)
{
	struct daemon_listener socks[ARRAY_SIZE(k->listeners)];
	int n = daemon_listen_activated(socks, ARRAY_SIZE(socks), err, errlen);

	for (int i = 0; i < n; i++)
		k->listeners[k->n_listeners++] =
		    (struct kmsd_listener){.sock = socks[i], .kmsd = k};
	for (int i = 0; i < n; i++) {
		const struct daemon_listener *l = &socks[i];

		if (l->tcp && !daemon_address_is_loopback((const struct sockaddr *)&l->addr))
			return envol_fail(-EADDRNOTAVAIL, err, errlen,
					  "systemd passed a TCP socket that is not bound to a "
					  "loopback address; " LOOPBACK_ONLY);
		if (l->tcp)
			*have_tcp = true;
		else
			*have_unix = true;
	}
	return n;
}

static int open_tcp(struct kmsd_listener *l, const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int r;

	r = kmsd_parse_listen(spec, &ss, &len, err, errlen);
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
		r = open_tcp(l, cfg->kms.listen, err, errlen);
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
