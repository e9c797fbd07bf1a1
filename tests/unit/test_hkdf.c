/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_hkdf.c — HKDF-SHA256 (RFC 5869 Appendix A, test cases 1-3: PRK and OKM, through the
 * one-shot call and through extract + expand) and HMAC-SHA256 (RFC 4231 test cases 1-4),
 * plus argument checks and "output untouched on failure".
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/macros.h"
#include "crypto/hkdf.h"
#include "unit.h"

static size_t hex_decode(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2;

	CU_ASSERT_FATAL(strlen(hex) % 2 == 0 && n <= max);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		CU_ASSERT_FATAL(sscanf(hex + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void fill_range(uint8_t *p, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		p[i - from] = (uint8_t)i;
}

/* RFC 5869, Appendix A.1 to A.3 (the SHA-256 cases). */
static const struct {
	const char *prk;
	const char *okm;
} rfc5869[] = {
	{ "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
	  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	  "34007208d5b887185865" },
	{ "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
	  "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	  "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	  "cc30c58179ec3e87c14c01d5c1f3434f1d87" },
	{ "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
	  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	  "9d201395faa4b61a96c8" },
};

struct hkdf_input {
	uint8_t ikm[80], salt[80], info[80];
	size_t ikm_len, salt_len, info_len;
};

static void rfc5869_input(size_t tc, struct hkdf_input *in)
{
	memset(in, 0, sizeof(*in));
	switch (tc) {
	case 0: /* A.1: basic test case */
		memset(in->ikm, 0x0b, 22);
		in->ikm_len = 22;
		fill_range(in->salt, 0x00, 0x0d);
		in->salt_len = 13;
		fill_range(in->info, 0xf0, 0xfa);
		in->info_len = 10;
		break;
	case 1: /* A.2: longer inputs and outputs */
		fill_range(in->ikm, 0x00, 0x50);
		in->ikm_len = 80;
		fill_range(in->salt, 0x60, 0xb0);
		in->salt_len = 80;
		fill_range(in->info, 0xb0, 0x100);
		in->info_len = 80;
		break;
	default: /* A.3: zero-length salt and info */
		memset(in->ikm, 0x0b, 22);
		in->ikm_len = 22;
		break;
	}
}

static void test_rfc5869(void)
{
	for (size_t tc = 0; tc < ARRAY_SIZE(rfc5869); tc++) {
		uint8_t prk[32], okm[82], got[82], prk_got[32];
		struct hkdf_input in;
		size_t okm_len;

		rfc5869_input(tc, &in);
		CU_ASSERT_EQUAL_FATAL(hex_decode(rfc5869[tc].prk, prk, sizeof(prk)), 32);
		okm_len = hex_decode(rfc5869[tc].okm, okm, sizeof(okm));
		CU_ASSERT_EQUAL(okm_len, tc == 1 ? 82 : 42);

		memset(got, 0, sizeof(got));
		CU_ASSERT_EQUAL(envol_hkdf_sha256(in.salt_len ? in.salt : NULL, in.salt_len, in.ikm,
						  in.ikm_len, in.info_len ? in.info : NULL,
						  in.info_len, got, okm_len),
				0);
		CU_ASSERT_EQUAL(memcmp(got, okm, okm_len), 0);

		CU_ASSERT_EQUAL(envol_hkdf_sha256_extract(in.salt, in.salt_len, in.ikm, in.ikm_len,
							  prk_got),
				0);
		CU_ASSERT_EQUAL(memcmp(prk_got, prk, 32), 0);

		memset(got, 0, sizeof(got));
		CU_ASSERT_EQUAL(envol_hkdf_sha256_expand(prk, sizeof(prk), in.info, in.info_len,
							 got, okm_len),
				0);
		CU_ASSERT_EQUAL(memcmp(got, okm, okm_len), 0);

		/* A shorter L gives a prefix of the same OKM (RFC 5869 section 2.3). */
		memset(got, 0, sizeof(got));
		CU_ASSERT_EQUAL(envol_hkdf_sha256(in.salt, in.salt_len, in.ikm, in.ikm_len, in.info,
						  in.info_len, got, 33),
				0);
		CU_ASSERT_EQUAL(memcmp(got, okm, 33), 0);
		CU_ASSERT_EQUAL(got[33], 0);
	}
}

/* RFC 5869 section 2.2: an absent salt is HashLen zeros, the same as an explicit one. */
static void test_salt_zeros(void)
{
	uint8_t ikm[22], zeros[32] = { 0 }, a[64], b[64];

	memset(ikm, 0x0b, sizeof(ikm));
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(envol_hkdf_sha256(zeros, sizeof(zeros), ikm, sizeof(ikm), NULL, 0, b,
					  sizeof(b)),
			0);
	CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	/* Different info gives unrelated output. */
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), (const uint8_t *)"x", 1, b,
					  sizeof(b)),
			0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
}

static void test_hkdf_rejects(void)
{
	uint8_t ikm[32] = { 1 }, prk[32] = { 2 }, out[ENVOL_HKDF_SHA256_MAX_OUT + 1];
	uint8_t b[ENVOL_HKDF_SHA256_MAX_OUT];

	memset(out, 0xa5, sizeof(out));
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out, 0), -EINVAL);
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out,
					  ENVOL_HKDF_SHA256_MAX_OUT + 1),
			-EINVAL);
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, NULL, 32), -EINVAL);
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 5, ikm, sizeof(ikm), NULL, 0, out, 32), -EINVAL);
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, NULL, 5, NULL, 0, out, 32), -EINVAL);
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 5, out, 32), -EINVAL);
	CU_ASSERT_EQUAL(envol_hkdf_sha256_expand(prk, 31, NULL, 0, out, 32), -EINVAL);
	CU_ASSERT_EQUAL(envol_hkdf_sha256_expand(NULL, 32, NULL, 0, out, 32), -EINVAL);
	for (size_t i = 0; i < sizeof(out); i++)
		CU_ASSERT_FATAL(out[i] == 0xa5); /* untouched on failure */

	/* The maximum, 255 * HashLen, works; expand agrees with the one-shot call. */
	CU_ASSERT_EQUAL(envol_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out,
					  ENVOL_HKDF_SHA256_MAX_OUT),
			0);
	CU_ASSERT_EQUAL(envol_hkdf_sha256_extract(NULL, 0, ikm, sizeof(ikm), prk), 0);
	CU_ASSERT_EQUAL(envol_hkdf_sha256_expand(prk, sizeof(prk), NULL, 0, b, sizeof(b)), 0);
	CU_ASSERT_EQUAL(memcmp(out, b, sizeof(b)), 0);
	CU_ASSERT_EQUAL(out[ENVOL_HKDF_SHA256_MAX_OUT], 0xa5);
}

/* RFC 4231 section 4.2 to 4.5, HMAC-SHA-256 results. */
static void test_rfc4231(void)
{
	static const char *const mac[] = {
		"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
		"82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
	};
	uint8_t key[25], data[50], expect[32], got[32];
	size_t key_len = 0, data_len = 0;

	for (size_t tc = 0; tc < ARRAY_SIZE(mac); tc++) {
		switch (tc) {
		case 0: /* 4.2 */
			memset(key, 0x0b, 20);
			key_len = 20;
			memcpy(data, "Hi There", 8);
			data_len = 8;
			break;
		case 1: /* 4.3: key shorter than the output */
			memcpy(key, "Jefe", 4);
			key_len = 4;
			memcpy(data, "what do ya want for nothing?", 28);
			data_len = 28;
			break;
		case 2: /* 4.4 */
			memset(key, 0xaa, 20);
			key_len = 20;
			memset(data, 0xdd, 50);
			data_len = 50;
			break;
		default: /* 4.5 */
			fill_range(key, 0x01, 0x1a);
			key_len = 25;
			memset(data, 0xcd, 50);
			data_len = 50;
			break;
		}
		CU_ASSERT_EQUAL_FATAL(hex_decode(mac[tc], expect, sizeof(expect)), 32);
		memset(got, 0, sizeof(got));
		CU_ASSERT_EQUAL(envol_hmac_sha256(key, key_len, data, data_len, got), 0);
		CU_ASSERT_EQUAL(memcmp(got, expect, 32), 0);
	}
}

static void test_hmac_edges(void)
{
	/* HMAC-SHA256 with empty key and empty message (checked with Python's hmac module). */
	static const char empty[] =
		"b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
	uint8_t expect[32], got[32], prk[32], key[200];

	CU_ASSERT_EQUAL_FATAL(hex_decode(empty, expect, sizeof(expect)), 32);
	CU_ASSERT_EQUAL(envol_hmac_sha256(NULL, 0, NULL, 0, got), 0);
	CU_ASSERT_EQUAL(memcmp(got, expect, 32), 0);

	/* HKDF-Extract is HMAC(salt, IKM): the two modules agree, also for keys > block size. */
	memset(key, 0x3c, sizeof(key));

	CU_ASSERT_EQUAL(envol_hmac_sha256(key, sizeof(key), (const uint8_t *)"ikm", 3, got), 0);
	CU_ASSERT_EQUAL(envol_hkdf_sha256_extract(key, sizeof(key), (const uint8_t *)"ikm", 3, prk),
			0);
	CU_ASSERT_EQUAL(memcmp(got, prk, 32), 0);

	memset(got, 0x77, sizeof(got));
	CU_ASSERT_EQUAL(envol_hmac_sha256(NULL, 1, NULL, 0, got), -EINVAL);
	CU_ASSERT_EQUAL(envol_hmac_sha256(key, 1, NULL, 1, got), -EINVAL);
	CU_ASSERT_EQUAL(envol_hmac_sha256(key, 1, key, 1, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(got); i++)
		CU_ASSERT(got[i] == 0x77);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "RFC 5869 test cases 1-3 (PRK, OKM, extract+expand)", test_rfc5869 },
		{ "absent salt equals HashLen zeros", test_salt_zeros },
		{ "HKDF argument checks, maximum length", test_hkdf_rejects },
		{ "RFC 4231 HMAC-SHA256 test cases 1-4", test_rfc4231 },
		{ "HMAC empty key/message, agrees with extract, argument checks", test_hmac_edges },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = { { "hkdf", NULL, NULL, NULL, NULL, tests }, CU_SUITE_INFO_NULL };
	return unit_run(suites);
}
