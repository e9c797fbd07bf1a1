/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_envolctl_parse.c — envolctl's pure helpers (tools/parse.c): sizes with binary suffixes
 * and sector rules, key identifier forms, alias names, K=V pairs, integer ranges, human sizes,
 * ISO 8601 times, zero-block detection, members of KMS answers.
 */
#include <string.h>

#include "../../tools/parse.c"
#include "unit.h"

static void test_size(void)
{
	uint64_t v = 0;

	CU_ASSERT_EQUAL(ctl_parse_size("0", &v), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(ctl_parse_size("4096", &v), 0);
	CU_ASSERT_EQUAL(v, 4096);
	CU_ASSERT_EQUAL(ctl_parse_size("1K", &v), 0);
	CU_ASSERT_EQUAL(v, 1024);
	CU_ASSERT_EQUAL(ctl_parse_size("64m", &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_C(64) << 20);
	CU_ASSERT_EQUAL(ctl_parse_size("10G", &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_C(10) << 30);
	CU_ASSERT_EQUAL(ctl_parse_size("10GiB", &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_C(10) << 30);
	CU_ASSERT_EQUAL(ctl_parse_size("2T", &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_C(2) << 40);
	CU_ASSERT_EQUAL(ctl_parse_size("512B", &v), 0);
	CU_ASSERT_EQUAL(v, 512);
	v = 7;
	CU_ASSERT_EQUAL(ctl_parse_size("", &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_size("G", &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_size("1.5G", &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_size("-1", &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_size("10X", &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_size(" 10", &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_size("10 G", &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_size("18446744073709551616", &v), -ERANGE);
	CU_ASSERT_EQUAL(ctl_parse_size("16777216T", &v), -ERANGE);
	CU_ASSERT_EQUAL(v, 7); /* untouched on failure */
	CU_ASSERT_EQUAL(ctl_parse_size("16777215T", &v), 0);
	CU_ASSERT_EQUAL(v, UINT64_C(16777215) << 40);
}

static void test_volume_size(void)
{
	char err[256];
	uint64_t v = 0;

	CU_ASSERT_EQUAL(ctl_parse_volume_size("512", 512, &v, err, sizeof err), 0);
	CU_ASSERT_EQUAL(v, 512);
	CU_ASSERT_EQUAL(ctl_parse_volume_size("64M", 4096, &v, err, sizeof err), 0);
	CU_ASSERT_EQUAL(v, UINT64_C(64) << 20);
	CU_ASSERT_EQUAL(ctl_parse_volume_size("0", 512, &v, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "at least one sector"));
	CU_ASSERT_EQUAL(ctl_parse_volume_size("1000", 512, &v, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a multiple of the sector size 512"));
	CU_ASSERT_EQUAL(ctl_parse_volume_size("2560", 4096, &v, err, sizeof err), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_volume_size("1K", 4096, &v, err, sizeof err), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_volume_size("ten", 512, &v, err, sizeof err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "K, M, G or T"));
}

static void test_round_up(void)
{
	uint64_t v = 0;

	CU_ASSERT_EQUAL(ctl_round_up(1, 512, &v), 0);
	CU_ASSERT_EQUAL(v, 512);
	CU_ASSERT_EQUAL(ctl_round_up(512, 512, &v), 0);
	CU_ASSERT_EQUAL(v, 512);
	CU_ASSERT_EQUAL(ctl_round_up(513, 512, &v), 0);
	CU_ASSERT_EQUAL(v, 1024);
	CU_ASSERT_EQUAL(ctl_round_up(4097, 4096, &v), 0);
	CU_ASSERT_EQUAL(v, 8192);
	CU_ASSERT_EQUAL(ctl_round_up(0, 4096, &v), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(ctl_round_up(UINT64_MAX, 4096, &v), -ERANGE);
	CU_ASSERT_EQUAL(ctl_round_up(1, 0, &v), -EINVAL);
}

static void test_key_forms(void)
{
	char *s;

	CU_ASSERT_EQUAL(ctl_key_classify("1234abcd-12ab-34cd-56ef-1234567890ab"), CTL_KEY_ID);
	CU_ASSERT_EQUAL(
	    ctl_key_classify(
		"arn:aws:kms:local:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
	    CTL_KEY_ARN);
	CU_ASSERT_EQUAL(ctl_key_classify("alias/envol/ebs"), CTL_KEY_ALIAS);
	CU_ASSERT_EQUAL(ctl_key_classify("arn:aws:kms:local:000000000000:alias/envol/ebs"),
			CTL_KEY_ALIAS_ARN);
	CU_ASSERT_EQUAL(ctl_key_classify("backup"), CTL_KEY_BARE_NAME);
	CU_ASSERT_EQUAL(ctl_key_classify("envol/ebs"), CTL_KEY_BARE_NAME);
	CU_ASSERT_EQUAL(ctl_key_classify(""), CTL_KEY_INVALID);
	CU_ASSERT_EQUAL(ctl_key_classify("alias/"), CTL_KEY_INVALID);
	CU_ASSERT_EQUAL(ctl_key_classify("arn:aws:s3:::bucket"), CTL_KEY_INVALID);
	CU_ASSERT_EQUAL(ctl_key_classify("arn:aws:kms:local:000000000000:key/"), CTL_KEY_INVALID);
	CU_ASSERT_EQUAL(ctl_key_classify("has space"), CTL_KEY_INVALID);

	s = ctl_key_normalize("backup");
	CU_ASSERT_STRING_EQUAL(s, "alias/backup");
	free(s);
	s = ctl_key_normalize("alias/backup");
	CU_ASSERT_STRING_EQUAL(s, "alias/backup");
	free(s);
	s = ctl_key_normalize("1234abcd-12ab-34cd-56ef-1234567890ab");
	CU_ASSERT_STRING_EQUAL(s, "1234abcd-12ab-34cd-56ef-1234567890ab");
	free(s);
	CU_ASSERT_PTR_NULL(ctl_key_normalize("a b"));

	CU_ASSERT_TRUE(ctl_alias_name_valid("alias/backup"));
	CU_ASSERT_TRUE(ctl_alias_name_valid("alias/team/db-keys_1"));
	CU_ASSERT_FALSE(ctl_alias_name_valid("alias/"));
	CU_ASSERT_FALSE(ctl_alias_name_valid("backup"));
	CU_ASSERT_FALSE(ctl_alias_name_valid("alias/aws/ebs"));
	CU_ASSERT_FALSE(ctl_alias_name_valid("alias/a b"));
	CU_ASSERT_FALSE(ctl_alias_name_valid("alias/a.b"));
}

static void test_pair_and_int(void)
{
	char *k = NULL, *v = NULL;
	long n = 5;

	CU_ASSERT_EQUAL(ctl_parse_pair("purpose=backup", &k, &v), 0);
	CU_ASSERT_STRING_EQUAL(k, "purpose");
	CU_ASSERT_STRING_EQUAL(v, "backup");
	free(k);
	free(v);
	CU_ASSERT_EQUAL(ctl_parse_pair("a=b=c", &k, &v), 0);
	CU_ASSERT_STRING_EQUAL(k, "a");
	CU_ASSERT_STRING_EQUAL(v, "b=c");
	free(k);
	free(v);
	CU_ASSERT_EQUAL(ctl_parse_pair("empty=", &k, &v), 0);
	CU_ASSERT_STRING_EQUAL(v, "");
	free(k);
	free(v);
	CU_ASSERT_EQUAL(ctl_parse_pair("=v", &k, &v), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_pair("novalue", &k, &v), -EINVAL);

	CU_ASSERT_EQUAL(ctl_parse_int("7", 7, 30, &n), 0);
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT_EQUAL(ctl_parse_int("30", 7, 30, &n), 0);
	CU_ASSERT_EQUAL(n, 30);
	CU_ASSERT_EQUAL(ctl_parse_int("6", 7, 30, &n), -ERANGE);
	CU_ASSERT_EQUAL(ctl_parse_int("31", 7, 30, &n), -ERANGE);
	CU_ASSERT_EQUAL(ctl_parse_int("1e3", 7, 30, &n), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_int("", 7, 30, &n), -EINVAL);
	CU_ASSERT_EQUAL(ctl_parse_int(" 8", 7, 30, &n), -EINVAL);
	CU_ASSERT_EQUAL(n, 30);
}

static void test_format(void)
{
	char b[64];

	ctl_format_size(0, b, sizeof b);
	CU_ASSERT_STRING_EQUAL(b, "0 B");
	ctl_format_size(512, b, sizeof b);
	CU_ASSERT_STRING_EQUAL(b, "512 B");
	ctl_format_size(UINT64_C(10) << 30, b, sizeof b);
	CU_ASSERT_STRING_EQUAL(b, "10 GiB");
	ctl_format_size(UINT64_C(3) << 19, b, sizeof b);
	CU_ASSERT_STRING_EQUAL(b, "1.5 MiB");
	ctl_format_size((UINT64_C(2) << 30) - 1, b, sizeof b);
	CU_ASSERT_STRING_EQUAL(b, "1.9 GiB");
	ctl_format_time(0, b, sizeof b);
	CU_ASSERT_STRING_EQUAL(b, "1970-01-01T00:00:00Z");
	ctl_format_time(1795359229, b, sizeof b);
	CU_ASSERT_STRING_EQUAL(b, "2026-11-22T14:53:49Z");
}

static void test_all_zero(void)
{
	uint8_t buf[4096] = {0};

	CU_ASSERT_TRUE(ctl_all_zero(buf, 0));
	CU_ASSERT_TRUE(ctl_all_zero(buf, 1));
	CU_ASSERT_TRUE(ctl_all_zero(buf, sizeof buf));
	buf[4095] = 1;
	CU_ASSERT_FALSE(ctl_all_zero(buf, sizeof buf));
	CU_ASSERT_TRUE(ctl_all_zero(buf, 4095));
	buf[4095] = 0;
	buf[7] = 0x80;
	CU_ASSERT_FALSE(ctl_all_zero(buf, sizeof buf));
	CU_ASSERT_FALSE(ctl_all_zero(buf, 8));
	buf[7] = 0;
	buf[2000] = 1;
	CU_ASSERT_FALSE(ctl_all_zero(buf, sizeof buf));
}

/* Members of KMS answers: missing, of another type, out of range. */
static void test_answer_members(void)
{
	json_t *o = json_loads("{\"KeyId\": \"k1\", \"Empty\": \"\", \"Num\": 5, \"Null\": null, "
			       "\"Date\": 1735689600.5, \"Neg\": -1, \"Huge\": 1e300, "
			       "\"Max\": 253402300799, \"Past\": 253402300800, "
			       "\"Str\": \"2025-01-01\", \"Obj\": {}}",
			       0, NULL);
	time_t t = 42;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_STRING_EQUAL(ctl_json_string(o, "KeyId"), "k1");
	CU_ASSERT_STRING_EQUAL(ctl_json_string(o, "Empty"), "");
	CU_ASSERT_PTR_NULL(ctl_json_string(o, "Missing"));
	CU_ASSERT_PTR_NULL(ctl_json_string(o, "Num"));
	CU_ASSERT_PTR_NULL(ctl_json_string(o, "Null"));
	CU_ASSERT_PTR_NULL(ctl_json_string(o, "Obj"));
	CU_ASSERT_PTR_NULL(ctl_json_string(NULL, "KeyId"));
	/* o's member, not an object */
	CU_ASSERT_PTR_NULL(ctl_json_string(json_object_get(o, "KeyId"), "KeyId"));

	CU_ASSERT_EQUAL(ctl_json_time(o, "Date", &t), 0);
	CU_ASSERT_EQUAL(t, 1735689600);
	CU_ASSERT_EQUAL(ctl_json_time(o, "Num", &t), 0);
	CU_ASSERT_EQUAL(t, 5);
	CU_ASSERT_EQUAL(ctl_json_time(o, "Max", &t), 0);
	CU_ASSERT_EQUAL(t, (time_t)253402300799);
	t = 42;
	CU_ASSERT_EQUAL(ctl_json_time(o, "Missing", &t), -ENOENT);
	CU_ASSERT_EQUAL(ctl_json_time(o, "Neg", &t), -EINVAL);
	CU_ASSERT_EQUAL(ctl_json_time(o, "Huge", &t), -EINVAL);
	CU_ASSERT_EQUAL(ctl_json_time(o, "Past", &t), -EINVAL);
	CU_ASSERT_EQUAL(ctl_json_time(o, "Str", &t), -EINVAL);
	CU_ASSERT_EQUAL(ctl_json_time(o, "Null", &t), -EINVAL);
	CU_ASSERT_EQUAL(ctl_json_time(NULL, "Date", &t), -ENOENT);
	CU_ASSERT_EQUAL(t, 42); /* untouched on failure */
	json_decref(o);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"sizes with K/M/G/T suffixes", test_size},
	    {"volume sizes: sector multiple, at least one sector", test_volume_size},
	    {"round up to the sector size", test_round_up},
	    {"key id, ARN, alias, alias ARN, bare alias name", test_key_forms},
	    {"K=V pairs and integer ranges", test_pair_and_int},
	    {"human sizes and ISO 8601 times", test_format},
	    {"zero block detection", test_all_zero},
	    {"KMS answer members: missing, wrong type, out of range", test_answer_members},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"envolctl-parse", NULL, NULL, NULL, NULL, tests},
				 CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
