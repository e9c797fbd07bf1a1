/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sigv4.c — lib/sigv4 against AWS's published Signature Version 4 test suite
 * (aws-sig-v4-test-suite, the header-signed-request.txt files as carried by aws-c-auth:
 * AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service"), the documented signing-key example,
 * and the verifier refusing modified headers, bodies and dates, unknown keys, wrong secrets, skew.
 */
#include <string.h>

#include "util/macros.h"
#include "util/encoding.h"
#include "aws/sigv4.h"
#include "unit.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define VECTOR_DATE "20150830T123600Z"
#define AUTH_PREFIX                                                                                \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

/* The suite's signed requests, verbatim ("Name:value" header lines, blank line, body). */
static const struct {
	const char *name;
	const char *text;
} vectors[] = {
    {"get-vanilla", "GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:" AUTH_PREFIX
		    "SignedHeaders=host;x-amz-date, "
		    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n"
		    "X-Amz-Date:20150830T123600Z\n\n"},
    {"get-vanilla-query-order-key-case",
     "GET /?Param2=value2&Param1=value1 "
     "HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:" AUTH_PREFIX
     "SignedHeaders=host;x-amz-date, "
     "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"get-vanilla-query-unreserved",
     "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
     "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n"
     "Host:example.amazonaws.com\nAuthorization:" AUTH_PREFIX "SignedHeaders=host;x-amz-date, "
     "Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"get-unreserved",
     "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n"
     "Host:example.amazonaws.com\nAuthorization:" AUTH_PREFIX "SignedHeaders=host;x-amz-date, "
     "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"get-utf8",
     "GET /\xe1\x88\xb4 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:" AUTH_PREFIX
     "SignedHeaders=host;x-amz-date, "
     "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"get-header-key-duplicate",
     "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\n"
     "My-Header1:value1\nAuthorization:" AUTH_PREFIX "SignedHeaders=host;my-header1;x-amz-date, "
     "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"get-header-value-order",
     "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\n"
     "My-Header1:value3\nMy-Header1:value2\nAuthorization:" AUTH_PREFIX
     "SignedHeaders=host;my-header1;x-amz-date, "
     "Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"get-header-value-trim",
     "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\n"
     "My-Header2: \"a   b   c\"\nAuthorization:" AUTH_PREFIX
     "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
     "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"post-vanilla", "POST / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:" AUTH_PREFIX
		     "SignedHeaders=host;x-amz-date, "
		     "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b\n"
		     "X-Amz-Date:20150830T123600Z\n\n"},
    {"post-vanilla-query",
     "POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:" AUTH_PREFIX
     "SignedHeaders=host;x-amz-date, "
     "Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"post-header-key-sort",
     "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\nAuthorization:" AUTH_PREFIX
     "SignedHeaders=host;my-header1;x-amz-date, "
     "Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"post-header-value-case",
     "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\nAuthorization:" AUTH_PREFIX
     "SignedHeaders=host;my-header1;x-amz-date, "
     "Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d\n"
     "X-Amz-Date:20150830T123600Z\n\n"},
    {"post-x-www-form-urlencoded",
     "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\n"
     "Host:example.amazonaws.com\nContent-Length:13\n"
     "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"
     "Authorization:" AUTH_PREFIX
     "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, "
     "Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b\n"
     "X-Amz-Date:20150830T123600Z\n\nParam1=value1"},
};

/* A parsed vector: the request, plus copies of the strings it points into. */
struct parsed {
	char buf[2048];
	char method[8];
	char path[512];
	char *query;
	struct sigv4_header headers[16];
	size_t n_headers;
	const char *authorization;
	struct sigv4_request req;
};

static void parse_vector(const char *text, struct parsed *p)
{
	char *line, *save = NULL, *body, *sp, *sp2;

	memset(p, 0, sizeof *p);
	snprintf(p->buf, sizeof p->buf, "%s", text);
	body = strstr(p->buf, "\n\n");
	CU_ASSERT_FATAL(body != NULL);
	*body = '\0';
	body += 2;

	line = strtok_r(p->buf, "\n", &save);
	sp = strchr(line, ' ');
	sp2 = strrchr(line, ' ');
	CU_ASSERT_FATAL(sp && sp2 && sp != sp2);
	snprintf(p->method, sizeof p->method, "%.*s", (int)(sp - line), line);
	snprintf(p->path, sizeof p->path, "%.*s", (int)(sp2 - sp - 1), sp + 1);
	p->query = strchr(p->path, '?');
	if (p->query)
		*p->query++ = '\0';
	while ((line = strtok_r(NULL, "\n", &save))) {
		char *colon = strchr(line, ':');

		CU_ASSERT_FATAL(colon != NULL && p->n_headers < 16);
		*colon = '\0';
		p->headers[p->n_headers].name = line;
		p->headers[p->n_headers].value = colon + 1;
		if (strcmp(line, "Authorization") == 0)
			p->authorization = colon + 1;
		p->n_headers++;
	}
	p->req.method = p->method;
	p->req.path = p->path;
	p->req.query = p->query;
	p->req.headers = p->headers;
	p->req.n_headers = p->n_headers;
	p->req.body = body;
	p->req.body_len = strlen(body);
}

static const struct sigv4_credential creds[] = {
    {"AKIDOTHER0000000", "some-other-secret", "arn:aws:iam::000000000000:user/bob"},
    {AKID, SECRET, "arn:aws:iam::000000000000:user/alice"},
};

static time_t vector_time(void)
{
	time_t t = 0;

	CU_ASSERT_EQUAL(sigv4_parse_amz_date(VECTOR_DATE, &t), 0);
	return t;
}

static void test_suite_sign(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct parsed p;
		struct sigv4_auth a;
		char *auth = NULL;

		parse_vector(vectors[i].text, &p);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p.authorization);
		CU_ASSERT_EQUAL_FATAL(sigv4_parse_authorization(p.authorization, &a, NULL, 0), 0);
		CU_ASSERT_EQUAL(sigv4_sign(&p.req, AKID, SECRET, "us-east-1", "service",
					   VECTOR_DATE, a.signed_headers, &auth),
				0);
		if (!auth || strcmp(auth, p.authorization) != 0)
			fprintf(stderr, "\n%s:\n  got  %s\n  want %s\n", vectors[i].name,
				auth ? auth : "(null)", p.authorization);
		CU_ASSERT(auth && strcmp(auth, p.authorization) == 0);
		free(auth);
	}
}

static void test_suite_verify(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		struct parsed p;
		struct sigv4_result res;

		parse_vector(vectors[i].text, &p);
		CU_ASSERT_EQUAL(sigv4_verify(&p.req, creds, ARRAY_SIZE(creds), "us-east-1",
					     "service", vector_time(), &res),
				0);
		CU_ASSERT_EQUAL(res.status, SIGV4_OK);
		CU_ASSERT_PTR_EQUAL(res.credential, &creds[1]);
		if (res.status != SIGV4_OK)
			fprintf(stderr, "\n%s: %s\n", vectors[i].name, res.message);
	}
}

/* get-vanilla's published canonical request and string to sign, and the signing keys of
 * the suite and of AWS's "derive a signing key" example (20120215/us-east-1/iam). */
static void test_canonical_and_key(void)
{
	struct parsed p;
	char *creq = NULL, *sts = NULL, hex[65];
	uint8_t key[32];
	static const char empty[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

	parse_vector(vectors[0].text, &p);
	CU_ASSERT_EQUAL(sigv4_canonical_request(&p.req, "host;x-amz-date", empty, &creq), 0);
	CU_ASSERT_STRING_EQUAL(creq,
			       "GET\n/\n\nhost:example.amazonaws.com\n"
			       "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
			       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CU_ASSERT_EQUAL(sigv4_string_to_sign(VECTOR_DATE, "20150830/us-east-1/service/aws4_request",
					     creq, &sts),
			0);
	CU_ASSERT_STRING_EQUAL(sts,
			       "AWS4-HMAC-SHA256\n20150830T123600Z\n"
			       "20150830/us-east-1/service/aws4_request\n"
			       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	CU_ASSERT_EQUAL(sigv4_signature(SECRET, "20150830", "us-east-1", "service", sts, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex,
			       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	free(creq);
	free(sts);

	CU_ASSERT_EQUAL(sigv4_signing_key(SECRET, "20150830", "us-east-1", "service", key), 0);
	envol_hex_encode(key, sizeof key, hex);
	CU_ASSERT_STRING_EQUAL(hex,
			       "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
	CU_ASSERT_EQUAL(sigv4_signing_key(SECRET, "20120215", "us-east-1", "iam", key), 0);
	envol_hex_encode(key, sizeof key, hex);
	CU_ASSERT_STRING_EQUAL(hex,
			       "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void test_parse_authorization(void)
{
	struct sigv4_auth a;
	char err[256];

	CU_ASSERT_EQUAL(sigv4_parse_authorization(
			    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request,"
			    "SignedHeaders=host;x-amz-date,Signature="
			    "5FA00FA31553B73EBF1942676E86291E8372FF2A2260956D9B8AAE1D763FBF31",
			    &a, err, sizeof err),
			0);
	CU_ASSERT_STRING_EQUAL(a.access_key_id, "AK");
	CU_ASSERT_STRING_EQUAL(a.region, "r");
	CU_ASSERT_STRING_EQUAL(a.service, "s");
	CU_ASSERT_STRING_EQUAL(a.signed_headers, "host;x-amz-date");
	CU_ASSERT_STRING_EQUAL(a.signature,
			       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	CU_ASSERT_EQUAL(
	    sigv4_parse_authorization("AWS4-HMAC-SHA1 Credential=x", &a, err, sizeof err),
	    -EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(sigv4_parse_authorization("Basic dXNlcjpwYXNz", &a, err, sizeof err),
			-EPROTONOSUPPORT);
	CU_ASSERT_EQUAL(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/"
						  "aws4_request, SignedHeaders=host",
						  &a, err, sizeof err),
			-EINVAL);
	CU_ASSERT(strstr(err, "'Signature'") != NULL);
	CU_ASSERT_EQUAL(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=AK/2015083/r/s/"
						  "aws4_request, SignedHeaders=host, Signature=00",
						  &a, err, sizeof err),
			-EINVAL);
	CU_ASSERT_EQUAL(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/"
						  "aws4_requesx, SignedHeaders=host, Signature="
						  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d"
						  "9b8aae1d763fbf31",
						  &a, err, sizeof err),
			-EINVAL);
	CU_ASSERT_EQUAL(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/"
						  "aws4_request, SignedHeaders=Host, Signature="
						  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d"
						  "9b8aae1d763fbf31",
						  &a, err, sizeof err),
			-EINVAL);
	CU_ASSERT_EQUAL(sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/"
						  "aws4_request, SignedHeaders=host, Signature="
						  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d"
						  "9b8aae1d763fbf3g",
						  &a, err, sizeof err),
			-EINVAL);
}

static void test_dates(void)
{
	time_t t;
	char s[17];

	CU_ASSERT_EQUAL(sigv4_parse_amz_date("20150830T123600Z", &t), 0);
	CU_ASSERT_EQUAL(t, 1440938160);
	sigv4_format_amz_date(t, s);
	CU_ASSERT_STRING_EQUAL(s, "20150830T123600Z");
	CU_ASSERT_EQUAL(sigv4_parse_amz_date("20150830T123600", &t), -EINVAL);
	CU_ASSERT_EQUAL(sigv4_parse_amz_date("2015-08-30T12:36:00Z", &t), -EINVAL);
	CU_ASSERT_EQUAL(sigv4_parse_amz_date("20151330T123600Z", &t), -EINVAL);
	CU_ASSERT_EQUAL(sigv4_parse_amz_date("20150830T253600Z", &t), -EINVAL);
}

/* A KMS-style request signed by us, that the tests below then tamper with. */
struct kms_req {
	struct sigv4_header h[8];
	char auth[512];
	char date[17];
	const char *body;
	struct sigv4_request req;
};

static void make_kms_req(struct kms_req *k, const char *secret, time_t when)
{
	char *auth = NULL;

	memset(k, 0, sizeof *k);
	sigv4_format_amz_date(when, k->date);
	k->body = "{\"KeyId\":\"alias/envol/ebs\"}";
	k->h[0] = (struct sigv4_header){"Host", "127.0.0.1:8440"};
	k->h[1] = (struct sigv4_header){"Content-Type", "application/x-amz-json-1.1"};
	k->h[2] = (struct sigv4_header){"X-Amz-Target", "TrentService.DescribeKey"};
	k->h[3] = (struct sigv4_header){"X-Amz-Date", k->date};
	k->req = (struct sigv4_request){.method = "POST",
					.path = "/",
					.headers = k->h,
					.n_headers = 4,
					.body = k->body,
					.body_len = strlen(k->body)};
	CU_ASSERT_EQUAL_FATAL(sigv4_sign(&k->req, AKID, secret, "local", "kms", k->date,
					 "content-type;host;x-amz-date;x-amz-target", &auth),
			      0);
	snprintf(k->auth, sizeof k->auth, "%s", auth);
	free(auth);
	k->h[4] = (struct sigv4_header){"Authorization", k->auth};
	k->req.n_headers = 5;
}

static enum sigv4_status verify_at(struct kms_req *k, time_t now, struct sigv4_result *res)
{
	int r = sigv4_verify(&k->req, creds, ARRAY_SIZE(creds), "local", "kms", now, res);

	CU_ASSERT_EQUAL(r, res->status == SIGV4_OK ? 0 : -EACCES);
	return res->status;
}

static void test_verify_rejects(void)
{
	const time_t now = 1440938160;
	struct sigv4_result res;
	struct kms_req k;

	make_kms_req(&k, SECRET, now);
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_OK);
	CU_ASSERT_STRING_EQUAL(res.credential->principal, "arn:aws:iam::000000000000:user/alice");
	/* within the skew either way */
	CU_ASSERT_EQUAL(verify_at(&k, now + 899, &res), SIGV4_OK);
	CU_ASSERT_EQUAL(verify_at(&k, now - 899, &res), SIGV4_OK);

	/* modified body */
	k.req.body = "{\"KeyId\":\"alias/envol/ebx\"}";
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
	CU_ASSERT_STRING_EQUAL(res.error_type, "InvalidSignatureException");
	CU_ASSERT_EQUAL(res.http_status, 400);
	CU_ASSERT(strstr(res.message, "does not match the signature you provided") != NULL);
	k.req.body = k.body;

	/* modified signed header (operation), and its name's case does not matter */
	k.h[2].value = "TrentService.ScheduleKeyDeletion";
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
	k.h[2].value = "TrentService.DescribeKey";
	k.h[2].name = "x-amz-target";
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_OK);
	/* a header that was not signed may change */
	k.h[5] = (struct sigv4_header){"User-Agent", "curl"};
	k.req.n_headers = 6;
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_OK);
	/* a second value for a signed header changes the canonical form */
	k.h[5] = (struct sigv4_header){"Host", "127.0.0.1:8441"};
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
	k.req.n_headers = 5;

	/* modified date (same day, one second later): signature no longer matches */
	k.h[3].value = "20150830T123601Z";
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
	/* date of another day than the scope */
	k.h[3].value = "20150831T000100Z";
	CU_ASSERT_EQUAL(verify_at(&k, now + 12 * 3600, &res), SIGV4_BAD_SIGNATURE);
	CU_ASSERT(strstr(res.message, "Date in Credential scope") != NULL);
	k.h[3].value = k.date;

	/* expired / not yet current, with AWS's messages */
	CU_ASSERT_EQUAL(verify_at(&k, now + 25 * 60, &res), SIGV4_EXPIRED);
	CU_ASSERT_STRING_EQUAL(res.error_type, "InvalidSignatureException");
	CU_ASSERT_STRING_EQUAL(res.message,
			       "Signature expired: 20150830T123600Z is now earlier than "
			       "20150830T124600Z (20150830T130100Z - 15 min.)");
	CU_ASSERT_EQUAL(verify_at(&k, now - 16 * 60, &res), SIGV4_EXPIRED);
	CU_ASSERT_STRING_EQUAL(res.message,
			       "Signature not yet current: 20150830T123600Z is still "
			       "later than 20150830T123500Z (20150830T122000Z + 15 min.)");

	/* wrong region / service in the verifier's configuration */
	CU_ASSERT_EQUAL(
	    sigv4_verify(&k.req, creds, ARRAY_SIZE(creds), "us-east-1", "kms", now, &res), -EACCES);
	CU_ASSERT_EQUAL(res.status, SIGV4_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(sigv4_verify(&k.req, creds, ARRAY_SIZE(creds), "local", "s3", now, &res),
			-EACCES);
	CU_ASSERT_EQUAL(res.status, SIGV4_BAD_SIGNATURE);

	/* unknown access key */
	CU_ASSERT_EQUAL(sigv4_verify(&k.req, creds, 1, "local", "kms", now, &res), -EACCES);
	CU_ASSERT_EQUAL(res.status, SIGV4_UNKNOWN_KEY);
	CU_ASSERT_STRING_EQUAL(res.error_type, "UnrecognizedClientException");

	/* x-amz-content-sha256 that does not match the body */
	k.h[5] = (struct sigv4_header){
	    "X-Amz-Content-Sha256",
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
	k.req.n_headers = 6;
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
	CU_ASSERT(strstr(res.message, "x-amz-content-sha256") != NULL);
	k.req.n_headers = 5;

	/* no X-Amz-Date at all */
	k.h[3].name = "X-Amz-Dat";
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_INCOMPLETE);
	CU_ASSERT_STRING_EQUAL(res.error_type, "IncompleteSignatureException");
	k.h[3].name = "X-Amz-Date";

	/* no / garbled Authorization */
	k.h[4].name = "X-Authorization";
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_MISSING_AUTH);
	CU_ASSERT_STRING_EQUAL(res.error_type, "MissingAuthenticationTokenException");
	k.h[4] = (struct sigv4_header){"Authorization", "AWS4-HMAC-SHA256 Credential=" AKID};
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_INCOMPLETE);
	k.h[4] = (struct sigv4_header){"Authorization", k.auth};
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_OK);

	/* the wrong secret */
	make_kms_req(&k, "not-the-secret", now);
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
	CU_ASSERT_PTR_NULL(res.credential);
}

/* Host must be signed. */
static void test_verify_requires_host(void)
{
	const time_t now = 1440938160;
	struct sigv4_header h[3];
	struct sigv4_request req;
	struct sigv4_result res;
	char date[17], *auth = NULL;

	sigv4_format_amz_date(now, date);
	h[0] = (struct sigv4_header){"Host", "127.0.0.1"};
	h[1] = (struct sigv4_header){"X-Amz-Date", date};
	req = (struct sigv4_request){.method = "POST", .path = "/", .headers = h, .n_headers = 2};
	CU_ASSERT_EQUAL_FATAL(
	    sigv4_sign(&req, AKID, SECRET, "local", "kms", date, "x-amz-date", &auth), 0);
	h[2] = (struct sigv4_header){"Authorization", auth};
	req.n_headers = 3;
	CU_ASSERT_EQUAL(sigv4_verify(&req, creds, ARRAY_SIZE(creds), "local", "kms", now, &res),
			-EACCES);
	CU_ASSERT_EQUAL(res.status, SIGV4_BAD_SIGNATURE);
	CU_ASSERT(strstr(res.message, "'Host'") != NULL);
	free(auth);
}

/*
 * A request signed over host;x-amz-date only must not let X-Amz-Target (or any x-amz-* header,
 * or Content-Type) change under a valid signature: such a request is refused, whatever the
 * target, with AWS's InvalidSignatureException naming the header.
 */
static void test_verify_requires_signed_amz_headers(void)
{
	static const char *const targets[] = {"TrentService.DescribeKey", "TrentService.DisableKey",
					      "TrentService.ScheduleKeyDeletion"};
	static const struct {
		const char *signed_headers, *unsigned_name;
	} cases[] = {
	    {"host;x-amz-date", "Content-Type"},
	    {"host;x-amz-date;x-amz-target", "Content-Type"},
	    {"content-type;host;x-amz-date", "X-Amz-Target"},
	};
	const time_t now = 1440938160;
	struct sigv4_result res;
	struct kms_req k;

	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		char *auth = NULL, want[128];

		make_kms_req(&k, SECRET, now);
		CU_ASSERT_EQUAL_FATAL(sigv4_sign(&k.req, AKID, SECRET, "local", "kms", k.date,
						 cases[c].signed_headers, &auth),
				      0);
		snprintf(k.auth, sizeof k.auth, "%s", auth);
		free(auth);
		snprintf(want, sizeof want,
			 "'%s' must be a 'SignedHeader' in the AWS Authorization.",
			 cases[c].unsigned_name);
		for (size_t t = 0; t < ARRAY_SIZE(targets); t++) {
			k.h[2].value = targets[t];
			CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
			if (res.status != SIGV4_BAD_SIGNATURE)
				continue;
			CU_ASSERT_STRING_EQUAL(res.error_type, "InvalidSignatureException");
			CU_ASSERT_EQUAL(res.http_status, 400);
			CU_ASSERT_STRING_EQUAL(res.message, want);
			CU_ASSERT_PTR_NULL(res.credential);
		}
	}

	/* every x-amz-* header counts, in any case; x-amzn-* and others do not */
	make_kms_req(&k, SECRET, now);
	k.h[5] = (struct sigv4_header){"x-amz-security-token", "token"};
	k.req.n_headers = 6;
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_BAD_SIGNATURE);
	CU_ASSERT_STRING_EQUAL(res.message, "'x-amz-security-token' must be a 'SignedHeader' in "
					    "the AWS Authorization.");
	k.h[5] =
	    (struct sigv4_header){"X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"};
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_OK);
	k.h[5] = (struct sigv4_header){"Amz-Sdk-Invocation-Id", "1"};
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_OK);

	/* signed over all of them (as botocore, the aws CLI and libcurl sign): accepted */
	make_kms_req(&k, SECRET, now);
	CU_ASSERT_EQUAL(verify_at(&k, now, &res), SIGV4_OK);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"AWS test suite: sign reproduces every published signature", test_suite_sign},
	    {"AWS test suite: verifier accepts every published request", test_suite_verify},
	    {"canonical request, string to sign, signing keys", test_canonical_and_key},
	    {"Authorization header parsing", test_parse_authorization},
	    {"X-Amz-Date parsing and formatting", test_dates},
	    {"verifier rejects modified body/headers/date, skew, unknown key, wrong secret",
	     test_verify_rejects},
	    {"verifier requires a signed Host", test_verify_requires_host},
	    {"verifier requires X-Amz-Target, every x-amz-* and Content-Type signed",
	     test_verify_requires_signed_amz_headers},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"sigv4", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
