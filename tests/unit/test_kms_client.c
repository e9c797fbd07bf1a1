/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_client.c — lib/kms_client.c without a KMS: AWS error bodies, the error -> errno
 * map, the in-place JSON string finder used for Plaintext, configuration checks, and the
 * "KMS unreachable" path (-EHOSTDOWN) against a missing and a dead Unix socket.
 * The real conversation with envol-kmsd is tested in tests/interop/test-envolctl-*.sh.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/config.h"
#include "aws/kms_client.h"
#include "unit.h"

static void test_parse_error(void)
{
	char type[64], msg[128];

	CU_ASSERT_EQUAL(
	    envol_kms_client_parse_error("{\"__type\":\"NotFoundException\",\"message\":"
					 "\"Key 'x' does not exist\"}",
					 type, sizeof type, msg, sizeof msg),
	    0);
	CU_ASSERT_STRING_EQUAL(type, "NotFoundException");
	CU_ASSERT_STRING_EQUAL(msg, "Key 'x' does not exist");
	CU_ASSERT_EQUAL(
	    envol_kms_client_parse_error("{\"__type\":\"com.amazonaws.kms#DisabledException\","
					 "\"Message\":\"off\"}",
					 type, sizeof type, msg, sizeof msg),
	    0);
	CU_ASSERT_STRING_EQUAL(type, "DisabledException");
	CU_ASSERT_STRING_EQUAL(msg, "off");
	CU_ASSERT_EQUAL(envol_kms_client_parse_error("{\"__type\":\"ValidationException\"}", type,
						     sizeof type, msg, sizeof msg),
			0);
	CU_ASSERT_STRING_EQUAL(msg, "");
	CU_ASSERT_EQUAL(
	    envol_kms_client_parse_error("{\"KeyId\":\"x\"}", type, sizeof type, msg, sizeof msg),
	    -EINVAL);
	CU_ASSERT_EQUAL(envol_kms_client_parse_error("<html>", type, sizeof type, msg, sizeof msg),
			-EINVAL);
	CU_ASSERT_EQUAL(envol_kms_client_parse_error(NULL, type, sizeof type, msg, sizeof msg),
			-EINVAL);
	CU_ASSERT_EQUAL(
	    envol_kms_client_parse_error("{\"__type\":7}", type, sizeof type, msg, sizeof msg),
	    -EINVAL);
}

static void test_errno_map(void)
{
	CU_ASSERT_EQUAL(envol_kms_client_error_errno("AccessDeniedException"), -EACCES);
	CU_ASSERT_EQUAL(envol_kms_client_error_errno("DisabledException"), -EKEYREVOKED);
	CU_ASSERT_EQUAL(envol_kms_client_error_errno("KMSInvalidStateException"), -EKEYREVOKED);
	CU_ASSERT_EQUAL(envol_kms_client_error_errno("InvalidCiphertextException"), -EBADMSG);
	CU_ASSERT_EQUAL(envol_kms_client_error_errno("NotFoundException"), -ENOKEY);
	CU_ASSERT_EQUAL(envol_kms_client_error_errno("SomethingNew"), -EIO);
	CU_ASSERT_EQUAL(envol_kms_client_error_errno(NULL), -EIO);
}

static void test_find_string(void)
{
	const char *v;
	size_t n;
	const char *doc =
	    " { \"KeyId\" : \"arn:aws:kms:local:0:key/a\", \"Nested\": {\"Plaintext\":"
	    "\"no\", \"x\": [1, 2.5e3, true, null, {\"a\": \"\\\"\"}]}, "
	    "\"Plaintext\":\"AAEC\" , \"EncryptionAlgorithm\": \"SYMMETRIC_DEFAULT\"}";

	CU_ASSERT_EQUAL(envol_kms_client_json_find_string(doc, "Plaintext", &v, &n), 0);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(strncmp(v, "AAEC", 4), 0);
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string(doc, "KeyId", &v, &n), 0);
	CU_ASSERT_EQUAL(n, strlen("arn:aws:kms:local:0:key/a"));
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string(doc, "Missing", &v, &n), -ENOENT);
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string(doc, "Plain", &v, &n), -ENOENT);
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string("{}", "Plaintext", &v, &n), -ENOENT);
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string("[]", "Plaintext", &v, &n), -EINVAL);
	CU_ASSERT_EQUAL(
	    envol_kms_client_json_find_string("{\"Plaintext\":\"AA", "Plaintext", &v, &n), -EINVAL);
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string("{\"Plaintext\":5}", "Plaintext", &v, &n),
			-EINVAL);
	CU_ASSERT_EQUAL(
	    envol_kms_client_json_find_string("{\"Plaintext\":\"A\\/B\"}", "Plaintext", &v, &n),
	    -EINVAL);
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string("{\"a\":\"b\" \"Plaintext\":\"x\"}",
							  "Plaintext", &v, &n),
			-EINVAL);
	CU_ASSERT_EQUAL(envol_kms_client_json_find_string("{\"a\":[1,}", "Plaintext", &v, &n),
			-EINVAL);
}

static void base_config(struct envol_config *cfg, char *sock)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->kms.region = (char *)"local";
	cfg->client.kms_socket = sock;
	cfg->client.endpoint = (char *)"";
	cfg->client.access_key_id = (char *)"";
	cfg->client.secret_access_key = (char *)"";
}

static void test_config_checks(void)
{
	struct envol_config cfg;
	struct envol_kms_client *c = NULL;
	char err[256] = "";

	base_config(&cfg, (char *)"");
	CU_ASSERT_EQUAL(envol_kms_client_new(&cfg, &c, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NULL(c);
	cfg.client.endpoint = (char *)"127.0.0.1:8440";
	cfg.client.access_key_id = (char *)"AKID";
	cfg.client.secret_access_key = (char *)"secret";
	CU_ASSERT_EQUAL(envol_kms_client_new(&cfg, &c, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "http://"));
	cfg.client.endpoint = (char *)"http://127.0.0.1:8440";
	cfg.client.secret_access_key = (char *)"";
	CU_ASSERT_EQUAL(envol_kms_client_new(&cfg, &c, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "secret_access_key"));
	cfg.client.secret_access_key = (char *)"secret";
	CU_ASSERT_EQUAL(envol_kms_client_new(&cfg, &c, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(envol_kms_client_target(c), "http://127.0.0.1:8440");
	envol_kms_client_free(c);
}

static void test_unreachable(void)
{
	char dir[] = "/tmp/envol-kmsclient.XXXXXX", sock[100], err[512] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct envol_config cfg;
	struct envol_kms_client *c = NULL;
	static const uint8_t blob[4] = {1, 2, 3, 4};
	struct envol_context_pair ctx = {"envol:volume-id", "x"};
	uint8_t *dek = (uint8_t *)0x1;
	size_t len = 99;
	long status = 0;
	char *body = NULL;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/kms.sock", dir);
	base_config(&cfg, sock);
	CU_ASSERT_EQUAL_FATAL(envol_kms_client_new(&cfg, &c, err, sizeof err), 0);

	/* no socket at all */
	CU_ASSERT_EQUAL(envol_kms_client_call(c, "ListKeys", "{}", &status, &body, err, sizeof err),
			-ENOENT);
	CU_ASSERT_PTR_NULL(body);
	CU_ASSERT_EQUAL(envol_kms_client_decrypt_dek(c, blob, sizeof blob, &ctx, 1, &dek, &len, err,
						     sizeof err),
			-EHOSTDOWN);
	CU_ASSERT_EQUAL(strncmp(err, "KMS unreachable at ", 19), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, sock));
	CU_ASSERT_EQUAL(dek, (uint8_t *)0x1); /* outputs untouched on failure */
	CU_ASSERT_EQUAL(len, 99);

	/* a socket file nobody listens on */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	CU_ASSERT_EQUAL(envol_kms_client_call(c, "ListKeys", "{}", &status, &body, err, sizeof err),
			-ECONNREFUSED);
	CU_ASSERT_EQUAL(envol_kms_client_decrypt_dek(c, blob, sizeof blob, &ctx, 1, &dek, &len, err,
						     sizeof err),
			-EHOSTDOWN);
	envol_kms_client_free(c);
	unlink(sock);
	rmdir(dir);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"AWS error bodies", test_parse_error},
	    {"AWS error type -> errno", test_errno_map},
	    {"in-place JSON string member finder", test_find_string},
	    {"configuration checks", test_config_checks},
	    {"unreachable KMS: -ENOENT, -ECONNREFUSED, -EHOSTDOWN", test_unreachable},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms_client", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
