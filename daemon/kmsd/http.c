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

/* Who is on the other end of a connection; computed once when it is accepted. */
struct conn_info {
	char principal[256]; /* Unix socket: from SO_PEERCRED */
	char source[96];     /* "unix:pid=1,uid=0" / "tcp:127.0.0.1:4711" */
	bool have_principal;
};

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
		snprintf(ci->principal, sizeof ci->principal, "arn:aws:iam::%s:user/%s", account,
			 res->pw_name);
	else
		snprintf(ci->principal, sizeof ci->principal, "arn:aws:iam::%s:user/%u", account,
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

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_context);
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

/* Refuses a request before kms_handle: AWS error body and an audit record via kms_reject. */
static enum MHD_Result reject(struct kmsd_listener *l, struct MHD_Connection *c, struct request *rq,
			      const struct kms_caller *caller, const char *operation,
			      const char *type, int status, const char *message, bool close_after)
{
	char *body = NULL;
	int r;

	r = kms_reject(l->kmsd->kms, caller, operation ? operation : "", rq->id, type, status,
		       message, &body);
	if (r < 0 || !body) {
		body_free(body);
		body = NULL;
	}
	log_debug("%s %s: %s %d %s: %s", caller->source, operation ? operation : "-", rq->id,
		  status, type, message);
	return respond(l, c, rq, status, body, close_after);
}

struct header_list {
	struct sigv4_header h[KMSD_MAX_HEADERS];
	size_t n;
	bool overflow;
};

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

static enum MHD_Result handle_request(struct kmsd_listener *l, struct MHD_Connection *c,
				      const char *url, const char *method, struct request *rq)
{
	struct kmsd *k = l->kmsd;
	struct conn_info *ci = conn_info_of(c);
	struct kms_caller caller = {.principal = "anonymous", .source = "?"};
	const char *target, *op;
	char *body = NULL;
	int status = 0, r;

	if (!ci)
		return respond(l, c, rq, 500, NULL, true);
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
		if (r == -ENOMEM)
			return respond(l, c, rq, 500, NULL, true);
		if (r < 0)
			return reject(l, c, rq, &caller, op, res.error_type, res.http_status,
				      res.message, false);
		caller.principal = res.credential->principal;
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
		body_free(body);
		return respond(l, c, rq, 500, NULL, true);
	}
	atomic_fetch_add(&k->served, 1);
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
			/* Chunked body over the cap: we cannot answer mid-upload; drop it. */
			rq->too_big = true;
			envol_buffer_done(&rq->body);
			return MHD_NO;
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

int kmsd_http_start(struct kmsd *k, struct kmsd_listener *l, char *err, size_t errlen)
{
	unsigned flags =
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	l->kmsd = k;
	l->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, access_handler, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l->sock.fd, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)k->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)KMSD_CONNECTION_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)KMSD_CONNECTION_TIMEOUT,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_connection, l, MHD_OPTION_NOTIFY_COMPLETED,
	    request_completed, l, MHD_OPTION_END);
	if (!l->mhd)
		return envol_fail(-EIO, err, errlen,
				  "%s: libmicrohttpd could not start a server on this socket",
				  l->sock.name);
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
