/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * http.c — envol-kmsd's HTTP transport over libmicrohttpd: one MHD daemon (epoll thread pool)
 * per listener.  Identifies the caller (SO_PEERCRED on the Unix socket, SigV4 on TCP), enforces
 * the transport limits (POST / only, 64 KiB body, JSON 1.1 content type, X-Amz-Target), and
 * hands the request to kms_handle(); anything refused here goes through kms_reject() so it is
 * answered with an AWS error and audited.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kmsd.h"
#include "util/buffer.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/secure_mem.h"

#define JSON_CONTENT_TYPE "application/x-amz-json-1.1"
#define TARGET_PREFIX "TrentService."
#define ON_BEHALF_HEADER "X-Envol-On-Behalf-Of"
#define ON_BEHALF_MAX 512 /* characters of a principal ARN in that header */

/* Who is on the other end of a connection; computed once when it is accepted. */
struct kmsd_conn {
	char principal[256]; /* Unix socket: from SO_PEERCRED */
	char source[96];     /* "unix:pid=1,uid=0" / "tcp:127.0.0.1:4711" */
	bool have_principal;
	int fd;
	int64_t deadline_ms; /* monotonic: the next answer is due by then */
	struct kmsd_conn *prev, *next;
};
#define conn_info kmsd_conn

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request, from its first callback to its completion. */
struct request {
	char id[37];
	struct envol_buffer body; /* .wipe (it may hold plaintext), .max = KMSD_MAX_BODY */
	bool too_big;
	bool counted;
};

static struct kmsd_listener *listener_of(void *cls) { return cls; }

static void fill_unix_peer(struct conn_info *ci, struct MHD_Connection *c, const char *account)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct passwd pw, *res = NULL;
	char buf[1024];

	snprintf(ci->source, sizeof ci->source, "unix:?");
	if (!info || getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	snprintf(ci->source, sizeof ci->source, "unix:pid=%d,uid=%u", (int)cred.pid,
		 (unsigned)cred.uid);
	if (getpwuid_r(cred.uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name &&
	    res->pw_name[0])
		snprintf(ci->principal, sizeof ci->principal, "arn:aws:iam::%s:user/unix/%s", account,
			 res->pw_name);
	else
		snprintf(ci->principal, sizeof ci->principal, "arn:aws:iam::%s:user/unix/%u", account,
			 (unsigned)cred.uid);
	ci->have_principal = true;
}

static void fill_tcp_peer(struct conn_info *ci, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (info && info->client_addr) {
		const struct sockaddr *sa = info->client_addr;

		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
			port = ntohs(in->sin_port);
		} else if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(ci->source, sizeof ci->source, "tcp:%s:%u", host, port);
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct kmsd_listener *l = listener_of(cls);
	struct conn_info *ci;

	const union MHD_ConnectionInfo *fdi;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		ci = *socket_context;
		if (ci) {
			pthread_mutex_lock(&l->conns_lock);
			if (ci->prev)
				ci->prev->next = ci->next;
			else
				l->conns = ci->next;
			if (ci->next)
				ci->next->prev = ci->prev;
			pthread_mutex_unlock(&l->conns_lock);
		}
		free(ci);
		*socket_context = NULL;
		return;
	}
	ci = calloc(1, sizeof *ci);
	if (!ci)
		return; /* handled in the request callback: 500 */
	if (!l->sock.tcp)
		fill_unix_peer(ci, c, l->kmsd->cfg->kms.account_id);
	else
		fill_tcp_peer(ci, c);
	fdi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	ci->fd = fdi ? fdi->connect_fd : -1;
	ci->deadline_ms = monotonic_ms() + KMSD_REQUEST_TIME_LIMIT * 1000;
	pthread_mutex_lock(&l->conns_lock);
	ci->next = l->conns;
	if (l->conns)
		l->conns->prev = ci;
	l->conns = ci;
	pthread_mutex_unlock(&l->conns_lock);
	*socket_context = ci;
}

static struct conn_info *conn_info_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

/* Request and response bodies can hold plaintext (Encrypt, Decrypt, GenerateDataKey): wiped. */
static void body_free(void *body)
{
	if (body) {
		envol_wipe(body, strlen(body));
		free(body);
	}
}

static void request_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct kmsd_listener *l = listener_of(cls);
	struct request *rq = *req_cls;

	struct conn_info *ci = conn_info_of(c);

	if (ci) {
		/* The next request on this connection has its own time. */
		pthread_mutex_lock(&l->conns_lock);
		ci->deadline_ms = monotonic_ms() + KMSD_REQUEST_TIME_LIMIT * 1000;
		pthread_mutex_unlock(&l->conns_lock);
	}
	if (!rq)
		return;
	if (rq->counted)
		atomic_fetch_sub(&l->kmsd->inflight, 1);
	envol_buffer_done(&rq->body);
	free(rq);
	*req_cls = NULL;
}

/* Queues status + body (malloc'd JSON, taken over) with the AWS JSON headers. */
static enum MHD_Result respond(struct kmsd_listener *l, struct MHD_Connection *c,
			       struct request *rq, int status, char *body, bool close_after)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!body) {
		static const char oom[] = "{\"__type\":\"KMSInternalException\","
					  "\"message\":\"out of memory\"}";
		resp = MHD_create_response_from_buffer(strlen(oom), (void *)oom,
						       MHD_RESPMEM_PERSISTENT);
		status = 500;
	} else {
		resp = MHD_create_response_from_buffer_with_free_callback(strlen(body), body,
									  body_free);
	}
	if (!resp) {
		body_free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_CONTENT_TYPE);
	(void)MHD_add_response_header(resp, "x-amzn-RequestId", rq->id);
	if (close_after || atomic_load(&l->kmsd->stopping))
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A client's string made safe for one log line: control and non-ASCII bytes as \xNN. */
static const char *escaped(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; in && *in && o + 5 < outlen; in++) {
		unsigned char ch = (unsigned char)*in;

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
	}
	out[o] = '\0';
	return out;
}

static const char audit_failed_body[] = "{\"__type\":\"KMSInternalException\","
					"\"message\":\"The request could not be audited\"}";

/* Refuses a request before kms_handle: AWS error body and an audit record via kms_reject. */
static enum MHD_Result reject(struct kmsd_listener *l, struct MHD_Connection *c, struct request *rq,
			      const struct kms_caller *caller, const char *operation,
			      const char *type, int status, const char *message, bool close_after)
{
	char *body = NULL;
	int r;

	char esc[512];

	r = kms_reject(l->kmsd->kms, caller, operation ? operation : "", rq->id, type, status,
		       message, &body);
	if (r < 0 && r != -ENOMEM) {
		/* No record, no answer but an internal error (audit.h). */
		(void)log_error_errno(r, "%s %s: %s: the refusal (%d %s) could not be audited: %m",
				      caller->source, operation ? operation : "-", rq->id, status,
				      type);
		return respond(l, c, rq, 500, strdup(audit_failed_body), close_after);
	}
	if (r < 0 || !body) {
		body_free(body);
		body = NULL;
	}
	log_debug("%s %s: %s %d %s: %s", caller->source, operation ? operation : "-", rq->id,
		  status, type, escaped(message, esc, sizeof esc));
	return respond(l, c, rq, status, body, close_after);
}

struct header_list {
	struct sigv4_header h[KMSD_MAX_HEADERS];
	size_t n;
	bool overflow;
};

static enum MHD_Result count_on_behalf(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	int *n = cls;

	(void)kind;
	(void)value;
	if (key && strcasecmp(key, ON_BEHALF_HEADER) == 0)
		(*n)++;
	return MHD_YES;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct header_list *hl = cls;

	if (hl->n == KMSD_MAX_HEADERS) {
		hl->overflow = true;
		return MHD_NO;
	}
	hl->h[hl->n].name = key;
	hl->h[hl->n].value = value ? value : "";
	hl->n++;
	return MHD_YES;
}

/* "TrentService.Encrypt" -> "Encrypt" if well formed, else NULL. */
static const char *operation_of(const char *target)
{
	const char *op;
	size_t n;

	if (!target || strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)) != 0)
		return NULL;
	op = target + strlen(TARGET_PREFIX);
	n = strlen(op);
	if (n == 0 || n > 64)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!((op[i] >= 'A' && op[i] <= 'Z') || (op[i] >= 'a' && op[i] <= 'z') ||
		      (op[i] >= '0' && op[i] <= '9')))
			return NULL;
	return op;
}

static bool content_type_ok(const char *ct)
{
	size_t n = strlen(JSON_CONTENT_TYPE);

	if (!ct || strncasecmp(ct, JSON_CONTENT_TYPE, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/*
 * X-Envol-On-Behalf-Of: absent (NULL, 0), or one printable principal ARN (0), else -EINVAL
 * with why.  Whether it is honoured is lib/kms's decision (kms_handle()).
 */
static int on_behalf_of(struct MHD_Connection *c, const char **ret, const char **why)
{
	const char *v = NULL;
	int n = 0;

	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_on_behalf, &n);
	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, ON_BEHALF_HEADER);
	if (n > 1) {
		*why = ON_BEHALF_HEADER " is given more than once";
		return -EINVAL;
	}
	if (!v || strncmp(v, "arn:", 4) != 0 || strlen(v) > ON_BEHALF_MAX) {
		*why = ON_BEHALF_HEADER " must be one principal ARN of at most 512 characters";
		return -EINVAL;
	}
	for (const char *p = v; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f) {
			*why = ON_BEHALF_HEADER " must be one principal ARN (printable ASCII)";
			return -EINVAL;
		}
	*ret = v;
	return 0;
}

/* Whether the Authorization header's SignedHeaders names X-Envol-On-Behalf-Of. */
static bool on_behalf_signed(struct MHD_Connection *c)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	struct sigv4_auth a;
	size_t n = strlen(ON_BEHALF_HEADER);

	if (!auth || sigv4_parse_authorization(auth, &a, NULL, 0) < 0)
		return false;
	for (const char *p = a.signed_headers; *p;) {
		size_t len = strcspn(p, ";");

		if (len == n && strncasecmp(p, ON_BEHALF_HEADER, n) == 0)
			return true;
		p += len;
		if (*p == ';')
			p++;
	}
	return false;
}

static enum MHD_Result handle_request(struct kmsd_listener *l, struct MHD_Connection *c,
				      const char *url, const char *method, struct request *rq)
{
	struct kmsd *k = l->kmsd;
	struct conn_info *ci = conn_info_of(c);
	struct kms_caller caller = {.principal = "anonymous", .source = "?"};
	const char *target, *op, *why = NULL;
	char *body = NULL;
	int status = 0, r;

	if (!ci) {
		log_error("%s: no connection state (out of memory): 500", rq->id);
		return respond(l, c, rq, 500, NULL, true);
	}
	caller.source = ci->source;
	if (!l->sock.tcp && ci->have_principal)
		caller.principal = ci->principal;
	target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
	op = operation_of(target);

	if (rq->too_big)
		return reject(l, c, rq, &caller, op, "ValidationException", 413,
			      "Request body is larger than 65536 bytes", true);

	if (!l->sock.tcp) {
		/* The peer credential is the authentication; an Authorization header is ignored. */
		if (!ci->have_principal)
			return reject(l, c, rq, &caller, op, "AccessDeniedException", 400,
				      "Cannot identify the caller (SO_PEERCRED failed)", false);
	} else {
		struct header_list hl = {.n = 0};
		struct sigv4_request sr;
		struct sigv4_result res;

		(void)MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hl);
		if (hl.overflow)
			return reject(l, c, rq, &caller, op, "ValidationException", 400,
				      "Too many request headers", true);
		if (MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
			return reject(l, c, rq, &caller, op, "UnknownOperationException", 400,
				      "The AWS KMS API takes no query string: POST / only", false);
		sr = (struct sigv4_request){.method = method,
					    .path = url,
					    .query = NULL,
					    .headers = hl.h,
					    .n_headers = hl.n,
					    .body = rq->body.data,
					    .body_len = rq->body.len};
		r = sigv4_verify(&sr, k->creds, k->n_creds, k->cfg->kms.region, "kms",
				 envol_clock_now(), &res);
		if (r == -ENOMEM) {
			log_error("%s: out of memory checking a signature: 500", rq->id);
			return respond(l, c, rq, 500, NULL, true);
		}
		if (r < 0)
			return reject(l, c, rq, &caller, op, res.error_type, res.http_status,
				      res.message, false);
		caller.principal = res.credential->principal;
	}

	if (on_behalf_of(c, &caller.on_behalf_of, &why) < 0)
		return reject(l, c, rq, &caller, op, "ValidationException", 400, why, false);
	/* On TCP the header is part of the request only if signed: else anyone on the path
	 * could make a service's request count as another client's. */
	if (caller.on_behalf_of && l->sock.tcp && !on_behalf_signed(c)) {
		char msg[512];

		snprintf(msg, sizeof msg,
			 "User: %s cannot act on behalf of another principal: '" ON_BEHALF_HEADER
			 "' must be a 'SignedHeader' in the AWS Authorization",
			 caller.principal);
		return reject(l, c, rq, &caller, op, "AccessDeniedException", 400, msg, false);
	}

	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0 || strcmp(url, "/") != 0)
		return reject(l, c, rq, &caller, op, "UnknownOperationException", 400,
			      "The AWS KMS API is POST / with an X-Amz-Target header", false);
	if (!content_type_ok(
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return reject(l, c, rq, &caller, op, "UnknownOperationException", 400,
			      "Content-Type must be " JSON_CONTENT_TYPE, false);
	if (!op)
		return reject(l, c, rq, &caller, NULL, "UnknownOperationException", 400,
			      "X-Amz-Target must be TrentService.<Operation>", false);

	r = kms_handle(k->kms, &caller, op, rq->body.data ? rq->body.data : "", rq->body.len,
		       rq->id, &status, &body);
	if (r < 0 || !body || status < 100 || status > 599) {
		(void)log_error_errno(r < 0 ? r : -EIO, "%s %s %s: %s: no response built: %m",
				      ci->source, caller.principal, op, rq->id);
		body_free(body);
		return respond(l, c, rq, 500, NULL, true);
	}
	atomic_fetch_add(&k->served, 1);
	if (status >= 500) {
		/* An internal error's body holds only its type and cause, never plaintext. */
		char esc[1024];

		log_error("%s %s %s: %s %d %s", ci->source, escaped(caller.principal, esc, 256), op,
			  rq->id, status, escaped(body, esc + 256, sizeof esc - 256));
	} else
		log_debug("%s %s %s: %s %d", ci->source, caller.principal, op, rq->id, status);
	return respond(l, c, rq, status, body, false);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *c, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **req_cls)
{
	struct kmsd_listener *l = listener_of(cls);
	struct request *rq = *req_cls;

	if (!rq) {
		const char *cl;
		uint8_t uuid[16];

		rq = calloc(1, sizeof *rq);
		if (!rq)
			return MHD_NO;
		if (envol_uuid_generate(uuid) < 0) {
			free(rq);
			return MHD_NO;
		}
		envol_uuid_format(uuid, rq->id);
		rq->body = (struct envol_buffer){.wipe = true, .max = KMSD_MAX_BODY};
		rq->counted = true;
		atomic_fetch_add(&l->kmsd->inflight, 1);
		*req_cls = rq;

		cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno || end == cl || n > KMSD_MAX_BODY) {
				/* Answer now without reading the body; MHD closes afterwards. */
				rq->too_big = true;
				return handle_request(l, c, url, method, rq);
			}
		}
		return MHD_YES;
	}

	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		int r;

		*upload_data_size = 0;
		if (rq->too_big)
			return MHD_YES;
		r = envol_buffer_append(&rq->body, upload_data, n);
		if (r == -EMSGSIZE) {
			/* Chunked body over the cap: MHD can answer only once the request is in,
			 * so the rest is read and dropped (within KMSD_REQUEST_TIME_LIMIT), then
			 * answered 413. */
			rq->too_big = true;
			envol_buffer_done(&rq->body);
			return MHD_YES;
		}
		return r < 0 ? MHD_NO : MHD_YES;
	}
	return handle_request(l, c, url, method, rq);
}

_printf_(2, 0) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("libmicrohttpd: %s", msg);
}

/* Reads PATH (a PEM file, at most 1 MiB) into secure memory as a NUL-terminated string. */
static int read_pem(const char *path, char **ret, char *err, size_t errlen)
{
	_cleanup_close_ int fd = -1;
	_cleanup_(envol_secure_freep) char *buf = NULL;
	size_t n = 0, cap = 1024 * 1024;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return envol_fail(-errno, err, errlen, "%s: %s", path, strerror(errno));
	buf = envol_secure_alloc(cap + 1);
	if (!buf)
		return envol_fail(-ENOMEM, err, errlen, "%s: out of memory", path);
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return envol_fail(-errno, err, errlen, "%s: %s", path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap)
			return envol_fail(-EFBIG, err, errlen, "%s: larger than 1 MiB", path);
	}
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

int kmsd_http_start(struct kmsd *k, struct kmsd_listener *l, char *err, size_t errlen)
{
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	const char *dir = k->cfg->kms.tls_certificates;
	_cleanup_(envol_secure_freep) char *cert = NULL;
	_cleanup_(envol_secure_freep) char *key = NULL;
	bool tls = l->sock.tcp && dir && dir[0];
	int r;

	if (tls) {
		char path[4096];

		snprintf(path, sizeof path, "%s/server-cert.pem", dir);
		r = read_pem(path, &cert, err, errlen);
		if (r < 0)
			return r;
		snprintf(path, sizeof path, "%s/server-key.pem", dir);
		r = read_pem(path, &key, err, errlen);
		if (r < 0)
			return r;
		flags |= MHD_USE_TLS;
	}

	l->kmsd = k;
	l->conns = NULL;
	pthread_mutex_init(&l->conns_lock, NULL);
	/* Per-source cap on TCP only (MHD counts by address; every Unix peer has the same). */
	/* libmicrohttpd hands the PEM strings to GnuTLS, which copies them at start. */
	l->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, access_handler, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->sock.fd, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)k->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)KMSD_CONNECTION_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)KMSD_CONNECTION_TIMEOUT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(l->sock.tcp ? KMSD_PER_SOURCE_LIMIT : 0),
	    MHD_OPTION_NOTIFY_CONNECTION, notify_connection, l, MHD_OPTION_NOTIFY_COMPLETED,
	    request_completed, l, tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
	if (!l->mhd && tls)
		return envol_fail(-EIO, err, errlen,
				  "%s: libmicrohttpd could not start an HTTPS server with the "
				  "certificate and key in %s",
				  l->sock.name, dir);
	if (!l->mhd)
		return envol_fail(-EIO, err, errlen,
				  "%s: libmicrohttpd could not start a server on this socket",
				  l->sock.name);
	if (tls)
		log_info("%s: HTTPS with the certificate in %s", l->sock.name, dir);
	return 0;
}

void kmsd_http_quiesce(struct kmsd *k)
{
	for (size_t i = 0; i < k->n_listeners; i++) {
		struct kmsd_listener *l = &k->listeners[i];
		MHD_socket fd;

		if (!l->mhd)
			continue;
		fd = MHD_quiesce_daemon(l->mhd);
		if (fd != MHD_INVALID_SOCKET)
			(void)close(fd);
		l->sock.fd = -1; /* closed here, or by MHD_stop_daemon */
	}
}

void kmsd_http_stop(struct kmsd *k)
{
	for (size_t i = 0; i < k->n_listeners; i++) {
		struct kmsd_listener *l = &k->listeners[i];

		if (l->mhd)
			MHD_stop_daemon(l->mhd);
		l->mhd = NULL;
		l->sock.fd = -1;
	}
}

void kmsd_http_reap(struct kmsd *k)
{
	int64_t now = monotonic_ms();

	for (size_t i = 0; i < k->n_listeners; i++) {
		struct kmsd_listener *l = &k->listeners[i];
		unsigned cut = 0;

		if (!l->mhd)
			continue;
		pthread_mutex_lock(&l->conns_lock);
		for (struct conn_info *ci = l->conns; ci; ci = ci->next)
			if (ci->fd >= 0 && ci->deadline_ms < now) {
				/* The server's thread sees the end of the stream and closes it. */
				(void)shutdown(ci->fd, SHUT_RDWR);
				ci->deadline_ms = INT64_MAX;
				cut++;
			}
		pthread_mutex_unlock(&l->conns_lock);
		if (cut)
			log_warning(
			    "%s: cut %u connection(s) that took more than %d s for a request",
			    l->sock.name, cut, KMSD_REQUEST_TIME_LIMIT);
	}
}
