/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_access.c — access control through kms_handle(), as AWS KMS decides it: key
 * policies (default, direct, with encryption-context conditions met and not met, explicit
 * Deny), the account principal with identity policies, kms.admins, the lockout safety check,
 * malformed policies, Get/Put/ListKeyPolicies, policies surviving a reopen, and the identity
 * policies swapped by kms_reload_access().
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kms_unit.h"

#define ACCT "000000000000"
#define IAM "arn:aws:iam::" ACCT ":"
#define ROOT_ARN IAM "user/unix/root"
#define ALICE_ARN IAM "user/alice"
#define BOB_ARN IAM "user/bob"
#define CAROL_ARN IAM "user/carol"

static const struct kms_caller ADMIN = {.principal = ROOT_ARN, .source = "unix:pid=1,uid=0"};
static const struct kms_caller ALICE = {.principal = ALICE_ARN, .source = "tcp:127.0.0.1:1"};
static const struct kms_caller BOB = {.principal = BOB_ARN, .source = "tcp:127.0.0.1:2"};
static const struct kms_caller CAROL = {.principal = CAROL_ARN, .source = "tcp:127.0.0.1:3"};

/* alice may use every key of the account; carol too, but never Decrypt */
static const char ALICE_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
    "[\"kms:Encrypt\",\"kms:Decrypt\",\"kms:DescribeKey\"],\"Resource\":\"arn:aws:kms:local:" ACCT
    ":key/*\"}]}";
static const char CAROL_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\","
    "\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}";

static struct kms_unit_dir D;
static char alice_path[300], carol_path[300];
static struct kms *K;

static void options(struct kms_options *o, bool with_alice)
{
	static char *admins[] = {ROOT_ARN};
	static char *principals[] = {BOB_ARN};
	static struct kms_identity_policy_file ips[2];

	ips[0] = (struct kms_identity_policy_file){CAROL_ARN, carol_path};
	ips[1] = (struct kms_identity_policy_file){ALICE_ARN, alice_path};
	*o = (struct kms_options){
	    .database = D.db,
	    .root_key_file = D.root,
	    .audit_log = D.audit,
	    .region = "local",
	    .account_id = ACCT,
	    .admins = admins,
	    .n_admins = 1,
	    .identity_policies = ips,
	    .n_identity_policies = with_alice ? 2 : 1,
	    .principals = principals,
	    .n_principals = 1,
	};
}

static void open_kms(void)
{
	struct kms_options o;
	char err[256] = "";

	options(&o, true);
	CU_ASSERT_EQUAL_FATAL(kms_open(&o, &K, err, sizeof err), 0);
}

static void setup(void)
{
	kms_unit_dir_make(&D, "access");
	snprintf(alice_path, sizeof alice_path, "%s/alice.json", D.dir);
	snprintf(carol_path, sizeof carol_path, "%s/carol.json", D.dir);
	kms_unit_write_file(alice_path, ALICE_POLICY);
	kms_unit_write_file(carol_path, CAROL_POLICY);
	open_kms();
}

static void teardown(void)
{
	kms_unit_dir_remove(&D, K);
	K = NULL;
}

/* One request on K as who, checked (kms_unit.h): want_type NULL means success. */
#define run(who, want_type, op, ...) kms_unit_run(K, who, want_type, op, __VA_ARGS__)

static const char *message(json_t *j) { return json_string_value(json_object_get(j, "message")); }

/* A new key (as admin), with a policy (JSON text, escaped for a JSON string) or without. */
static char *new_key(const char *policy_escaped)
{
	json_t *j = policy_escaped
			? run(&ADMIN, NULL, "CreateKey", "{\"Policy\":\"%s\"}", policy_escaped)
			: run(&ADMIN, NULL, "CreateKey", "{}");
	char *id =
	    strdup(json_string_value(json_object_get(json_object_get(j, "KeyMetadata"), "KeyId")));

	json_decref(j);
	return id;
}

/* Encrypt "aGk=" under key with an encryption context (JSON object text, "{}" for none). */
static char *encrypt_as(const struct kms_caller *who, const char *want, const char *key,
			const char *ctx)
{
	json_t *j =
	    run(who, want, "Encrypt",
		"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\",\"EncryptionContext\":%s}", key, ctx);
	const char *b = json_string_value(json_object_get(j, "CiphertextBlob"));
	char *r = b ? strdup(b) : NULL;

	json_decref(j);
	return r;
}

#define ROOT_ALL                                                                                   \
	"{\\\"Sid\\\":\\\"Enable IAM User Permissions\\\",\\\"Effect\\\":\\\"Allow\\\","           \
	"\\\"Principal\\\":{\\\"AWS\\\":\\\"arn:aws:iam::" ACCT ":root\\\"},"                      \
	"\\\"Action\\\":\\\"kms:*\\\",\\\"Resource\\\":\\\"*\\\"}"
#define BOB_VOLUME_V1                                                                              \
	"{\\\"Sid\\\":\\\"bob uses v1\\\",\\\"Effect\\\":\\\"Allow\\\","                           \
	"\\\"Principal\\\":{\\\"AWS\\\":\\\"" BOB_ARN "\\\"},"                                     \
	"\\\"Action\\\":[\\\"kms:Encrypt\\\",\\\"kms:Decrypt\\\"],\\\"Resource\\\":\\\"*\\\","     \
	"\\\"Condition\\\":{\\\"StringEquals\\\":{\\\"kms:EncryptionContext:Volume\\\":"           \
	"\\\"v1\\\"}}}"
#define DENY_ALICE_DECRYPT                                                                         \
	"{\\\"Effect\\\":\\\"Deny\\\",\\\"Principal\\\":{\\\"AWS\\\":\\\"" ALICE_ARN "\\\"},"      \
	"\\\"Action\\\":\\\"kms:Decrypt\\\",\\\"Resource\\\":\\\"*\\\"}"
#define POLICY(...) "{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[" __VA_ARGS__ "]}"

static void test_default_policy(void)
{
	_cleanup_free_ char *key = NULL, *blob = NULL;
	json_t *j;

	setup();
	key = new_key(NULL);
	/* account principal + identity policy */
	blob = encrypt_as(&ALICE, NULL, key, "{}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
	json_decref(run(&ALICE, NULL, "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob));
	/* no identity policy: denied, with AWS's message */
	j = run(&BOB, "AccessDeniedException", "Encrypt",
		"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\"}", key);
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j),
				      "User: " BOB_ARN " is not authorized to perform: kms:Encrypt "
				      "on resource: arn:aws:kms:local:" ACCT ":key/"));
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "because no identity-based policy allows"));
	json_decref(j);
	/* explicit Deny in the identity policy wins over its Allow */
	json_decref(run(&CAROL, NULL, "DescribeKey", "{\"KeyId\":\"%s\"}", key));
	j = run(&CAROL, "AccessDeniedException", "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob);
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "explicit deny in an identity-based policy"));
	json_decref(j);
	/* identity policy limited to key resources: no ListKeys (names no key) */
	json_decref(run(&ALICE, "AccessDeniedException", "ListKeys", "{}"));
	json_decref(run(&CAROL, NULL, "ListKeys", "{}"));
	/* an operation the identity policy does not name */
	json_decref(run(&ALICE, "AccessDeniedException", "DisableKey", "{\"KeyId\":\"%s\"}", key));

	/* the policy documents */
	j = run(&ADMIN, NULL, "GetKeyPolicy", "{\"KeyId\":\"%s\",\"PolicyName\":\"default\"}", key);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(json_string_value(json_object_get(j, "Policy")), "Enable IAM User Permissions"));
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "PolicyName")), "default");
	json_decref(j);
	j = run(&ADMIN, NULL, "ListKeyPolicies", "{\"KeyId\":\"%s\"}", key);
	CU_ASSERT_STRING_EQUAL(
	    json_string_value(json_array_get(json_object_get(j, "PolicyNames"), 0)), "default");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "PolicyNames")), 1);
	json_decref(j);
	json_decref(run(&ADMIN, "NotFoundException", "GetKeyPolicy",
			"{\"KeyId\":\"%s\",\"PolicyName\":\"other\"}", key));
	json_decref(run(&BOB, "AccessDeniedException", "GetKeyPolicy", "{\"KeyId\":\"%s\"}", key));
	teardown();
}

static void test_key_policy_conditions(void)
{
	_cleanup_free_ char *key = NULL, *b1 = NULL, *b2 = NULL;
	json_t *j;

	setup();
	key = new_key(POLICY(ROOT_ALL "," BOB_VOLUME_V1 "," DENY_ALICE_DECRYPT));
	/* bob is named by the key policy: allowed only under volume v1 (key name any case) */
	b1 = encrypt_as(&BOB, NULL, key, "{\"volume\":\"v1\",\"other\":\"x\"}");
	CU_ASSERT_PTR_NOT_NULL(b1);
	CU_ASSERT_PTR_NULL(encrypt_as(&BOB, "AccessDeniedException", key, "{\"volume\":\"v2\"}"));
	CU_ASSERT_PTR_NULL(encrypt_as(&BOB, "AccessDeniedException", key, "{}"));
	CU_ASSERT_PTR_NULL(encrypt_as(&BOB, "AccessDeniedException", key, "{\"volume\":\"V1\"}"));
	json_decref(run(&BOB, NULL, "Decrypt",
			"{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"volume\":\"v1\","
			"\"other\":\"x\"}}",
			b1));
	json_decref(run(&BOB, "AccessDeniedException", "DescribeKey", "{\"KeyId\":\"%s\"}", key));
	/* the explicit Deny of the key policy beats alice's identity policy */
	b2 = encrypt_as(&ALICE, NULL, key, "{\"volume\":\"v1\"}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(b2);
	j = run(&ALICE, "AccessDeniedException", "Decrypt",
		"{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"volume\":\"v1\"}}", b2);
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "explicit deny in a resource-based policy"));
	json_decref(j);

	/* without the account statement, identity policies count for nothing */
	json_decref(
	    run(&ADMIN, NULL, "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"%s\",\"BypassPolicyLockoutSafetyCheck\":true}", key,
		POLICY(BOB_VOLUME_V1)));
	j = run(&ALICE, "AccessDeniedException", "Encrypt",
		"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\"}", key);
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "no resource-based policy allows"));
	json_decref(j);
	/* and the admin locked itself out, as AWS warns */
	json_decref(run(&ADMIN, "AccessDeniedException", "PutKeyPolicy",
			"{\"KeyId\":\"%s\",\"Policy\":\"%s\"}", key, POLICY(ROOT_ALL)));
	json_decref(run(&ADMIN, "AccessDeniedException", "DisableKey", "{\"KeyId\":\"%s\"}", key));
	b1 = (free(b1), encrypt_as(&BOB, NULL, key, "{\"volume\":\"v1\"}"));
	CU_ASSERT_PTR_NOT_NULL(b1);

	/* the policy survives a reopen */
	kms_close(K);
	open_kms();
	CU_ASSERT_PTR_NULL(encrypt_as(&ALICE, "AccessDeniedException", key, "{}"));
	free(b1);
	b1 = encrypt_as(&BOB, NULL, key, "{\"volume\":\"v1\"}");
	CU_ASSERT_PTR_NOT_NULL(b1);
	teardown();
}

static void test_lockout_and_malformed(void)
{
	_cleanup_free_ char *key = NULL, *big = NULL;
	json_t *j;
	size_t n = 40000;

	setup();
	key = new_key(NULL);
	/* a policy that would not let the caller change it again */
	j = run(&ADMIN, "MalformedPolicyDocumentException", "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"%s\"}", key, POLICY(BOB_VOLUME_V1));
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "will not allow you to update the key policy"));
	json_decref(j);
	json_decref(run(&ADMIN, "MalformedPolicyDocumentException", "CreateKey",
			"{\"Policy\":\"%s\"}", POLICY(BOB_VOLUME_V1)));
	json_decref(run(&ADMIN, NULL, "CreateKey",
			"{\"Policy\":\"%s\",\"BypassPolicyLockoutSafetyCheck\":true}",
			POLICY(BOB_VOLUME_V1)));
	/* malformed documents say what is wrong */
	j = run(&ADMIN, "MalformedPolicyDocumentException", "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"{not json\"}", key);
	CU_ASSERT_PTR_NOT_NULL(message(j));
	json_decref(j);
	j = run(&ADMIN, "MalformedPolicyDocumentException", "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"%s\"}", key,
		POLICY("{\\\"Effect\\\":\\\"Perhaps\\\",\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":"
		       "\\\"kms:*\\\",\\\"Resource\\\":\\\"*\\\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "Effect"));
	json_decref(j);
	/* principals that do not exist: an unknown IAM user, a Unix user this host lacks */
	json_decref(
	    run(&ADMIN, "MalformedPolicyDocumentException", "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"%s\"}", key,
		POLICY(ROOT_ALL ",{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":"
				"\\\"" IAM "user/ghost\\\"},\\\"Action\\\":\\\"kms:*\\\","
				"\\\"Resource\\\":\\\"*\\\"}")));
	json_decref(
	    run(&ADMIN, "MalformedPolicyDocumentException", "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"%s\"}", key,
		POLICY(ROOT_ALL ",{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":"
				"\\\"" IAM "user/unix/no-such-user-4242\\\"},\\\"Action\\\":"
				"\\\"kms:*\\\",\\\"Resource\\\":\\\"*\\\"}")));
	/* configured and Unix principals exist */
	json_decref(
	    run(&ADMIN, NULL, "PutKeyPolicy", "{\"KeyId\":\"%s\",\"Policy\":\"%s\"}", key,
		POLICY(ROOT_ALL ",{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{\\\"AWS\\\":["
				"\\\"" BOB_ARN "\\\",\\\"" IAM "user/unix/root\\\"]},"
				"\\\"Action\\\":\\\"kms:Encrypt\\\",\\\"Resource\\\":\\\"*\\\"}")));
	{
		_cleanup_free_ char *b = encrypt_as(&BOB, NULL, key, "{}");

		CU_ASSERT_PTR_NOT_NULL(b);
	}
	/* oversize */
	big = malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, ' ', n);
	big[n] = 0;
	memcpy(big, "{\\\"Version\\\":\\\"2012-10-17\\\",", 27);
	j = run(&ADMIN, "MalformedPolicyDocumentException", "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"%s\"}", key, big);
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "32768"));
	json_decref(j);
	/* only "default" exists */
	json_decref(run(&ADMIN, "ValidationException", "PutKeyPolicy",
			"{\"KeyId\":\"%s\",\"PolicyName\":\"mine\",\"Policy\":\"%s\"}", key,
			POLICY(ROOT_ALL)));
	teardown();
}

static void test_reload(void)
{
	_cleanup_free_ char *key = NULL, *blob = NULL;
	struct kms_options o;
	char err[256] = "";

	setup();
	key = new_key(NULL);
	blob = encrypt_as(&ALICE, NULL, key, "{}");
	CU_ASSERT_PTR_NOT_NULL(blob);
	options(&o, false);
	CU_ASSERT_EQUAL(kms_reload_access(K, &o, err, sizeof err), 0);
	CU_ASSERT_PTR_NULL(encrypt_as(&ALICE, "AccessDeniedException", key, "{}"));
	/* a file that does not parse: refused, the old settings stay */
	kms_unit_write_file(alice_path,
			    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":1}]}");
	options(&o, true);
	CU_ASSERT(kms_reload_access(K, &o, err, sizeof err) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, alice_path));
	CU_ASSERT_PTR_NULL(encrypt_as(&ALICE, "AccessDeniedException", key, "{}"));
	json_decref(run(&CAROL, NULL, "DescribeKey", "{\"KeyId\":\"%s\"}", key));
	teardown();
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"default policy: account principal + identity policies", test_default_policy},
	    {"key policy: direct, conditions, explicit deny, reopen", test_key_policy_conditions},
	    {"lockout check and malformed policies", test_lockout_and_malformed},
	    {"identity policies reloaded", test_reload},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms access", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
