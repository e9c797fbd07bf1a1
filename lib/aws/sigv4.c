/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sigv4.c — AWS Signature Version 4: canonical request, string to sign, signing key, signature,
 * and the request verifier (pure; the caller supplies headers, body, credentials and "now").
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/macros.h"
#include "util/encoding.h"
#include "util/secure_mem.h"
#include "aws/sigv4.h"
#include "util/buffer.h"
#include "util/error.h"

#define SIGV4_MAX_SIGNED_HEADERS 64
#define SIGV4_MAX_QUERY_PARAMS 256

/* ---- encoding helpers ---- */

static bool is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 percent-encoding as SigV4 wants it (upper-case hex); keep_slash for paths. */
static void buffer_uri_encode(struct envol_buffer *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			envol_buffer_append_char(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			envol_buffer_append(b, e, 3);
		}
	}
}

/* Percent-decodes s[0..n) into a malloc'd string (length in *ret_len).  NULL on ENOMEM. */
static char *uri_decode(const char *s, size_t n, size_t *ret_len)
{
	char *out = malloc(n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint8_t byte;

		if (s[i] == '%' && i + 2 < n && envol_hex_decode(s + i + 1, 2, &byte, 1) == 0) {
			out[o++] = (char)byte;
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(len ? data : (const void *)"", len, md);
	envol_hex_encode(md, sizeof md, out);
}

/* ---- dates ---- */

int sigv4_parse_amz_date(const char *text, time_t *ret)
{
	struct tm tm = {0};
	int v[6], i;
	static const int off[6] = {0, 4, 6, 9, 11, 13}, width[6] = {4, 2, 2, 2, 2, 2};
	time_t t;

	if (!text || strlen(text) != 16 || text[8] != 'T' || text[15] != 'Z')
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		v[i] = 0;
		for (int j = 0; j < width[i]; j++) {
			char c = text[off[i] + j];
			if (c < '0' || c > '9')
				return -EINVAL;
			v[i] = v[i] * 10 + (c - '0');
		}
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -EINVAL;
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret = t;
	return 0;
}

void sigv4_format_amz_date(time_t t, char out[17])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0 ||
	    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		snprintf(out, 17, "00000000T000000Z");
}

/* ---- Authorization header ---- */


static bool copy_field(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (n == 0 || n >= dstlen)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool valid_signed_headers(const char *s)
{
	bool empty_token = true;

	for (; *s; s++) {
		if (*s == ';') {
			if (empty_token)
				return false;
			empty_token = true;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
		empty_token = false;
	}
	return !empty_token;
}

int sigv4_parse_authorization(const char *value, struct sigv4_auth *ret, char *err, size_t errlen)
{
	struct sigv4_auth a = {0};
	const char *p, *alg_end;
	bool have_cred = false, have_sh = false, have_sig = false;
	size_t alen = strlen(SIGV4_ALGORITHM);

	if (!value)
		return -EINVAL;
	while (*value == ' ' || *value == '\t')
		value++;
	alg_end = value + strcspn(value, " \t");
	if ((size_t)(alg_end - value) != alen || strncmp(value, SIGV4_ALGORITHM, alen) != 0) {
		envol_set_error(err, errlen, "Unsupported Authorization Type; only %s is accepted",
			SIGV4_ALGORITHM);
		return -EPROTONOSUPPORT;
	}
	p = alg_end;
	while (*p) {
		const char *item, *eq, *end;
		size_t klen, vlen;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		item = p;
		end = item + strcspn(item, ",");
		p = end;
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		eq = memchr(item, '=', (size_t)(end - item));
		if (!eq) {
			envol_set_error(err, errlen, "Authorization header part '%.*s' is not Key=Value",
				(int)((end - item) > 64 ? 64 : (end - item)), item);
			return -EINVAL;
		}
		klen = (size_t)(eq - item);
		vlen = (size_t)(end - eq - 1);
		if (klen == 10 && strncmp(item, "Credential", 10) == 0) {
			const char *c = eq + 1, *parts[5];
			size_t lens[5], np = 0, start = 0;

			for (size_t i = 0; i <= vlen; i++) {
				if (i == vlen || c[i] == '/') {
					if (np == 5) {
						np = 6;
						break;
					}
					parts[np] = c + start;
					lens[np] = i - start;
					np++;
					start = i + 1;
				}
			}
			if (np != 5 ||
			    !copy_field(a.access_key_id, sizeof a.access_key_id, parts[0],
					lens[0]) ||
			    lens[1] != 8 || !copy_field(a.date, sizeof a.date, parts[1], lens[1]) ||
			    !copy_field(a.region, sizeof a.region, parts[2], lens[2]) ||
			    !copy_field(a.service, sizeof a.service, parts[3], lens[3]) ||
			    lens[4] != 12 || strncmp(parts[4], "aws4_request", 12) != 0) {
				envol_set_error(err, errlen,
					"Credential must have the form "
					"<access key>/<YYYYMMDD>/<region>/<service>/aws4_request");
				return -EINVAL;
			}
			for (int i = 0; i < 8; i++)
				if (!isdigit((unsigned char)a.date[i])) {
					envol_set_error(err, errlen,
						"Credential scope date is not YYYYMMDD");
					return -EINVAL;
				}
			have_cred = true;
		} else if (klen == 13 && strncmp(item, "SignedHeaders", 13) == 0) {
			if (!copy_field(a.signed_headers, sizeof a.signed_headers, eq + 1, vlen) ||
			    !valid_signed_headers(a.signed_headers)) {
				envol_set_error(err, errlen,
					"SignedHeaders is not a ';'-separated list of "
					"lower-case header names");
				return -EINVAL;
			}
			have_sh = true;
		} else if (klen == 9 && strncmp(item, "Signature", 9) == 0) {
			uint8_t sig_bytes[32];

			if (envol_hex_decode(eq + 1, vlen, sig_bytes, sizeof sig_bytes) < 0) {
				envol_set_error(err, errlen, "Signature must be 64 hex digits");
				return -EINVAL;
			}
			memcpy(a.signature, eq + 1, 64);
			for (size_t i = 0; i < 64; i++)
				a.signature[i] = (char)tolower((unsigned char)a.signature[i]);
			a.signature[64] = '\0';
			have_sig = true;
		} else {
			envol_set_error(err, errlen, "Authorization header has an unknown part '%.*s'",
				(int)(klen > 32 ? 32 : klen), item);
			return -EINVAL;
		}
	}
	if (!have_cred || !have_sh || !have_sig) {
		envol_set_error(err, errlen, "Authorization header requires %s%s%s",
			have_cred ? "" : "'Credential' parameter. ",
			have_sh ? "" : "'SignedHeaders' parameter. ",
			have_sig ? "" : "'Signature' parameter. ");
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

/* ---- canonical request ---- */

/* Appends the canonical value of every header called name (case-insensitive), joined by ",":
 * leading and trailing whitespace trimmed, inner runs of whitespace collapsed to one space. */
static void buffer_header_values(struct envol_buffer *b, const struct sigv4_request *r, const char *name,
			     size_t name_len)
{
	bool first = true;

	for (size_t i = 0; i < r->n_headers; i++) {
		const char *v = r->headers[i].value ? r->headers[i].value : "";
		const char *e;
		bool space = false;

		if (strlen(r->headers[i].name) != name_len ||
		    strncasecmp(r->headers[i].name, name, name_len) != 0)
			continue;
		if (!first)
			envol_buffer_append_char(b, ',');
		first = false;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
			e--;
		for (; v < e; v++) {
			if (*v == ' ' || *v == '\t') {
				space = true;
				continue;
			}
			if (space)
				envol_buffer_append_char(b, ' ');
			space = false;
			envol_buffer_append_char(b, *v);
		}
	}
}

struct qparam {
	char *key; /* encoded */
	char *val; /* encoded */
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->val, y->val);
}

static int buffer_canonical_query(struct envol_buffer *b, const char *query)
{
	struct qparam params[SIGV4_MAX_QUERY_PARAMS];
	size_t n = 0;
	int r = 0;
	const char *p = query;

	while (p && *p) {
		const char *end = p + strcspn(p, "&"), *eq;
		_cleanup_free_ char *k = NULL, *v = NULL;
		size_t klen, vlen;
		struct envol_buffer ek = {0}, ev = {0};

		if (end == p) {
			p++;
			continue;
		}
		if (n == SIGV4_MAX_QUERY_PARAMS) {
			r = -EINVAL;
			goto out;
		}
		eq = memchr(p, '=', (size_t)(end - p));
		k = uri_decode(p, (size_t)((eq ? eq : end) - p), &klen);
		v = eq ? uri_decode(eq + 1, (size_t)(end - eq - 1), &vlen) : strdup("");
		if (!k || !v) {
			r = -ENOMEM;
			goto out;
		}
		if (!eq)
			vlen = 0;
		buffer_uri_encode(&ek, k, klen, false);
		buffer_uri_encode(&ev, v, vlen, false);
		if (envol_buffer_take(&ek, &params[n].key, NULL) < 0) {
			envol_buffer_done(&ev);
			r = -ENOMEM;
			goto out;
		}
		if (envol_buffer_take(&ev, &params[n].val, NULL) < 0) {
			free(params[n].key);
			r = -ENOMEM;
			goto out;
		}
		n++;
		p = *end ? end + 1 : end;
	}
	qsort(params, n, sizeof params[0], qparam_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			envol_buffer_append_char(b, '&');
		envol_buffer_append_str(b, params[i].key);
		envol_buffer_append_char(b, '=');
		envol_buffer_append_str(b, params[i].val);
	}
out:
	for (size_t i = 0; i < n; i++) {
		free(params[i].key);
		free(params[i].val);
	}
	return r;
}

int sigv4_canonical_request(const struct sigv4_request *r, const char *signed_headers,
			    const char *payload_hash, char **ret)
{
	struct envol_buffer b = {0};
	const char *path = r->path && *r->path ? r->path : "/";
	const char *p;
	int k;

	if (!r->method || !signed_headers || !valid_signed_headers(signed_headers) ||
	    !payload_hash || path[0] != '/')
		return -EINVAL;
	envol_buffer_append_str(&b, r->method);
	envol_buffer_append_char(&b, '\n');
	buffer_uri_encode(&b, path, strlen(path), true);
	envol_buffer_append_char(&b, '\n');
	k = buffer_canonical_query(&b, r->query);
	if (k < 0) {
		envol_buffer_done(&b);
		return k;
	}
	envol_buffer_append_char(&b, '\n');
	for (p = signed_headers; *p;) {
		size_t n = strcspn(p, ";");

		envol_buffer_append(&b, p, n);
		envol_buffer_append_char(&b, ':');
		buffer_header_values(&b, r, p, n);
		envol_buffer_append_char(&b, '\n');
		p += n;
		if (*p == ';')
			p++;
	}
	envol_buffer_append_char(&b, '\n');
	envol_buffer_append_str(&b, signed_headers);
	envol_buffer_append_char(&b, '\n');
	envol_buffer_append_str(&b, payload_hash);
	return envol_buffer_take(&b, ret, NULL);
}

int sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical_request,
			 char **ret)
{
	struct envol_buffer b = {0};
	char h[65];

	sigv4_sha256_hex(canonical_request, strlen(canonical_request), h);
	envol_buffer_append_str(&b, SIGV4_ALGORITHM "\n");
	envol_buffer_append_str(&b, amz_date);
	envol_buffer_append_char(&b, '\n');
	envol_buffer_append_str(&b, scope);
	envol_buffer_append_char(&b, '\n');
	envol_buffer_append_str(&b, h);
	return envol_buffer_take(&b, ret, NULL);
}

static int hmac_sha256(const void *key, size_t key_len, const char *msg, uint8_t out[32])
{
	unsigned int len = 32;

	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), out,
		  &len) ||
	    len != 32)
		return -EINVAL;
	return 0;
}

int sigv4_signing_key(const char *secret, const char *date8, const char *region,
		      const char *service, uint8_t ret[32])
{
	char k0[4 + 256];
	uint8_t k[32];
	size_t slen;
	int r;

	if (!secret || !date8 || !region || !service)
		return -EINVAL;
	slen = strlen(secret);
	if (slen > 256)
		return -EINVAL;
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	r = hmac_sha256(k0, 4 + slen, date8, k);
	envol_wipe(k0, sizeof k0);
	if (r >= 0)
		r = hmac_sha256(k, 32, region, k);
	if (r >= 0)
		r = hmac_sha256(k, 32, service, k);
	if (r >= 0)
		r = hmac_sha256(k, 32, "aws4_request", k);
	if (r >= 0)
		memcpy(ret, k, 32);
	envol_wipe(k, sizeof k);
	return r;
}

int sigv4_signature(const char *secret, const char *date8, const char *region, const char *service,
		    const char *string_to_sign, char ret[65])
{
	uint8_t key[32], sig[32];
	int r;

	r = sigv4_signing_key(secret, date8, region, service, key);
	if (r >= 0)
		r = hmac_sha256(key, sizeof key, string_to_sign, sig);
	envol_wipe(key, sizeof key);
	if (r < 0)
		return r;
	envol_hex_encode(sig, sizeof sig, ret);
	return 0;
}

/* Scope "YYYYMMDD/region/service/aws4_request" into a malloc'd string. */
static char *make_scope(const char *date8, const char *region, const char *service)
{
	char *s = NULL;

	if (asprintf(&s, "%.8s/%s/%s/aws4_request", date8, region, service) < 0)
		return NULL;
	return s;
}

static int compute_signature(const struct sigv4_request *r, const char *secret, const char *date8,
			     const char *region, const char *service, const char *amz_date,
			     const char *signed_headers, const char *payload_hash, char ret[65])
{
	_cleanup_free_ char *creq = NULL, *sts = NULL, *scope = NULL;
	int k;

	k = sigv4_canonical_request(r, signed_headers, payload_hash, &creq);
	if (k < 0)
		return k;
	scope = make_scope(date8, region, service);
	if (!scope)
		return -ENOMEM;
	k = sigv4_string_to_sign(amz_date, scope, creq, &sts);
	if (k < 0)
		return k;
	return sigv4_signature(secret, date8, region, service, sts, ret);
}

int sigv4_sign(const struct sigv4_request *r, const char *access_key_id, const char *secret,
	       const char *region, const char *service, const char *amz_date,
	       const char *signed_headers, char **ret_authorization)
{
	char payload[65], sig[65], date8[9];
	char *auth = NULL;
	int k;

	if (!amz_date || strlen(amz_date) < 8)
		return -EINVAL;
	memcpy(date8, amz_date, 8);
	date8[8] = '\0';
	sigv4_sha256_hex(r->body, r->body_len, payload);
	k = compute_signature(r, secret, date8, region, service, amz_date, signed_headers, payload,
			      sig);
	if (k < 0)
		return k;
	if (asprintf(&auth,
		     SIGV4_ALGORITHM " Credential=%s/%.8s/%s/%s/aws4_request, "
				     "SignedHeaders=%s, Signature=%s",
		     access_key_id, amz_date, region, service, signed_headers, sig) < 0)
		return -ENOMEM;
	*ret_authorization = auth;
	return 0;
}

/* ---- verifier ---- */

static const char *const status_type[_SIGV4_STATUS_MAX] = {
    [SIGV4_OK] = NULL,
    [SIGV4_MISSING_AUTH] = "MissingAuthenticationTokenException",
    [SIGV4_INCOMPLETE] = "IncompleteSignatureException",
    [SIGV4_UNKNOWN_KEY] = "UnrecognizedClientException",
    [SIGV4_BAD_SIGNATURE] = "InvalidSignatureException",
    [SIGV4_EXPIRED] = "InvalidSignatureException",
};

static int verdict(struct sigv4_result *ret, enum sigv4_status st, const char *fmt, ...)
    _printf_(3, 4);
static int verdict(struct sigv4_result *ret, enum sigv4_status st, const char *fmt, ...)
{
	va_list ap;

	ret->status = st;
	ret->error_type = status_type[st];
	ret->http_status = st == SIGV4_OK ? 0 : 400;
	ret->credential = NULL;
	va_start(ap, fmt);
	vsnprintf(ret->message, sizeof ret->message, fmt, ap);
	va_end(ap);
	return st == SIGV4_OK ? 0 : -EACCES;
}

/* The only header called name, or NULL (also sets *ret_count). */
static const char *find_header(const struct sigv4_request *r, const char *name, size_t *ret_count)
{
	const char *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0) {
			if (!v)
				v = r->headers[i].value ? r->headers[i].value : "";
			n++;
		}
	*ret_count = n;
	return v;
}

static bool list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ";");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len;
		if (*p == ';')
			p++;
	}
	return false;
}

/*
 * The first header of r that must be signed but is not in a's SignedHeaders: AWS requires host
 * (checked before), content-type and every x-amz-* header present to be signed, so that no part of
 * the request that selects or shapes the operation (X-Amz-Target above all) can be changed without
 * the key. NULL when every such header is signed.
 */
static const char *first_unsigned_header(const struct sigv4_request *r, const struct sigv4_auth *a)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *name = r->headers[i].name;
		char lower[sizeof a->signed_headers];
		size_t n = strlen(name);

		if (strncasecmp(name, "x-amz-", 6) != 0 && strcasecmp(name, "content-type") != 0)
			continue;
		if (n >= sizeof lower)
			return name; /* longer than any SignedHeaders list */
		for (size_t j = 0; j <= n; j++)
			lower[j] = (char)tolower((unsigned char)name[j]);
		if (!list_has(a->signed_headers, lower))
			return name;
	}
	return NULL;
}

static const char *trim(const char *s, char *buf, size_t buflen)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= buflen)
		n = buflen - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

int sigv4_verify(const struct sigv4_request *r, const struct sigv4_credential *creds,
		 size_t n_creds, const char *region, const char *service, time_t now,
		 struct sigv4_result *ret)
{
	struct sigv4_auth a;
	const struct sigv4_credential *cred = NULL;
	const char *authz, *date_hdr, *content_sha, *unsigned_name;
	char err[256], date_buf[40], amz_date[17], payload[65], sig[65];
	char now_s[17], lim_s[17];
	size_t count;
	time_t t;
	int k;

	authz = find_header(r, "authorization", &count);
	if (!authz)
		return verdict(ret, SIGV4_MISSING_AUTH, "Missing Authentication Token");
	if (count > 1)
		return verdict(ret, SIGV4_INCOMPLETE, "Only one Authorization header is allowed");
	k = sigv4_parse_authorization(authz, &a, err, sizeof err);
	if (k < 0)
		return verdict(ret, SIGV4_INCOMPLETE, "%s", err);

	date_hdr = find_header(r, "x-amz-date", &count);
	if (!date_hdr)
		return verdict(ret, SIGV4_INCOMPLETE,
			       "Authorization header requires existence of a 'X-Amz-Date' header.");
	trim(date_hdr, date_buf, sizeof date_buf);
	if (count > 1 || sigv4_parse_amz_date(date_buf, &t) < 0)
		return verdict(
		    ret, SIGV4_INCOMPLETE,
		    "X-Amz-Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z')");
	memcpy(amz_date, date_buf, 17);

	if (!list_has(a.signed_headers, "host"))
		return verdict(ret, SIGV4_BAD_SIGNATURE,
			       "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
			       "Authorization.");
	if (!list_has(a.signed_headers, "x-amz-date"))
		return verdict(ret, SIGV4_BAD_SIGNATURE,
			       "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");

	for (size_t i = 0; i < n_creds; i++)
		if (creds[i].access_key_id &&
		    strcmp(creds[i].access_key_id, a.access_key_id) == 0) {
			cred = &creds[i];
			break;
		}
	if (!cred || !cred->secret_access_key)
		return verdict(ret, SIGV4_UNKNOWN_KEY,
			       "The security token included in the request is invalid.");

	if (strncmp(a.date, amz_date, 8) != 0)
		return verdict(ret, SIGV4_BAD_SIGNATURE,
			       "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
			       "version of date from HTTP: '%s' != '%.8s', from '%s'.",
			       a.date, amz_date, amz_date);
	if (strcmp(a.region, region) != 0)
		return verdict(ret, SIGV4_BAD_SIGNATURE,
			       "Credential should be scoped to a valid region: '%s'.", region);
	if (strcmp(a.service, service) != 0)
		return verdict(ret, SIGV4_BAD_SIGNATURE,
			       "Credential should be scoped to correct service: '%s'.", service);

	sigv4_format_amz_date(now, now_s);
	if (t < now - SIGV4_MAX_SKEW_SECONDS) {
		sigv4_format_amz_date(now - SIGV4_MAX_SKEW_SECONDS, lim_s);
		return verdict(ret, SIGV4_EXPIRED,
			       "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			       amz_date, lim_s, now_s);
	}
	if (t > now + SIGV4_MAX_SKEW_SECONDS) {
		sigv4_format_amz_date(now + SIGV4_MAX_SKEW_SECONDS, lim_s);
		return verdict(
		    ret, SIGV4_EXPIRED,
		    "Signature not yet current: %s is still later than %s (%s + 15 min.)", amz_date,
		    lim_s, now_s);
	}

	sigv4_sha256_hex(r->body, r->body_len, payload);
	content_sha = find_header(r, "x-amz-content-sha256", &count);
	if (content_sha) {
		char cbuf[80];

		trim(content_sha, cbuf, sizeof cbuf);
		if (count > 1 || strcasecmp(cbuf, payload) != 0)
			return verdict(ret, SIGV4_BAD_SIGNATURE,
				       "The provided 'x-amz-content-sha256' header does not match "
				       "what was computed.");
	}

	unsigned_name = first_unsigned_header(r, &a);
	if (unsigned_name)
		return verdict(ret, SIGV4_BAD_SIGNATURE,
			       "'%.64s' must be a 'SignedHeader' in the AWS Authorization.",
			       unsigned_name);

	k = compute_signature(r, cred->secret_access_key, a.date, a.region, a.service, amz_date,
			      a.signed_headers, payload, sig);
	if (k == -ENOMEM)
		return k;
	if (k < 0 || !envol_memequal_consttime(sig, a.signature, 64))
		return verdict(ret, SIGV4_BAD_SIGNATURE,
			       "The request signature we calculated does not match the signature "
			       "you provided. Check your AWS Secret Access Key and signing method. "
			       "Consult the service documentation for details.");
	k = verdict(ret, SIGV4_OK, "OK");
	ret->credential = cred;
	return k;
}
