/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms_client.c — the AWS KMS JSON 1.1 client envold and envolctl use to reach envol-kmsd:
 * libcurl POST "/" over the Unix socket client.kms_socket, or over client.endpoint signed with
 * SigV4; AWS error bodies mapped to errno; Decrypt of a volume DEK into secure memory (with
 * grant tokens); the grant operations a service uses to attach a volume on a user's behalf
 * (CreateGrant with X-Envol-On-Behalf-Of, RetireGrant, ListRetirableGrants).
 * Request and response bodies are never logged (they can hold plaintext).
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/kms_client.h"
#include "util/buffer.h"
#include "util/encoding.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/secure_mem.h"

#define KMS_CLIENT_CONNECT_TIMEOUT_MS 5000L
#define KMS_CLIENT_TOTAL_TIMEOUT_MS 30000L
#define KMS_CLIENT_MAX_RESPONSE (4u << 20)

struct envol_kms_client {
	CURL *curl;
	char *socket;	/* Unix socket path, or NULL */
	char *endpoint; /* "http://127.0.0.1:8440", or NULL */
	char *url;
	char *sigv4; /* "aws:amz:<region>:kms" */
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init_once(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Appends to the response buffer (a struct envol_buffer with .wipe: Decrypt answers hold keys). */
static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t n = size * nmemb;

	return envol_buffer_append(userdata, ptr, n) < 0 ? 0 : n;
}

struct envol_kms_client *envol_kms_client_free(struct envol_kms_client *c)
{
	if (!c)
		return NULL;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->socket);
	free(c->endpoint);
	free(c->url);
	free(c->sigv4);
	free(c);
	return NULL;
}

static void envol_kms_client_freep(struct envol_kms_client **c) { envol_kms_client_free(*c); }

/* https:// endpoints: client.tls_ca (a PEM file, or a directory of hashed CA certificates;
 * "" = the system's), and client.tls_cert/tls_key for a client certificate. */
static int set_tls(CURL *curl, const struct envol_config *cfg, char *err, size_t errlen)
{
	const char *ca = cfg->client.tls_ca, *cert = cfg->client.tls_cert, *key = cfg->client.tls_key;
	struct stat st;

	if (ca && *ca) {
		if (stat(ca, &st) < 0) {
			int e = errno;

			snprintf(err, errlen, "client.tls_ca %s: %s", ca, strerror(e));
			return -e;
		}
		if (S_ISDIR(st.st_mode))
			curl_easy_setopt(curl, CURLOPT_CAPATH, ca);
		else
			curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
	}
	if ((cert && *cert) != (key && *key)) {
		snprintf(err, errlen, "client.tls_cert and client.tls_key go together");
		return -EINVAL;
	}
	if (cert && *cert) {
		curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
	}
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	return 0;
}

int envol_kms_client_new(const struct envol_config *cfg, struct envol_kms_client **ret, char *err,
			 size_t errlen)
{
	_cleanup_(envol_kms_client_freep) struct envol_kms_client *c = NULL;
	const char *region = cfg->kms.region && *cfg->kms.region ? cfg->kms.region : "local";
	bool tcp = cfg->client.endpoint && *cfg->client.endpoint;
	int r;

	(void)pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s", curl_easy_strerror(curl_init_result));
		return -EIO;
	}
	if (!tcp && !(cfg->client.kms_socket && *cfg->client.kms_socket)) {
		snprintf(err, errlen, "client.kms_socket and client.endpoint are both empty");
		return -EINVAL;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		goto oom;
	c->curl = curl_easy_init();
	if (!c->curl)
		goto oom;
	if (tcp) {
		size_t n = strlen(cfg->client.endpoint);

		c->endpoint = strdup(cfg->client.endpoint);
		if (!c->endpoint)
			goto oom;
		if (strncmp(c->endpoint, "http://", 7) != 0 &&
		    strncmp(c->endpoint, "https://", 8)) {
			snprintf(err, errlen,
				 "client.endpoint \"%s\": must start with http:// or https://",
				 c->endpoint);
			return -EINVAL;
		}
		if (asprintf(&c->url, "%s%s", c->endpoint,
			     n && c->endpoint[n - 1] == '/' ? "" : "/") < 0) {
			c->url = NULL;
			goto oom;
		}
		if (asprintf(&c->sigv4, "aws:amz:%s:kms", region) < 0) {
			c->sigv4 = NULL;
			goto oom;
		}
		if (!cfg->client.access_key_id || !*cfg->client.access_key_id ||
		    !cfg->client.secret_access_key || !*cfg->client.secret_access_key) {
			snprintf(err, errlen,
				 "client.endpoint is set but client.access_key_id or "
				 "client.secret_access_key is empty");
			return -EINVAL;
		}
	} else {
		c->socket = strdup(cfg->client.kms_socket);
		c->url = strdup("http://localhost/");
		if (!c->socket || !c->url)
			goto oom;
	}

	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	{
		/* client.kms_timeout bounds the whole call, connecting included */
		long total = cfg->client.kms_timeout > 0 ? cfg->client.kms_timeout * 1000L
							 : KMS_CLIENT_TOTAL_TIMEOUT_MS;

		curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
				 total < KMS_CLIENT_CONNECT_TIMEOUT_MS ? total
								       : KMS_CLIENT_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, total);
	}
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->socket) {
		curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	} else {
		_cleanup_secure_ char *userpwd = NULL;
		size_t n =
		    strlen(cfg->client.access_key_id) + strlen(cfg->client.secret_access_key) + 2;

		userpwd = envol_secure_alloc(n);
		if (!userpwd)
			goto oom;
		snprintf(userpwd, n, "%s:%s", cfg->client.access_key_id,
			 cfg->client.secret_access_key);
		curl_easy_setopt(c->curl, CURLOPT_AWS_SIGV4, c->sigv4);
		curl_easy_setopt(c->curl, CURLOPT_USERPWD, userpwd); /* curl keeps a copy */
		r = set_tls(c->curl, cfg, err, errlen);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(c);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

const char *envol_kms_client_target(const struct envol_kms_client *c)
{
	return c->socket ? c->socket : c->endpoint;
}

static int curl_error_to_errno(const struct envol_kms_client *c, CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (c->socket && access(c->socket, F_OK) < 0 && errno == ENOENT)
			return -ENOENT;
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

/* One call; on_behalf_of, when not NULL, goes in X-Envol-On-Behalf-Of (signed with SigV4). */
static int call_as(struct envol_kms_client *c, const char *operation, const char *request_json,
		   const char *on_behalf_of, long *ret_status, char **ret_body, char *err,
		   size_t errlen)
{
	_cleanup_free_ char *behalf = NULL;
	_cleanup_buffer_ struct envol_buffer r = {.wipe = true, .max = KMS_CLIENT_MAX_RESPONSE};
	struct curl_slist *headers = NULL, *h;
	char target[128];
	long status = 0;
	CURLcode cc;
	int ret;

	if (snprintf(target, sizeof target, "X-Amz-Target: TrentService.%s", operation) >=
	    (int)sizeof target) {
		snprintf(err, errlen, "operation name too long");
		return -EINVAL;
	}
	headers = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.1");
	h = headers ? curl_slist_append(headers, target) : NULL;
	h = h ? curl_slist_append(h, "Expect:") : NULL;
	if (h && on_behalf_of) {
		if (strpbrk(on_behalf_of, "\r\n") ||
		    asprintf(&behalf, "%s: %s", ENVOL_KMS_ON_BEHALF_OF_HEADER, on_behalf_of) < 0) {
			behalf = NULL;
			curl_slist_free_all(headers);
			snprintf(err, errlen, "bad on-behalf-of principal");
			return -EINVAL;
		}
		h = curl_slist_append(h, behalf);
	}
	if (!h) {
		curl_slist_free_all(headers);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	headers = h;

	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, request_json); /* not copied */
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(request_json));
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r);
	log_debug("KMS %s -> %s", operation, envol_kms_client_target(c));
	cc = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(headers);

	if (cc != CURLE_OK) {
		if (r.error == -EMSGSIZE) {
			snprintf(err, errlen, "KMS response to %s larger than %u bytes", operation,
				 KMS_CLIENT_MAX_RESPONSE);
			ret = -EMSGSIZE;
		} else if (r.error == -ENOMEM) {
			snprintf(err, errlen, "out of memory");
			ret = -ENOMEM;
		} else {
			snprintf(err, errlen, "KMS unreachable at %s: %s",
				 envol_kms_client_target(c),
				 c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc));
			ret = curl_error_to_errno(c, cc);
		}
		log_debug("KMS %s failed: %s", operation, err);
		return ret;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	log_debug("KMS %s: HTTP %ld, %zu bytes", operation, status, r.len);
	/* ownership moves; the caller wipes what may be secret */
	if (envol_buffer_take(&r, ret_body, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*ret_status = status;
	return 0;
}

int envol_kms_client_call(struct envol_kms_client *c, const char *operation,
			  const char *request_json, long *ret_status, char **ret_body, char *err,
			  size_t errlen)
{
	return call_as(c, operation, request_json, NULL, ret_status, ret_body, err, errlen);
}

int envol_kms_client_parse_error(const char *body, char *type, size_t typelen, char *message,
				 size_t messagelen)
{
	json_t *root, *t, *m;
	const char *ts, *hash;
	int ret = -EINVAL;

	root = json_loads(body ? body : "", 0, NULL);
	if (!json_is_object(root))
		goto out;
	t = json_object_get(root, "__type");
	if (!json_is_string(t))
		goto out;
	ts = json_string_value(t);
	hash = strrchr(ts, '#'); /* "com.amazonaws.kms#NotFoundException" */
	if (hash)
		ts = hash + 1;
	if (!*ts)
		goto out;
	m = json_object_get(root, "message");
	if (!m)
		m = json_object_get(root, "Message");
	snprintf(type, typelen, "%s", ts);
	snprintf(message, messagelen, "%s", json_is_string(m) ? json_string_value(m) : "");
	ret = 0;
out:
	json_decref(root);
	return ret;
}

int envol_kms_client_error_errno(const char *type)
{
	static const struct {
		const char *type;
		int err;
	} map[] = {
	    {"AccessDeniedException", -EACCES},
	    {"DisabledException", -EKEYREVOKED},
	    {"KMSInvalidStateException", -EKEYREVOKED},
	    {"KeyUnavailableException", -EKEYREVOKED},
	    {"InvalidCiphertextException", -EBADMSG},
	    {"IncorrectKeyException", -EBADMSG},
	    {"NotFoundException", -ENOKEY},
	    {"InvalidGrantIdException", -ENOENT},
	    {"InvalidGrantTokenException", -EINVAL},
	    {"ValidationException", -EINVAL},
	    {"InvalidKeyUsageException", -EINVAL},
	    {"SerializationException", -EINVAL},
	    {"AlreadyExistsException", -EEXIST},
	    {"LimitExceededException", -EUSERS},
	    {"ThrottlingException", -EAGAIN},
	    {"UnsupportedOperationException", -EOPNOTSUPP},
	    {"KMSInternalException", -EIO},
	    {"DependencyTimeoutException", -ETIMEDOUT},
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (type && strcmp(type, map[i].type) == 0)
			return map[i].err;
	return -EIO;
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* p at an opening quote: returns the character after the closing quote, or NULL. */
static const char *skip_string(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return NULL;
			p++;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

static const char *skip_value(const char *p, int depth)
{
	p = skip_ws(p);
	if (depth > 64)
		return NULL;
	if (*p == '"')
		return skip_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = skip_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"' || !(p = skip_string(p)))
					return NULL;
				p = skip_ws(p);
				if (*p != ':')
					return NULL;
				p++;
			}
			p = skip_value(p, depth + 1);
			if (!p)
				return NULL;
			p = skip_ws(p);
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = skip_ws(p + 1);
		}
	}
	{
		const char *start = p;

		while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		       *p == '+' || *p == '.' || *p == 'E')
			p++;
		return p == start ? NULL : p;
	}
}

/*
 * Finds the string value of top-level member `name` of the JSON object `json` in place, so a
 * Decrypt answer's Plaintext never passes through a parser's buffers.  The value must be free
 * of escapes (base64 is).  Returns 0 with *ret_value and *ret_len pointing into json, -ENOENT when
 * the member is absent, -EINVAL on malformed JSON or an escaped value.
 */
int envol_kms_client_json_find_string(const char *json, const char *name, const char **ret_value,
				      size_t *ret_len)
{
	size_t name_len = strlen(name);
	const char *p = skip_ws(json);

	if (*p != '{')
		return -EINVAL;
	p = skip_ws(p + 1);
	if (*p == '}')
		return -ENOENT;
	for (;;) {
		const char *key = p, *key_end, *value;

		if (*p != '"' || !(key_end = skip_string(p)))
			return -EINVAL;
		p = skip_ws(key_end);
		if (*p != ':')
			return -EINVAL;
		value = skip_ws(p + 1);
		p = skip_value(value, 0);
		if (!p)
			return -EINVAL;
		if ((size_t)(key_end - key) == name_len + 2 &&
		    memcmp(key + 1, name, name_len) == 0) {
			const char *end;

			if (*value != '"')
				return -EINVAL;
			end = memchr(value + 1, '"', (size_t)(p - value - 1));
			if (!end || end != p - 1 ||
			    memchr(value + 1, '\\', (size_t)(end - value - 1)))
				return -EINVAL;
			*ret_value = value + 1;
			*ret_len = (size_t)(end - value - 1);
			return 0;
		}
		p = skip_ws(p);
		if (*p == '}')
			return -ENOENT;
		if (*p != ',')
			return -EINVAL;
		p = skip_ws(p + 1);
	}
}

/* AWS error body -> negative errno, with err "Type: message". */
static int aws_error(const char *body, long status, char *err, size_t errlen)
{
	char type[128], message[512];

	if (envol_kms_client_parse_error(body, type, sizeof type, message, sizeof message) < 0) {
		snprintf(err, errlen, "KMS answered HTTP %ld without an AWS error body", status);
		return -EIO;
	}
	snprintf(err, errlen, "%s: %s", type, message);
	return envol_kms_client_error_errno(type);
}

int envol_kms_client_decrypt_dek(struct envol_kms_client *c, const uint8_t *blob, size_t blob_len,
				 const struct envol_context_pair *context, size_t n_context,
				 uint8_t **ret_dek, size_t *ret_len, char *err, size_t errlen)
{
	return envol_kms_client_decrypt_dek_with_grants(c, blob, blob_len, context, n_context, NULL,
							0, ret_dek, ret_len, err, errlen);
}

/* {"k": "v", …} of an encryption context, or NULL (err filled). */
static json_t *context_object(const struct envol_context_pair *context, size_t n_context,
			      char *err, size_t errlen)
{
	json_t *ctx = json_object();

	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n_context; i++)
		if (json_object_set_new(ctx, context[i].key, json_string(context[i].value)) < 0) {
			snprintf(err, errlen, "bad encryption context pair \"%s\"", context[i].key);
			json_decref(ctx);
			return NULL;
		}
	return ctx;
}

/* ["a", "b", …] of n strings, or NULL. */
static json_t *string_array(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int envol_kms_client_decrypt_dek_with_grants(struct envol_kms_client *c, const uint8_t *blob,
					     size_t blob_len,
					     const struct envol_context_pair *context,
					     size_t n_context, const char *const *grant_tokens,
					     size_t n_grant_tokens, uint8_t **ret_dek,
					     size_t *ret_len, char *err, size_t errlen)
{
	_cleanup_free_ char *blob64 = NULL, *request = NULL;
	char *body = NULL;
	json_t *req = NULL, *ctx;
	const char *b64;
	uint8_t *decoded = NULL, *dek = NULL;
	size_t b64_len, decoded_len = 0;
	long status = 0;
	int r;

	blob64 = envol_base64_encode(blob, blob_len);
	req = json_object();
	if (!blob64 || !req) {
		r = -ENOMEM;
		goto oom;
	}
	ctx = context_object(context, n_context, err, errlen);
	if (!ctx) {
		r = -EINVAL;
		goto out;
	}
	if (json_object_set_new(req, "CiphertextBlob", json_string(blob64)) < 0 ||
	    json_object_set_new(req, "EncryptionContext", ctx) < 0) {
		r = -ENOMEM;
		goto oom;
	}
	if (n_grant_tokens > 0 &&
	    json_object_set_new(req, "GrantTokens", string_array(grant_tokens, n_grant_tokens)) < 0) {
		r = -ENOMEM;
		goto oom;
	}
	request = json_dumps(req, JSON_COMPACT);
	if (!request) {
		r = -ENOMEM;
		goto oom;
	}

	r = envol_kms_client_call(c, "Decrypt", request, &status, &body, err, errlen);
	if (r == -ENOMEM || r == -EMSGSIZE)
		goto out;
	if (r < 0) {
		/* err already reads "KMS unreachable at <where>: <curl error>" */
		r = -EHOSTDOWN;
		goto out;
	}
	if (status != 200) {
		r = aws_error(body, status, err, errlen);
		goto out;
	}
	r = envol_kms_client_json_find_string(body, "Plaintext", &b64, &b64_len);
	if (r < 0) {
		snprintf(err, errlen, "KMS Decrypt answer has no valid Plaintext");
		r = -EPROTO;
		goto out;
	}
	r = envol_base64_decode(b64, b64_len, &decoded, &decoded_len);
	if (r < 0) {
		snprintf(err, errlen, "KMS Decrypt answer: Plaintext is not base64");
		r = r == -ENOMEM ? -ENOMEM : -EPROTO;
		goto out;
	}
	if (decoded_len == 0) {
		snprintf(err, errlen, "KMS Decrypt answer: empty Plaintext");
		r = -EPROTO;
		goto out;
	}
	dek = envol_secure_alloc(decoded_len);
	if (!dek) {
		snprintf(err, errlen, "cannot allocate locked memory for the data key: %s",
			 strerror(errno));
		r = -ENOMEM;
		goto out;
	}
	memcpy(dek, decoded, decoded_len);
	*ret_dek = dek;
	*ret_len = decoded_len;
	r = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (decoded) {
		envol_wipe(decoded, decoded_len);
		free(decoded);
	}
	if (body) {
		envol_wipe(body, strlen(body));
		free(body);
	}
	json_decref(req);
	return r;
}

/*
 * Sends req (consumed) as operation; on HTTP 200 returns 0 with the parsed answer in *ret_answer
 * (when ret_answer is not NULL).  An AWS error is -errno (envol_kms_client_error_errno()) with
 * err "Type: message" and the type in etype; no answer at all is -EHOSTDOWN.
 */
static int json_call(struct envol_kms_client *c, const char *operation, json_t *req,
		     const char *on_behalf_of, json_t **ret_answer, char *etype, size_t etypelen,
		     char *err, size_t errlen)
{
	_cleanup_free_ char *request = NULL, *body = NULL;
	char message[512];
	long status = 0;
	json_t *answer;
	int r;

	if (etypelen)
		etype[0] = '\0';
	request = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!request) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = call_as(c, operation, request, on_behalf_of, &status, &body, err, errlen);
	if (r == -ENOMEM || r == -EMSGSIZE || r == -EINVAL)
		return r;
	if (r < 0)
		return -EHOSTDOWN; /* err reads "KMS unreachable at <where>: …" */
	if (status != 200) {
		if (envol_kms_client_parse_error(body, etype, etypelen, message, sizeof message) <
		    0) {
			snprintf(err, errlen, "KMS answered HTTP %ld without an AWS error body",
				 status);
			return -EIO;
		}
		snprintf(err, errlen, "%s: %s", etype, message);
		return envol_kms_client_error_errno(etype);
	}
	if (!ret_answer)
		return 0;
	answer = json_loads(body, 0, NULL);
	if (!json_is_object(answer)) {
		json_decref(answer);
		snprintf(err, errlen, "KMS %s answer is not a JSON object", operation);
		return -EPROTO;
	}
	*ret_answer = answer;
	return 0;
}

/* A string member of o, strdup'ed into *ret; -EPROTO (err filled) when absent. */
static int take_string(json_t *o, const char *operation, const char *name, char **ret, char *err,
		       size_t errlen)
{
	json_t *v = json_object_get(o, name);
	char *s;

	if (!json_is_string(v) || !*json_string_value(v)) {
		snprintf(err, errlen, "KMS %s answer has no %s", operation, name);
		return -EPROTO;
	}
	s = strdup(json_string_value(v));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int envol_kms_client_create_grant(struct envol_kms_client *c, const char *key_id,
				  const char *grantee_principal, const char *retiring_principal,
				  const char *const *operations, size_t n_operations,
				  const struct envol_context_pair *context_equals,
				  size_t n_context, const char *name, const char *on_behalf_of,
				  bool dry_run, char **ret_grant_id, char **ret_grant_token,
				  char *err, size_t errlen)
{
	_cleanup_free_ char *id = NULL, *token = NULL;
	json_t *req = json_object(), *answer = NULL;
	char etype[128];
	int r;

	if (!req || json_object_set_new(req, "KeyId", json_string(key_id)) < 0 ||
	    json_object_set_new(req, "GranteePrincipal", json_string(grantee_principal)) < 0 ||
	    json_object_set_new(req, "Operations", string_array(operations, n_operations)) < 0 ||
	    (retiring_principal && json_object_set_new(req, "RetiringPrincipal",
						       json_string(retiring_principal)) < 0) ||
	    (name && json_object_set_new(req, "Name", json_string(name)) < 0) ||
	    (dry_run && json_object_set_new(req, "DryRun", json_true()) < 0))
		goto oom;
	if (context_equals && n_context > 0) {
		json_t *ctx = context_object(context_equals, n_context, err, errlen);

		if (!ctx) {
			json_decref(req);
			return -EINVAL;
		}
		if (json_object_set_new(req, "Constraints",
					json_pack("{s:o}", "EncryptionContextEquals", ctx)) < 0)
			goto oom;
	}
	r = json_call(c, "CreateGrant", req, on_behalf_of, dry_run ? NULL : &answer, etype,
		      sizeof etype, err, errlen);
	if (dry_run) {
		/* AWS answers a DryRun that would have succeeded with DryRunOperationException */
		if (r < 0 && strcmp(etype, "DryRunOperationException") == 0)
			return 0;
		return r;
	}
	if (r < 0)
		return r;
	r = take_string(answer, "CreateGrant", "GrantId", &id, err, errlen);
	if (r >= 0)
		r = take_string(answer, "CreateGrant", "GrantToken", &token, err, errlen);
	json_decref(answer);
	if (r < 0)
		return r;
	if (ret_grant_id)
		*ret_grant_id = TAKE_PTR(id);
	if (ret_grant_token)
		*ret_grant_token = TAKE_PTR(token);
	return 0;
oom:
	json_decref(req);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

int envol_kms_client_retire_grant(struct envol_kms_client *c, const char *key_id,
				  const char *grant_id, const char *grant_token, char *err,
				  size_t errlen)
{
	json_t *req = json_object();
	char etype[128];

	if (!grant_token && !(key_id && grant_id)) {
		json_decref(req);
		snprintf(err, errlen, "RetireGrant needs a grant token, or a key id and a grant id");
		return -EINVAL;
	}
	if (!req || (key_id && json_object_set_new(req, "KeyId", json_string(key_id)) < 0) ||
	    (grant_id && json_object_set_new(req, "GrantId", json_string(grant_id)) < 0) ||
	    (grant_token && json_object_set_new(req, "GrantToken", json_string(grant_token)) < 0)) {
		json_decref(req);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return json_call(c, "RetireGrant", req, NULL, NULL, etype, sizeof etype, err, errlen);
}

int envol_kms_client_list_retirable_grants(struct envol_kms_client *c,
					   const char *retiring_principal, envol_kms_grant_fn fn,
					   void *opaque, char *err, size_t errlen)
{
	_cleanup_free_ char *marker = NULL;
	char etype[128];
	int r;

	do {
		json_t *req = json_pack("{s:s}", "RetiringPrincipal", retiring_principal), *answer;
		json_t *grants, *g, *next;
		size_t i;

		if (req && marker && json_object_set_new(req, "Marker", json_string(marker)) < 0) {
			json_decref(req);
			req = NULL;
		}
		r = json_call(c, "ListRetirableGrants", req, NULL, &answer, etype, sizeof etype,
			      err, errlen);
		if (r < 0)
			return r;
		grants = json_object_get(answer, "Grants");
		if (!json_is_array(grants)) {
			json_decref(answer);
			snprintf(err, errlen, "KMS ListRetirableGrants answer has no Grants list");
			return -EPROTO;
		}
		json_array_foreach(grants, i, g)
		{
			const char *key = json_string_value(json_object_get(g, "KeyId"));
			const char *id = json_string_value(json_object_get(g, "GrantId"));
			const char *name = json_string_value(json_object_get(g, "Name"));

			if (!key || !id)
				continue;
			r = fn(opaque, key, id, name ? name : "");
			if (r < 0) {
				json_decref(answer);
				return r;
			}
		}
		free(marker);
		marker = NULL;
		next = json_object_get(answer, "NextMarker");
		if (json_is_true(json_object_get(answer, "Truncated")) && json_is_string(next) &&
		    *json_string_value(next)) {
			marker = strdup(json_string_value(next));
			if (!marker) {
				json_decref(answer);
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
		}
		json_decref(answer);
	} while (marker);
	return 0;
}
