/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_policy.c — the policy language (lib/kms/policy.c): the principal × action ×
 * condition matrix of issue 10 through kms_policy_decide(), every condition operator on its
 * own, the parser's error messages, the lockout check, the AccessDenied wording, and the
 * default and managed-key policies envol writes.
 */
#include <errno.h>
#include <string.h>

#include "kms/policy.h"
#include "unit.h"

#define ACCT "111122223333"
#define KEY_ARN "arn:aws:kms:local:" ACCT ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
#define OTHER_KEY "arn:aws:kms:local:" ACCT ":key/99999999-12ab-34cd-56ef-1234567890ab"
#define ROOT "arn:aws:iam::" ACCT ":root"
#define ALICE "arn:aws:iam::" ACCT ":user/alice"
#define BOB "arn:aws:iam::" ACCT ":user/bob"
#define ENVOLD "arn:aws:iam::" ACCT ":user/unix/envol"
#define EVE "arn:aws:iam::444455556666:user/eve"
#define VIA "envold.local.amazonaws.com"

/* ---- helpers ---- */

static int exists_calls;

/* The principals this fake KMS knows: the account, alice, bob, envold, eve, one service. */
static int exists(void *userdata, enum kms_principal_type type, const char *name)
{
	static const char *const aws[] = {
	    ROOT, ALICE, BOB, ENVOLD, EVE, "arn:aws:iam::444455556666:root", NULL};

	exists_calls++;
	if (userdata)
		return -EIO;
	if (type == KMS_PRINCIPAL_SERVICE)
		return strcmp(name, "envold.amazonaws.com") == 0;
	for (const char *const *p = aws; *p; p++)
		if (strcmp(*p, name) == 0)
			return 1;
	return 0;
}

static struct kms_policy *parse_kind(enum kms_policy_kind kind, const char *text)
{
	struct kms_policy *p = NULL;
	char err[512] = "";
	int r = kms_policy_parse(kind, text, strlen(text), exists, NULL, &p, err, sizeof err);

	if (r != 0)
		fprintf(stderr, "unexpected parse error %d: %s\n", r, err);
	CU_ASSERT_EQUAL(r, 0);
	return p;
}

static struct kms_policy *key_policy(const char *text) { return parse_kind(KMS_POLICY_KEY, text); }

static struct kms_policy *identity_policy(const char *text)
{
	return parse_kind(KMS_POLICY_IDENTITY, text);
}

/* Parses text expecting failure r; err must contain want. */
static void expect_error(enum kms_policy_kind kind, const char *text, int r, const char *want)
{
	struct kms_policy *p = NULL;
	char err[512] = "";
	int got = kms_policy_parse(kind, text, strlen(text), exists, NULL, &p, err, sizeof err);

	CU_ASSERT_EQUAL(got, r);
	CU_ASSERT_PTR_NULL(p);
	if (!strstr(err, want)) {
		fprintf(stderr, "\nerror \"%s\" lacks \"%s\"\n", err, want);
		CU_FAIL("error message");
	}
	kms_policy_unref(p);
}

/* One Allow statement for everyone on kms:Decrypt with the given Condition block. */
static int cond_result(const char *condition, const struct kms_policy_key *keys, size_t n)
{
	char text[4096];
	struct kms_policy *p = NULL;
	char err[512];
	struct kms_policy_request req = {.principal = ALICE,
					 .action = "kms:Decrypt",
					 .resource = KEY_ARN,
					 .keys = keys,
					 .n_keys = n};
	int r;

	snprintf(text, sizeof text,
		 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
		 "\"*\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\",\"Condition\":%s}]}",
		 condition);
	r = kms_policy_parse(KMS_POLICY_KEY, text, strlen(text), NULL, NULL, &p, err, sizeof err);
	if (r < 0)
		return -1; /* the callers that expect it assert -1 */
	r = kms_policy_evaluate(p, &req, NULL) == KMS_POLICY_ALLOW;
	kms_policy_unref(p);
	return r;
}

#define ONE(name, value) ((struct kms_policy_key[]){{name, (const char *const[]){value}, 1}})
#define COND(cond, keys) cond_result(cond, keys, ARRAY_SIZE(keys))
static int cond_nokeys(const char *condition) { return cond_result(condition, NULL, 0); }

/* ---- the matrix ---- */

static const char default_policy[] =
    "{\"Version\":\"2012-10-17\",\"Id\":\"key-default-1\",\"Statement\":[{\"Sid\":\"Enable IAM "
    "User Permissions\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ROOT "\"},"
    "\"Action\":\"kms:*\",\"Resource\":\"*\"}]}";

static const char alice_decrypt[] =
    "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE "\"},"
    "\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}}";

static const char bob_only[] =
    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"" BOB "\"]},"
    "\"Action\":\"kms:*\",\"Resource\":\"*\"}]}";

static const char alice_with_context[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"volume\",\"Effect\":\"Allow\","
    "\"Principal\":{\"AWS\":\"" ALICE "\"},\"Action\":[\"kms:Decrypt\","
    "\"kms:GenerateDataKey*\"],\"Resource\":\"*\",\"Condition\":{\"StringEquals\":"
    "{\"kms:EncryptionContext:envol:volume-id\":\"vol-1\"}}}]}";

static const char alice_all_but_decrypt[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
    "\"" ALICE "\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},{\"Sid\":\"NoDecrypt\","
    "\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}";

static const char alice_not_action[] =
    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE "\"},"
    "\"NotAction\":[\"kms:ScheduleKeyDeletion\",\"kms:PutKeyPolicy\"],\"Resource\":\"*\"}]}";

static const char alice_wildcards[] =
    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE "\"},"
    "\"Action\":[\"KMS:generate*\",\"kms:?ncrypt\"],"
    "\"Resource\":\"arn:aws:kms:local:" ACCT ":key/1234*\"}]}";

static const char deny_not_alice[] =
    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ROOT "\"},\"Action\":"
    "\"kms:*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\",\"NotPrincipal\":{\"AWS\":[\"" ALICE
    "\",\"" ROOT "\"]},\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}]}";

static const char id_all[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
			     "\"Action\":\"kms:*\",\"Resource\":\"*\"}]}";
static const char id_encrypt_only[] =
    "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:Encrypt\",\"Resource\":\"" KEY_ARN
    "\"}}";
static const char id_deny_decrypt[] =
    "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"},{\"Effect\":"
    "\"Deny\",\"Action\":\"kms:Decrypt\",\"Resource\":\"arn:aws:kms:*:*:key/*\"}]}";
static const char id_other_key[] =
    "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"" OTHER_KEY "\"}}";
static const char id_not_resource[] =
    "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"NotResource\":\"" OTHER_KEY "\"}}";

struct row {
	const char *what;
	const char *key;      /* key policy text; NULL: the operation names no key */
	const char *identity; /* the caller's identity policy, or NULL */
	const char *principal;
	const char *action;
	const char *volume; /* kms:EncryptionContext:envol:volume-id, or NULL */
	bool grant;
	bool allowed;
	enum kms_access_reason reason;
};

static const struct row matrix[] = {
    {"no policy for the caller (default policy, no identity policy)", default_policy, NULL, ALICE,
     "kms:Decrypt", NULL, false, false, KMS_ACCESS_DENY_NO_IDENTITY},
    {"keyless operation, no identity policy", NULL, NULL, ALICE, "kms:CreateKey", NULL, false,
     false, KMS_ACCESS_DENY_NO_IDENTITY},
    {"keyless operation, identity policy allows", NULL, id_all, ALICE, "kms:CreateKey", NULL, false,
     true, KMS_ACCESS_IDENTITY_POLICY},
    {"key policy names someone else", bob_only, id_all, ALICE, "kms:Decrypt", NULL, false, false,
     KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"key policy allows the caller", alice_decrypt, NULL, ALICE, "kms:Decrypt", NULL, false, true,
     KMS_ACCESS_KEY_POLICY},
    {"key policy allows the caller, not this action", alice_decrypt, NULL, ALICE, "kms:Encrypt",
     NULL, false, false, KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"key policy allows another caller", alice_decrypt, NULL, BOB, "kms:Decrypt", NULL, false,
     false, KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"encryption-context condition met", alice_with_context, NULL, ALICE, "kms:Decrypt", "vol-1",
     false, true, KMS_ACCESS_KEY_POLICY},
    {"encryption-context condition met (GenerateDataKey*)", alice_with_context, NULL, ALICE,
     "kms:GenerateDataKeyWithoutPlaintext", "vol-1", false, true, KMS_ACCESS_KEY_POLICY},
    {"encryption-context condition not met", alice_with_context, NULL, ALICE, "kms:Decrypt",
     "vol-2", false, false, KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"encryption-context condition, no context", alice_with_context, NULL, ALICE, "kms:Decrypt",
     NULL, false, false, KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"explicit deny in the key policy", alice_all_but_decrypt, NULL, ALICE, "kms:Decrypt", NULL,
     false, false, KMS_ACCESS_DENY_KEY_POLICY},
    {"explicit deny beats a grant", alice_all_but_decrypt, NULL, ALICE, "kms:Decrypt", NULL, true,
     false, KMS_ACCESS_DENY_KEY_POLICY},
    {"explicit deny is only for its action", alice_all_but_decrypt, NULL, ALICE, "kms:Encrypt",
     NULL, false, true, KMS_ACCESS_KEY_POLICY},
    {"explicit deny in the identity policy", alice_decrypt, id_deny_decrypt, ALICE, "kms:Decrypt",
     NULL, false, false, KMS_ACCESS_DENY_IDENTITY_POLICY},
    {"account principal + identity policy", default_policy, id_all, ALICE, "kms:Decrypt", NULL,
     false, true, KMS_ACCESS_IDENTITY_POLICY},
    {"account principal + identity policy for another action", default_policy, id_encrypt_only,
     ALICE, "kms:Decrypt", NULL, false, false, KMS_ACCESS_DENY_NO_IDENTITY},
    {"account principal + identity policy naming the key ARN", default_policy, id_encrypt_only,
     ALICE, "kms:Encrypt", NULL, false, true, KMS_ACCESS_IDENTITY_POLICY},
    {"identity policy for another key", default_policy, id_other_key, ALICE, "kms:Decrypt", NULL,
     false, false, KMS_ACCESS_DENY_NO_IDENTITY},
    {"identity policy NotResource another key", default_policy, id_not_resource, ALICE,
     "kms:Decrypt", NULL, false, true, KMS_ACCESS_IDENTITY_POLICY},
    {"account principal, caller of another account", default_policy, id_all, EVE, "kms:Decrypt",
     NULL, false, false, KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"the account root itself", default_policy, NULL, ROOT, "kms:Decrypt", NULL, false, true,
     KMS_ACCESS_KEY_POLICY},
    {"grant allows where policies do not", bob_only, NULL, ALICE, "kms:Decrypt", NULL, true, true,
     KMS_ACCESS_GRANT},
    {"NotAction: allowed action", alice_not_action, NULL, ALICE, "kms:Decrypt", NULL, false, true,
     KMS_ACCESS_KEY_POLICY},
    {"NotAction: excluded action", alice_not_action, NULL, ALICE, "kms:ScheduleKeyDeletion", NULL,
     false, false, KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"action wildcard kms:generate* (any case)", alice_wildcards, NULL, ALICE,
     "kms:GenerateDataKey", NULL, false, true, KMS_ACCESS_KEY_POLICY},
    {"action wildcard kms:?ncrypt", alice_wildcards, NULL, ALICE, "kms:Encrypt", NULL, false, true,
     KMS_ACCESS_KEY_POLICY},
    {"action wildcard does not match", alice_wildcards, NULL, ALICE, "kms:Decrypt", NULL, false,
     false, KMS_ACCESS_DENY_NO_KEY_POLICY},
    {"NotPrincipal deny spares alice", deny_not_alice, id_all, ALICE, "kms:Decrypt", NULL, false,
     true, KMS_ACCESS_IDENTITY_POLICY},
    {"NotPrincipal deny hits bob", deny_not_alice, id_all, BOB, "kms:Decrypt", NULL, false, false,
     KMS_ACCESS_DENY_KEY_POLICY},
};

static void test_matrix(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(matrix); i++) {
		const struct row *m = &matrix[i];
		struct kms_policy *kp = m->key ? key_policy(m->key) : NULL;
		struct kms_policy *ip = m->identity ? identity_policy(m->identity) : NULL;
		const struct kms_policy *ids[] = {ip};
		struct kms_policy_key keys[] = {
		    {"kms:EncryptionContext:envol:volume-id", (const char *const[]){m->volume}, 1}};
		struct kms_policy_request req = {.principal = m->principal,
						 .action = m->action,
						 .resource = m->key ? KEY_ARN : NULL,
						 .keys = keys,
						 .n_keys = m->volume ? 1 : 0};
		struct kms_access_decision d;
		bool got = kms_policy_decide(kp, ids, ip ? 1 : 0, &req, m->grant, &d);

		if (got != m->allowed || d.reason != m->reason) {
			fprintf(stderr, "\nmatrix row %zu \"%s\": allowed %d reason %d\n", i,
				m->what, got, d.reason);
			CU_FAIL("matrix row");
		}
		CU_ASSERT_EQUAL(got, d.allowed);
		kms_policy_unref(kp);
		kms_policy_unref(ip);
	}
}

static void test_deciding_statement(void)
{
	struct kms_policy *p = key_policy(alice_all_but_decrypt);
	struct kms_policy_request req = {
	    .principal = ALICE, .action = "kms:Decrypt", .resource = KEY_ARN};
	struct kms_access_decision d;
	size_t si = 0;

	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, &si), KMS_POLICY_DENY);
	CU_ASSERT_EQUAL(si, 1);
	CU_ASSERT_STRING_EQUAL(kms_policy_sid(p, si), "NoDecrypt");
	CU_ASSERT_FALSE(kms_policy_decide(p, NULL, 0, &req, false, &d));
	CU_ASSERT_PTR_EQUAL(d.policy, p);
	CU_ASSERT_EQUAL(d.statement, 1);
	req.action = "kms:DescribeKey";
	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, &si), KMS_POLICY_ALLOW);
	CU_ASSERT_EQUAL(si, 0);
	CU_ASSERT_PTR_NULL(kms_policy_sid(p, 0));
	CU_ASSERT_PTR_NULL(kms_policy_sid(p, 7));
	req.principal = BOB; /* the Allow names alice only */
	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, &si), KMS_POLICY_NO_MATCH);
	CU_ASSERT_EQUAL(si, (size_t)-1);
	kms_policy_unref(p);

	/* account delegation is reported as such, and a direct allow outranks it */
	p = key_policy(deny_not_alice);
	req = (struct kms_policy_request){
	    .principal = BOB, .action = "kms:Encrypt", .resource = KEY_ARN};
	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, NULL), KMS_POLICY_ALLOW_ACCOUNT);
	kms_policy_unref(p);
}

static void test_service_principal_and_via_service(void)
{
	static const char svc[] =
	    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":"
	    "[\"envold.amazonaws.com\"]},\"Action\":\"kms:CreateGrant\",\"Resource\":\"*\"}]}";
	struct kms_policy *p = key_policy(svc), *m;
	char *text = NULL;
	struct kms_policy_key via[] = {{"kms:ViaService", (const char *const[]){VIA}, 1}};
	struct kms_policy_request req = {.principal = ENVOLD,
					 .service = "envold.amazonaws.com",
					 .action = "kms:CreateGrant",
					 .resource = KEY_ARN};
	struct kms_access_decision d;

	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, NULL), KMS_POLICY_ALLOW);
	req.service = NULL;
	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, NULL), KMS_POLICY_NO_MATCH);
	kms_policy_unref(p);

	/* the managed-key policy: anyone of the account, only through the service */
	CU_ASSERT_EQUAL_FATAL(kms_policy_managed_json(ACCT, VIA, &text), 0);
	m = key_policy(text);
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(kms_policy_n_statements(m), 2);
	req = (struct kms_policy_request){.principal = ALICE,
					  .action = "kms:CreateGrant",
					  .resource = KEY_ARN,
					  .keys = via,
					  .n_keys = 1};
	CU_ASSERT_TRUE(kms_policy_decide(m, NULL, 0, &req, false, &d));
	CU_ASSERT_EQUAL(d.reason, KMS_ACCESS_KEY_POLICY);
	req.action = "kms:GenerateDataKeyWithoutPlaintext";
	CU_ASSERT_TRUE(kms_policy_decide(m, NULL, 0, &req, false, &d));
	req.action = "kms:ScheduleKeyDeletion";
	CU_ASSERT_FALSE(kms_policy_decide(m, NULL, 0, &req, false, &d));
	req.action = "kms:Decrypt";
	req.n_keys = 0; /* directly, not through the service */
	CU_ASSERT_FALSE(kms_policy_decide(m, NULL, 0, &req, false, &d));
	CU_ASSERT_EQUAL(d.reason, KMS_ACCESS_DENY_NO_KEY_POLICY);
	req.n_keys = 1;
	req.principal = EVE; /* through the service, but of another account */
	CU_ASSERT_FALSE(kms_policy_decide(m, NULL, 0, &req, false, &d));
	req.account = ACCT; /* an explicit caller account overrides the ARN's */
	CU_ASSERT_TRUE(kms_policy_decide(m, NULL, 0, &req, false, &d));
	/* the account may read metadata directly (with an identity policy) */
	req = (struct kms_policy_request){
	    .principal = BOB, .action = "kms:DescribeKey", .resource = KEY_ARN};
	{
		struct kms_policy *ip = identity_policy(id_all);
		const struct kms_policy *ids[] = {ip};

		CU_ASSERT_TRUE(kms_policy_decide(m, ids, 1, &req, false, &d));
		CU_ASSERT_EQUAL(d.reason, KMS_ACCESS_IDENTITY_POLICY);
		kms_policy_unref(ip);
	}
	kms_policy_unref(m);
}

static void test_default_policy(void)
{
	char *text = NULL;
	struct kms_policy *p;
	struct kms_policy_request req = {
	    .principal = ALICE, .action = "kms:Decrypt", .resource = KEY_ARN};

	CU_ASSERT_EQUAL(kms_policy_default_json("12345", &text), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(kms_policy_default_json(ACCT, &text), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"Sid\": \"Enable IAM User Permissions\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"AWS\": \"" ROOT "\""));
	p = key_policy(text);
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(kms_policy_sid(p, 0), "Enable IAM User Permissions");
	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, NULL), KMS_POLICY_ALLOW_ACCOUNT);
	kms_policy_unref(p);
	CU_ASSERT_EQUAL(kms_policy_managed_json(ACCT, "", &text), -EINVAL);
}

static void test_lockout_check(void)
{
	struct kms_policy *def = key_policy(default_policy), *bob = key_policy(bob_only);
	struct kms_policy *alice = key_policy(alice_decrypt), *ip = identity_policy(id_all);
	struct kms_policy *put = key_policy(
	    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE "\"},"
	    "\"Action\":[\"kms:PutKeyPolicy\"],\"Resource\":\"*\"}]}");
	const struct kms_policy *ids[] = {ip};
	struct kms_policy_request req = {
	    .principal = ALICE, .action = "kms:CreateKey", .resource = KEY_ARN};

	/* the default policy with an identity policy that allows kms:* */
	CU_ASSERT_TRUE(kms_policy_lockout_safe(def, ids, 1, &req));
	/* the default policy alone: the caller would lock itself out */
	CU_ASSERT_FALSE(kms_policy_lockout_safe(def, NULL, 0, &req));
	/* a policy naming only bob, and one allowing alice only Decrypt */
	CU_ASSERT_FALSE(kms_policy_lockout_safe(bob, ids, 1, &req));
	CU_ASSERT_FALSE(kms_policy_lockout_safe(alice, NULL, 0, &req));
	/* a policy allowing alice PutKeyPolicy directly */
	CU_ASSERT_TRUE(kms_policy_lockout_safe(put, NULL, 0, &req));
	req.principal = BOB;
	CU_ASSERT_TRUE(kms_policy_lockout_safe(bob, NULL, 0, &req));
	kms_policy_unref(def);
	kms_policy_unref(bob);
	kms_policy_unref(alice);
	kms_policy_unref(ip);
	kms_policy_unref(put);
}

static void test_denial_messages(void)
{
	struct kms_policy_request req = {
	    .principal = ALICE, .action = "kms:Decrypt", .resource = KEY_ARN};
	struct kms_access_decision d = {.reason = KMS_ACCESS_DENY_NO_KEY_POLICY};
	char msg[1024];

	kms_policy_denial_message(&req, &d, msg, sizeof msg);
	CU_ASSERT_STRING_EQUAL(msg, "User: " ALICE " is not authorized to perform: kms:Decrypt on "
				    "resource: " KEY_ARN " because no resource-based policy "
				    "allows the kms:Decrypt action");
	d.reason = KMS_ACCESS_DENY_KEY_POLICY;
	kms_policy_denial_message(&req, &d, msg, sizeof msg);
	CU_ASSERT_STRING_EQUAL(msg, "User: " ALICE " is not authorized to perform: kms:Decrypt on "
				    "resource: " KEY_ARN
				    " with an explicit deny in a resource-based policy");
	d.reason = KMS_ACCESS_DENY_IDENTITY_POLICY;
	kms_policy_denial_message(&req, &d, msg, sizeof msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "with an explicit deny in an identity-based policy"));
	req.resource = NULL;
	req.action = "kms:CreateKey";
	d.reason = KMS_ACCESS_DENY_NO_IDENTITY;
	kms_policy_denial_message(&req, &d, msg, sizeof msg);
	CU_ASSERT_STRING_EQUAL(msg, "User: " ALICE " is not authorized to perform: kms:CreateKey "
				    "because no identity-based policy allows the kms:CreateKey "
				    "action");
}

/* ---- condition operators, one by one ---- */

static void test_string_operators(void)
{
	struct kms_policy_key *v1 = ONE("kms:EncryptionContext:team", "Blue");

	CU_ASSERT_EQUAL(
	    cond_result("{\"StringEquals\":{\"kms:EncryptionContext:team\":\"Blue\"}}", v1, 1), 1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringEquals\":{\"kms:EncryptionContext:team\":\"blue\"}}", v1, 1), 0);
	/* several values: OR */
	CU_ASSERT_EQUAL(cond_result("{\"StringEquals\":{\"kms:EncryptionContext:team\":[\"Red\","
				    "\"Blue\"]}}",
				    v1, 1),
			1);
	/* the key name is case-insensitive, the context key part too */
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringEquals\":{\"KMS:encryptioncontext:TEAM\":\"Blue\"}}", v1, 1), 1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringNotEquals\":{\"kms:EncryptionContext:team\":\"Red\"}}", v1, 1),
	    1);
	/* negated with several values: NOR */
	CU_ASSERT_EQUAL(cond_result("{\"StringNotEquals\":{\"kms:EncryptionContext:team\":[\"Red\","
				    "\"Blue\"]}}",
				    v1, 1),
			0);
	/* absent key: positive false, negated true */
	CU_ASSERT_EQUAL(cond_nokeys("{\"StringEquals\":{\"kms:EncryptionContext:team\":\"Blue\"}}"),
			0);
	CU_ASSERT_EQUAL(cond_nokeys("{\"StringNotEquals\":{\"kms:EncryptionContext:team\":\"B\"}}"),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"StringEqualsIgnoreCase\":{\"kms:EncryptionContext:team\":"
				    "\"BLUE\"}}",
				    v1, 1),
			1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringNotEqualsIgnoreCase\":{\"kms:EncryptionContext:team\":"
			"\"bLuE\"}}",
			v1, 1),
	    0);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringNotEqualsIgnoreCase\":{\"kms:EncryptionContext:team\":"
			"\"green\"}}",
			v1, 1),
	    1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringLike\":{\"kms:EncryptionContext:team\":\"B*\"}}", v1, 1), 1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringLike\":{\"kms:EncryptionContext:team\":\"B??e\"}}", v1, 1), 1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringLike\":{\"kms:EncryptionContext:team\":\"b*\"}}", v1, 1), 0);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringLike\":{\"kms:EncryptionContext:team\":\"B?\"}}", v1, 1), 0);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringNotLike\":{\"kms:EncryptionContext:team\":\"R*\"}}", v1, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"StringNotLike\":{\"kms:EncryptionContext:team\":[\"R*\","
				    "\"*ue\"]}}",
				    v1, 1),
			0);
	/* a JSON number or boolean as a string value */
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringEquals\":{\"kms:CallerAccount\":111122223333}}", NULL, 0), 1);
}

static void test_numeric_operators(void)
{
	struct kms_policy_key *n = ONE("kms:NumberOfBytes", "64");
	struct kms_policy_key *bad = ONE("kms:NumberOfBytes", "sixty-four");

	CU_ASSERT_EQUAL(cond_result("{\"NumericEquals\":{\"kms:NumberOfBytes\":64}}", n, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"NumericEquals\":{\"kms:NumberOfBytes\":\"64.0\"}}", n, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"NumericEquals\":{\"kms:NumberOfBytes\":32}}", n, 1), 0);
	CU_ASSERT_EQUAL(cond_result("{\"NumericNotEquals\":{\"kms:NumberOfBytes\":32}}", n, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"NumericNotEquals\":{\"kms:NumberOfBytes\":[32,64]}}", n, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"NumericLessThan\":{\"kms:NumberOfBytes\":65}}", n, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"NumericLessThan\":{\"kms:NumberOfBytes\":64}}", n, 1), 0);
	CU_ASSERT_EQUAL(cond_result("{\"NumericLessThanEquals\":{\"kms:NumberOfBytes\":64}}", n, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"NumericGreaterThan\":{\"kms:NumberOfBytes\":63.5}}", n, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"NumericGreaterThan\":{\"kms:NumberOfBytes\":64}}", n, 1),
			0);
	CU_ASSERT_EQUAL(
	    cond_result("{\"NumericGreaterThanEquals\":{\"kms:NumberOfBytes\":\"64\"}}", n, 1), 1);
	/* a request value that is no number satisfies neither form */
	CU_ASSERT_EQUAL(cond_result("{\"NumericEquals\":{\"kms:NumberOfBytes\":64}}", bad, 1), 0);
	CU_ASSERT_EQUAL(cond_result("{\"NumericNotEquals\":{\"kms:NumberOfBytes\":64}}", bad, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"NumericLessThan\":{\"kms:NumberOfBytes\":\"lots\"}}", n, 1),
			-1);
}

static void test_date_operators(void)
{
	struct kms_policy_key *now = ONE("aws:CurrentTime", "2024-05-01T10:00:00Z");
	struct kms_policy_key *epoch = ONE("aws:CurrentTime", "1714557600"); /* the same instant */

	CU_ASSERT_EQUAL(
	    cond_result("{\"DateLessThan\":{\"aws:CurrentTime\":\"2024-05-02\"}}", now, 1), 1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"DateLessThan\":{\"aws:CurrentTime\":\"2024-05-01\"}}", now, 1), 0);
	CU_ASSERT_EQUAL(cond_result("{\"DateGreaterThan\":{\"aws:CurrentTime\":"
				    "\"2024-05-01T09:59:59.999Z\"}}",
				    now, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"DateEquals\":{\"aws:CurrentTime\":"
				    "\"2024-05-01T12:00:00+02:00\"}}",
				    now, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"DateEquals\":{\"aws:CurrentTime\":1714557600}}", now, 1),
			1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"DateEquals\":{\"aws:CurrentTime\":\"2024-05-01T10:00Z\"}}", epoch, 1),
	    1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"DateNotEquals\":{\"aws:CurrentTime\":\"2024-05-01\"}}", now, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"DateLessThanEquals\":{\"aws:CurrentTime\":"
				    "\"2024-05-01T10:00:00Z\"}}",
				    now, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"DateGreaterThanEquals\":{\"aws:CurrentTime\":"
				    "\"2024-05-01T10:00:01Z\"}}",
				    now, 1),
			0);
	CU_ASSERT_EQUAL(
	    cond_result("{\"DateLessThan\":{\"aws:CurrentTime\":\"2024-02-30\"}}", now, 1), -1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"DateLessThan\":{\"aws:CurrentTime\":\"2023-02-29\"}}", now, 1), -1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"DateLessThan\":{\"aws:CurrentTime\":\"2024-02-29T24:00Z\"}}", now, 1),
	    -1);
}

static void test_bool_binary_ip(void)
{
	struct kms_policy_key *t = ONE("aws:SecureTransport", "true");
	struct kms_policy_key *ip = ONE("aws:SourceIp", "192.0.2.77");
	struct kms_policy_key *ip6 = ONE("aws:SourceIp", "2001:db8::1");
	struct kms_policy_key *bin = ONE("aws:Blob", "aGVsbG8=");

	CU_ASSERT_EQUAL(cond_result("{\"Bool\":{\"aws:SecureTransport\":\"true\"}}", t, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"Bool\":{\"aws:SecureTransport\":true}}", t, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"Bool\":{\"aws:SecureTransport\":\"FALSE\"}}", t, 1), 0);
	CU_ASSERT_EQUAL(cond_nokeys("{\"Bool\":{\"aws:SecureTransport\":\"false\"}}"), 0);
	CU_ASSERT_EQUAL(cond_result("{\"Bool\":{\"aws:SecureTransport\":\"yes\"}}", t, 1), -1);
	CU_ASSERT_EQUAL(cond_result("{\"BinaryEquals\":{\"aws:Blob\":\"aGVsbG8=\"}}", bin, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"BinaryEquals\":{\"aws:Blob\":\"aGVsbG9=\"}}", bin, 1), 0);
	CU_ASSERT_EQUAL(cond_result("{\"BinaryEquals\":{\"aws:Blob\":\"not base64\"}}", bin, 1),
			-1);
	CU_ASSERT_EQUAL(cond_result("{\"IpAddress\":{\"aws:SourceIp\":\"192.0.2.0/24\"}}", ip, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"IpAddress\":{\"aws:SourceIp\":\"192.0.2.96/27\"}}", ip, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"IpAddress\":{\"aws:SourceIp\":\"192.0.2.77\"}}", ip, 1), 1);
	CU_ASSERT_EQUAL(cond_result("{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", ip, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"IpAddress\":{\"aws:SourceIp\":\"2001:db8::/32\"}}", ip6, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"IpAddress\":{\"aws:SourceIp\":\"2001:db8::/32\"}}", ip, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"IpAddress\":{\"aws:SourceIp\":\"192.0.2.0/33\"}}", ip, 1),
			-1);
}

static void test_arn_operators(void)
{
	/* aws:PrincipalArn is built in (the caller is alice) */
	CU_ASSERT_EQUAL(cond_nokeys("{\"ArnEquals\":{\"aws:PrincipalArn\":\"" ALICE "\"}}"), 1);
	CU_ASSERT_EQUAL(cond_nokeys("{\"ArnEquals\":{\"aws:PrincipalArn\":\"" BOB "\"}}"), 0);
	CU_ASSERT_EQUAL(
	    cond_nokeys("{\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:iam::*:user/a*\"}}"), 1);
	CU_ASSERT_EQUAL(
	    cond_nokeys("{\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:iam::" ACCT ":user/A*\"}}"),
	    0);
	/* a wildcard does not cross the colons between ARN parts */
	CU_ASSERT_EQUAL(
	    cond_nokeys("{\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:*:user/alice\"}}"), 0);
	CU_ASSERT_EQUAL(cond_nokeys("{\"ArnNotEquals\":{\"aws:PrincipalArn\":\"" BOB "\"}}"), 1);
	CU_ASSERT_EQUAL(
	    cond_nokeys("{\"ArnNotLike\":{\"aws:PrincipalArn\":\"arn:aws:iam::" ACCT ":user/*\"}}"),
	    0);
	CU_ASSERT_EQUAL(cond_result("{\"ArnLike\":{\"kms:GranteePrincipal\":\"arn:aws:iam::*\"}}",
				    ONE("kms:GranteePrincipal", "not-an-arn"), 1),
			0);
	CU_ASSERT_EQUAL(cond_nokeys("{\"StringEquals\":{\"aws:PrincipalAccount\":\"" ACCT "\"}}"),
			1);
}

static void test_null_ifexists(void)
{
	struct kms_policy_key *v = ONE("kms:EncryptionContext:team", "Blue");
	struct kms_policy_key empty[] = {{"kms:EncryptionContextKeys", NULL, 0}};

	CU_ASSERT_EQUAL(cond_nokeys("{\"Null\":{\"kms:EncryptionContext:team\":\"true\"}}"), 1);
	CU_ASSERT_EQUAL(cond_result("{\"Null\":{\"kms:EncryptionContext:team\":\"true\"}}", v, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"Null\":{\"kms:EncryptionContext:team\":false}}", v, 1), 1);
	CU_ASSERT_EQUAL(cond_nokeys("{\"Null\":{\"kms:EncryptionContext:team\":\"false\"}}"), 0);
	/* an empty multi-valued key is null */
	CU_ASSERT_EQUAL(
	    cond_result("{\"Null\":{\"kms:EncryptionContextKeys\":\"true\"}}", empty, 1), 1);
	CU_ASSERT_EQUAL(cond_nokeys("{\"StringEqualsIfExists\":{\"kms:EncryptionContext:team\":"
				    "\"Blue\"}}"),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"StringEqualsIfExists\":{\"kms:EncryptionContext:team\":"
				    "\"Red\"}}",
				    v, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"StringEqualsIfExists\":{\"kms:EncryptionContext:team\":"
				    "\"Blue\"}}",
				    v, 1),
			1);
	CU_ASSERT_EQUAL(cond_nokeys("{\"NumericLessThanIfExists\":{\"kms:NumberOfBytes\":64}}"), 1);
	CU_ASSERT_EQUAL(cond_nokeys("{\"ArnLikeIfExists\":{\"kms:GranteePrincipal\":\"arn:*\"}}"),
			1);
}

static void test_set_qualifiers(void)
{
	struct kms_policy_key two[] = {
	    {"kms:EncryptionContextKeys", (const char *const[]){"envol:volume-id", "team"}, 2}};
	struct kms_policy_key empty[] = {{"kms:EncryptionContextKeys", NULL, 0}};
	struct kms_policy_key split[] = {
	    {"kms:EncryptionContextKeys", (const char *const[]){"envol:volume-id"}, 1},
	    {"KMS:EncryptionContextKeys", (const char *const[]){"team"}, 1}};

	CU_ASSERT_EQUAL(cond_result("{\"ForAnyValue:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "\"team\"}}",
				    two, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"ForAnyValue:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "\"owner\"}}",
				    two, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"ForAllValues:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "[\"envol:volume-id\",\"team\",\"owner\"]}}",
				    two, 1),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"ForAllValues:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "\"envol:volume-id\"}}",
				    two, 1),
			0);
	CU_ASSERT_EQUAL(cond_result("{\"ForAllValues:StringLike\":{\"kms:EncryptionContextKeys\":"
				    "[\"envol:*\",\"t*\"]}}",
				    two, 1),
			1);
	/* entries with the same key name hold one set between them */
	CU_ASSERT_EQUAL(cond_result("{\"ForAllValues:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "\"envol:volume-id\"}}",
				    split, 2),
			0);
	/* ForAllValues is true on an empty set and on an absent key; ForAnyValue false */
	CU_ASSERT_EQUAL(cond_result("{\"ForAllValues:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "\"team\"}}",
				    empty, 1),
			1);
	CU_ASSERT_EQUAL(cond_nokeys("{\"ForAllValues:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "\"team\"}}"),
			1);
	CU_ASSERT_EQUAL(cond_result("{\"ForAnyValue:StringEquals\":{\"kms:EncryptionContextKeys\":"
				    "\"team\"}}",
				    empty, 1),
			0);
	/* negated set operators */
	CU_ASSERT_EQUAL(
	    cond_result("{\"ForAnyValue:StringNotEquals\":{\"kms:EncryptionContextKeys\":"
			"\"team\"}}",
			two, 1),
	    1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"ForAllValues:StringNotLike\":{\"kms:EncryptionContextKeys\":"
			"\"secret*\"}}",
			two, 1),
	    1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"ForAllValues:StringNotLike\":{\"kms:EncryptionContextKeys\":"
			"\"te*\"}}",
			two, 1),
	    0);
	/* a multi-valued key without a qualifier: any value matches, negated: none does */
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringEquals\":{\"kms:EncryptionContextKeys\":\"team\"}}", two, 1), 1);
	CU_ASSERT_EQUAL(
	    cond_result("{\"StringNotEquals\":{\"kms:EncryptionContextKeys\":\"team\"}}", two, 1),
	    0);
	/* the qualifiers are case-insensitive and combine with IfExists */
	CU_ASSERT_EQUAL(cond_nokeys("{\"forallvalues:StringEqualsIfExists\":"
				    "{\"kms:GrantOperations\":\"Decrypt\"}}"),
			1);
}

static void test_and_or(void)
{
	struct kms_policy_key keys[] = {
	    {"kms:EncryptionContext:team", (const char *const[]){"Blue"}, 1},
	    {"kms:ViaService", (const char *const[]){VIA}, 1},
	};

	/* several keys under one operator: AND */
	CU_ASSERT_EQUAL(COND("{\"StringEquals\":{\"kms:EncryptionContext:team\":\"Blue\","
			     "\"kms:ViaService\":\"" VIA "\"}}",
			     keys),
			1);
	CU_ASSERT_EQUAL(COND("{\"StringEquals\":{\"kms:EncryptionContext:team\":\"Blue\","
			     "\"kms:ViaService\":\"other\"}}",
			     keys),
			0);
	/* several operators: AND */
	CU_ASSERT_EQUAL(COND("{\"StringEquals\":{\"kms:EncryptionContext:team\":\"Blue\"},"
			     "\"StringLike\":{\"kms:ViaService\":\"envold.*\"},"
			     "\"StringEquals"
			     "IfExists\":{\"kms:CallerAccount\":\"" ACCT "\"}}",
			     keys),
			1);
	CU_ASSERT_EQUAL(COND("{\"StringEquals\":{\"kms:EncryptionContext:team\":\"Blue\"},"
			     "\"StringNotLike\":{\"kms:ViaService\":\"envold.*\"}}",
			     keys),
			0);
	/* an empty Condition block and an empty operator block hold */
	CU_ASSERT_EQUAL(cond_nokeys("{}"), 1);
	CU_ASSERT_EQUAL(cond_nokeys("{\"StringEquals\":{}}"), 1);
	/* policy variables are not expanded: matched as text */
	CU_ASSERT_EQUAL(cond_nokeys("{\"StringLike\":{\"aws:PrincipalArn\":\"*${aws:username}\"}}"),
			0);
}

/* ---- parser ---- */

static const char stmt_ok[] = "\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\","
			      "\"Resource\":\"*\"";

static void test_parse_errors(void)
{
	char big[KMS_POLICY_MAX_SIZE + 64];
	char text[1024];
	struct kms_policy *p = NULL;
	char err[512];

	expect_error(KMS_POLICY_KEY, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}",
		     -EINVAL, "not valid JSON");
	expect_error(KMS_POLICY_KEY, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n}",
		     -EINVAL, "line 4");
	expect_error(KMS_POLICY_KEY, "", -EINVAL, "not valid JSON");
	expect_error(KMS_POLICY_KEY, "[]", -EINVAL, "must be a JSON object");
	expect_error(KMS_POLICY_KEY, "{\"Statement\":[],\"Statement\":[]}", -EINVAL,
		     "not valid JSON");
	snprintf(text, sizeof text,
		 "{\"Statement\":[{%s},{%s},{\"Effect\":\"allow\",\"Principal\":\"*\"}]}", stmt_ok,
		 stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "Statement[2].Effect must be Allow or Deny");
	expect_error(KMS_POLICY_KEY, "{\"Statment\":[]}", -EINVAL, "unknown element \"Statment\"");
	snprintf(text, sizeof text, "{\"Statement\":{%s,\"Actions\":\"kms:Decrypt\"}}", stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "Statement has an unknown element \"Actions\"");
	snprintf(text, sizeof text,
		 "{\"Statement\":[{%s,\"Condition\":{\"StringEqual\":{\"a:b\":"
		 "\"c\"}}}]}",
		 stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL,
		     "Statement[0].Condition: unknown condition operator \"StringEqual\"");
	snprintf(text, sizeof text,
		 "{\"Statement\":[{%s,\"Condition\":{\"NullIfExists\":{\"a:b\":"
		 "\"true\"}}}]}",
		 stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "Null takes neither");
	snprintf(text, sizeof text,
		 "{\"Statement\":[{%s,\"Condition\":{\"StringEquals\":{\"team\":"
		 "\"x\"}}}]}",
		 stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "\"team\" is not a condition key");
	snprintf(text, sizeof text,
		 "{\"Statement\":[{%s,\"Condition\":{\"StringEquals\":{\"a:b\":"
		 "[]}}}]}",
		 stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "has no values");
	snprintf(text, sizeof text,
		 "{\"Statement\":[{%s,\"Condition\":{\"StringEquals\":{\"a:b\":"
		 "{\"x\":1}}}}]}",
		 stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "strings, numbers or booleans");
	snprintf(text, sizeof text, "{\"Statement\":[{%s,\"Condition\":[]}]}", stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "Statement[0].Condition must be an object");

	memset(big, ' ', sizeof big);
	memcpy(big, "{\"Statement\":{", 14);
	CU_ASSERT_EQUAL(kms_policy_parse(KMS_POLICY_KEY, big, KMS_POLICY_MAX_SIZE + 1, NULL, NULL,
					 &p, err, sizeof err),
			-E2BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "32768"));
	CU_ASSERT_PTR_NULL(p);

	expect_error(KMS_POLICY_KEY, "{\"Statement\":{\"Sid\":\"\xe4\xb8\xad\"}}", -EINVAL,
		     "U+4E2D at line 1, column 22");
	expect_error(KMS_POLICY_KEY, "{\"Statement\":{\"Sid\":\"\xc3\"}}", -EINVAL,
		     "not valid UTF-8");
	expect_error(KMS_POLICY_KEY, "{\"Statement\":{\"Sid\":\"a\x01\"}}", -EINVAL, "U+0001");
	/* Latin-1 is allowed in key policies */
	p = key_policy("{\"Statement\":{\"Sid\":\"caf\xc3\xa9\",\"Effect\":\"Allow\","
		       "\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}");
	CU_ASSERT_PTR_NOT_NULL(p);
	kms_policy_unref(p);

	expect_error(
	    KMS_POLICY_KEY,
	    "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT
	    ":user/ghost\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}}",
	    -EINVAL,
	    "Statement.Principal.AWS names arn:aws:iam::" ACCT
	    ":user/ghost, which is not a principal envol knows");
	expect_error(
	    KMS_POLICY_KEY,
	    "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"x.example\"},"
	    "\"Action\":\"kms:*\",\"Resource\":\"*\"}}",
	    -EINVAL, "Statement.Principal.Service names x.example");
	expect_error(
	    KMS_POLICY_KEY,
	    "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT
	    ":user/*\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}}",
	    -EINVAL, "wildcards are not allowed");
	expect_error(KMS_POLICY_KEY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"alice\",\"Action\":"
		     "\"kms:*\",\"Resource\":\"*\"}}",
		     -EINVAL, "Statement.Principal must be \"*\" or an object");
	expect_error(KMS_POLICY_KEY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":\"x\"},"
		     "\"Action\":\"kms:*\",\"Resource\":\"*\"}}",
		     -EINVAL, "Federated principals are not supported");
	expect_error(
	    KMS_POLICY_KEY,
	    "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}",
	    -EINVAL, "Statement has no Principal");
	expect_error(KMS_POLICY_KEY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"NotPrincipal\":"
		     "\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}}",
		     -EINVAL, "both Principal and NotPrincipal");
	expect_error(KMS_POLICY_IDENTITY, text /* has a Principal */, -EINVAL,
		     "Statement[0].Principal is not allowed in an identity policy");
	expect_error(KMS_POLICY_IDENTITY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Resource\":\"*\"}}", -EINVAL,
		     "Statement has no Action or NotAction");
	expect_error(KMS_POLICY_IDENTITY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\"}}", -EINVAL,
		     "Statement has no Resource or NotResource");
	expect_error(KMS_POLICY_IDENTITY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"Decrypt\",\"Resource\":"
		     "\"*\"}}",
		     -EINVAL, "Statement.Action \"Decrypt\" is not an action");
	expect_error(KMS_POLICY_IDENTITY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}}",
		     -EINVAL, "Statement.Action must not be an empty array");
	expect_error(KMS_POLICY_IDENTITY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":[\"kms:Decrypt\",7],"
		     "\"Resource\":\"*\"}}",
		     -EINVAL, "Statement.Action[1] must be a string");
	expect_error(KMS_POLICY_IDENTITY,
		     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":"
		     "\"key/1\"}}",
		     -EINVAL, "Statement.Resource \"key/1\" must be \"*\"");
	snprintf(text, sizeof text, "{\"Statement\":[{\"Sid\":\"A\",%s},{\"Sid\":\"A\",%s}]}",
		 stmt_ok, stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "Statement[1].Sid \"A\" is already the Sid");
	snprintf(text, sizeof text, "{\"Version\":\"2012-10-18\",\"Statement\":{%s}}", stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL, "Version must be \"2012-10-17\"");
	expect_error(KMS_POLICY_KEY, "{\"Statement\":[]}", -EINVAL, "at least one statement");
	expect_error(KMS_POLICY_KEY, "{\"Version\":\"2012-10-17\"}", -EINVAL, "has no Statement");
	expect_error(KMS_POLICY_KEY, "{\"Statement\":[7]}", -EINVAL,
		     "Statement[0] must be an object");
	snprintf(text, sizeof text,
		 "{\"Statement\":{%s,\"Condition\":{\"NumericLessThan\":"
		 "{\"kms:NumberOfBytes\":\"lots\"}}}}",
		 stmt_ok);
	expect_error(KMS_POLICY_KEY, text, -EINVAL,
		     "Statement.Condition.NumericLessThan.kms:NumberOfBytes: \"lots\" is not a "
		     "number");
}

static void test_parse_callback_and_warnings(void)
{
	struct kms_policy *p = NULL;
	char err[512];
	static const char named[] =
	    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"" ALICE "\",\"" ACCT
	    "\",\"*\"]},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}";
	static const char inert[] =
	    "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ALICE "\"},"
	    "\"Action\":\"kms:*\",\"Resource\":\"*\"},{\"Sid\":\"NoResource\",\"Effect\":\"Deny\","
	    "\"Principal\":\"*\",\"Action\":\"kms:*\"}]}";
	struct kms_policy_request req = {
	    .principal = ALICE, .action = "kms:Decrypt", .resource = KEY_ARN};

	/* the callback sees normalized principals (an account id becomes its root), never "*" */
	exists_calls = 0;
	p = key_policy(named);
	CU_ASSERT_EQUAL(exists_calls, 2);
	CU_ASSERT_PTR_NULL(kms_policy_warning(p));
	kms_policy_unref(p);
	/* a callback error is passed through */
	p = NULL;
	CU_ASSERT_EQUAL(kms_policy_parse(KMS_POLICY_KEY, named, strlen(named), exists, (void *)1,
					 &p, err, sizeof err),
			-EIO);
	CU_ASSERT_PTR_NULL(p);
	/* a key policy statement without Resource is accepted but has no effect, as in AWS */
	p = key_policy(inert);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_NOT_NULL(strstr(kms_policy_warning(p), "Statement[1] has no Resource"));
	CU_ASSERT_EQUAL(kms_policy_evaluate(p, &req, NULL), KMS_POLICY_ALLOW);
	/* references */
	CU_ASSERT_PTR_EQUAL(kms_policy_ref(p), p);
	CU_ASSERT_PTR_NULL(kms_policy_unref(p));
	CU_ASSERT_EQUAL(kms_policy_get_kind(p), KMS_POLICY_KEY); /* still alive */
	kms_policy_unref(p);
	CU_ASSERT_PTR_NULL(kms_policy_unref(NULL));
}

static void test_arn_account(void)
{
	char a[13];

	CU_ASSERT_EQUAL(kms_arn_account(ALICE, a), 0);
	CU_ASSERT_STRING_EQUAL(a, ACCT);
	CU_ASSERT_EQUAL(kms_arn_account("arn:aws:sts::444455556666:assumed-role/r/s", a), 0);
	CU_ASSERT_STRING_EQUAL(a, "444455556666");
	CU_ASSERT_EQUAL(kms_arn_account("arn:aws:iam::12345:user/x", a), -EINVAL);
	CU_ASSERT_EQUAL(kms_arn_account("user/x", a), -EINVAL);
	CU_ASSERT_EQUAL(kms_arn_account(NULL, a), -EINVAL);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"principal x action x condition matrix", test_matrix},
	    {"deciding statement and account delegation", test_deciding_statement},
	    {"service principals, managed-key policy", test_service_principal_and_via_service},
	    {"default key policy", test_default_policy},
	    {"lockout safety check", test_lockout_check},
	    {"AccessDenied messages", test_denial_messages},
	    {"String* operators", test_string_operators},
	    {"Numeric* operators", test_numeric_operators},
	    {"Date* operators", test_date_operators},
	    {"Bool, BinaryEquals, IpAddress", test_bool_binary_ip},
	    {"Arn* operators, built-in keys", test_arn_operators},
	    {"Null and IfExists", test_null_ifexists},
	    {"ForAnyValue / ForAllValues", test_set_qualifiers},
	    {"AND across keys and operators, OR across values", test_and_or},
	    {"parse errors name what and where", test_parse_errors},
	    {"existence callback, warnings, references", test_parse_callback_and_warnings},
	    {"account of an ARN", test_arn_account},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms_policy", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
