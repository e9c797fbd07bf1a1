/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_response.c — the response encoder of the KMS core (lib/kms/response.c) on typed
 * results, without a database: the exact bodies of the cryptographic answers (base64 members
 * written by hand, the rest by jansson, in AWS's member order), a plaintext large enough to
 * grow the wiped buffer, kms_result_done() wiping the plaintext, the List* pages, key
 * metadata, and the error body.
 */
#include <string.h>

#include "kms/internal.h"
#include "unit.h"
#include "util/encoding.h"

#define KEY_ID "11111111-2222-4333-8444-555555555555"
#define PREFIX "arn:aws:kms:local:000000000000:"
#define KEY_ARN PREFIX "key/" KEY_ID

static struct kms K = {
    .account_id = "000000000000",
    .key_arn_prefix = PREFIX "key/",
    .arn_prefix = PREFIX,
};

/* Encodes r and compares with want; frees the body. */
static void expect_body(const struct kms_result *r, const char *want)
{
	char *body = NULL;

	CU_ASSERT_EQUAL_FATAL(kms_response_encode(&K, r, &body), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	if (strcmp(body, want) != 0)
		fprintf(stderr, "\n got: %s\nwant: %s\n", body, want);
	CU_ASSERT_STRING_EQUAL(body, want);
	free(body);
}

static uint8_t *blob_of(const char *s)
{
	uint8_t *b = malloc(strlen(s));

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, s, strlen(s));
	return b;
}

static void test_crypto_bodies(void)
{
	uint8_t pt[3] = {'a', 'b', 'c'};
	struct kms_result r = {.type = KMS_RESULT_CRYPTO, .key_id = KEY_ARN};

	/* Decrypt */
	r.crypto.plaintext = pt;
	r.crypto.plaintext_len = 3;
	r.crypto.algorithm = true;
	expect_body(&r, "{\"Plaintext\":\"YWJj\",\"KeyId\":\"" KEY_ARN
			"\",\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}");
	/* GenerateDataKey */
	r.crypto.algorithm = false;
	r.crypto.ciphertext_blob = blob_of("blob");
	r.crypto.ciphertext_blob_len = 4;
	expect_body(&r,
		    "{\"CiphertextBlob\":\"YmxvYg==\",\"Plaintext\":\"YWJj\",\"KeyId\":\"" KEY_ARN
		    "\"}");
	/* GenerateDataKeyWithoutPlaintext */
	r.crypto.plaintext = NULL;
	expect_body(&r, "{\"CiphertextBlob\":\"YmxvYg==\",\"KeyId\":\"" KEY_ARN "\"}");
	/* Encrypt */
	r.crypto.algorithm = true;
	expect_body(&r, "{\"CiphertextBlob\":\"YmxvYg==\",\"KeyId\":\"" KEY_ARN
			"\",\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}");
	/* ReEncrypt */
	r.crypto.algorithm = false;
	r.crypto.source_destination_algorithms = true;
	snprintf(r.crypto.source_key_id, sizeof r.crypto.source_key_id, "%s", PREFIX "key/src");
	expect_body(&r, "{\"CiphertextBlob\":\"YmxvYg==\",\"SourceKeyId\":\"" PREFIX
			"key/src\",\"KeyId\":\"" KEY_ARN
			"\",\"SourceEncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\","
			"\"DestinationEncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}");
	kms_result_done(&r);
	/* GenerateRandom: Plaintext alone */
	r = (struct kms_result){.type = KMS_RESULT_CRYPTO};
	r.crypto.plaintext = pt;
	r.crypto.plaintext_len = 3;
	expect_body(&r, "{\"Plaintext\":\"YWJj\"}");
}

/* A 4096-byte plaintext grows the wiped buffer several times; the body must still be whole. */
static void test_large_plaintext(void)
{
	static uint8_t pt[4096];
	struct kms_result r = {.type = KMS_RESULT_CRYPTO, .key_id = KEY_ARN};
	uint8_t *back = NULL;
	size_t back_len = 0;
	char *body = NULL;
	json_t *j;

	for (size_t i = 0; i < sizeof pt; i++)
		pt[i] = (uint8_t)(i * 7 + 1);
	r.crypto.plaintext = pt;
	r.crypto.plaintext_len = sizeof pt;
	r.crypto.algorithm = true;
	CU_ASSERT_EQUAL_FATAL(kms_response_encode(&K, &r, &body), 0);
	j = json_loads(body, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "KeyId")), KEY_ARN);
	CU_ASSERT_EQUAL_FATAL(
	    envol_base64_decode(json_string_value(json_object_get(j, "Plaintext")),
				json_string_length(json_object_get(j, "Plaintext")), &back,
				&back_len),
	    0);
	CU_ASSERT_EQUAL(back_len, sizeof pt);
	CU_ASSERT(back_len == sizeof pt && memcmp(back, pt, sizeof pt) == 0);
	free(back);
	json_decref(j);
	free(body);
	/* kms_result_done() wipes the plaintext it points to */
	kms_result_done(&r);
	for (size_t i = 0; i < sizeof pt; i++)
		if (pt[i] != 0) {
			CU_FAIL("plaintext not wiped");
			break;
		}
	CU_ASSERT_EQUAL(r.type, KMS_RESULT_EMPTY);
}

static void test_simple_answers(void)
{
	struct kms_result r = {0};

	expect_body(&r, "{}");
	r.type = KMS_RESULT_KEY_ID;
	snprintf(r.key_id, sizeof r.key_id, "%s", KEY_ID);
	expect_body(&r, "{\"KeyId\":\"" KEY_ID "\"}");
	r.type = KMS_RESULT_KEY_DELETION;
	r.deletion.date = 1700000000;
	r.deletion.days = 7;
	expect_body(&r, "{\"KeyId\":\"" KEY_ID "\",\"DeletionDate\":1700000000,\"KeyState\":"
			"\"PendingDeletion\",\"PendingWindowInDays\":7}");
	r = (struct kms_result){.type = KMS_RESULT_ROTATION_STATUS, .key_id = KEY_ARN};
	expect_body(&r, "{\"KeyRotationEnabled\":false,\"KeyId\":\"" KEY_ARN "\"}");
	r.key.rotation_enabled = true;
	r.key.rotation_period = 90;
	r.key.next_rotation = 1800000000;
	expect_body(&r, "{\"KeyRotationEnabled\":true,\"KeyId\":\"" KEY_ARN
			"\",\"RotationPeriodInDays\":90,\"NextRotationDate\":1800000000}");
}

static void test_metadata(void)
{
	struct kms_result r = {.type = KMS_RESULT_KEY_METADATA};
	char *body = NULL;
	json_t *j, *m;

	snprintf(r.key.id, sizeof r.key.id, "%s", KEY_ID);
	r.key.description = strdup("d\"quoted\"");
	r.key.state = KMS_KEY_PENDING_DELETION;
	r.key.deletion_date = 42;
	r.key.managed = true;
	CU_ASSERT_EQUAL_FATAL(kms_response_encode(&K, &r, &body), 0);
	j = json_loads(body, 0, NULL);
	m = json_object_get(j, "KeyMetadata");
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "Arn")), KEY_ARN);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "AWSAccountId")),
			       "000000000000");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "Description")), "d\"quoted\"");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "KeyState")),
			       "PendingDeletion");
	CU_ASSERT(json_is_false(json_object_get(m, "Enabled")));
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(m, "DeletionDate")), 42);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m, "KeyManager")), "AWS");
	json_decref(j);
	free(body);
	kms_result_done(&r); /* frees the description */
	CU_ASSERT_PTR_NULL(r.key.description);
}

static void test_pages(void)
{
	struct kms_result r = {.type = KMS_RESULT_TAGS};

	r.tags = calloc(2, sizeof(*r.tags));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.tags);
	r.tags[0] = (struct kms_tag_row){strdup("a"), strdup("1")};
	r.tags[1] = (struct kms_tag_row){strdup("b"), strdup("")};
	r.page.n = 2;
	expect_body(&r, "{\"Tags\":[{\"TagKey\":\"a\",\"TagValue\":\"1\"},{\"TagKey\":\"b\","
			"\"TagValue\":\"\"}],\"Truncated\":false}");
	r.page.truncated = true;
	r.page.next_marker = strdup("b");
	expect_body(&r, "{\"Tags\":[{\"TagKey\":\"a\",\"TagValue\":\"1\"},{\"TagKey\":\"b\","
			"\"TagValue\":\"\"}],\"Truncated\":true,\"NextMarker\":\"b\"}");
	kms_result_done(&r);

	r = (struct kms_result){.type = KMS_RESULT_ROTATIONS, .key_id = KEY_ID};
	r.rotations = calloc(1, sizeof(*r.rotations));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.rotations);
	r.rotations[0] = (struct kms_rotation){.version = 2, .date = 5, .on_demand = true};
	r.page.n = 1;
	expect_body(&r, "{\"Rotations\":[{\"KeyId\":\"" KEY_ID "\",\"RotationDate\":5,"
			"\"RotationType\":\"ON_DEMAND\"}],\"Truncated\":false}");
	kms_result_done(&r);

	r = (struct kms_result){.type = KMS_RESULT_ALIASES};
	r.aliases = calloc(1, sizeof(*r.aliases));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.aliases);
	r.aliases[0].name = strdup("alias/x");
	snprintf(r.aliases[0].key_id, sizeof r.aliases[0].key_id, "%s", KEY_ID);
	r.aliases[0].created = 1;
	r.aliases[0].updated = 2;
	r.page.n = 1;
	expect_body(&r, "{\"Aliases\":[{\"AliasName\":\"alias/x\",\"AliasArn\":\"" PREFIX
			"alias/x\",\"TargetKeyId\":\"" KEY_ID "\",\"CreationDate\":1,"
			"\"LastUpdatedDate\":2}],\"Truncated\":false}");
	kms_result_done(&r);
}

static void test_error_body(void)
{
	char *s = kms_response_error("NotFoundException", "Key 'x' does not exist");

	CU_ASSERT_STRING_EQUAL(s, "{\"__type\":\"NotFoundException\",\"message\":\"Key 'x' does "
				  "not exist\"}");
	free(s);
	/* a message that is not UTF-8 falls back to the bare type */
	s = kms_response_error("ValidationException", "bad \xff byte");
	CU_ASSERT_STRING_EQUAL(s, "{\"__type\":\"ValidationException\",\"message\":\"\"}");
	free(s);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"cryptographic answers, member by member", test_crypto_bodies},
	    {"4 KiB plaintext through the wiped buffer, then wiped", test_large_plaintext},
	    {"{}, KeyId, ScheduleKeyDeletion, GetKeyRotationStatus", test_simple_answers},
	    {"KeyMetadata", test_metadata},
	    {"List* pages", test_pages},
	    {"error body", test_error_body},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms_response", NULL, NULL, NULL, NULL, tests},
				 CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
