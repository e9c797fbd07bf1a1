/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms.c — the KMS core through kms_handle() with JSON strings, as the daemon calls it:
 * every operation's happy path and errors, the key state machine, rotation, the deletion
 * window (moving the test clock), the managed key, the authorization matrix, blob tampering,
 * encryption context matching, the audit chain, persistence across reopen, the root key file.
 */
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/clock.h"
#include "util/macros.h"
#include "util/encoding.h"
#include "kms/kms.h"
#include "unit.h"

#define ACCOUNT "000000000000"
#define ARN_PREFIX "arn:aws:kms:local:" ACCOUNT ":"

static const struct kms_caller ADMIN = {.principal = "arn:aws:iam::000000000000:user/unix/root",
				       .source = "test:admin"};
static const struct kms_caller SERVICE = {.principal = "arn:aws:iam::000000000000:user/unix/envol",
					 .source = "test:service"};
static const struct kms_caller STRANGER = {.principal = "arn:aws:iam::000000000000:user/mallory",
					   .source = "test:stranger"};

static char dir[256];
static char db_path[300], root_path[300], audit_path[300], clock_path[300];
static struct kms *K;
static int64_t clock_offset;

static void set_clock(int64_t offset)
{
	FILE *f = fopen(clock_path, "we");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "%lld\n", (long long)offset);
	fclose(f);
	clock_offset = offset;
}

static void advance_days(double days) { set_clock(clock_offset + (int64_t)(days * 86400)); }

/* What kms_audit_verify needs: the key store's root key and database. */
static const struct kms_options verify_opts = {
    .database = db_path, .root_key_file = root_path, .audit_log = audit_path};

static int open_kms(void)
{
	static char *admins[] = {"arn:aws:iam::000000000000:user/unix/root"};
	static char *services[] = {"arn:aws:iam::000000000000:user/unix/envol"};
	struct kms_options o = {
	    .database = db_path,
	    .root_key_file = root_path,
	    .audit_log = audit_path,
	    .region = "local",
	    .account_id = ACCOUNT,
	    .admins = admins,
	    .n_admins = 1,
	    .services = services,
	    .n_services = 1,
	};
	char err[256] = "";
	int r = kms_open(&o, &K, err, sizeof err);

	if (r < 0)
		fprintf(stderr, "kms_open: %s\n", err);
	return r;
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/envol-test-kms-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(db_path, sizeof db_path, "%s/kms.db", dir);
	snprintf(root_path, sizeof root_path, "%s/root.key", dir);
	snprintf(audit_path, sizeof audit_path, "%s/audit.log", dir);
	snprintf(clock_path, sizeof clock_path, "%s/clock", dir);
	setenv("ENVOL_TEST_CLOCK_FILE", clock_path, 1);
	unsetenv("CREDENTIALS_DIRECTORY");
	set_clock(0);
	CU_ASSERT_EQUAL_FATAL(open_kms(), 0);
}

static void teardown(void)
{
	char cmd[400];

	kms_close(K);
	K = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Calls an operation with a printf-formatted body; returns the parsed response. */
__attribute__((format(printf, 4, 0))) static json_t *callv(const struct kms_caller *who, const char *op, int *ret_status, const char *fmt,
		     va_list ap)
{
	char *body = NULL, *out = NULL;
	int status = 0, len;
	json_t *j;
	json_error_t e;

	len = vasprintf(&body, fmt, ap);
	CU_ASSERT_FATAL(len >= 0);
	CU_ASSERT_EQUAL_FATAL(kms_handle(K, who, op, body, (size_t)len, NULL, &status, &out), 0);
	j = json_loads(out, 0, &e);
	if (!j)
		fprintf(stderr, "bad response body: %s\n", out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	if (ret_status)
		*ret_status = status;
	free(body);
	free(out);
	return j;
}

static json_t *call_as(const struct kms_caller *who, const char *op, const char *fmt, ...)
    _printf_(3, 4);
static json_t *call_as(const struct kms_caller *who, const char *op, const char *fmt, ...)
{
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	j = callv(who, op, NULL, fmt, ap);
	va_end(ap);
	return j;
}

static const char *err_type(json_t *j) { return json_string_value(json_object_get(j, "__type")); }

/* Runs op as admin and expects success; returns the response (caller json_decref()s). */
static json_t *ok_as(const struct kms_caller *who, const char *op, const char *fmt, ...)
    _printf_(3, 4);
static json_t *ok_as(const struct kms_caller *who, const char *op, const char *fmt, ...)
{
	va_list ap;
	int status;
	json_t *j;

	va_start(ap, fmt);
	j = callv(who, op, &status, fmt, ap);
	va_end(ap);
	if (err_type(j))
		fprintf(stderr, "%s failed: %s: %s\n", op, err_type(j),
			json_string_value(json_object_get(j, "message")));
	CU_ASSERT_PTR_NULL(err_type(j));
	CU_ASSERT_EQUAL(status, 200);
	return j;
}
#define ok(op, ...) ok_as(&ADMIN, op, __VA_ARGS__)

/* Expects the AWS error type (and HTTP 400 unless KMSInternalException). */
static void expect_err_as(const struct kms_caller *who, const char *type, const char *op,
			  const char *fmt, ...) _printf_(4, 5);
static void expect_err_as(const struct kms_caller *who, const char *type, const char *op,
			  const char *fmt, ...)
{
	va_list ap;
	int status;
	json_t *j;

	va_start(ap, fmt);
	j = callv(who, op, &status, fmt, ap);
	va_end(ap);
	if (!err_type(j) || strcmp(err_type(j), type) != 0)
		fprintf(stderr, "%s: expected %s, got %s (%s)\n", op, type,
			err_type(j) ? err_type(j) : "success",
			json_string_value(json_object_get(j, "message")));
	CU_ASSERT_STRING_EQUAL(err_type(j) ? err_type(j) : "success", type);
	CU_ASSERT_EQUAL(status, strcmp(type, "KMSInternalException") == 0 ? 500 : 400);
	CU_ASSERT_PTR_NOT_NULL(json_object_get(j, "message"));
	json_decref(j);
}
#define expect_err(type, op, ...) expect_err_as(&ADMIN, type, op, __VA_ARGS__)

static const char *sget(json_t *j, const char *path1, const char *path2)
{
	json_t *o = json_object_get(j, path1);

	if (path2)
		o = json_object_get(o, path2);
	return json_string_value(o);
}

/* Creates a key; returns its id in a static rotating buffer. */
static const char *create_key(const char *extra)
{
	static char ids[8][37];
	static int n;
	json_t *j = ok("CreateKey", "{%s}", extra ? extra : "");
	const char *id = sget(j, "KeyMetadata", "KeyId");
	char *slot = ids[n++ % 8];

	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	snprintf(slot, 37, "%s", id);
	json_decref(j);
	return slot;
}

/* Encrypts text under key with a context JSON ("" for none); returns the base64 blob. */
static char *encrypt_b64(const char *key, const char *text, const char *ctx)
{
	char *pt = envol_base64_encode((const uint8_t *)text, strlen(text));
	json_t *j = ok("Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"%s\"%s%s}", key, pt,
		       *ctx ? ",\"EncryptionContext\":" : "", ctx);
	char *blob = strdup(sget(j, "CiphertextBlob", NULL) ? sget(j, "CiphertextBlob", NULL) : "");

	free(pt);
	json_decref(j);
	return blob;
}

static void expect_plaintext(json_t *j, const char *text)
{
	const char *b64 = sget(j, "Plaintext", NULL);
	uint8_t *d = NULL;
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b64);
	CU_ASSERT_EQUAL_FATAL(envol_base64_decode(b64, strlen(b64), &d, &n), 0);
	CU_ASSERT_EQUAL(n, strlen(text));
	CU_ASSERT(n == strlen(text) && memcmp(d, text, n) == 0);
	free(d);
}

static int blob_version(const char *b64)
{
	uint8_t *d = NULL;
	size_t n = 0;
	int v;

	CU_ASSERT_EQUAL_FATAL(envol_base64_decode(b64, strlen(b64), &d, &n), 0);
	CU_ASSERT_FATAL(n > 24);
	v = d[20] << 24 | d[21] << 16 | d[22] << 8 | d[23];
	free(d);
	return v;
}

/* ---- tests ---- */

static void test_root_key_and_reopen(void)
{
	struct stat st;
	const char *id;
	json_t *j;

	setup();
	CU_ASSERT_EQUAL(stat(root_path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(st.st_size, 32);
	CU_ASSERT_EQUAL(stat(audit_path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	id = create_key("\"Description\":\"kept\"");
	{
		char *blob = encrypt_b64(id, "survives a restart", "");

		kms_close(K);
		K = NULL;
		CU_ASSERT_EQUAL_FATAL(open_kms(), 0);
		j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", id);
		CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "Description"), "kept");
		json_decref(j);
		j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
		expect_plaintext(j, "survives a restart");
		json_decref(j);
		free(blob);
	}
	/* A wrong root key cannot unseal the material. */
	kms_close(K);
	K = NULL;
	{
		int fd = open(root_path, O_WRONLY | O_TRUNC);
		uint8_t zero[32] = {0};

		CU_ASSERT_EQUAL(write(fd, zero, 32), 32);
		close(fd);
	}
	CU_ASSERT_EQUAL(open_kms(), -EBADMSG);
	CU_ASSERT_PTR_NULL(K);
	teardown();
}

static void test_credentials_directory(void)
{
	char cred[300], path[400];
	uint8_t key[32];
	struct stat st;
	int fd;

	setup();
	kms_close(K);
	K = NULL;
	snprintf(cred, sizeof cred, "%s/creds", dir);
	CU_ASSERT_EQUAL(mkdir(cred, 0700), 0);
	snprintf(path, sizeof path, "%s/root.key", cred);
	memset(key, 7, sizeof key);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_EQUAL(write(fd, key, 32), 32);
	close(fd);
	setenv("CREDENTIALS_DIRECTORY", cred, 1);
	unlink(root_path);
	CU_ASSERT_EQUAL(open_kms(), 0);
	CU_ASSERT_NOT_EQUAL(stat(root_path, &st), 0); /* the credential was used, no file made */
	unsetenv("CREDENTIALS_DIRECTORY");
	teardown();
}

static void test_create_describe(void)
{
	char id[37];
	char arn[200];
	json_t *j, *m;

	setup();
	j = ok("CreateKey", "{\"Description\":\"test key\",\"KeyUsage\":\"ENCRYPT_DECRYPT\","
			    "\"KeySpec\":\"SYMMETRIC_DEFAULT\",\"Tags\":[{\"TagKey\":\"team\","
			    "\"TagValue\":\"storage\"}],\"UnknownMember\":1}");
	m = json_object_get(j, "KeyMetadata");
	CU_ASSERT_PTR_NOT_NULL_FATAL(json_string_value(json_object_get(m, "KeyId")));
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(m, "KeyId")));
	snprintf(arn, sizeof arn, ARN_PREFIX "key/%s", id);
	CU_ASSERT_STRING_EQUAL(sget(m, "Arn", NULL), arn);
	CU_ASSERT_STRING_EQUAL(sget(m, "AWSAccountId", NULL), ACCOUNT);
	CU_ASSERT_STRING_EQUAL(sget(m, "Description", NULL), "test key");
	CU_ASSERT_STRING_EQUAL(sget(m, "KeyUsage", NULL), "ENCRYPT_DECRYPT");
	CU_ASSERT_STRING_EQUAL(sget(m, "KeyState", NULL), "Enabled");
	CU_ASSERT_STRING_EQUAL(sget(m, "Origin", NULL), "AWS_KMS");
	CU_ASSERT_STRING_EQUAL(sget(m, "KeyManager", NULL), "CUSTOMER");
	CU_ASSERT_STRING_EQUAL(sget(m, "KeySpec", NULL), "SYMMETRIC_DEFAULT");
	CU_ASSERT_STRING_EQUAL(sget(m, "CustomerMasterKeySpec", NULL), "SYMMETRIC_DEFAULT");
	CU_ASSERT(json_is_true(json_object_get(m, "Enabled")));
	CU_ASSERT(json_is_false(json_object_get(m, "MultiRegion")));
	CU_ASSERT(json_is_integer(json_object_get(m, "CreationDate")));
	CU_ASSERT(llabs(json_integer_value(json_object_get(m, "CreationDate")) -
			(long long)envol_clock_now()) < 5);
	CU_ASSERT_STRING_EQUAL(
	    json_string_value(json_array_get(json_object_get(m, "EncryptionAlgorithms"), 0)),
	    "SYMMETRIC_DEFAULT");
	CU_ASSERT_PTR_NULL(json_object_get(m, "DeletionDate"));
	json_decref(j);
	json_decref(ok("CreateAlias", "{\"AliasName\":\"alias/test\",\"TargetKeyId\":\"%s\"}", id));

	/* DescribeKey by id, key ARN, alias name, alias ARN */
	j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "Arn"), arn);
	json_decref(j);
	j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", arn);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyId"), id);
	json_decref(j);
	j = ok("DescribeKey", "{\"KeyId\":\"alias/test\"}");
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyId"), id);
	json_decref(j);
	j = ok("DescribeKey", "{\"KeyId\":\"" ARN_PREFIX "alias/test\"}");
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyId"), id);
	json_decref(j);

	expect_err("NotFoundException", "DescribeKey",
		   "{\"KeyId\":\"11111111-2222-4333-8444-555555555555\"}");
	expect_err("NotFoundException", "DescribeKey", "{\"KeyId\":\"not-a-key\"}");
	expect_err("NotFoundException", "DescribeKey", "{\"KeyId\":\"alias/none\"}");
	expect_err("NotFoundException", "DescribeKey",
		   "{\"KeyId\":\"arn:aws:kms:local:111111111111:key/%s\"}", id);
	expect_err("InvalidArnException", "DescribeKey", "{\"KeyId\":\"arn:aws:s3:::bucket\"}");
	expect_err("ValidationException", "DescribeKey", "{}");
	expect_err("ValidationException", "DescribeKey", "{\"KeyId\":\"\"}");
	expect_err("SerializationException", "DescribeKey", "{\"KeyId\":5}");
	expect_err("SerializationException", "DescribeKey", "{\"KeyId\":");
	expect_err("SerializationException", "DescribeKey", "[1]");
	expect_err("SerializationException", "DescribeKey", "{\"KeyId\":\"a\",\"KeyId\":\"b\"}");

	expect_err("UnsupportedOperationException", "CreateKey", "{\"KeySpec\":\"RSA_2048\"}");
	expect_err("UnsupportedOperationException", "CreateKey", "{\"Origin\":\"EXTERNAL\"}");
	expect_err("UnsupportedOperationException", "CreateKey", "{\"MultiRegion\":true}");
	expect_err("MalformedPolicyDocumentException", "CreateKey", "{\"Policy\":\"{}\"}");
	expect_err("ValidationException", "CreateKey", "{\"KeySpec\":\"AES_999\"}");
	expect_err("ValidationException", "CreateKey", "{\"KeyUsage\":\"SIGN_VERIFY\"}");
	expect_err("ValidationException", "CreateKey",
		   "{\"KeySpec\":\"SYMMETRIC_DEFAULT\",\"CustomerMasterKeySpec\":"
		   "\"SYMMETRIC_DEFAULT\"}");
	expect_err("SerializationException", "CreateKey", "{\"Description\":true}");
	expect_err("TagException", "CreateKey",
		   "{\"Tags\":[{\"TagKey\":\"aws:x\",\"TagValue\":\"y\"}]}");
	expect_err("ValidationException", "CreateKey", "{\"Tags\":[{\"TagKey\":\"x\"}]}");

	/* UpdateKeyDescription */
	json_decref(ok("UpdateKeyDescription", "{\"KeyId\":\"%s\",\"Description\":\"new\"}", id));
	j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "Description"), "new");
	json_decref(j);
	expect_err("ValidationException", "UpdateKeyDescription", "{\"KeyId\":\"%s\"}", id);
	expect_err("NotFoundException", "UpdateKeyDescription",
		   "{\"KeyId\":\"alias/test\",\"Description\":\"x\"}");
	teardown();
}

static void test_list_keys_paging(void)
{
	char seen[7][37];
	int n = 0, pages = 0;
	char marker[64] = "";
	json_t *j;

	setup();
	for (int i = 0; i < 7; i++)
		create_key(NULL);
	do {
		json_t *keys;
		size_t idx;
		json_t *e;

		if (marker[0])
			j = ok("ListKeys", "{\"Limit\":3,\"Marker\":\"%s\"}", marker);
		else
			j = ok("ListKeys", "{\"Limit\":3}");
		keys = json_object_get(j, "Keys");
		CU_ASSERT(json_array_size(keys) <= 3);
		json_array_foreach(keys, idx, e)
		{
			CU_ASSERT_FATAL(n < 7);
			snprintf(seen[n], 37, "%s", sget(e, "KeyId", NULL));
			CU_ASSERT(strstr(sget(e, "KeyArn", NULL), seen[n]) != NULL);
			for (int q = 0; q < n; q++)
				CU_ASSERT(strcmp(seen[q], seen[n]) != 0);
			n++;
		}
		marker[0] = 0;
		if (json_is_true(json_object_get(j, "Truncated")))
			snprintf(marker, sizeof marker, "%s", sget(j, "NextMarker", NULL));
		pages++;
		json_decref(j);
	} while (marker[0] && pages < 10);
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_EQUAL(pages, 3);
	j = ok("ListKeys", "{}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Keys")), 7);
	CU_ASSERT(json_is_false(json_object_get(j, "Truncated")));
	json_decref(j);
	expect_err("ValidationException", "ListKeys", "{\"Limit\":0}");
	expect_err("ValidationException", "ListKeys", "{\"Limit\":1001}");
	expect_err("SerializationException", "ListKeys", "{\"Limit\":\"5\"}");
	expect_err("InvalidMarkerException", "ListKeys", "{\"Marker\":\"garbage\"}");
	teardown();
}

static void test_state_machine(void)
{
	const char *id;
	char *blob;
	json_t *j;
	int64_t now;

	setup();
	id = create_key(NULL);
	blob = encrypt_b64(id, "hello", "");

	json_decref(ok("DisableKey", "{\"KeyId\":\"%s\"}", id));
	j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyState"), "Disabled");
	CU_ASSERT(json_is_false(json_object_get(json_object_get(j, "KeyMetadata"), "Enabled")));
	json_decref(j);
	expect_err("DisabledException", "Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"YQ==\"}", id);
	expect_err("DisabledException", "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	expect_err("DisabledException", "GenerateDataKey",
		   "{\"KeyId\":\"%s\",\"KeySpec\":\"AES_256\"}", id);
	expect_err("DisabledException", "GenerateDataKeyWithoutPlaintext",
		   "{\"KeyId\":\"%s\",\"NumberOfBytes\":64}", id);
	expect_err("DisabledException", "ReEncrypt",
		   "{\"CiphertextBlob\":\"%s\",\"DestinationKeyId\":\"%s\"}", blob, id);
	expect_err("DisabledException", "EnableKeyRotation", "{\"KeyId\":\"%s\"}", id);
	expect_err("DisabledException", "RotateKeyOnDemand", "{\"KeyId\":\"%s\"}", id);

	json_decref(ok("EnableKey", "{\"KeyId\":\"%s\"}", id));
	j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	expect_plaintext(j, "hello");
	json_decref(j);

	expect_err("ValidationException", "ScheduleKeyDeletion",
		   "{\"KeyId\":\"%s\",\"PendingWindowInDays\":6}", id);
	expect_err("ValidationException", "ScheduleKeyDeletion",
		   "{\"KeyId\":\"%s\",\"PendingWindowInDays\":31}", id);
	expect_err("ValidationException", "ScheduleKeyDeletion",
		   "{\"KeyId\":\"%s\",\"PendingWindowInDays\":0}", id);
	expect_err("KMSInvalidStateException", "CancelKeyDeletion", "{\"KeyId\":\"%s\"}", id);
	now = envol_clock_now();
	j = ok("ScheduleKeyDeletion", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyState", NULL), "PendingDeletion");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "PendingWindowInDays")), 30);
	CU_ASSERT(
	    llabs(json_integer_value(json_object_get(j, "DeletionDate")) - (now + 30 * 86400)) < 5);
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), "arn:aws:kms:") == sget(j, "KeyId", NULL));
	json_decref(j);
	j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyState"), "PendingDeletion");
	CU_ASSERT(
	    json_is_integer(json_object_get(json_object_get(j, "KeyMetadata"), "DeletionDate")));
	json_decref(j);
	expect_err("KMSInvalidStateException", "Encrypt",
		   "{\"KeyId\":\"%s\",\"Plaintext\":\"YQ==\"}", id);
	expect_err("KMSInvalidStateException", "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	expect_err("KMSInvalidStateException", "EnableKey", "{\"KeyId\":\"%s\"}", id);
	expect_err("KMSInvalidStateException", "DisableKey", "{\"KeyId\":\"%s\"}", id);
	expect_err("KMSInvalidStateException", "ScheduleKeyDeletion", "{\"KeyId\":\"%s\"}", id);
	expect_err("KMSInvalidStateException", "EnableKeyRotation", "{\"KeyId\":\"%s\"}", id);
	expect_err("KMSInvalidStateException", "CreateAlias",
		   "{\"AliasName\":\"alias/pending\",\"TargetKeyId\":\"%s\"}", id);

	j = ok("CancelKeyDeletion", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), id) != NULL);
	json_decref(j);
	j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyState"), "Disabled");
	CU_ASSERT_PTR_NULL(json_object_get(json_object_get(j, "KeyMetadata"), "DeletionDate"));
	json_decref(j);
	expect_err("DisabledException", "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	json_decref(ok("EnableKey", "{\"KeyId\":\"%s\"}", id));
	json_decref(ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob));
	free(blob);
	teardown();
}

static void test_aliases(void)
{
	const char *a, *b;
	json_t *j;

	setup();
	a = create_key(NULL);
	b = create_key(NULL);
	json_decref(ok("CreateAlias", "{\"AliasName\":\"alias/app\",\"TargetKeyId\":\"%s\"}", a));
	json_decref(ok("CreateAlias",
		       "{\"AliasName\":\"alias/other\",\"TargetKeyId\":\"" ARN_PREFIX "key/%s\"}",
		       b));
	expect_err("AlreadyExistsException", "CreateAlias",
		   "{\"AliasName\":\"alias/app\",\"TargetKeyId\":\"%s\"}", b);
	/* as AWS: ValidationException without the prefix, NotAuthorized for reserved names */
	expect_err("ValidationException", "CreateAlias",
		   "{\"AliasName\":\"app\",\"TargetKeyId\":\"%s\"}", a);
	expect_err("NotAuthorizedException", "CreateAlias",
		   "{\"AliasName\":\"alias/aws/ebs\",\"TargetKeyId\":\"%s\"}", a);
	expect_err("NotAuthorizedException", "CreateAlias",
		   "{\"AliasName\":\"alias/envol/mine\",\"TargetKeyId\":\"%s\"}", a);
	expect_err("ValidationException", "CreateAlias",
		   "{\"AliasName\":\"alias/sp ace\",\"TargetKeyId\":\"%s\"}", a);
	expect_err("NotFoundException", "CreateAlias",
		   "{\"AliasName\":\"alias/x\",\"TargetKeyId\":"
		   "\"11111111-2222-4333-8444-555555555555\"}");
	expect_err("NotFoundException", "CreateAlias",
		   "{\"AliasName\":\"alias/x\",\"TargetKeyId\":\"alias/app\"}");
	expect_err("ValidationException", "CreateAlias", "{\"AliasName\":\"alias/x\"}");

	j = ok("ListAliases", "{}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Aliases")), 2);
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Aliases"), 0), "AliasName", NULL), "alias/app");
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Aliases"), 0), "AliasArn", NULL),
	    ARN_PREFIX "alias/app");
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Aliases"), 0), "TargetKeyId", NULL), a);
	json_decref(j);
	j = ok("ListAliases", "{\"KeyId\":\"%s\"}", b);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Aliases")), 1);
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Aliases"), 0), "AliasName", NULL),
	    "alias/other");
	json_decref(j);
	j = ok("ListAliases", "{\"Limit\":1}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Aliases")), 1);
	CU_ASSERT(json_is_true(json_object_get(j, "Truncated")));
	CU_ASSERT_STRING_EQUAL(sget(j, "NextMarker", NULL), "alias/app");
	json_decref(j);
	j = ok("ListAliases", "{\"Limit\":1,\"Marker\":\"alias/app\"}");
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Aliases"), 0), "AliasName", NULL),
	    "alias/other");
	CU_ASSERT(json_is_false(json_object_get(j, "Truncated")));
	json_decref(j);

	expect_err("ValidationException", "ListAliases", "{\"Limit\":101}");
	json_decref(ok("ListAliases", "{\"Limit\":100}"));
	json_decref(ok("UpdateAlias", "{\"AliasName\":\"alias/app\",\"TargetKeyId\":\"%s\"}", b));
	j = ok("DescribeKey", "{\"KeyId\":\"alias/app\"}");
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyId"), b);
	json_decref(j);
	expect_err("NotFoundException", "UpdateAlias",
		   "{\"AliasName\":\"alias/none\",\"TargetKeyId\":\"%s\"}", b);
	json_decref(ok("DeleteAlias", "{\"AliasName\":\"alias/app\"}"));
	expect_err("NotFoundException", "DeleteAlias", "{\"AliasName\":\"alias/app\"}");
	expect_err("NotFoundException", "DescribeKey", "{\"KeyId\":\"alias/app\"}");
	teardown();
}

static void test_encrypt_decrypt(void)
{
	const char *a, *b;
	char *blob, big[8200];
	json_t *j;

	setup();
	a = create_key(NULL);
	b = create_key(NULL);
	json_decref(ok("CreateAlias", "{\"AliasName\":\"alias/a\",\"TargetKeyId\":\"%s\"}", a));
	blob = encrypt_b64("alias/a", "secret data", "");
	CU_ASSERT_EQUAL(blob_version(blob), 1);

	j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	expect_plaintext(j, "secret data");
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), a) != NULL);
	CU_ASSERT_STRING_EQUAL(sget(j, "EncryptionAlgorithm", NULL), "SYMMETRIC_DEFAULT");
	json_decref(j);
	json_decref(ok("Decrypt", "{\"CiphertextBlob\":\"%s\",\"KeyId\":\"alias/a\"}", blob));
	json_decref(ok("Decrypt", "{\"CiphertextBlob\":\"%s\",\"KeyId\":\"%s\"}", blob, a));
	expect_err("IncorrectKeyException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"KeyId\":\"%s\"}", blob, b);
	expect_err("NotFoundException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"KeyId\":\"alias/nope\"}", blob);
	expect_err("InvalidKeyUsageException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionAlgorithm\":\"RSAES_OAEP_SHA_1\"}",
		   blob);
	expect_err("ValidationException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionAlgorithm\":\"ROT13\"}", blob);

	/* Encrypt response */
	j = ok("Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"AA==\"}", a);
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), "arn:aws:kms:local:") != NULL);
	CU_ASSERT_STRING_EQUAL(sget(j, "EncryptionAlgorithm", NULL), "SYMMETRIC_DEFAULT");
	json_decref(j);

	/* Plaintext bounds: 4096 ok, 4097 not, empty not */
	for (int n = 4096; n <= 4097; n++) {
		uint8_t *raw = calloc(1, (size_t)n);
		char *b64 = envol_base64_encode(raw, (size_t)n);

		if (n == 4096) {
			j = ok("Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"%s\"}", a, b64);
			CU_ASSERT_PTR_NOT_NULL(sget(j, "CiphertextBlob", NULL));
			snprintf(big, sizeof big, "%s", sget(j, "CiphertextBlob", NULL));
			json_decref(j);
			j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", big);
			json_decref(j);
		} else {
			expect_err("ValidationException", "Encrypt",
				   "{\"KeyId\":\"%s\",\"Plaintext\":\"%s\"}", a, b64);
		}
		free(raw);
		free(b64);
	}
	expect_err("ValidationException", "Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"\"}", a);
	expect_err("SerializationException", "Encrypt",
		   "{\"KeyId\":\"%s\",\"Plaintext\":\"not base64!\"}", a);
	expect_err("SerializationException", "Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"YQ\"}",
		   a);
	expect_err("SerializationException", "Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":12}", a);
	expect_err("ValidationException", "Encrypt", "{\"KeyId\":\"%s\"}", a);
	expect_err("ValidationException", "Encrypt", "{\"Plaintext\":\"YQ==\"}");
	expect_err("NotFoundException", "Encrypt",
		   "{\"KeyId\":\"11111111-2222-4333-8444-555555555555\",\"Plaintext\":\"YQ==\"}");
	expect_err("SerializationException", "Decrypt", "{\"CiphertextBlob\":\"@@@@\"}");
	expect_err("ValidationException", "Decrypt", "{}");
	expect_err("InvalidCiphertextException", "Decrypt", "{\"CiphertextBlob\":\"AAAA\"}");
	/* A missing required member's message names it */
	{
		json_t *e = call_as(&ADMIN, "Encrypt", "{\"KeyId\":\"%s\"}", a);

		CU_ASSERT(strstr(json_string_value(json_object_get(e, "message")), "plaintext") !=
			  NULL);
		json_decref(e);
	}
	free(blob);
	teardown();
}

static void test_context(void)
{
	const char *a;
	char *blob;
	json_t *j;

	setup();
	a = create_key(NULL);
	blob = encrypt_b64(a, "ctx data", "{\"a\":\"1\",\"b\":\"2\"}");
	/* member order does not matter: the canonical form sorts keys */
	j = ok("Decrypt",
	       "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"b\":\"2\",\"a\":\"1\"}}", blob);
	expect_plaintext(j, "ctx data");
	json_decref(j);
	expect_err("InvalidCiphertextException", "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	expect_err("InvalidCiphertextException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{}}", blob);
	expect_err("InvalidCiphertextException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"a\":\"1\"}}", blob);
	expect_err("InvalidCiphertextException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"a\":\"1\",\"b\":\"3\"}}",
		   blob);
	expect_err("InvalidCiphertextException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"a\":\"1\",\"b\":\"2\","
		   "\"c\":\"\"}}",
		   blob);
	/* Length-prefixing: moving bytes between key and value changes the AAD */
	expect_err("InvalidCiphertextException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"a1\":\"\",\"b\":\"2\"}}",
		   blob);
	expect_err("SerializationException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"a\":1}}", blob);
	expect_err("SerializationException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":[\"a\"]}", blob);
	free(blob);
	/* An empty context and no context are the same */
	blob = encrypt_b64(a, "x", "{}");
	json_decref(ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob));
	free(blob);
	teardown();
}

static void test_blob_every_byte_flipped(void)
{
	const char *a;
	char *blob;
	uint8_t *raw = NULL;
	size_t n = 0;
	int failures = 0;

	setup();
	a = create_key(NULL);
	create_key(NULL);
	blob = encrypt_b64(a, "tamper with me", "{\"envol:volume-id\":\"v1\"}");
	CU_ASSERT_EQUAL_FATAL(envol_base64_decode(blob, strlen(blob), &raw, &n), 0);
	CU_ASSERT_EQUAL(n, 36 + 14 + 16);
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			char *b64;
			json_t *j;

			raw[i] ^= (uint8_t)(1u << bit);
			b64 = envol_base64_encode(raw, n);
			j = call_as(&ADMIN, "Decrypt",
				    "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":"
				    "{\"envol:volume-id\":\"v1\"}}",
				    b64);
			if (!err_type(j) ||
			    strcmp(err_type(j), "InvalidCiphertextException") != 0) {
				fprintf(stderr, "byte %zu bit %d: %s\n", i, bit,
					err_type(j) ? err_type(j) : "decrypted!");
				failures++;
			}
			json_decref(j);
			free(b64);
			raw[i] ^= (uint8_t)(1u << bit);
		}
	}
	CU_ASSERT_EQUAL(failures, 0);
	/* truncated and extended blobs */
	for (size_t cut = 1; cut < n; cut += 7) {
		char *b64 = envol_base64_encode(raw, n - cut);

		expect_err("InvalidCiphertextException", "Decrypt",
			   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":"
			   "{\"envol:volume-id\":\"v1\"}}",
			   b64);
		free(b64);
	}
	/* untouched it still decrypts */
	{
		char *b64 = envol_base64_encode(raw, n);
		json_t *j = ok("Decrypt",
			       "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":"
			       "{\"envol:volume-id\":\"v1\"}}",
			       b64);

		expect_plaintext(j, "tamper with me");
		json_decref(j);
		free(b64);
	}
	free(raw);
	free(blob);
	teardown();
}

static void test_re_encrypt(void)
{
	const char *a, *b;
	char *blob;
	json_t *j;
	char newblob[512];

	setup();
	a = create_key(NULL);
	b = create_key(NULL);
	blob = encrypt_b64(a, "move me", "{\"k\":\"1\"}");
	j = ok("ReEncrypt",
	       "{\"CiphertextBlob\":\"%s\",\"SourceEncryptionContext\":{\"k\":\"1\"},"
	       "\"DestinationKeyId\":\"%s\",\"DestinationEncryptionContext\":{\"k\":\"2\"}}",
	       blob, b);
	CU_ASSERT(strstr(sget(j, "SourceKeyId", NULL), a) != NULL);
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), b) != NULL);
	CU_ASSERT_STRING_EQUAL(sget(j, "SourceEncryptionAlgorithm", NULL), "SYMMETRIC_DEFAULT");
	CU_ASSERT_STRING_EQUAL(sget(j, "DestinationEncryptionAlgorithm", NULL),
			       "SYMMETRIC_DEFAULT");
	snprintf(newblob, sizeof newblob, "%s", sget(j, "CiphertextBlob", NULL));
	json_decref(j);
	j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"k\":\"2\"}}",
	       newblob);
	expect_plaintext(j, "move me");
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), b) != NULL);
	json_decref(j);
	expect_err("IncorrectKeyException", "ReEncrypt",
		   "{\"CiphertextBlob\":\"%s\",\"SourceEncryptionContext\":{\"k\":\"1\"},"
		   "\"SourceKeyId\":\"%s\",\"DestinationKeyId\":\"%s\"}",
		   blob, b, b);
	expect_err("InvalidCiphertextException", "ReEncrypt",
		   "{\"CiphertextBlob\":\"%s\",\"DestinationKeyId\":\"%s\"}", blob, b);
	expect_err("ValidationException", "ReEncrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	expect_err("NotFoundException", "ReEncrypt",
		   "{\"CiphertextBlob\":\"%s\",\"SourceEncryptionContext\":{\"k\":\"1\"},"
		   "\"DestinationKeyId\":\"alias/none\"}",
		   blob);
	free(blob);
	teardown();
}

static void test_data_keys_and_random(void)
{
	const char *a;
	json_t *j, *d;
	uint8_t *raw = NULL;
	size_t n = 0;

	setup();
	a = create_key(NULL);
	j = ok("GenerateDataKey",
	       "{\"KeyId\":\"%s\",\"KeySpec\":\"AES_256\","
	       "\"EncryptionContext\":{\"x\":\"y\"}}",
	       a);
	CU_ASSERT_EQUAL(envol_base64_decode(sget(j, "Plaintext", NULL),
					    strlen(sget(j, "Plaintext", NULL)), &raw, &n),
			0);
	CU_ASSERT_EQUAL(n, 32);
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), a) != NULL);
	d = ok("Decrypt", "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"x\":\"y\"}}",
	       sget(j, "CiphertextBlob", NULL));
	CU_ASSERT_STRING_EQUAL(sget(d, "Plaintext", NULL), sget(j, "Plaintext", NULL));
	json_decref(d);
	json_decref(j);
	free(raw);
	raw = NULL;

	j = ok("GenerateDataKey", "{\"KeyId\":\"%s\",\"KeySpec\":\"AES_128\"}", a);
	CU_ASSERT_EQUAL(strlen(sget(j, "Plaintext", NULL)), 24); /* 16 bytes */
	json_decref(j);
	j = ok("GenerateDataKey", "{\"KeyId\":\"%s\",\"NumberOfBytes\":1024}", a);
	CU_ASSERT_EQUAL(envol_base64_decode(sget(j, "Plaintext", NULL),
					    strlen(sget(j, "Plaintext", NULL)), &raw, &n),
			0);
	CU_ASSERT_EQUAL(n, 1024);
	free(raw);
	json_decref(j);
	j = ok("GenerateDataKeyWithoutPlaintext", "{\"KeyId\":\"%s\",\"NumberOfBytes\":64}", a);
	CU_ASSERT_PTR_NULL(json_object_get(j, "Plaintext"));
	CU_ASSERT_PTR_NOT_NULL(sget(j, "CiphertextBlob", NULL));
	d = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", sget(j, "CiphertextBlob", NULL));
	CU_ASSERT_EQUAL(strlen(sget(d, "Plaintext", NULL)), 88); /* 64 bytes */
	json_decref(d);
	json_decref(j);
	expect_err("ValidationException", "GenerateDataKey",
		   "{\"KeyId\":\"%s\",\"KeySpec\":\"AES_256\",\"NumberOfBytes\":32}", a);
	expect_err("ValidationException", "GenerateDataKey", "{\"KeyId\":\"%s\"}", a);
	expect_err("ValidationException", "GenerateDataKeyWithoutPlaintext",
		   "{\"KeyId\":\"%s\",\"NumberOfBytes\":1025}", a);
	expect_err("ValidationException", "GenerateDataKeyWithoutPlaintext",
		   "{\"KeyId\":\"%s\",\"NumberOfBytes\":0}", a);
	expect_err("ValidationException", "GenerateDataKey",
		   "{\"KeyId\":\"%s\",\"KeySpec\":\"AES_512\"}", a);
	expect_err("SerializationException", "GenerateDataKey",
		   "{\"KeyId\":\"%s\",\"NumberOfBytes\":32.5}", a);

	j = ok("GenerateRandom", "{\"NumberOfBytes\":32}");
	CU_ASSERT_EQUAL(strlen(sget(j, "Plaintext", NULL)), 44);
	json_decref(j);
	expect_err("ValidationException", "GenerateRandom", "{\"NumberOfBytes\":0}");
	expect_err("ValidationException", "GenerateRandom", "{\"NumberOfBytes\":1025}");
	expect_err("ValidationException", "GenerateRandom", "{}");
	expect_err("UnsupportedOperationException", "GenerateRandom",
		   "{\"NumberOfBytes\":8,\"CustomKeyStoreId\":\"cks-1\"}");
	teardown();
}

static void test_rotation(void)
{
	const char *a;
	char *b1, *b2, *b3;
	json_t *j;

	setup();
	a = create_key(NULL);
	j = ok("GetKeyRotationStatus", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT(json_is_false(json_object_get(j, "KeyRotationEnabled")));
	json_decref(j);
	expect_err("ValidationException", "EnableKeyRotation",
		   "{\"KeyId\":\"%s\",\"RotationPeriodInDays\":89}", a);
	expect_err("ValidationException", "EnableKeyRotation",
		   "{\"KeyId\":\"%s\",\"RotationPeriodInDays\":2561}", a);
	json_decref(ok("EnableKeyRotation", "{\"KeyId\":\"%s\"}", a));
	j = ok("GetKeyRotationStatus", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT(json_is_true(json_object_get(j, "KeyRotationEnabled")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "RotationPeriodInDays")), 365);
	CU_ASSERT(llabs(json_integer_value(json_object_get(j, "NextRotationDate")) -
			(envol_clock_now() + 365 * 86400)) < 5);
	json_decref(j);
	json_decref(ok("EnableKeyRotation", "{\"KeyId\":\"%s\",\"RotationPeriodInDays\":90}", a));

	b1 = encrypt_b64(a, "version one", "");
	CU_ASSERT_EQUAL(blob_version(b1), 1);
	j = ok("RotateKeyOnDemand", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyId", NULL), a);
	json_decref(j);
	b2 = encrypt_b64(a, "version two", "");
	CU_ASSERT_EQUAL(blob_version(b2), 2);

	/* nothing due yet */
	CU_ASSERT_EQUAL(kms_tick(K), 0);
	advance_days(91);
	CU_ASSERT_EQUAL(kms_tick(K), 1);
	CU_ASSERT_EQUAL(kms_tick(K), 0);
	b3 = encrypt_b64(a, "version three", "");
	CU_ASSERT_EQUAL(blob_version(b3), 3);

	j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", b1);
	expect_plaintext(j, "version one");
	json_decref(j);
	j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", b2);
	expect_plaintext(j, "version two");
	json_decref(j);
	j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", b3);
	expect_plaintext(j, "version three");
	json_decref(j);

	j = ok("ListKeyRotations", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Rotations")), 2);
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Rotations"), 0), "RotationType", NULL),
	    "ON_DEMAND");
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Rotations"), 1), "RotationType", NULL),
	    "AUTOMATIC");
	json_decref(j);
	j = ok("ListKeyRotations", "{\"KeyId\":\"%s\",\"Limit\":1}", a);
	CU_ASSERT(json_is_true(json_object_get(j, "Truncated")));
	{
		char m[32];

		snprintf(m, sizeof m, "%s", sget(j, "NextMarker", NULL));
		json_decref(j);
		j = ok("ListKeyRotations", "{\"KeyId\":\"%s\",\"Limit\":1,\"Marker\":\"%s\"}", a,
		       m);
		CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Rotations")), 1);
		CU_ASSERT_STRING_EQUAL(
		    sget(json_array_get(json_object_get(j, "Rotations"), 0), "RotationType", NULL),
		    "AUTOMATIC");
		CU_ASSERT(json_is_false(json_object_get(j, "Truncated")));
		json_decref(j);
	}

	json_decref(ok("DisableKeyRotation", "{\"KeyId\":\"%s\"}", a));
	j = ok("GetKeyRotationStatus", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT(json_is_false(json_object_get(j, "KeyRotationEnabled")));
	json_decref(j);
	advance_days(400);
	CU_ASSERT_EQUAL(kms_tick(K), 0);

	/* survives reopen: old versions still decrypt */
	kms_close(K);
	K = NULL;
	CU_ASSERT_EQUAL_FATAL(open_kms(), 0);
	j = ok("Decrypt", "{\"CiphertextBlob\":\"%s\"}", b1);
	expect_plaintext(j, "version one");
	json_decref(j);
	/* on-demand rotation limit */
	for (int i = 0; i < 9; i++)
		json_decref(ok("RotateKeyOnDemand", "{\"KeyId\":\"%s\"}", a));
	expect_err("LimitExceededException", "RotateKeyOnDemand", "{\"KeyId\":\"%s\"}", a);
	free(b1);
	free(b2);
	free(b3);
	teardown();
}

static int count_audit(const char *needle)
{
	FILE *f = fopen(audit_path, "re");
	char *line = NULL;
	size_t cap = 0;
	int n = 0;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0)
		if (strstr(line, needle))
			n++;
	free(line);
	fclose(f);
	return n;
}

static void test_deletion_window(void)
{
	const char *a, *b;
	char *blob, needle[200];
	json_t *j;

	setup();
	a = create_key(NULL);
	b = create_key(NULL);
	json_decref(
	    ok("CreateAlias", "{\"AliasName\":\"alias/doomed\",\"TargetKeyId\":\"%s\"}", a));
	json_decref(ok("TagResource",
		       "{\"KeyId\":\"%s\",\"Tags\":[{\"TagKey\":\"k\",\"TagValue\":\"v\"}]}", a));
	blob = encrypt_b64(a, "gone soon", "");
	json_decref(ok("ScheduleKeyDeletion", "{\"KeyId\":\"%s\",\"PendingWindowInDays\":7}", a));
	advance_days(6.9);
	CU_ASSERT_EQUAL(kms_tick(K), 0);
	j = ok("DescribeKey", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyState"), "PendingDeletion");
	json_decref(j);
	advance_days(0.2);
	/* no tick: the request itself must see the key gone */
	expect_err("NotFoundException", "DescribeKey", "{\"KeyId\":\"%s\"}", a);
	expect_err("NotFoundException", "DescribeKey", "{\"KeyId\":\"alias/doomed\"}");
	expect_err("InvalidCiphertextException", "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	expect_err("NotFoundException", "CancelKeyDeletion", "{\"KeyId\":\"%s\"}", a);
	j = ok("ListKeys", "{}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Keys")), 1);
	CU_ASSERT_STRING_EQUAL(sget(json_array_get(json_object_get(j, "Keys"), 0), "KeyId", NULL),
			       b);
	json_decref(j);
	j = ok("ListAliases", "{}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Aliases")), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(kms_tick(K), 0);
	snprintf(needle, sizeof needle,
		 "\"operation\":\"DeleteKey\",\"principal\":\"envol-kmsd\",\"source\":\"internal\","
		 "\"key_arn\":\"" ARN_PREFIX "key/%s\"",
		 a);
	CU_ASSERT_EQUAL(count_audit(needle), 1);

	/* and via kms_tick, with a reopen in the window */
	json_decref(ok("ScheduleKeyDeletion", "{\"KeyId\":\"%s\",\"PendingWindowInDays\":30}", b));
	kms_close(K);
	K = NULL;
	CU_ASSERT_EQUAL_FATAL(open_kms(), 0);
	advance_days(31);
	CU_ASSERT_EQUAL(kms_tick(K), 1);
	j = ok("ListKeys", "{}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Keys")), 0);
	json_decref(j);
	free(blob);
	teardown();
}

static void test_managed_key(void)
{
	char id[37], *blob;
	json_t *j, *m;

	setup();
	j = ok("ListAliases", "{}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Aliases")), 0);
	json_decref(j);
	j = ok("DescribeKey", "{\"KeyId\":\"alias/envol/ebs\"}");
	m = json_object_get(j, "KeyMetadata");
	CU_ASSERT_STRING_EQUAL(sget(m, "KeyManager", NULL), "AWS");
	CU_ASSERT(strncmp(sget(m, "Description", NULL),
			  "Default key that protects my envol volumes", 42) == 0);
	snprintf(id, sizeof id, "%s", sget(m, "KeyId", NULL));
	json_decref(j);
	/* the same key next time, also by alias ARN */
	j = ok("DescribeKey", "{\"KeyId\":\"" ARN_PREFIX "alias/envol/ebs\"}");
	CU_ASSERT_STRING_EQUAL(sget(j, "KeyMetadata", "KeyId"), id);
	json_decref(j);
	j = ok("GetKeyRotationStatus", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT(json_is_true(json_object_get(j, "KeyRotationEnabled")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "RotationPeriodInDays")), 365);
	json_decref(j);

	expect_err("AccessDeniedException", "DisableKey", "{\"KeyId\":\"%s\"}", id);
	expect_err("AccessDeniedException", "ScheduleKeyDeletion", "{\"KeyId\":\"%s\"}", id);
	expect_err("AccessDeniedException", "DisableKeyRotation", "{\"KeyId\":\"%s\"}", id);
	expect_err("AccessDeniedException", "EnableKeyRotation",
		   "{\"KeyId\":\"%s\",\"RotationPeriodInDays\":100}", id);
	expect_err("AccessDeniedException", "UpdateKeyDescription",
		   "{\"KeyId\":\"%s\",\"Description\":\"mine\"}", id);
	expect_err("AccessDeniedException", "TagResource",
		   "{\"KeyId\":\"%s\",\"Tags\":[{\"TagKey\":\"a\",\"TagValue\":\"b\"}]}", id);
	expect_err("UnsupportedOperationException", "RotateKeyOnDemand", "{\"KeyId\":\"%s\"}", id);
	expect_err("AccessDeniedException", "DeleteAlias", "{\"AliasName\":\"alias/envol/ebs\"}");
	{
		const char *other = create_key(NULL);

		expect_err("AccessDeniedException", "UpdateAlias",
			   "{\"AliasName\":\"alias/envol/ebs\",\"TargetKeyId\":\"%s\"}", other);
		expect_err("AccessDeniedException", "CreateAlias",
			   "{\"AliasName\":\"alias/mine\",\"TargetKeyId\":\"%s\"}", id);
	}

	/* the volume-create call works for the caller (an admin); the managed key's policy lets
	 * any principal of the account, the service's (envold) too, wrap a new volume key directly
	 * (no plaintext comes back), but unwrap it only through a grant (below) */
	json_decref(ok_as(&SERVICE, "GenerateDataKeyWithoutPlaintext",
			  "{\"KeyId\":\"alias/envol/ebs\",\"NumberOfBytes\":64,"
			  "\"EncryptionContext\":{\"envol:volume-id\":\"vol-1\"}}"));
	j = ok("GenerateDataKeyWithoutPlaintext",
		  "{\"KeyId\":\"alias/envol/ebs\",\"NumberOfBytes\":64,"
		  "\"EncryptionContext\":{\"envol:volume-id\":\"vol-1\"}}");
	CU_ASSERT(strstr(sget(j, "KeyId", NULL), id) != NULL);
	blob = strdup(sget(j, "CiphertextBlob", NULL));
	json_decref(j);
	advance_days(366);
	CU_ASSERT_EQUAL(kms_tick(K), 1);
	/* The aws/ebs-shaped policy: nobody decrypts directly, the service not either ... */
	expect_err_as(&SERVICE, "AccessDeniedException", "Decrypt",
		      "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"envol:volume-id\":"
		      "\"vol-1\"}}",
		      blob);
	expect_err("AccessDeniedException", "Decrypt",
		   "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"envol:volume-id\":"
		   "\"vol-1\"}}",
		   blob);
	/* ... but through a grant the service made for itself on behalf of a user of the
	 * account; the blob made before the rotation still decrypts */
	{
		const struct kms_caller via = {.principal = SERVICE.principal,
					       .source = SERVICE.source,
					       .on_behalf_of = ADMIN.principal};
		char *token;

		j = ok_as(&via, "CreateGrant",
			  "{\"KeyId\":\"%s\",\"GranteePrincipal\":\"%s\",\"Operations\":"
			  "[\"Decrypt\"],\"Constraints\":{\"EncryptionContextEquals\":"
			  "{\"envol:volume-id\":\"vol-1\"}}}",
			  id, SERVICE.principal);
		token = strdup(sget(j, "GrantToken", NULL));
		json_decref(j);
		j = ok_as(&SERVICE, "Decrypt",
			  "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"envol:volume-id\":"
			  "\"vol-1\"},\"GrantTokens\":[\"%s\"]}",
			  blob, token);
		CU_ASSERT_EQUAL(strlen(sget(j, "Plaintext", NULL)), 88);
		json_decref(j);
		free(token);
	}
	j = ok("ListKeyRotations", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Rotations")), 1);
	json_decref(j);
	free(blob);
	teardown();
}

static void test_authorization(void)
{
	const char *a;
	char *blob;

	setup();
	a = create_key(NULL);
	blob = encrypt_b64(a, "dek", "{\"envol:volume-id\":\"v\"}");

	/* service (envold): describes keys; wraps and unwraps nothing without a grant, even
	 * under a volume's encryption context */
	json_decref(ok_as(&SERVICE, "DescribeKey", "{\"KeyId\":\"%s\"}", a));
	expect_err_as(&SERVICE, "AccessDeniedException", "GenerateDataKeyWithoutPlaintext",
		      "{\"KeyId\":\"%s\",\"NumberOfBytes\":64,\"EncryptionContext\":"
		      "{\"envol:volume-id\":\"v\"}}",
		      a);
	expect_err_as(&SERVICE, "AccessDeniedException", "GenerateDataKeyWithoutPlaintext",
		      "{\"KeyId\":\"%s\",\"NumberOfBytes\":64}", a);
	expect_err_as(&SERVICE, "AccessDeniedException", "Decrypt",
		      "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"envol:volume-id\":\"v\"}}",
		      blob);
	expect_err_as(&SERVICE, "AccessDeniedException", "Decrypt", "{\"CiphertextBlob\":\"%s\"}",
		      blob);
	expect_err_as(&SERVICE, "AccessDeniedException", "ReEncrypt",
		      "{\"CiphertextBlob\":\"%s\",\"SourceEncryptionContext\":"
		      "{\"envol:volume-id\":\"v\"},\"DestinationKeyId\":\"%s\","
		      "\"DestinationEncryptionContext\":{\"envol:volume-id\":\"w\"}}",
		      blob, a);
	static const char *const service_denied[] = {
	    "Encrypt",	      "GenerateDataKey", "CreateKey",
	    "ListKeys",	      "DisableKey",	 "ScheduleKeyDeletion",
	    "GenerateRandom", "ListAliases",	 "CreateAlias",
	};
	for (size_t i = 0; i < ARRAY_SIZE(service_denied); i++)
		expect_err_as(&SERVICE, "AccessDeniedException", service_denied[i],
			      "{\"KeyId\":\"%s\",\"Plaintext\":\"YQ==\",\"NumberOfBytes\":8,"
			      "\"AliasName\":\"alias/s\",\"TargetKeyId\":\"%s\","
			      "\"EncryptionContext\":{\"envol:volume-id\":\"v\"}}",
			      a, a);

	/* stranger: nothing, not even with the context */
	expect_err_as(&STRANGER, "AccessDeniedException", "DescribeKey", "{\"KeyId\":\"%s\"}", a);
	expect_err_as(&STRANGER, "AccessDeniedException", "Decrypt",
		      "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"envol:volume-id\":"
		      "\"v\"}}",
		      blob);
	expect_err_as(&STRANGER, "AccessDeniedException", "ListKeys", "{}");
	expect_err_as(&STRANGER, "AccessDeniedException", "CreateKey", "{}");
	{
		struct kms_caller nobody = {.principal = NULL};

		expect_err_as(&nobody, "AccessDeniedException", "ListKeys", "{}");
	}
	/* denials are audited with the principal */
	CU_ASSERT(count_audit("\"principal\":\"arn:aws:iam::000000000000:user/mallory\"") >= 4);
	CU_ASSERT(count_audit("\"error_code\":\"AccessDeniedException\"") >= 15);
	free(blob);
	teardown();
}

static void test_tags(void)
{
	const char *a;
	json_t *j;

	setup();
	a = create_key("\"Tags\":[{\"TagKey\":\"b\",\"TagValue\":\"2\"}]");
	json_decref(ok("TagResource",
		       "{\"KeyId\":\"%s\",\"Tags\":[{\"TagKey\":\"a\",\"TagValue\":\"1\"},"
		       "{\"TagKey\":\"c\",\"TagValue\":\"\"}]}",
		       a));
	json_decref(ok("TagResource",
		       "{\"KeyId\":\"%s\",\"Tags\":[{\"TagKey\":\"b\",\"TagValue\":\"22\"}]}", a));
	j = ok("ListResourceTags", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Tags")), 3);
	CU_ASSERT_STRING_EQUAL(
	    sget(json_array_get(json_object_get(j, "Tags"), 1), "TagValue", NULL), "22");
	json_decref(j);
	j = ok("ListResourceTags", "{\"KeyId\":\"%s\",\"Limit\":2}", a);
	CU_ASSERT(json_is_true(json_object_get(j, "Truncated")));
	CU_ASSERT_STRING_EQUAL(sget(j, "NextMarker", NULL), "b");
	json_decref(j);
	json_decref(ok("UntagResource", "{\"KeyId\":\"%s\",\"TagKeys\":[\"a\",\"zz\"]}", a));
	j = ok("ListResourceTags", "{\"KeyId\":\"%s\"}", a);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Tags")), 2);
	CU_ASSERT_STRING_EQUAL(sget(json_array_get(json_object_get(j, "Tags"), 0), "TagKey", NULL),
			       "b");
	json_decref(j);
	expect_err("TagException", "TagResource",
		   "{\"KeyId\":\"%s\",\"Tags\":[{\"TagKey\":\"aws:x\",\"TagValue\":\"1\"}]}", a);
	expect_err("ValidationException", "TagResource", "{\"KeyId\":\"%s\"}", a);
	expect_err("SerializationException", "TagResource", "{\"KeyId\":\"%s\",\"Tags\":{}}", a);
	expect_err("SerializationException", "UntagResource", "{\"KeyId\":\"%s\",\"TagKeys\":[1]}",
		   a);
	expect_err("ValidationException", "ListResourceTags", "{\"KeyId\":\"%s\",\"Limit\":51}", a);
	expect_err("NotFoundException", "ListResourceTags",
		   "{\"KeyId\":\"11111111-2222-4333-8444-555555555555\"}");
	teardown();
}

static void test_unsupported_and_unknown(void)
{
	static const char *const unsupported[] = {"VerifyMac",    "Sign",
						  "GenerateMac", "GetPublicKey",
						  "ReplicateKey", "GenerateDataKeyPair"};
	char *out = NULL;
	int status = 0;

	setup();
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
		expect_err("UnsupportedOperationException", unsupported[i], "{}");
	expect_err("UnknownOperationException", "Frobnicate", "{}");
	expect_err("UnknownOperationException", "", "{}");
	CU_ASSERT_EQUAL(kms_handle(K, &ADMIN, NULL, NULL, 0, "rid-1", &status, &out), 0);
	CU_ASSERT_EQUAL(status, 400);
	CU_ASSERT(strstr(out, "UnknownOperationException") != NULL);
	free(out);
	/* empty body is {} */
	CU_ASSERT_EQUAL(kms_handle(K, &ADMIN, "ListKeys", "", 0, "rid-2", &status, &out), 0);
	CU_ASSERT_EQUAL(status, 200);
	free(out);
	/* kms_reject builds the body and audits */
	CU_ASSERT_EQUAL(kms_reject(K, &STRANGER, "Decrypt", "rid-3", "InvalidSignatureException",
				   400, "The request signature we calculated does not match", &out),
			0);
	CU_ASSERT(strstr(out, "\"__type\":\"InvalidSignatureException\"") != NULL);
	free(out);
	CU_ASSERT_EQUAL(count_audit("\"request_id\":\"rid-3\",\"error_code\":"
				    "\"InvalidSignatureException\""),
			1);
	teardown();
}

static void test_error_map(void)
{
	int status = 0;

	CU_ASSERT_STRING_EQUAL(kms_error_map(-ENOENT, &status), "NotFoundException");
	CU_ASSERT_EQUAL(status, 400);
	CU_ASSERT_STRING_EQUAL(kms_error_map(-EACCES, &status), "AccessDeniedException");
	CU_ASSERT_STRING_EQUAL(kms_error_map(-EBADMSG, &status), "InvalidCiphertextException");
	CU_ASSERT_STRING_EQUAL(kms_error_map(-EIO, &status), "KMSInternalException");
	CU_ASSERT_EQUAL(status, 500);
	CU_ASSERT_STRING_EQUAL(kms_error_map(KMS_ERR_DISABLED, &status), "DisabledException");
	CU_ASSERT_EQUAL(status, 400);
	CU_ASSERT_STRING_EQUAL(kms_error_map(KMS_ERR_INVALID_STATE, NULL),
			       "KMSInvalidStateException");
	CU_ASSERT_STRING_EQUAL(kms_error_map(9999, &status), "KMSInternalException");
}

/* Rewrites the audit copy with lines reordered/changed; returns verify's result. */
static int verify_variant(const char *path, char **lines, size_t n, char *err, size_t errlen)
{
	FILE *f = fopen(path, "we");
	uint64_t count = 0;

	for (size_t i = 0; i < n; i++)
		fputs(lines[i], f);
	fclose(f);
	return kms_audit_verify(&verify_opts, path, &count, err, errlen);
}

static void test_audit_chain(void)
{
	char *lines[64], copy[400], err[256];
	size_t n = 0, cap = 0;
	char *line = NULL, *tmp;
	const char *a;
	uint64_t count = 0;
	FILE *f;
	char *pt_b64;

	setup();
	a = create_key(NULL);
	pt_b64 = envol_base64_encode((const uint8_t *)"TOP-SECRET-PLAINTEXT", 20);
	json_decref(ok("Encrypt",
		       "{\"KeyId\":\"%s\",\"Plaintext\":\"%s\","
		       "\"EncryptionContext\":{\"purpose\":\"audit\"}}",
		       a, pt_b64));
	json_decref(ok("GenerateDataKey", "{\"KeyId\":\"%s\",\"NumberOfBytes\":16}", a));
	expect_err_as(&STRANGER, "AccessDeniedException", "ListKeys", "{}");
	/* reopen resumes the chain */
	kms_close(K);
	K = NULL;
	CU_ASSERT_EQUAL_FATAL(open_kms(), 0);
	json_decref(ok("ListKeys", "{}"));
	json_decref(ok("DescribeKey", "{\"KeyId\":\"%s\"}", a));

	CU_ASSERT_EQUAL(kms_audit_verify(&verify_opts, audit_path, &count, err, sizeof err), 0);
	CU_ASSERT_EQUAL(count, 6);
	CU_ASSERT_EQUAL(count_audit(pt_b64), 0);
	CU_ASSERT_EQUAL(count_audit("TOP-SECRET"), 0);
	CU_ASSERT_EQUAL(count_audit("\"encryption_context\":{\"purpose\":\"audit\"}"), 1);
	CU_ASSERT_EQUAL(
	    count_audit(
		"\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\""),
	    1);
	CU_ASSERT_EQUAL(count_audit("\"error_code\":null"), 5);
	CU_ASSERT(count_audit("\"time\":\"20") == 6);

	f = fopen(audit_path, "re");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (n < 64 && getline(&line, &cap, f) > 0)
		lines[n++] = strdup(line);
	free(line);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(n, 6);
	snprintf(copy, sizeof copy, "%s/copy.log", dir);

	CU_ASSERT_EQUAL(verify_variant(copy, lines, n, err, sizeof err), 0);
	/* changed line 3 -> line 4 does not match */
	tmp = lines[2];
	lines[2] = strdup(tmp);
	lines[2][10] ^= 1;
	CU_ASSERT_EQUAL(verify_variant(copy, lines, n, err, sizeof err), -EBADMSG);
	CU_ASSERT(strncmp(err, "line 4:", 7) == 0);
	free(lines[2]);
	lines[2] = tmp;
	/* removed line 2 */
	{
		char *removed[5] = {lines[0], lines[2], lines[3], lines[4], lines[5]};

		CU_ASSERT_EQUAL(verify_variant(copy, removed, 5, err, sizeof err), -EBADMSG);
		CU_ASSERT(strncmp(err, "line 2:", 7) == 0);
	}
	/* reordered lines 3 and 4 */
	{
		char *re[6] = {lines[0], lines[1], lines[3], lines[2], lines[4], lines[5]};

		CU_ASSERT_EQUAL(verify_variant(copy, re, 6, err, sizeof err), -EBADMSG);
		CU_ASSERT(strncmp(err, "line 3:", 7) == 0);
	}
	/* inserted line */
	{
		char *ins[7] = {lines[0], lines[1], lines[2], lines[2],
				lines[3], lines[4], lines[5]};

		CU_ASSERT_EQUAL(verify_variant(copy, ins, 7, err, sizeof err), -EBADMSG);
		CU_ASSERT(strncmp(err, "line 4:", 7) == 0);
	}
	/* removed first line */
	CU_ASSERT_EQUAL(verify_variant(copy, lines + 1, 5, err, sizeof err), -EBADMSG);
	CU_ASSERT(strncmp(err, "line 1:", 7) == 0);
	/* garbage line */
	{
		char *g[3] = {lines[0], "not json\n", lines[1]};

		CU_ASSERT_EQUAL(verify_variant(copy, g, 3, err, sizeof err), -EBADMSG);
		CU_ASSERT(strncmp(err, "line 2:", 7) == 0);
	}
	CU_ASSERT_EQUAL(kms_audit_verify(&verify_opts, "/nonexistent/audit.log", &count, err, sizeof err),
			-ENOENT);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(pt_b64);
	teardown();
}

static bool same_file_state(const char *path, const struct stat *before)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return false;
	return st.st_size == before->st_size && st.st_mtim.tv_sec == before->st_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == before->st_mtim.tv_nsec;
}

static void test_crypto_ops_do_not_write(void)
{
	char wal[320], *blob;
	struct stat db0, wal0;
	const char *a, *b;

	setup();
	a = create_key(NULL);
	b = create_key(NULL);
	blob = encrypt_b64(a, "warm", "{\"envol:volume-id\":\"v\"}");
	json_decref(ok("Decrypt",
		       "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":"
		       "{\"envol:volume-id\":\"v\"}}",
		       blob));
	json_decref(ok("Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"YQ==\"}", b));
	snprintf(wal, sizeof wal, "%s-wal", db_path);
	CU_ASSERT_EQUAL_FATAL(stat(db_path, &db0), 0);
	CU_ASSERT_EQUAL_FATAL(stat(wal, &wal0), 0);
	usleep(20000); /* so that a write would show in the mtime */
	for (int i = 0; i < 20; i++) {
		json_decref(ok("Decrypt",
			       "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":"
			       "{\"envol:volume-id\":\"v\"}}",
			       blob));
		json_decref(ok("Encrypt", "{\"KeyId\":\"%s\",\"Plaintext\":\"YQ==\"}", a));
		json_decref(ok("GenerateDataKey", "{\"KeyId\":\"%s\",\"NumberOfBytes\":64}", a));
		json_decref(ok("GenerateDataKeyWithoutPlaintext",
			       "{\"KeyId\":\"%s\",\"KeySpec\":\"AES_256\"}", b));
		json_decref(ok("ReEncrypt",
			       "{\"CiphertextBlob\":\"%s\",\"SourceEncryptionContext\":"
			       "{\"envol:volume-id\":\"v\"},\"DestinationKeyId\":\"%s\"}",
			       blob, b));
	}
	CU_ASSERT(same_file_state(db_path, &db0));
	CU_ASSERT(same_file_state(wal, &wal0));
	/* and a state change does write */
	json_decref(ok("DisableKey", "{\"KeyId\":\"%s\"}", b));
	CU_ASSERT(!same_file_state(wal, &wal0));
	free(blob);
	teardown();
}

struct worker {
	const char *key;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 150; i++) {
		char *out = NULL, body[256], *blob;
		int status = 0;
		json_t *j;

		snprintf(body, sizeof body, "{\"KeyId\":\"%s\",\"Plaintext\":\"aGVsbG8=\"}",
			 w->key);
		if (kms_handle(K, &ADMIN, "Encrypt", body, strlen(body), NULL, &status, &out) ||
		    status != 200) {
			w->failures++;
			free(out);
			continue;
		}
		j = json_loads(out, 0, NULL);
		free(out);
		blob = j ? strdup(json_string_value(json_object_get(j, "CiphertextBlob"))) : NULL;
		json_decref(j);
		if (!blob) {
			w->failures++;
			continue;
		}
		if (asprintf(&out, "{\"CiphertextBlob\":\"%s\"}", blob) < 0)
			abort();
		free(blob);
		blob = out;
		out = NULL;
		if (kms_handle(K, &ADMIN, "Decrypt", blob, strlen(blob), NULL, &status, &out) ||
		    status != 200 || !strstr(out, "\"Plaintext\":\"aGVsbG8=\""))
			w->failures++;
		free(out);
		free(blob);
	}
	return NULL;
}

static int integrity_check(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static void test_concurrency(void)
{
	pthread_t t[4];
	struct worker w[4];
	char keys[4][37];
	uint64_t lines = 0;
	char err[256];
	int writes = 0;

	setup();
	for (int i = 0; i < 4; i++)
		snprintf(keys[i], sizeof keys[i], "%s", create_key(NULL));
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){keys[i], 0};
		CU_ASSERT_EQUAL(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	/* state changes drop keys from the cache while the workers reload them */
	for (int i = 0; i < 8; i++) {
		for (int q = 0; q < 4; q++) {
			json_decref(ok("RotateKeyOnDemand", "{\"KeyId\":\"%s\"}", keys[q]));
			json_decref(ok("TagResource",
				       "{\"KeyId\":\"%s\",\"Tags\":[{\"TagKey\":\"i\","
				       "\"TagValue\":\"%d\"}]}",
				       keys[q], i));
			writes += 2;
		}
		create_key(NULL);
		writes++;
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(w[i].failures, 0);
	}
	CU_ASSERT_EQUAL(kms_audit_verify(&verify_opts, audit_path, &lines, err, sizeof err), 0);
	CU_ASSERT_EQUAL(lines, 4 + (uint64_t)writes + 4 * 150 * 2);
	kms_close(K);
	K = NULL;
	CU_ASSERT(integrity_check());
	CU_ASSERT_EQUAL(open_kms(), 0);
	teardown();
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"root key file 0600, reopen keeps keys", test_root_key_and_reopen},
	    {"root key from $CREDENTIALS_DIRECTORY", test_credentials_directory},
	    {"CreateKey, DescribeKey by every KeyId form, input errors", test_create_describe},
	    {"ListKeys paging", test_list_keys_paging},
	    {"key state machine", test_state_machine},
	    {"aliases", test_aliases},
	    {"Encrypt/Decrypt and their errors", test_encrypt_decrypt},
	    {"encryption context must match", test_context},
	    {"every byte of a blob flipped -> InvalidCiphertext", test_blob_every_byte_flipped},
	    {"ReEncrypt", test_re_encrypt},
	    {"GenerateDataKey*, GenerateRandom", test_data_keys_and_random},
	    {"rotation keeps old versions, uses the newest", test_rotation},
	    {"deletion window by the test clock", test_deletion_window},
	    {"managed key alias/envol/ebs", test_managed_key},
	    {"authorization matrix", test_authorization},
	    {"tags", test_tags},
	    {"unsupported and unknown operations, kms_reject", test_unsupported_and_unknown},
	    {"error map", test_error_map},
	    {"audit chain detects changes", test_audit_chain},
	    {"concurrent Encrypt/Decrypt during rotation", test_concurrency},
	    {"cryptographic operations do not write the database", test_crypto_ops_do_not_write},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
