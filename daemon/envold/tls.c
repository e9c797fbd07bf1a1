/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tls.c — NBD over TLS for envold with GnuTLS (tls.h).  The credentials (X.509 from
 * server.tls_certificates, PSK from server.tls_psk_file, the priority string) live in one
 * reference-counted set: a session keeps the set it started with, tls_reload() swaps in a new
 * one for later sessions.  TLS 1.3 is preferred, 1.2 accepted, nothing older.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tls.h"
#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"

#define TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
#define TLS_PRIORITY_PSK TLS_PRIORITY ":+ECDHE-PSK:+DHE-PSK:+PSK"
#define CORK_MAX (UINT32_C(256) << 10) /* replies up to this size go out in as few records */

struct creds {
	unsigned refs; /* under creds_lock */
	gnutls_certificate_credentials_t x509;
	gnutls_psk_server_credentials_t psk;
	gnutls_priority_t prio;
};

struct tls_session {
	gnutls_session_t gs;
	struct creds *creds;
	int fd;
	char identity[1024];
	const char *principal;
};

static pthread_mutex_t creds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct creds *current;
static const struct envol_config *config;

static void creds_put(struct creds *c)
{
	bool last;

	if (!c)
		return;
	pthread_mutex_lock(&creds_lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&creds_lock);
	if (!last)
		return;
	if (c->prio)
		gnutls_priority_deinit(c->prio);
	if (c->x509)
		gnutls_certificate_free_credentials(c->x509);
	if (c->psk)
		gnutls_psk_free_server_credentials(c->psk);
	free(c);
}

static struct creds *creds_get(void)
{
	struct creds *c;

	pthread_mutex_lock(&creds_lock);
	c = current;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&creds_lock);
	return c;
}

static int load_x509(struct creds *c, const char *dir, bool verify, char *err, size_t errlen)
{
	char ca[4096], crl[4096], cert[4096], key[4096];
	int r;

	snprintf(ca, sizeof ca, "%s/ca-cert.pem", dir);
	snprintf(crl, sizeof crl, "%s/ca-crl.pem", dir);
	snprintf(cert, sizeof cert, "%s/server-cert.pem", dir);
	snprintf(key, sizeof key, "%s/server-key.pem", dir);
	r = gnutls_certificate_allocate_credentials(&c->x509);
	if (r < 0)
		return envol_fail(-ENOMEM, err, errlen, "gnutls: %s", gnutls_strerror(r));
	if (access(ca, F_OK) == 0) {
		r = gnutls_certificate_set_x509_trust_file(c->x509, ca, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			return envol_fail(-EINVAL, err, errlen, "%s: %s", ca, gnutls_strerror(r));
	} else if (verify) {
		return envol_fail(-ENOENT, err, errlen,
				"%s: missing (server.tls_verify_peer needs the CA)", ca);
	}
	if (access(crl, F_OK) == 0) {
		r = gnutls_certificate_set_x509_crl_file(c->x509, crl, GNUTLS_X509_FMT_PEM);
		if (r < 0)
			return envol_fail(-EINVAL, err, errlen, "%s: %s", crl, gnutls_strerror(r));
	}
	r = gnutls_certificate_set_x509_key_file(c->x509, cert, key, GNUTLS_X509_FMT_PEM);
	if (r < 0)
		return envol_fail(-EINVAL, err, errlen, "%s, %s: %s", cert, key, gnutls_strerror(r));
	(void)gnutls_certificate_set_known_dh_params(c->x509, GNUTLS_SEC_PARAM_MEDIUM);
	return 0;
}

static int load_psk(struct creds *c, const char *file, char *err, size_t errlen)
{
	int r;

	if (access(file, R_OK) < 0)
		return envol_fail(negative_errno(), err, errlen, "%s: %s", file, strerror(errno));
	r = gnutls_psk_allocate_server_credentials(&c->psk);
	if (r < 0)
		return envol_fail(-ENOMEM, err, errlen, "gnutls: %s", gnutls_strerror(r));
	/* GnuTLS reads the file at each handshake: new users need no reload */
	r = gnutls_psk_set_server_credentials_file(c->psk, file);
	if (r < 0)
		return envol_fail(-EINVAL, err, errlen, "%s: %s", file, gnutls_strerror(r));
	(void)gnutls_psk_set_server_known_dh_params(c->psk, GNUTLS_SEC_PARAM_MEDIUM);
	return 0;
}

/* A new credential set from the configuration, or NULL in *ret when none is configured. */
static int creds_load(struct creds **ret, char *err, size_t errlen)
{
	const char *dir = config->server.tls_certificates, *psk = config->server.tls_psk_file;
	struct creds *c;
	int r;

	*ret = NULL;
	if (!dir[0] && !psk[0])
		return 0;
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->refs = 1;
	r = dir[0] ? load_x509(c, dir, config->server.tls_verify_peer, err, errlen) : 0;
	if (r >= 0 && psk[0])
		r = load_psk(c, psk, err, errlen);
	if (r >= 0) {
		r = gnutls_priority_init(&c->prio, psk[0] ? TLS_PRIORITY_PSK : TLS_PRIORITY, NULL);
		if (r < 0)
			r = envol_fail(-EINVAL, err, errlen, "gnutls priority: %s",
				     gnutls_strerror(r));
	}
	if (r < 0) {
		creds_put(c);
		return r;
	}
	*ret = c;
	return 0;
}

int tls_init(const struct envol_config *cfg, char *err, size_t errlen)
{
	struct creds *c;
	int r;

	config = cfg;
	if (cfg->server.tls_verify_peer && !cfg->server.tls_certificates[0])
		return envol_fail(-EINVAL, err, errlen,
				"server.tls_verify_peer needs server.tls_certificates");
	r = creds_load(&c, err, errlen);
	if (r < 0)
		return r;
	pthread_mutex_lock(&creds_lock);
	current = c;
	pthread_mutex_unlock(&creds_lock);
	if (c && strcmp(cfg->server.tls, "off") != 0)
		log_info("NBD TLS:%s%s%s%s", cfg->server.tls_certificates[0] ? " X.509 from " : "",
			 cfg->server.tls_certificates,
			 cfg->server.tls_psk_file[0] ? " PSK from " : "", cfg->server.tls_psk_file);
	return 0;
}

int tls_reload(char *err, size_t errlen)
{
	struct creds *c, *old;
	int r;

	if (!config)
		return 0;
	r = creds_load(&c, err, errlen);
	if (r < 0)
		return r;
	pthread_mutex_lock(&creds_lock);
	old = current;
	current = c;
	pthread_mutex_unlock(&creds_lock);
	creds_put(old);
	return 0;
}

void tls_done(void)
{
	struct creds *old;

	pthread_mutex_lock(&creds_lock);
	old = current;
	current = NULL;
	pthread_mutex_unlock(&creds_lock);
	creds_put(old);
	config = NULL;
}

bool tls_available(void)
{
	bool r;

	pthread_mutex_lock(&creds_lock);
	r = current != NULL;
	pthread_mutex_unlock(&creds_lock);
	return r;
}

enum nbd_tls_mode tls_mode_for(bool tcp)
{
	const char *m = config ? config->server.tls : "";

	if (strcmp(m, "require") == 0)
		return NBD_TLS_REQUIRE;
	if (strcmp(m, "on") == 0)
		return NBD_TLS_ON;
	if (strcmp(m, "off") == 0)
		return NBD_TLS_OFF;
	/* unset: require on TCP when there are credentials (without them main.c refuses to
	 * listen on TCP unless server.allow_plain_tcp), off on the Unix socket */
	return tcp && tls_available() ? NBD_TLS_REQUIRE : NBD_TLS_OFF;
}

/* Session secrets go nowhere: this replaces GnuTLS's SSLKEYLOGFILE writer. */
static int no_keylog(gnutls_session_t session, const char *label, const gnutls_datum_t *secret)
{
	return 0;
}

static bool hex_equal(const char *a, const char *b)
{
	/* "ab:cd" and "ABCD" are the same fingerprint */
	for (;;) {
		while (*a == ':')
			a++;
		while (*b == ':')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if ((*a | 0x20) != (*b | 0x20))
			return false;
		a++;
		b++;
	}
}

/* The verified client certificate's subject and fingerprint (X.509), or the PSK username. */
static void find_identity(struct tls_session *s, char *fpr, size_t fprlen, bool *is_psk)
{
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt;
	gnutls_datum_t dn = {0};
	unsigned n = 0;
	uint8_t md[32];
	size_t mdlen = sizeof md;

	fpr[0] = 0;
	*is_psk = false;
	if (gnutls_auth_get_type(s->gs) == GNUTLS_CRD_PSK) {
		const char *u = gnutls_psk_server_get_username(s->gs);

		snprintf(s->identity, sizeof s->identity, "%s", u ? u : "");
		*is_psk = true;
		return;
	}
	if (!config->server.tls_verify_peer)
		return; /* an unverified certificate is no identity */
	peers = gnutls_certificate_get_peers(s->gs, &n);
	if (!peers || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0) {
		if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
			snprintf(s->identity, sizeof s->identity, "%.*s", (int)dn.size,
				 (const char *)dn.data);
			gnutls_free(dn.data);
		}
		if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, md, &mdlen) >= 0) {
			for (size_t i = 0; i < mdlen && 2 * i + 2 < fprlen; i++)
				snprintf(fpr + 2 * i, 3, "%02x", md[i]);
		}
	}
	gnutls_x509_crt_deinit(crt);
}

static void map_identity(struct tls_session *s)
{
	char fpr[65];
	bool is_psk;

	find_identity(s, fpr, sizeof fpr, &is_psk);
	for (size_t i = 0; i < config->server.n_tls_identities; i++) {
		const struct envol_tls_identity *id = &config->server.tls_identities[i];
		bool hit;

		if (strncasecmp(id->match, "sha256:", 7) == 0)
			hit = fpr[0] && hex_equal(id->match + 7, fpr);
		else if (strchr(id->match, '='))
			hit = !is_psk && s->identity[0] && strcmp(id->match, s->identity) == 0;
		else
			hit = is_psk && strcmp(id->match, s->identity) == 0;
		if (hit) {
			s->principal = id->principal;
			return;
		}
	}
}

static int handshake_error(struct tls_session *s, int r, char *err, size_t errlen)
{
	gnutls_datum_t out = {0};
	unsigned status;

	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		status = gnutls_session_get_verify_cert_status(s->gs);
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) >=
		    0) {
			envol_set_error(err, errlen, "client certificate: %.*s", (int)out.size,
				 (const char *)out.data);
			gnutls_free(out.data);
			return -EKEYREJECTED;
		}
	}
	envol_set_error(err, errlen, "TLS handshake: %s", gnutls_strerror(r));
	if (r == GNUTLS_E_AGAIN)
		return -EAGAIN;
	if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR)
		return -EPIPE;
	return -EPROTO;
}

int tls_session_start(int fd, bool require_identity, struct tls_session **ret, char *err,
		      size_t errlen)
{
	struct tls_session *s;
	int r;

	*ret = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->creds = creds_get();
	if (!s->creds) {
		free(s);
		return envol_fail(-ENOKEY, err, errlen, "no TLS credentials");
	}
	r = gnutls_init(&s->gs, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
	if (r < 0) {
		creds_put(s->creds);
		free(s);
		return envol_fail(-ENOMEM, err, errlen, "gnutls: %s", gnutls_strerror(r));
	}
	gnutls_session_set_keylog_function(s->gs, no_keylog);
	r = gnutls_priority_set(s->gs, s->creds->prio);
	if (r >= 0 && s->creds->x509) {
		r = gnutls_credentials_set(s->gs, GNUTLS_CRD_CERTIFICATE, s->creds->x509);
		if (config->server.tls_verify_peer) {
			gnutls_certificate_server_set_request(s->gs, GNUTLS_CERT_REQUIRE);
			gnutls_session_set_verify_cert(s->gs, NULL, 0);
		} else {
			gnutls_certificate_server_set_request(s->gs, GNUTLS_CERT_IGNORE);
		}
	}
	if (r >= 0 && s->creds->psk)
		r = gnutls_credentials_set(s->gs, GNUTLS_CRD_PSK, s->creds->psk);
	if (r < 0) {
		tls_session_free(s);
		return envol_fail(-EINVAL, err, errlen, "gnutls: %s", gnutls_strerror(r));
	}
	gnutls_transport_set_int(s->gs, fd);
	do
		r = gnutls_handshake(s->gs);
	while (r == GNUTLS_E_INTERRUPTED);
	if (r < 0) {
		r = handshake_error(s, r, err, errlen);
		tls_session_free(s);
		return r;
	}
	map_identity(s);
	*ret = s;
	if (require_identity && config->server.n_tls_identities > 0 && !s->principal) {
		return envol_fail(-EACCES, err, errlen,
				  "TLS client identity '%s' is not mapped to a principal "
				  "(server.tls_identities)",
				  s->identity[0] ? s->identity : "(none)");
	}
	return 0;
}

void tls_session_free(struct tls_session *s)
{
	if (!s)
		return;
	if (s->fd >= 0) {
		/* a best-effort close_notify that cannot block on a full socket */
		int fl = fcntl(s->fd, F_GETFL);

		if (fl >= 0 && fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) == 0)
			(void)gnutls_bye(s->gs, GNUTLS_SHUT_WR);
	}
	gnutls_deinit(s->gs);
	creds_put(s->creds);
	free(s);
}

static int record_error(ssize_t r)
{
	switch (r) {
	case GNUTLS_E_AGAIN:
		return -EAGAIN;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		return -EPIPE;
	default:
		log_debug("TLS record: %s", gnutls_strerror((int)r));
		return -EIO;
	}
}

ssize_t tls_recv(struct tls_session *s, void *buf, size_t n)
{
	for (;;) {
		ssize_t r = gnutls_record_recv(s->gs, buf, n);

		if (r > 0)
			return r;
		if (r == 0)
			return -EPIPE;
		if (r != GNUTLS_E_INTERRUPTED)
			return record_error(r);
	}
}

int tls_read_full(struct tls_session *s, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t k = tls_recv(s, p, n);

		if (k < 0)
			return (int)k;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int send_all(struct tls_session *s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = gnutls_record_send(s->gs, p, n);

		if (k == GNUTLS_E_INTERRUPTED || k == GNUTLS_E_AGAIN)
			continue;
		if (k < 0)
			return record_error(k);
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int tls_sendv(struct tls_session *s, const struct iovec *iov, int n)
{
	size_t total = 0;
	bool cork;
	int r = 0;

	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	cork = n > 1 && total <= CORK_MAX;
	if (cork)
		gnutls_record_cork(s->gs);
	for (int i = 0; i < n && r >= 0; i++)
		r = send_all(s, iov[i].iov_base, iov[i].iov_len);
	if (cork) {
		int u;

		do
			u = gnutls_record_uncork(s->gs, GNUTLS_RECORD_WAIT);
		while (u == GNUTLS_E_INTERRUPTED || u == GNUTLS_E_AGAIN);
		if (r >= 0 && u < 0)
			r = record_error(u);
	}
	return r;
}

const char *tls_session_identity(const struct tls_session *s) { return s->identity; }

const char *tls_session_principal(const struct tls_session *s) { return s->principal; }
