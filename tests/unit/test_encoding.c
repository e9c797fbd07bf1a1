/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_encoding.c — base64 (RFC 4648 section 10 vectors, strictness), hex, UUIDs. */
#include <string.h>

#include "util/encoding.h"
#include "unit.h"

static void test_base64_rfc4648(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = { "",	 "Zg==",     "Zm8=",    "Zm9v",
					     "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

	for (size_t i = 0; i < 7; i++) {
		char *e = envol_base64_encode((const uint8_t *)plain[i], strlen(plain[i]));
		uint8_t *d = NULL;
		size_t n = 0;

		CU_ASSERT_STRING_EQUAL(e, coded[i]);
		CU_ASSERT_EQUAL(envol_base64_decode(coded[i], strlen(coded[i]), &d, &n), 0);
		CU_ASSERT_EQUAL(n, strlen(plain[i]));
		CU_ASSERT(n == 0 || memcmp(d, plain[i], n) == 0);
		free(e);
		free(d);
	}
}

static void test_base64_rejects(void)
{
	static const char *const bad[] = { "Zg=",  "Zg=a", "Z===", "Zh==", "Zm9=", "Zm 9v",
					   "Zm9v\n", "=Zg=", "Zm9vYmE*", "Zg==Zg==" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t *d = NULL;
		size_t n = 0;

		CU_ASSERT_EQUAL(envol_base64_decode(bad[i], strlen(bad[i]), &d, &n), -EINVAL);
		CU_ASSERT_PTR_NULL(d);
	}
}

static void test_uuid(void)
{
	uint8_t u[16], v[16];
	char s[37];

	CU_ASSERT_EQUAL(envol_uuid_generate(u), 0);
	CU_ASSERT_EQUAL(u[6] >> 4, 4);
	CU_ASSERT_EQUAL(u[8] & 0xc0, 0x80);
	envol_uuid_format(u, s);
	CU_ASSERT_EQUAL(strlen(s), 36);
	CU_ASSERT_EQUAL(envol_uuid_parse(s, v), 0);
	CU_ASSERT_EQUAL(memcmp(u, v, 16), 0);
	CU_ASSERT_EQUAL(envol_uuid_parse("0123456789abcdef0123456789abcdef0123", v), -EINVAL);
	CU_ASSERT_EQUAL(envol_uuid_parse("01234567-89ab-cdef-0123-456789abcdeg", v), -EINVAL);
	CU_ASSERT_EQUAL(envol_uuid_parse("01234567-89ab-cdef-0123-456789abcde", v), -EINVAL);
	CU_ASSERT_EQUAL(envol_uuid_parse("01234567-89AB-cdef-0123-456789abcdef", v), 0);
	CU_ASSERT_EQUAL(v[5], 0xab);
}

static void test_hex(void)
{
	static const uint8_t b[] = { 0x00, 0x7f, 0xa5, 0xff };
	char out[9];

	envol_hex_encode(b, 4, out);
	CU_ASSERT_STRING_EQUAL(out, "007fa5ff");
}

static void test_hex_decode(void)
{
	static const uint8_t want[] = { 0x00, 0x7f, 0xa5, 0xff, 0x1c };
	uint8_t d[5];

	CU_ASSERT_EQUAL(envol_hex_decode("007fA5fF1c", 10, d, 5), 0);
	CU_ASSERT_EQUAL(memcmp(d, want, 5), 0);
	CU_ASSERT_EQUAL(envol_hex_decode("", 0, d, 0), 0);
	/* Failures leave the output untouched. */
	memset(d, 0xee, sizeof d);
	CU_ASSERT_EQUAL(envol_hex_decode("007fa5ff1", 9, d, 5), -EINVAL);
	CU_ASSERT_EQUAL(envol_hex_decode("007fa5ff", 8, d, 5), -EINVAL);
	CU_ASSERT_EQUAL(envol_hex_decode("007fa5ff1c00", 12, d, 5), -EINVAL);
	CU_ASSERT_EQUAL(envol_hex_decode("007fa5ff1g", 10, d, 5), -EINVAL);
	CU_ASSERT_EQUAL(envol_hex_decode("g07fa5ff1c", 10, d, 5), -EINVAL);
	CU_ASSERT_EQUAL(envol_hex_decode("007f a5ff1", 10, d, 5), -EINVAL);
	CU_ASSERT_EQUAL(envol_hex_decode("00\0fa5ff1c", 10, d, 5), -EINVAL);
	for (size_t i = 0; i < sizeof d; i++)
		CU_ASSERT_EQUAL(d[i], 0xee);
	/* Round trip of every byte value. */
	uint8_t all[256], back[256];
	char text[513];

	for (size_t i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	envol_hex_encode(all, 256, text);
	CU_ASSERT_EQUAL(envol_hex_decode(text, 512, back, 256), 0);
	CU_ASSERT_EQUAL(memcmp(all, back, 256), 0);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "base64 RFC 4648 vectors", test_base64_rfc4648 },
		{ "base64 rejects non-canonical input", test_base64_rejects },
		{ "uuid v4 generate, format, parse", test_uuid },
		{ "hex", test_hex },
		{ "hex decode: both cases, strict length and digits", test_hex_decode },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = { { "encoding", NULL, NULL, NULL, NULL, tests }, CU_SUITE_INFO_NULL };
	return unit_run(suites);
}
