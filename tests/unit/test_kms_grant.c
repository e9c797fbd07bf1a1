/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_grant.c — grants as data (lib/kms/grant.c): Operations validation, constraints
 * (EncryptionContextEquals / EncryptionContextSubset) against request contexts, what a grant
 * that carries CreateGrant may create, retiring, names, ids and tokens.
 */
#include <errno.h>
#include <string.h>

#include "kms/grant.h"
#include "unit.h"
#include "util/macros.h"

#define ALICE "arn:aws:iam::111122223333:user/alice"
#define BOB "arn:aws:iam::111122223333:user/bob"
#define ENVOLD "arn:aws:iam::111122223333:user/unix/envol"
#define ACCT "111122223333"

#define PAIRS(k, v)                                                                                \
	((struct kms_pairs){(const char *const[])k, (const char *const[])v,                        \
			    ARRAY_SIZE(((const char *const[])k))})
#define ARR(...)                                                                                   \
	{                                                                                          \
		__VA_ARGS__                                                                        \
	}

static void test_operations(void)
{
	const char *ok[] = {"Decrypt", "DescribeKey", "RetireGrant", "Decrypt"};
	const char *bad[] = {"Decrypt", "decrypt"};
	const char *sign[] = {"Encrypt", "Sign", "GenerateMac"};
	uint32_t ops = 0;
	char err[1024] = "";

	CU_ASSERT_EQUAL(kms_grant_ops_parse(ok, 4, KMS_GRANT_OPS_SYMMETRIC, &ops, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(ops, KMS_GRANT_DECRYPT | KMS_GRANT_DESCRIBE_KEY | KMS_GRANT_RETIRE_GRANT);

	ops = 0;
	CU_ASSERT_EQUAL(kms_grant_ops_parse(bad, 2, KMS_GRANT_OPS_SYMMETRIC, &ops, err, sizeof err),
			-EINVAL);
	CU_ASSERT_EQUAL(ops, 0); /* untouched on failure */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Value '[decrypt]' at 'operations' failed to satisfy"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "enum value set: [Decrypt, Encrypt, GenerateDataKey,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "DeriveSharedSecret]]"));

	CU_ASSERT_EQUAL(
	    kms_grant_ops_parse(sign, 3, KMS_GRANT_OPS_SYMMETRIC, &ops, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Grant operations [Sign, GenerateMac] are not valid"));
	CU_ASSERT_EQUAL(
	    kms_grant_ops_parse(sign, 0, KMS_GRANT_OPS_SYMMETRIC, &ops, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Value '[]' at 'operations'"));
	/* an HMAC key would allow GenerateMac */
	CU_ASSERT_EQUAL(
	    kms_grant_ops_parse(sign + 2, 1, KMS_GRANT_GENERATE_MAC, &ops, err, sizeof err), 0);

	for (int i = 0; i < KMS_GRANT_OP_COUNT; i++) {
		const char *n = kms_grant_op_name(1u << i);

		CU_ASSERT_PTR_NOT_NULL_FATAL(n);
		CU_ASSERT_EQUAL(kms_grant_op_from_name(n), (int)(1u << i));
	}
	CU_ASSERT_PTR_NULL(kms_grant_op_name(0));
	CU_ASSERT_PTR_NULL(kms_grant_op_name(KMS_GRANT_DECRYPT | KMS_GRANT_ENCRYPT));
	CU_ASSERT_PTR_NULL(kms_grant_op_name(1u << KMS_GRANT_OP_COUNT));
	CU_ASSERT_EQUAL(kms_grant_op_from_name("ReEncrypt"), -EINVAL);
	CU_ASSERT_EQUAL(kms_grant_op_from_name(NULL), -EINVAL);
	CU_ASSERT_TRUE(kms_grant_op_uses_context(KMS_GRANT_DECRYPT));
	CU_ASSERT_TRUE(kms_grant_op_uses_context(KMS_GRANT_RE_ENCRYPT_TO));
	CU_ASSERT_FALSE(kms_grant_op_uses_context(KMS_GRANT_DESCRIBE_KEY));
	CU_ASSERT_FALSE(kms_grant_op_uses_context(KMS_GRANT_CREATE_GRANT));
	CU_ASSERT_FALSE(kms_grant_op_uses_context(KMS_GRANT_SIGN));
}

static void test_constraints_validate(void)
{
	const char *k9[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
	char longv[KMS_GRANT_CONSTRAINT_MAX_VALUE + 2];
	const char *v9[] = {"1", "1", "1", "1", "1", "1", "1", "1", longv};
	struct kms_grant_constraints c = {.has_subset = true,
					  .subset = {k9, v9, KMS_GRANT_CONSTRAINT_MAX_PAIRS}};
	char err[512];

	memset(longv, 'x', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	CU_ASSERT_EQUAL(kms_grant_constraints_validate(&c, KMS_GRANT_DECRYPT, err, sizeof err), 0);
	c.subset.n = 9;
	CU_ASSERT_EQUAL(kms_grant_constraints_validate(&c, KMS_GRANT_DECRYPT, err, sizeof err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "EncryptionContextSubset holds 9"));
	c = (struct kms_grant_constraints){.has_equals = true, .equals = {k9 + 8, v9 + 8, 1}};
	CU_ASSERT_EQUAL(kms_grant_constraints_validate(&c, KMS_GRANT_DECRYPT, err, sizeof err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than 384"));
	longv[KMS_GRANT_CONSTRAINT_MAX_VALUE] = '\0'; /* exactly 384 */
	CU_ASSERT_EQUAL(kms_grant_constraints_validate(&c, KMS_GRANT_DECRYPT, err, sizeof err), 0);
	/* not with operations that take no encryption context */
	CU_ASSERT_EQUAL(
	    kms_grant_constraints_validate(&c, KMS_GRANT_DECRYPT | KMS_GRANT_SIGN, err, sizeof err),
	    -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "Sign"));
	/* DescribeKey and RetireGrant may go with constraints (which do not apply to them) */
	CU_ASSERT_EQUAL(kms_grant_constraints_validate(
			    &c, KMS_GRANT_DESCRIBE_KEY | KMS_GRANT_RETIRE_GRANT, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(kms_grant_constraints_validate(NULL, KMS_GRANT_SIGN, err, sizeof err), 0);
}

static void test_context_matching(void)
{
	struct kms_grant_constraints eq = {
	    .has_equals = true,
	    .equals = PAIRS(ARR("envol:volume-id", "team"), ARR("vol-1", "Blue"))};
	struct kms_grant_constraints sub = {.has_subset = true,
					    .subset = PAIRS(ARR("envol:volume-id"), ARR("vol-1"))};
	struct kms_pairs exact = PAIRS(ARR("team", "envol:volume-id"), ARR("Blue", "vol-1"));
	struct kms_pairs more =
	    PAIRS(ARR("team", "envol:volume-id", "x"), ARR("Blue", "vol-1", "y"));
	struct kms_pairs upper_key = PAIRS(ARR("TEAM", "Envol:Volume-Id"), ARR("Blue", "vol-1"));
	struct kms_pairs upper_value = PAIRS(ARR("team", "envol:volume-id"), ARR("BLUE", "vol-1"));
	struct kms_pairs other = PAIRS(ARR("envol:volume-id"), ARR("vol-2"));
	struct kms_pairs none = {0};

	/* Equals: exactly these pairs, in any order; keys case-insensitive, values not */
	CU_ASSERT_TRUE(kms_grant_context_ok(&eq, &exact));
	CU_ASSERT_TRUE(kms_grant_context_ok(&eq, &upper_key));
	CU_ASSERT_FALSE(kms_grant_context_ok(&eq, &upper_value));
	CU_ASSERT_FALSE(kms_grant_context_ok(&eq, &more));
	CU_ASSERT_FALSE(kms_grant_context_ok(&eq, &other));
	CU_ASSERT_FALSE(kms_grant_context_ok(&eq, &none));
	CU_ASSERT_FALSE(kms_grant_context_ok(&eq, NULL));
	/* Subset: these pairs and maybe more */
	CU_ASSERT_TRUE(kms_grant_context_ok(&sub, &exact));
	CU_ASSERT_TRUE(kms_grant_context_ok(&sub, &more));
	CU_ASSERT_FALSE(kms_grant_context_ok(&sub, &other));
	CU_ASSERT_FALSE(kms_grant_context_ok(&sub, NULL));
	/* both: both hold */
	sub.has_equals = true;
	sub.equals = eq.equals;
	CU_ASSERT_TRUE(kms_grant_context_ok(&sub, &exact));
	CU_ASSERT_FALSE(kms_grant_context_ok(&sub, &more));
	/* no constraints: anything */
	CU_ASSERT_TRUE(kms_grant_context_ok(&(struct kms_grant_constraints){0}, NULL));
	CU_ASSERT_TRUE(kms_grant_context_ok(NULL, &other));
	/* an empty Equals wants an empty context */
	eq.equals.n = 0;
	CU_ASSERT_TRUE(kms_grant_context_ok(&eq, NULL));
	CU_ASSERT_FALSE(kms_grant_context_ok(&eq, &other));
}

/* The attach grant of issue 10: envold may Decrypt under exactly this volume's context. */
static void test_grant_allows(void)
{
	struct kms_grant g = {
	    .grantee = ENVOLD,
	    .retiring = ENVOLD,
	    .ops = KMS_GRANT_DECRYPT | KMS_GRANT_DESCRIBE_KEY,
	    .constraints = {.has_equals = true,
			    .equals = PAIRS(ARR("envol:volume-id"), ARR("vol-1"))}};
	struct kms_pairs vol1 = PAIRS(ARR("envol:volume-id"), ARR("vol-1"));
	struct kms_pairs vol2 = PAIRS(ARR("envol:volume-id"), ARR("vol-2"));

	CU_ASSERT_TRUE(kms_grant_allows(&g, ENVOLD, KMS_GRANT_DECRYPT, &vol1));
	CU_ASSERT_FALSE(kms_grant_allows(&g, ENVOLD, KMS_GRANT_DECRYPT, &vol2));
	CU_ASSERT_FALSE(kms_grant_allows(&g, ENVOLD, KMS_GRANT_DECRYPT, NULL));
	CU_ASSERT_FALSE(kms_grant_allows(&g, ALICE, KMS_GRANT_DECRYPT, &vol1));
	CU_ASSERT_FALSE(kms_grant_allows(&g, NULL, KMS_GRANT_DECRYPT, &vol1));
	CU_ASSERT_FALSE(kms_grant_allows(&g, ENVOLD, KMS_GRANT_ENCRYPT, &vol1));
	CU_ASSERT_FALSE(
	    kms_grant_allows(&g, ENVOLD, KMS_GRANT_DECRYPT | KMS_GRANT_DESCRIBE_KEY, &vol1));
	/* constraints do not apply to DescribeKey */
	CU_ASSERT_TRUE(kms_grant_allows(&g, ENVOLD, KMS_GRANT_DESCRIBE_KEY, NULL));
	/* subset constraint, ReEncrypt both halves */
	g.ops = KMS_GRANT_RE_ENCRYPT_FROM | KMS_GRANT_RE_ENCRYPT_TO;
	g.constraints = (struct kms_grant_constraints){
	    .has_subset = true, .subset = PAIRS(ARR("envol:volume-id"), ARR("vol-1"))};
	CU_ASSERT_TRUE(kms_grant_allows(&g, ENVOLD, KMS_GRANT_RE_ENCRYPT_FROM, &vol1));
	CU_ASSERT_FALSE(kms_grant_allows(&g, ENVOLD, KMS_GRANT_RE_ENCRYPT_TO, &vol2));
	CU_ASSERT_FALSE(kms_grant_allows(NULL, ENVOLD, KMS_GRANT_RE_ENCRYPT_TO, &vol1));
}

static void test_derive(void)
{
	struct kms_grant parent = {
	    .grantee = ALICE,
	    .ops = KMS_GRANT_DECRYPT | KMS_GRANT_CREATE_GRANT,
	    .constraints = {.has_equals = true,
			    .equals = PAIRS(ARR("envol:volume-id"), ARR("vol-1"))}};
	struct kms_grant_constraints same = {.has_equals = true,
					     .equals = PAIRS(ARR("Envol:Volume-Id"), ARR("vol-1"))};
	struct kms_grant_constraints other = {
	    .has_equals = true, .equals = PAIRS(ARR("envol:volume-id"), ARR("vol-2"))};
	struct kms_grant_constraints wider = {
	    .has_equals = true,
	    .equals = PAIRS(ARR("envol:volume-id", "team"), ARR("vol-1", "Blue"))};
	struct kms_grant_constraints sub = {.has_subset = true,
					    .subset = PAIRS(ARR("envol:volume-id"), ARR("vol-1"))};
	struct kms_grant_constraints sub2 = {
	    .has_subset = true,
	    .subset = PAIRS(ARR("team", "envol:volume-id"), ARR("Blue", "vol-1"))};
	struct kms_grant_constraints sub_other = {.has_subset = true,
						  .subset = PAIRS(ARR("team"), ARR("Blue"))};
	char err[512];

	/* under Equals: the same Equals only */
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &same, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &other, err, sizeof err),
			-EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "same EncryptionContextEquals"));
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &wider, err, sizeof err),
			-EACCES);
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &sub, err, sizeof err),
			-EACCES);
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, NULL, err, sizeof err),
			-EACCES);
	/* operations: a subset of the parent's */
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT | KMS_GRANT_ENCRYPT,
					       &same, err, sizeof err),
			-EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not allow Encrypt"));
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT | KMS_GRANT_CREATE_GRANT,
					       &same, err, sizeof err),
			0);
	/* under Subset: Equals or Subset that hold every pair of it */
	parent.constraints = sub;
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &sub, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &sub2, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &same, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &wider, err, sizeof err),
			0);
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &other, err, sizeof err),
			-EACCES);
	CU_ASSERT_EQUAL(
	    kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, &sub_other, err, sizeof err),
	    -EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "EncryptionContextSubset"));
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, NULL, err, sizeof err),
			-EACCES);
	/* no constraint: anything within the operations */
	parent.constraints = (struct kms_grant_constraints){0};
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, NULL, err, sizeof err),
			0);
	/* a grant without CreateGrant creates nothing */
	parent.ops = KMS_GRANT_DECRYPT;
	CU_ASSERT_EQUAL(kms_grant_derive_check(&parent, KMS_GRANT_DECRYPT, NULL, err, sizeof err),
			-EACCES);
}

static void test_equal_retire_name(void)
{
	struct kms_grant a = {
	    .grantee = ENVOLD,
	    .retiring = ALICE,
	    .name = "attach-vol-1",
	    .ops = KMS_GRANT_DECRYPT,
	    .constraints = {.has_subset = true, .subset = PAIRS(ARR("a", "b"), ARR("1", "2"))}};
	struct kms_grant b = a;

	b.constraints.subset = PAIRS(ARR("b", "a"), ARR("2", "1"));
	CU_ASSERT_TRUE(kms_grant_equal(&a, &b));
	b.constraints.subset = PAIRS(ARR("b", "a"), ARR("2", "2"));
	CU_ASSERT_FALSE(kms_grant_equal(&a, &b));
	b = a;
	b.ops |= KMS_GRANT_ENCRYPT;
	CU_ASSERT_FALSE(kms_grant_equal(&a, &b));
	b = a;
	b.retiring = NULL;
	CU_ASSERT_FALSE(kms_grant_equal(&a, &b));
	b = a;
	b.constraints.has_subset = false;
	CU_ASSERT_FALSE(kms_grant_equal(&a, &b));

	/* retiring principal; grantee only with RetireGrant; the account root */
	CU_ASSERT_TRUE(kms_grant_may_retire(&a, ALICE, ACCT));
	CU_ASSERT_FALSE(kms_grant_may_retire(&a, ENVOLD, ACCT));
	a.ops |= KMS_GRANT_RETIRE_GRANT;
	CU_ASSERT_TRUE(kms_grant_may_retire(&a, ENVOLD, ACCT));
	CU_ASSERT_TRUE(kms_grant_may_retire(&a, "arn:aws:iam::" ACCT ":root", ACCT));
	CU_ASSERT_FALSE(kms_grant_may_retire(&a, "arn:aws:iam::444455556666:root", ACCT));
	CU_ASSERT_FALSE(kms_grant_may_retire(&a, BOB, ACCT));
	CU_ASSERT_FALSE(kms_grant_may_retire(&a, NULL, ACCT));

	CU_ASSERT_TRUE(kms_grant_name_valid("envol/attach:vol-1_a"));
	CU_ASSERT_FALSE(kms_grant_name_valid(""));
	CU_ASSERT_FALSE(kms_grant_name_valid(NULL));
	CU_ASSERT_FALSE(kms_grant_name_valid("has space"));
	{
		char n[KMS_GRANT_NAME_MAX + 2];

		memset(n, 'a', sizeof n - 1);
		n[sizeof n - 1] = '\0';
		CU_ASSERT_FALSE(kms_grant_name_valid(n));
		n[KMS_GRANT_NAME_MAX] = '\0';
		CU_ASSERT_TRUE(kms_grant_name_valid(n));
	}
}

static void test_ids(void)
{
	uint8_t id[KMS_GRANT_ID_LEN], back[KMS_GRANT_ID_LEN];
	char text[2 * KMS_GRANT_ID_LEN + 1];

	for (int i = 0; i < KMS_GRANT_ID_LEN; i++)
		id[i] = (uint8_t)(0xA0 + i);
	kms_grant_id_format(id, text);
	CU_ASSERT_EQUAL(strlen(text), 64);
	CU_ASSERT_EQUAL(strncmp(text, "a0a1a2", 6), 0);
	CU_ASSERT_EQUAL(kms_grant_id_parse(text, back), 0);
	CU_ASSERT_EQUAL(memcmp(id, back, sizeof id), 0);
	text[63] = 'g';
	CU_ASSERT_EQUAL(kms_grant_id_parse(text, back), -EINVAL);
	text[63] = '\0';
	CU_ASSERT_EQUAL(kms_grant_id_parse(text, back), -EINVAL);
	CU_ASSERT_EQUAL(kms_grant_id_parse(NULL, back), -EINVAL);
}

static void test_tokens(void)
{
	uint8_t root[32], key[KMS_GRANT_TOKEN_KEY_LEN], key2[KMS_GRANT_TOKEN_KEY_LEN];
	uint8_t key_id[16], grant_id[KMS_GRANT_ID_LEN], nonce[KMS_GRANT_NONCE_LEN];
	uint8_t got_key[16], got_grant[KMS_GRANT_ID_LEN];
	char *t1 = NULL, *t2 = NULL, *bad;

	memset(root, 7, sizeof root);
	CU_ASSERT_EQUAL_FATAL(kms_grant_token_key(root, sizeof root, key), 0);
	root[0] = 8;
	CU_ASSERT_EQUAL_FATAL(kms_grant_token_key(root, sizeof root, key2), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(key, key2, sizeof key), 0);
	memset(key_id, 0x11, sizeof key_id);
	memset(grant_id, 0x22, sizeof grant_id);
	memset(nonce, 0x33, sizeof nonce);
	CU_ASSERT_EQUAL_FATAL(kms_grant_token_make(key, key_id, grant_id, nonce, &t1), 0);
	nonce[0] ^= 1;
	CU_ASSERT_EQUAL_FATAL(kms_grant_token_make(key, key_id, grant_id, nonce, &t2), 0);
	CU_ASSERT_STRING_NOT_EQUAL(t1, t2); /* a new token per CreateGrant */

	CU_ASSERT_EQUAL(kms_grant_token_check(key, t1, got_key, got_grant), 0);
	CU_ASSERT_EQUAL(memcmp(got_key, key_id, 16), 0);
	CU_ASSERT_EQUAL(memcmp(got_grant, grant_id, sizeof grant_id), 0);
	CU_ASSERT_EQUAL(kms_grant_token_check(key, t2, got_key, got_grant), 0);
	/* another MAC key (another KMS) */
	CU_ASSERT_EQUAL(kms_grant_token_check(key2, t1, got_key, got_grant), -EBADMSG);
	/* every character of the token matters */
	bad = strdup(t1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
	for (size_t i = 0; bad[i] && bad[i] != '='; i++) {
		char was = bad[i];

		bad[i] = was == 'A' ? 'B' : 'A';
		if (kms_grant_token_check(key, bad, got_key, got_grant) != -EBADMSG) {
			fprintf(stderr, "\ntoken accepted with character %zu changed\n", i);
			CU_FAIL("tampered token accepted");
		}
		bad[i] = was;
	}
	free(bad);
	CU_ASSERT_EQUAL(kms_grant_token_check(key, "", got_key, got_grant), -EBADMSG);
	CU_ASSERT_EQUAL(kms_grant_token_check(key, NULL, got_key, got_grant), -EBADMSG);
	CU_ASSERT_EQUAL(kms_grant_token_check(key, "not a token", got_key, got_grant), -EBADMSG);
	CU_ASSERT_EQUAL(kms_grant_token_check(key, "AAAA", got_key, got_grant), -EBADMSG);
	{
		char big[KMS_GRANT_TOKEN_MAX_LEN + 8];

		memset(big, 'A', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		CU_ASSERT_EQUAL(kms_grant_token_check(key, big, got_key, got_grant), -EBADMSG);
	}
	free(t1);
	free(t2);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"Operations: names, the allowed set, ValidationException", test_operations},
	    {"constraints: limits and operations", test_constraints_validate},
	    {"constraints: Equals and Subset against a context", test_context_matching},
	    {"grant allows: grantee, operation, constraints", test_grant_allows},
	    {"CreateGrant through a grant: at least as constrained", test_derive},
	    {"equality (Name), retiring, names", test_equal_retire_name},
	    {"grant ids", test_ids},
	    {"grant tokens", test_tokens},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms_grant", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
