/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_grants.c — grants through kms_handle(), the matrix rows that concern them: a grant
 * with EncryptionContextSubset and EncryptionContextEquals met and not met, retired and revoked
 * grants no longer allow, who may retire, Name idempotency, DryRun, key states, ListGrants and
 * ListRetirableGrants (shapes, filters, pages), GrantTokens (garbage, another key's, too
 * many), the derive check of a grant that carries CreateGrant, grants going with their key,
 * and the 50,000-grants-per-key limit.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kms_unit.h"

#define ACCT "000000000000"
#define IAM "arn:aws:iam::" ACCT ":"
#define ROOT_ARN IAM "user/unix/root"
#define BOB_ARN IAM "user/bob"
#define DAVE_ARN IAM "user/dave"
#define ACCOUNT_ARN IAM "root"

static const struct kms_caller ADMIN = {.principal = ROOT_ARN, .source = "unix:pid=1,uid=0"};
static const struct kms_caller BOB = {.principal = BOB_ARN, .source = "tcp:127.0.0.1:2"};
static const struct kms_caller DAVE = {.principal = DAVE_ARN, .source = "tcp:127.0.0.1:4"};
static const struct kms_caller ACCOUNT = {.principal = ACCOUNT_ARN, .source = "tcp:127.0.0.1:5"};

static struct kms_unit_dir D;
static struct kms *K;

static void open_kms(void)
{
	static char *admins[] = {ROOT_ARN};
	static char *principals[] = {BOB_ARN, DAVE_ARN};
	struct kms_options o = {
	    .database = D.db,
	    .root_key_file = D.root,
	    .audit_log = D.audit,
	    .region = "local",
	    .account_id = ACCT,
	    .admins = admins,
	    .n_admins = 1,
	    .principals = principals,
	    .n_principals = 2,
	};
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(kms_open(&o, &K, err, sizeof err), 0);
}

static void setup(void)
{
	kms_unit_dir_make(&D, "grants");
	open_kms();
}

static void teardown(void)
{
	kms_unit_dir_remove(&D, K);
	K = NULL;
}

/* One request on K as who, checked (kms_unit.h): want_type NULL means success. */
#define run(who, want_type, op, ...) kms_unit_run(K, who, want_type, op, __VA_ARGS__)

static const char *member(json_t *j, const char *name)
{
	return json_string_value(json_object_get(j, name));
}

/* A new key (as admin), with a key policy (JSON text) or, policy NULL, the default one. */
static char *new_key_policy(const char *policy)
{
	json_t *text = policy ? json_string(policy) : json_null(), *j;
	_cleanup_free_ char *quoted = json_dumps(text, JSON_ENCODE_ANY);
	char *id;

	json_decref(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(quoted);
	j = run(&ADMIN, NULL, "CreateKey", "{\"Policy\":%s}", quoted);
	id = strdup(member(json_object_get(j, "KeyMetadata"), "KeyId"));
	json_decref(j);
	return id;
}

static char *new_key(void) { return new_key_policy(NULL); }

/* CreateGrant as who; rest is the JSON members after KeyId (without braces).  Returns the
 * response. */
#define create_grant(who, want, key, ...)                                                          \
	run(who, want, "CreateGrant", "{\"KeyId\":\"%s\"," __VA_ARGS__ "}", key)

/* The GrantId of a successful CreateGrant as a new string; frees j. */
static char *grant_id(json_t *j)
{
	const char *id = member(j, "GrantId");
	char *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(id);
	CU_ASSERT_EQUAL(strlen(id), 64);
	CU_ASSERT_PTR_NOT_NULL(member(j, "GrantToken"));
	r = strdup(id);
	json_decref(j);
	return r;
}

/* Encrypt "aGk=" under key as who with context ctx (JSON object text); the blob or NULL. */
static char *encrypt_as(const struct kms_caller *who, const char *want, const char *key,
			const char *ctx)
{
	json_t *j =
	    run(who, want, "Encrypt",
		"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\",\"EncryptionContext\":%s}", key, ctx);
	const char *b = member(j, "CiphertextBlob");
	char *r = b ? strdup(b) : NULL;

	json_decref(j);
	return r;
}

static size_t count_grants(const char *key)
{
	json_t *j = run(&ADMIN, NULL, "ListGrants", "{\"KeyId\":\"%s\"}", key);
	size_t n = json_array_size(json_object_get(j, "Grants"));

	json_decref(j);
	return n;
}

static void test_constraints(void)
{
	_cleanup_free_ char *key = NULL, *g1 = NULL, *g2 = NULL, *blob = NULL, *b2 = NULL;
	json_t *j, *e, *c;

	setup();
	key = new_key();
	/* no policy names bob: denied until a grant allows */
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{\"volume\":\"v1\"}"));
	g1 = grant_id(
	    create_grant(&ADMIN, NULL, key,
			 "\"GranteePrincipal\":\"" BOB_ARN "\",\"RetiringPrincipal\":\"" DAVE_ARN
			 "\",\"Operations\":[\"Encrypt\",\"Decrypt\",\"GenerateDataKey\"],"
			 "\"Constraints\":{\"EncryptionContextSubset\":{\"volume\":\"v1\"}},"
			 "\"Name\":\"subset-v1\""));
	/* EncryptionContextSubset: met with more pairs, the key in any case; not met otherwise */
	blob = encrypt_as(&BOB, NULL, key, "{\"volume\":\"v1\",\"other\":\"x\"}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
	free(encrypt_as(&BOB, NULL, key, "{\"VOLUME\":\"v1\"}"));
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{\"volume\":\"v2\"}"));
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{\"volume\":\"V1\"}"));
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{}"));
	json_decref(run(&BOB, NULL, "Decrypt",
			"{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"volume\":\"v1\","
			"\"other\":\"x\"}}",
			blob));
	json_decref(
	    run(&BOB, NULL, "GenerateDataKey",
		"{\"KeyId\":\"%s\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"volume\":"
		"\"v1\"}}",
		key));
	/* operations the grant does not carry */
	json_decref(
	    run(&BOB, "AccessDeniedException", "GenerateDataKeyWithoutPlaintext",
		"{\"KeyId\":\"%s\",\"KeySpec\":\"AES_256\",\"EncryptionContext\":{\"volume\":"
		"\"v1\"}}",
		key));
	json_decref(run(&BOB, "AccessDeniedException", "DescribeKey", "{\"KeyId\":\"%s\"}", key));
	json_decref(run(&BOB, "AccessDeniedException", "DisableKey", "{\"KeyId\":\"%s\"}", key));
	/* another principal is not the grantee */
	free(encrypt_as(&DAVE, "AccessDeniedException", key, "{\"volume\":\"v1\"}"));

	/* EncryptionContextEquals: exactly these pairs */
	g2 = grant_id(create_grant(
	    &ADMIN, NULL, key,
	    "\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":[\"Encrypt\",\"ReEncryptFrom\","
	    "\"ReEncryptTo\",\"DescribeKey\"],\"Constraints\":{\"EncryptionContextEquals\":{"
	    "\"volume\":\"v2\",\"pool\":\"p\"}}"));
	b2 = encrypt_as(&BOB, NULL, key, "{\"pool\":\"p\",\"volume\":\"v2\"}");
	CU_ASSERT_PTR_NOT_NULL(b2);
	free(encrypt_as(&BOB, NULL, key, "{\"pool\":\"p\",\"Volume\":\"v2\"}"));
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{\"volume\":\"v2\"}"));
	free(encrypt_as(&BOB, "AccessDeniedException", key,
			"{\"volume\":\"v2\",\"pool\":\"p\",\"x\":\"y\"}"));
	/* DescribeKey takes no context: constraints do not apply */
	json_decref(run(&BOB, NULL, "DescribeKey", "{\"KeyId\":\"%s\"}", key));
	/* ReEncrypt: From and To each need their grant; no Decrypt grant under v2 */
	json_decref(run(&BOB, NULL, "ReEncrypt",
			"{\"CiphertextBlob\":\"%s\",\"SourceEncryptionContext\":{\"pool\":\"p\","
			"\"volume\":\"v2\"},\"DestinationKeyId\":\"%s\","
			"\"DestinationEncryptionContext\":{\"pool\":\"p\",\"volume\":\"v2\"}}",
			b2, key));
	json_decref(run(&BOB, "AccessDeniedException", "ReEncrypt",
			"{\"CiphertextBlob\":\"%s\",\"SourceEncryptionContext\":{\"pool\":\"p\","
			"\"volume\":\"v2\"},\"DestinationKeyId\":\"%s\","
			"\"DestinationEncryptionContext\":{\"volume\":\"v3\"}}",
			b2, key));
	json_decref(run(&BOB, "AccessDeniedException", "Decrypt",
			"{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"pool\":\"p\","
			"\"volume\":\"v2\"}}",
			b2));

	/* ListGrants: botocore's GrantListEntry */
	j = run(&ADMIN, NULL, "ListGrants", "{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g1);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Grants")), 1);
	CU_ASSERT(json_is_false(json_object_get(j, "Truncated")));
	e = json_array_get(json_object_get(j, "Grants"), 0);
	CU_ASSERT_STRING_EQUAL(member(e, "GrantId"), g1);
	CU_ASSERT_PTR_NOT_NULL(strstr(member(e, "KeyId"), "arn:aws:kms:local:" ACCT ":key/"));
	CU_ASSERT_PTR_NOT_NULL(strstr(member(e, "KeyId"), key));
	CU_ASSERT_STRING_EQUAL(member(e, "Name"), "subset-v1");
	CU_ASSERT_STRING_EQUAL(member(e, "GranteePrincipal"), BOB_ARN);
	CU_ASSERT_STRING_EQUAL(member(e, "RetiringPrincipal"), DAVE_ARN);
	CU_ASSERT_STRING_EQUAL(member(e, "IssuingAccount"), ACCOUNT_ARN);
	CU_ASSERT(json_is_integer(json_object_get(e, "CreationDate")));
	CU_ASSERT_EQUAL(json_array_size(json_object_get(e, "Operations")), 3);
	CU_ASSERT_STRING_EQUAL(
	    json_string_value(json_array_get(json_object_get(e, "Operations"), 0)), "Decrypt");
	c = json_object_get(json_object_get(e, "Constraints"), "EncryptionContextSubset");
	CU_ASSERT_STRING_EQUAL(member(c, "volume"), "v1");
	json_decref(j);
	/* a grant without name, retiring principal or constraints leaves them out */
	j = run(&ADMIN, NULL, "ListGrants", "{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g2);
	e = json_array_get(json_object_get(j, "Grants"), 0);
	CU_ASSERT_PTR_NULL(json_object_get(e, "Name"));
	CU_ASSERT_PTR_NULL(json_object_get(e, "RetiringPrincipal"));
	CU_ASSERT_PTR_NOT_NULL(
	    json_object_get(json_object_get(e, "Constraints"), "EncryptionContextEquals"));
	json_decref(j);
	/* filters and pages */
	j = run(&ADMIN, NULL, "ListGrants",
		"{\"KeyId\":\"%s\",\"GranteePrincipal\":\"" DAVE_ARN "\"}", key);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Grants")), 0);
	json_decref(j);
	j = run(&ADMIN, NULL, "ListGrants", "{\"KeyId\":\"%s\",\"Limit\":1}", key);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Grants")), 1);
	CU_ASSERT(json_is_true(json_object_get(j, "Truncated")));
	CU_ASSERT_PTR_NOT_NULL_FATAL(member(j, "NextMarker"));
	{
		json_t *j2 = run(&ADMIN, NULL, "ListGrants",
				 "{\"KeyId\":\"%s\",\"Limit\":1,\"Marker\":\"%s\"}", key,
				 member(j, "NextMarker"));

		CU_ASSERT_EQUAL(json_array_size(json_object_get(j2, "Grants")), 1);
		CU_ASSERT(json_is_false(json_object_get(j2, "Truncated")));
		CU_ASSERT_STRING_NOT_EQUAL(
		    member(json_array_get(json_object_get(j2, "Grants"), 0), "GrantId"),
		    member(json_array_get(json_object_get(j, "Grants"), 0), "GrantId"));
		json_decref(j2);
	}
	json_decref(j);
	json_decref(run(&ADMIN, "InvalidMarkerException", "ListGrants",
			"{\"KeyId\":\"%s\",\"Marker\":\"nope\"}", key));
	json_decref(run(&ADMIN, "InvalidGrantIdException", "ListGrants",
			"{\"KeyId\":\"%s\",\"GrantId\":\"nope\"}", key));
	/* bob may not list: no policy allows kms:ListGrants, and no grant carries it */
	json_decref(run(&BOB, "AccessDeniedException", "ListGrants", "{\"KeyId\":\"%s\"}", key));

	/* validation */
	json_decref(create_grant(&ADMIN, "ValidationException", key,
				 "\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":[\"Sign\"]"));
	json_decref(create_grant(&ADMIN, "ValidationException", key,
				 "\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":[]"));
	json_decref(create_grant(&ADMIN, "ValidationException", key,
				 "\"GranteePrincipal\":\"" BOB_ARN
				 "\",\"Operations\":[\"Decrypt\"],"
				 "\"Name\":\"a b\""));
	json_decref(
	    create_grant(&ADMIN, "ValidationException", key,
			 "\"GranteePrincipal\":\"bob smith\",\"Operations\":[\"Decrypt\"]"));
	json_decref(
	    create_grant(&ADMIN, "ValidationException", key, "\"Operations\":[\"Decrypt\"]"));
	json_decref(run(&ADMIN, "NotFoundException", "CreateGrant",
			"{\"KeyId\":\"11111111-2222-4333-8444-555555555555\",\"GranteePrincipal\":"
			"\"" BOB_ARN "\",\"Operations\":[\"Decrypt\"]}"));
	teardown();
}

static void test_retire_revoke(void)
{
	_cleanup_free_ char *key = NULL, *g1 = NULL, *g2 = NULL, *g4 = NULL, *token = NULL,
			    *g3 = NULL;
	json_t *j;

	setup();
	key = new_key();
	g1 = grant_id(create_grant(&ADMIN, NULL, key,
				   "\"GranteePrincipal\":\"" BOB_ARN
				   "\",\"RetiringPrincipal\":\"" DAVE_ARN
				   "\",\"Operations\":[\"Encrypt\"]"));
	free(encrypt_as(&BOB, NULL, key, "{}"));
	/* the grantee may not retire a grant that does not carry RetireGrant */
	json_decref(run(&BOB, "AccessDeniedException", "RetireGrant",
			"{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g1));
	/* the retiring principal may */
	j = run(&ADMIN, NULL, "ListRetirableGrants", "{\"RetiringPrincipal\":\"" DAVE_ARN "\"}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Grants")), 1);
	CU_ASSERT_STRING_EQUAL(member(json_array_get(json_object_get(j, "Grants"), 0), "GrantId"),
			       g1);
	json_decref(j);
	json_decref(
	    run(&DAVE, NULL, "RetireGrant", "{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g1));
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{}"));
	j = run(&ADMIN, NULL, "ListRetirableGrants", "{\"RetiringPrincipal\":\"" DAVE_ARN "\"}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "Grants")), 0);
	json_decref(j);
	/* gone: the retiring principal no longer is one (no existence oracle), the admin is told */
	json_decref(run(&DAVE, "AccessDeniedException", "RetireGrant",
			"{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g1));
	json_decref(run(&ADMIN, "NotFoundException", "RetireGrant",
			"{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g1));
	json_decref(run(&ADMIN, "InvalidGrantIdException", "RetireGrant",
			"{\"KeyId\":\"%s\",\"GrantId\":\"xyz\"}", key));
	json_decref(run(&ADMIN, "ValidationException", "RetireGrant", "{\"KeyId\":\"%s\"}", key));
	/* ListRetirableGrants names no key: identity policies alone */
	json_decref(run(&DAVE, "AccessDeniedException", "ListRetirableGrants",
			"{\"RetiringPrincipal\":\"" DAVE_ARN "\"}"));

	/* the grantee of a grant that carries RetireGrant, by token */
	j = create_grant(&ADMIN, NULL, key,
			 "\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":[\"Encrypt\","
			 "\"RetireGrant\"]");
	token = strdup(member(j, "GrantToken"));
	g2 = grant_id(j);
	free(encrypt_as(&BOB, NULL, key, "{}"));
	json_decref(
	    run(&DAVE, "AccessDeniedException", "RetireGrant", "{\"GrantToken\":\"%s\"}", token));
	json_decref(run(&BOB, "InvalidGrantTokenException", "RetireGrant",
			"{\"GrantToken\":\"bm90IGEgdG9rZW4=\"}"));
	json_decref(run(&BOB, NULL, "RetireGrant", "{\"GrantToken\":\"%s\"}", token));
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{}"));

	/* the account may retire any grant of its keys */
	g3 = grant_id(create_grant(&ADMIN, NULL, key,
				   "\"GranteePrincipal\":\"" BOB_ARN
				   "\",\"Operations\":[\"Encrypt\"]"));
	json_decref(
	    run(&ACCOUNT, NULL, "RetireGrant", "{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g3));

	/* revoke: only a policy allows it, never the grant */
	g4 = grant_id(create_grant(&ADMIN, NULL, key,
				   "\"GranteePrincipal\":\"" BOB_ARN
				   "\",\"RetiringPrincipal\":\"" BOB_ARN
				   "\",\"Operations\":[\"Encrypt\",\"RetireGrant\"]"));
	free(encrypt_as(&BOB, NULL, key, "{}"));
	json_decref(run(&BOB, "AccessDeniedException", "RevokeGrant",
			"{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g4));
	json_decref(
	    run(&ADMIN, NULL, "RevokeGrant", "{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g4));
	free(encrypt_as(&BOB, "AccessDeniedException", key, "{}"));
	json_decref(run(&ADMIN, "NotFoundException", "RevokeGrant",
			"{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g4));
	CU_ASSERT_EQUAL(count_grants(key), 0);
	teardown();
}

static void test_name_dry_run_states(void)
{
	_cleanup_free_ char *key = NULL, *g1 = NULL, *g2 = NULL, *g3 = NULL, *t1 = NULL;
	json_t *j;

#define NAMED(ops)                                                                                 \
	"\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":[" ops "],\"Name\":\"n1\","           \
	"\"Constraints\":{\"EncryptionContextEquals\":{\"a\":\"1\",\"b\":\"2\"}}"
	setup();
	key = new_key();
	j = create_grant(&ADMIN, NULL, key, NAMED("\"Decrypt\""));
	t1 = strdup(member(j, "GrantToken"));
	g1 = grant_id(j);
	/* the same name and properties (pairs in another order): the same grant, a new token */
	j = run(&ADMIN, NULL, "CreateGrant",
		"{\"KeyId\":\"%s\",\"GranteePrincipal\":\"" BOB_ARN
		"\",\"Operations\":[\"Decrypt\"],"
		"\"Name\":\"n1\",\"Constraints\":{\"EncryptionContextEquals\":{\"b\":\"2\","
		"\"a\":\"1\"}}}",
		key);
	CU_ASSERT_STRING_NOT_EQUAL(member(j, "GrantToken"), t1);
	g2 = grant_id(j);
	CU_ASSERT_STRING_EQUAL(g1, g2);
	CU_ASSERT_EQUAL(count_grants(key), 1);
	/* the same name, other properties: a new grant */
	g3 = grant_id(create_grant(&ADMIN, NULL, key, NAMED("\"Decrypt\",\"Encrypt\"")));
	CU_ASSERT_STRING_NOT_EQUAL(g1, g3);
	CU_ASSERT_EQUAL(count_grants(key), 2);

	/* DryRun: decided, nothing created */
	j = create_grant(&ADMIN, "DryRunOperationException", key,
			 NAMED("\"Encrypt\"") ",\"DryRun\":true");
	CU_ASSERT_STRING_EQUAL(member(j, "message"),
			       "The request would have succeeded, but the DryRun option is set.");
	json_decref(j);
	json_decref(create_grant(&BOB, "AccessDeniedException", key,
				 NAMED("\"Encrypt\"") ",\"DryRun\":true"));
	CU_ASSERT_EQUAL(count_grants(key), 2);

	/* key states: a disabled key takes no new grants, its grants allow nothing */
	json_decref(run(&ADMIN, NULL, "DisableKey", "{\"KeyId\":\"%s\"}", key));
	json_decref(create_grant(&ADMIN, "DisabledException", key, NAMED("\"Encrypt\"")));
	free(encrypt_as(&BOB, "DisabledException", key, "{\"a\":\"1\",\"b\":\"2\"}"));
	CU_ASSERT_EQUAL(count_grants(key), 2);
	json_decref(run(&ADMIN, NULL, "ScheduleKeyDeletion",
			"{\"KeyId\":\"%s\",\"PendingWindowInDays\":7}", key));
	json_decref(create_grant(&ADMIN, "KMSInvalidStateException", key, NAMED("\"Encrypt\"")));
	/* grants of a key pending deletion can still be listed and retired */
	json_decref(
	    run(&ADMIN, NULL, "RetireGrant", "{\"KeyId\":\"%s\",\"GrantId\":\"%s\"}", key, g3));
	CU_ASSERT_EQUAL(count_grants(key), 1);
#undef NAMED
	teardown();
}

static void test_tokens(void)
{
	_cleanup_free_ char *key = NULL, *other = NULL, *tok = NULL, *tok_other = NULL,
			    *blob = NULL, *too_many = NULL;
	json_t *j;
	size_t len = 0;

	setup();
	key = new_key();
	other = new_key();
	j = create_grant(&ADMIN, NULL, key,
			 "\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":[\"Encrypt\","
			 "\"Decrypt\",\"ReEncryptFrom\",\"ReEncryptTo\"]");
	tok = strdup(member(j, "GrantToken"));
	json_decref(j);
	j = create_grant(&ADMIN, NULL, other,
			 "\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":[\"Encrypt\","
			 "\"ReEncryptTo\"]");
	tok_other = strdup(member(j, "GrantToken"));
	json_decref(j);

	/* a token of this key is accepted (and not needed: envol is strongly consistent) */
	j = run(&BOB, NULL, "Encrypt",
		"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\",\"GrantTokens\":[\"%s\"]}", key, tok);
	blob = strdup(member(j, "CiphertextBlob"));
	json_decref(j);
	json_decref(run(&BOB, NULL, "Decrypt",
			"{\"CiphertextBlob\":\"%s\",\"GrantTokens\":[\"%s\"]}", blob, tok));
	/* garbage, and a token of another key */
	json_decref(run(&BOB, "InvalidGrantTokenException", "Encrypt",
			"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\",\"GrantTokens\":[\"garbage\"]}",
			key));
	json_decref(run(&ADMIN, "InvalidGrantTokenException", "DescribeKey",
			"{\"KeyId\":\"%s\",\"GrantTokens\":[\"%s\",\"%s\"]}", key, tok, tok_other));
	json_decref(run(&BOB, "InvalidGrantTokenException", "Decrypt",
			"{\"CiphertextBlob\":\"%s\",\"GrantTokens\":[\"%s\"]}", blob, tok_other));
	/* a flipped character fails the MAC */
	{
		_cleanup_free_ char *bad = strdup(tok);

		bad[5] = bad[5] == 'A' ? 'B' : 'A';
		json_decref(
		    run(&BOB, "InvalidGrantTokenException", "Encrypt",
			"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\",\"GrantTokens\":[\"%s\"]}", key,
			bad));
	}
	/* ReEncrypt names two keys: a token of either is fine */
	json_decref(run(&BOB, NULL, "ReEncrypt",
			"{\"CiphertextBlob\":\"%s\",\"DestinationKeyId\":\"%s\",\"GrantTokens\":"
			"[\"%s\",\"%s\"]}",
			blob, other, tok, tok_other));
	/* CreateGrant takes tokens too */
	json_decref(create_grant(&ADMIN, "InvalidGrantTokenException", key,
				 "\"GranteePrincipal\":\"" BOB_ARN
				 "\",\"Operations\":[\"Encrypt\"],"
				 "\"GrantTokens\":[\"%%%%\"]"));
	/* at most 10 */
	for (int i = 0; i < 11; i++) {
		char *n;

		CU_ASSERT_FATAL(asprintf(&n, "%s%s\"%s\"", too_many ? too_many : "",
					 too_many ? "," : "", tok) > 0);
		free(too_many);
		too_many = n;
		len++;
	}
	CU_ASSERT_EQUAL(len, 11);
	json_decref(run(&BOB, "ValidationException", "Encrypt",
			"{\"KeyId\":\"%s\",\"Plaintext\":\"aGk=\",\"GrantTokens\":[%s]}", key,
			too_many));
	teardown();
}

/* The grant condition keys of CreateGrant in a key policy: bob may give dave Decrypt (and
 * RetireGrant) only, only under EncryptionContextEquals, only with alice as retiring
 * principal when there is one. */
static void test_condition_keys(void)
{
	static const char policy[] =
	    "{\"Version\":\"2012-10-17\",\"Statement\":["
	    "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ROOT_ARN "\"},"
	    "\"Action\":\"kms:*\",\"Resource\":\"*\"},"
	    "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" BOB_ARN "\"},"
	    "\"Action\":\"kms:CreateGrant\",\"Resource\":\"*\",\"Condition\":{"
	    "\"ForAllValues:StringEquals\":{\"kms:GrantOperations\":[\"Decrypt\",\"RetireGrant\"]},"
	    "\"StringEquals\":{\"kms:GranteePrincipal\":\"" DAVE_ARN "\","
	    "\"kms:GrantConstraintType\":\"EncryptionContextEquals\"},"
	    "\"StringEqualsIfExists\":{\"kms:RetiringPrincipal\":\"" ROOT_ARN "\"}}}]}";
	_cleanup_free_ char *key = NULL;

#define TO_DAVE(ops, rest) "\"GranteePrincipal\":\"" DAVE_ARN "\",\"Operations\":[" ops "]" rest
#define EQUALS ",\"Constraints\":{\"EncryptionContextEquals\":{\"volume\":\"v1\"}}"
	setup();
	key = new_key_policy(policy);
	free(grant_id(create_grant(&BOB, NULL, key, TO_DAVE("\"Decrypt\"", EQUALS))));
	free(grant_id(create_grant(&BOB, NULL, key,
				   TO_DAVE("\"Decrypt\",\"RetireGrant\"",
					   EQUALS ",\"RetiringPrincipal\":\"" ROOT_ARN "\""))));
	/* kms:GrantOperations */
	json_decref(create_grant(&BOB, "AccessDeniedException", key,
				 TO_DAVE("\"Decrypt\",\"Encrypt\"", EQUALS)));
	/* kms:GranteePrincipal */
	json_decref(create_grant(&BOB, "AccessDeniedException", key,
				 "\"GranteePrincipal\":\"" BOB_ARN
				 "\",\"Operations\":[\"Decrypt\"]" EQUALS));
	/* kms:GrantConstraintType: another constraint, or none */
	json_decref(create_grant(
	    &BOB, "AccessDeniedException", key,
	    TO_DAVE("\"Decrypt\"",
		    ",\"Constraints\":{\"EncryptionContextSubset\":{\"volume\":\"v1\"}}")));
	json_decref(create_grant(&BOB, "AccessDeniedException", key, TO_DAVE("\"Decrypt\"", "")));
	/* kms:RetiringPrincipal */
	json_decref(
	    create_grant(&BOB, "AccessDeniedException", key,
			 TO_DAVE("\"Decrypt\"", EQUALS ",\"RetiringPrincipal\":\"" BOB_ARN "\"")));
	CU_ASSERT_EQUAL(count_grants(key), 2);
#undef TO_DAVE
#undef EQUALS
	teardown();
}

/* On CreateGrant, kms:EncryptionContext:<k> is the grant's constraint (AWS): one volume only. */
static void test_condition_context(void)
{
	static const char policy[] =
	    "{\"Version\":\"2012-10-17\",\"Statement\":["
	    "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ROOT_ARN "\"},"
	    "\"Action\":\"kms:*\",\"Resource\":\"*\"},"
	    "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" BOB_ARN "\"},"
	    "\"Action\":\"kms:CreateGrant\",\"Resource\":\"*\",\"Condition\":{"
	    "\"StringEquals\":{\"kms:EncryptionContext:envol:volume-id\":\"v1\"}}}]}";
	_cleanup_free_ char *key = NULL;

#define TO_DAVE(rest) "\"GranteePrincipal\":\"" DAVE_ARN "\",\"Operations\":[\"Decrypt\"]" rest
	setup();
	key = new_key_policy(policy);
	free(grant_id(create_grant(
	    &BOB, NULL, key,
	    TO_DAVE(",\"Constraints\":{\"EncryptionContextEquals\":{\"envol:volume-id\":\"v1\","
		    "\"envol:size\":\"8\"}}"))));
	free(grant_id(create_grant(
	    &BOB, NULL, key,
	    TO_DAVE(
		",\"Constraints\":{\"EncryptionContextSubset\":{\"envol:volume-id\":\"v1\"}}"))));
	json_decref(create_grant(
	    &BOB, "AccessDeniedException", key,
	    TO_DAVE(
		",\"Constraints\":{\"EncryptionContextEquals\":{\"envol:volume-id\":\"v2\"}}")));
	json_decref(create_grant(&BOB, "AccessDeniedException", key, TO_DAVE("")));
	CU_ASSERT_EQUAL(count_grants(key), 2);
#undef TO_DAVE
	teardown();
}

static void test_derive(void)
{
	_cleanup_free_ char *key = NULL, *child = NULL;

	setup();
	key = new_key();
	free(grant_id(create_grant(&ADMIN, NULL, key,
				   "\"GranteePrincipal\":\"" BOB_ARN
				   "\",\"Operations\":[\"Decrypt\","
				   "\"CreateGrant\"],\"Constraints\":{\"EncryptionContextSubset\":{"
				   "\"volume\":\"v1\"}}")));
	/* at least as constrained: allowed */
	child = grant_id(create_grant(&BOB, NULL, key,
				      "\"GranteePrincipal\":\"" DAVE_ARN "\",\"Operations\":["
				      "\"Decrypt\"],\"Constraints\":{\"EncryptionContextEquals\":{"
				      "\"volume\":\"v1\",\"disk\":\"d\"}}"));
	json_decref(create_grant(&BOB, "DryRunOperationException", key,
				 "\"GranteePrincipal\":\"" DAVE_ARN
				 "\",\"Operations\":[\"Decrypt\"],"
				 "\"Constraints\":{\"EncryptionContextSubset\":{\"volume\":\"v1\","
				 "\"x\":\"y\"}},\"DryRun\":true"));
	/* less constrained, or more operations: denied */
	json_decref(create_grant(&BOB, "AccessDeniedException", key,
				 "\"GranteePrincipal\":\"" DAVE_ARN
				 "\",\"Operations\":[\"Decrypt\"]"));
	json_decref(
	    create_grant(&BOB, "AccessDeniedException", key,
			 "\"GranteePrincipal\":\"" DAVE_ARN "\",\"Operations\":[\"Decrypt\"],"
			 "\"Constraints\":{\"EncryptionContextSubset\":{\"volume\":\"v2\"}}"));
	json_decref(create_grant(&BOB, "AccessDeniedException", key,
				 "\"GranteePrincipal\":\"" DAVE_ARN
				 "\",\"Operations\":[\"Decrypt\","
				 "\"Encrypt\"],\"Constraints\":{\"EncryptionContextSubset\":{"
				 "\"volume\":\"v1\"}}"));
	/* the derived grant works for dave under exactly its context */
	{
		_cleanup_free_ char *blob =
		    encrypt_as(&ADMIN, NULL, key, "{\"volume\":\"v1\",\"disk\":\"d\"}");

		json_decref(run(&DAVE, NULL, "Decrypt",
				"{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"volume\":"
				"\"v1\",\"disk\":\"d\"}}",
				blob));
	}
	/* a grant without CreateGrant creates nothing */
	json_decref(create_grant(&DAVE, "AccessDeniedException", key,
				 "\"GranteePrincipal\":\"" DAVE_ARN
				 "\",\"Operations\":[\"Decrypt\"],"
				 "\"Constraints\":{\"EncryptionContextEquals\":{\"volume\":\"v1\","
				 "\"disk\":\"d\"}}"));
	teardown();
}

static int64_t db_count(const char *sql, const char *arg)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(D.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_cascade(void)
{
	_cleanup_free_ char *key = NULL, *keep = NULL;

	setup();
	key = new_key();
	keep = new_key();
	for (int i = 0; i < 3; i++)
		json_decref(create_grant(&ADMIN, NULL, key,
					 "\"GranteePrincipal\":\"" BOB_ARN "\",\"Operations\":["
					 "\"Decrypt\"]"));
	json_decref(create_grant(&ADMIN, NULL, keep,
				 "\"GranteePrincipal\":\"" BOB_ARN
				 "\",\"Operations\":[\"Decrypt\"]"));
	CU_ASSERT_EQUAL(db_count("SELECT COUNT(*) FROM grants WHERE key_id = ?", key), 3);
	json_decref(run(&ADMIN, NULL, "ScheduleKeyDeletion",
			"{\"KeyId\":\"%s\",\"PendingWindowInDays\":7}", key));
	kms_unit_write_file(D.clock, "700000\n"); /* 8 days on */
	CU_ASSERT_EQUAL(kms_tick(K), 1);
	json_decref(run(&ADMIN, "NotFoundException", "ListGrants", "{\"KeyId\":\"%s\"}", key));
	/* the rows went with the key (ON DELETE CASCADE with foreign keys on) */
	CU_ASSERT_EQUAL(db_count("SELECT COUNT(*) FROM grants WHERE key_id = ?", key), 0);
	CU_ASSERT_EQUAL(db_count("SELECT COUNT(*) FROM grants WHERE key_id = ?", keep), 1);
	teardown();
}

/* 50,000 grants per key: the rows up to the limit are written straight into the database. */
static void test_limit(void)
{
	_cleanup_free_ char *key = NULL;
	char *sql = NULL, *errmsg = NULL;
	sqlite3 *db = NULL;
	json_t *j;

	setup();
	key = new_key();
	kms_close(K);
	K = NULL;
	CU_ASSERT_EQUAL_FATAL(sqlite3_open(D.db, &db), SQLITE_OK);
	CU_ASSERT_FATAL(
	    asprintf(
		&sql,
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 49999)"
		" INSERT INTO grants (grant_id, key_id, grantee, operations, issuing, created)"
		" SELECT printf('%%064x', i), '%s', '%s', 1, '%s', 0 FROM n;",
		key, BOB_ARN, ACCOUNT_ARN) > 0);
	CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, &errmsg), SQLITE_OK);
	if (errmsg)
		fprintf(stderr, "sqlite: %s\n", errmsg);
	sqlite3_free(errmsg);
	free(sql);
	sqlite3_close(db);
	open_kms();
	CU_ASSERT_EQUAL(db_count("SELECT COUNT(*) FROM grants WHERE key_id = ?", key), 49999);
	json_decref(create_grant(&ADMIN, NULL, key,
				 "\"GranteePrincipal\":\"" DAVE_ARN
				 "\",\"Operations\":[\"Decrypt\"]"));
	j = create_grant(&ADMIN, "LimitExceededException", key,
			 "\"GranteePrincipal\":\"" DAVE_ARN "\",\"Operations\":[\"Encrypt\"]");
	CU_ASSERT_PTR_NOT_NULL(strstr(member(j, "message"), "50000"));
	json_decref(j);
	CU_ASSERT_EQUAL(db_count("SELECT COUNT(*) FROM grants WHERE key_id = ?", key), 50000);
	/* dave's grant among 50,000 rows still allows, by the (key, grantee) index */
	{
		_cleanup_free_ char *blob = encrypt_as(&ADMIN, NULL, key, "{}");

		json_decref(run(&DAVE, NULL, "Decrypt", "{\"CiphertextBlob\":\"%s\"}", blob));
	}
	teardown();
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"constraints: subset and equals, met and not; ListGrants", test_constraints},
	    {"retired and revoked grants no longer allow; who may retire", test_retire_revoke},
	    {"Name idempotency, DryRun, key states", test_name_dry_run_states},
	    {"GrantTokens", test_tokens},
	    {"the grant condition keys of CreateGrant", test_condition_keys},
	    {"kms:EncryptionContext:<k> of CreateGrant is the constraint", test_condition_context},
	    {"a grant that carries CreateGrant: the derive check", test_derive},
	    {"grants go with their key", test_cascade},
	    {"50,000 grants per key", test_limit},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms grants", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
