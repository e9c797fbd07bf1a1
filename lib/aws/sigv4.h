/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sigv4.h — AWS Signature Version 4 (AWS4-HMAC-SHA256, signed headers): canonical request,
 * string to sign, signing key, signature, and the verifier envol-kmsd runs on every TCP request.
 * Pure: no I/O, no clock (the caller passes "now"), no logging of secrets.
 *
 * Reference: the AWS SigV4 documentation and its published test suite (aws-sig-v4-test-suite,
 * as carried by aws-c-auth); tests/unit/test_sigv4.c runs those vectors.
 */
#ifndef ENVOL_SIGV4_H
#define ENVOL_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_MAX_SKEW_SECONDS (15 * 60) /* as AWS: ±15 minutes */

/* One request header as received; repeated names are allowed (joined with "," when signed). */
struct sigv4_header {
	const char *name;
	const char *value;
};

struct sigv4_request {
	const char *method; /* "POST" */
	const char *path;   /* decoded path, e.g. "/"; URI-encoded once in the canonical form */
	const char *query;  /* raw query string without '?', or NULL / "" */
	const struct sigv4_header *headers;
	size_t n_headers;
	const void *body; /* the payload; may be NULL when body_len is 0 */
	size_t body_len;
};

/* The parts of an "Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…". */
struct sigv4_auth {
	char access_key_id[129];
	char date[9]; /* scope date YYYYMMDD */
	char region[64];
	char service[64];
	char signed_headers[1024]; /* "host;x-amz-date", lower case, ';'-separated */
	char signature[65];	   /* 64 lower-case hex digits */
};

/*
 * Parses an Authorization header value.  Returns 0, -EPROTONOSUPPORT when the algorithm is not
 * AWS4-HMAC-SHA256, or -EINVAL when a part is missing or malformed (err, if not NULL, says which,
 * in AWS's words).  *ret is untouched on failure.
 */
int sigv4_parse_authorization(const char *value, struct sigv4_auth *ret, char *err, size_t errlen);

/* "20150830T123600Z" <-> time_t (UTC).  Parse returns 0 or -EINVAL. */
int sigv4_parse_amz_date(const char *text, time_t *ret);
void sigv4_format_amz_date(time_t t, char out[17]);

/* Lower-case hex SHA-256 of len bytes into out (65 bytes). */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * The canonical request for r, signing the ';'-separated lower-case header names in
 * signed_headers (in that order), with payload_hash (hex) as the last line.  Returns 0 with a
 * malloc'd string, -EINVAL (bad signed_headers or path) or -ENOMEM.
 */
int sigv4_canonical_request(const struct sigv4_request *r, const char *signed_headers,
			    const char *payload_hash, char **ret);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical_request>"; 0 or -ENOMEM. */
int sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical_request,
			 char **ret);

/* The 32-byte signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request").  Returns 0 or -EINVAL. */
int sigv4_signing_key(const char *secret, const char *date8, const char *region,
		      const char *service, uint8_t ret[32]);

/* Hex signature of string_to_sign with the key derived from the other arguments. 0/-EINVAL. */
int sigv4_signature(const char *secret, const char *date8, const char *region, const char *service,
		    const char *string_to_sign, char ret[65]);

/*
 * Signs r (for tests and clients): amz_date is the request's X-Amz-Date, which r's headers must
 * already carry along with every header named in signed_headers.  Returns 0 with a malloc'd
 * Authorization header value, or -errno.
 */
int sigv4_sign(const struct sigv4_request *r, const char *access_key_id, const char *secret,
	       const char *region, const char *service, const char *amz_date,
	       const char *signed_headers, char **ret_authorization);

/* A key pair the verifier accepts, and the principal it authenticates as. */
struct sigv4_credential {
	const char *access_key_id;
	const char *secret_access_key;
	const char *principal;
};

enum sigv4_status {
	SIGV4_OK = 0,
	SIGV4_MISSING_AUTH, /* no Authorization header: MissingAuthenticationTokenException */
	SIGV4_INCOMPLETE,  /* garbled Authorization / no X-Amz-Date: IncompleteSignatureException */
	SIGV4_UNKNOWN_KEY, /* access key id not configured: UnrecognizedClientException */
	SIGV4_BAD_SIGNATURE, /* wrong signature, scope or payload hash: InvalidSignatureException */
	SIGV4_EXPIRED,	     /* X-Amz-Date more than 15 minutes off: InvalidSignatureException */
	_SIGV4_STATUS_MAX,
};

struct sigv4_result {
	enum sigv4_status status;
	const char *error_type; /* AWS __type ("InvalidSignatureException"), NULL when OK */
	int http_status;	/* 400 as AWS KMS answers these, 0 when OK */
	char message[384];	/* AWS-style message; never contains a secret */
	const struct sigv4_credential *credential; /* the matching entry of creds when OK */
};

/*
 * Verifies r against the configured credentials: Authorization (AWS4-HMAC-SHA256, scope
 * <date>/<region>/<service>/aws4_request), X-Amz-Date within ±15 minutes of now and equal to the
 * scope date, "host" and "x-amz-date" among the signed headers, x-amz-content-sha256 (if
 * present) equal to the body's hash, every other x-amz-* header present (X-Amz-Target above all)
 * and content-type signed too (else InvalidSignatureException "'X-Amz-Target' must be a
 * 'SignedHeader' in the AWS Authorization."), and the signature (compared in constant time).
 * Fills *ret in every case; returns 0 when the request is authentic, -EACCES when not, -ENOMEM.
 */
int sigv4_verify(const struct sigv4_request *r, const struct sigv4_credential *creds,
		 size_t n_creds, const char *region, const char *service, time_t now,
		 struct sigv4_result *ret);

#endif
