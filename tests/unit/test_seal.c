/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_seal.c — AES-256-GCM sealing (lib/crypto/seal.c): the GCM specification's AES-256 test
 * case 16 (McGrew and Viega; checked with python3-cryptography's AESGCM), AAD given in parts,
 * every way a tag must fail to verify, plaintext wiped on failure, fresh nonces, length checks.
 */
#include <errno.h>
#include <string.h>

#include "crypto/seal.h"
#include "unit.h"
#include "util/encoding.h"

static const char key_hex[] = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char pt_hex[] =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
    "49a6b525b16aedf5aa0de657ba637b39";
static const char aad_hex[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char nonce_hex[] = "cafebabefacedbaddecaf888";
static const char ct_hex[] =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
    "56828838c5f61e6393ba7a0abcc9f662";
static const char tag_hex[] = "76fc6ece0f4e1768cddf8853bb2d551b";

#define PT_LEN 60
#define AAD_LEN 20

static uint8_t key[32], pt[PT_LEN], aad[AAD_LEN], nonce[12], ct[PT_LEN], tag[16];

static void load_vector(void)
{
	CU_ASSERT_EQUAL_FATAL(envol_hex_decode(key_hex, strlen(key_hex), key, sizeof key), 0);
	CU_ASSERT_EQUAL_FATAL(envol_hex_decode(pt_hex, strlen(pt_hex), pt, sizeof pt), 0);
	CU_ASSERT_EQUAL_FATAL(envol_hex_decode(aad_hex, strlen(aad_hex), aad, sizeof aad), 0);
	CU_ASSERT_EQUAL_FATAL(envol_hex_decode(nonce_hex, strlen(nonce_hex), nonce, sizeof nonce),
			      0);
	CU_ASSERT_EQUAL_FATAL(envol_hex_decode(ct_hex, strlen(ct_hex), ct, sizeof ct), 0);
	CU_ASSERT_EQUAL_FATAL(envol_hex_decode(tag_hex, strlen(tag_hex), tag, sizeof tag), 0);
}

static void test_known_answer(void)
{
	const struct envol_seal_aad one[] = {{aad, AAD_LEN}};
	uint8_t got_ct[PT_LEN], got_tag[16], got_pt[PT_LEN];

	load_vector();
	CU_ASSERT_EQUAL(envol_seal(key, nonce, one, 1, pt, PT_LEN, got_ct, got_tag), 0);
	CU_ASSERT_EQUAL(memcmp(got_ct, ct, PT_LEN), 0);
	CU_ASSERT_EQUAL(memcmp(got_tag, tag, 16), 0);
	CU_ASSERT_EQUAL(envol_seal_open(key, nonce, one, 1, ct, PT_LEN, tag, got_pt), 0);
	CU_ASSERT_EQUAL(memcmp(got_pt, pt, PT_LEN), 0);
}

/* The AAD is the concatenation of its parts, wherever they are cut. */
static void test_aad_parts(void)
{
	uint8_t got_ct[PT_LEN], got_tag[16], got_pt[PT_LEN];

	load_vector();
	for (size_t cut = 0; cut <= AAD_LEN; cut++) {
		const struct envol_seal_aad parts[] = {
		    {aad, cut}, {NULL, 0}, {aad + cut, AAD_LEN - cut}};

		CU_ASSERT_EQUAL(envol_seal(key, nonce, parts, 3, pt, PT_LEN, got_ct, got_tag), 0);
		CU_ASSERT_EQUAL(memcmp(got_tag, tag, 16), 0);
		CU_ASSERT_EQUAL(envol_seal_open(key, nonce, parts, 3, ct, PT_LEN, tag, got_pt), 0);
		CU_ASSERT_EQUAL(memcmp(got_pt, pt, PT_LEN), 0);
	}
}

static int open_wiped(const uint8_t *k, const uint8_t *n, const struct envol_seal_aad *a,
		      size_t n_aad, const uint8_t *c, const uint8_t *t)
{
	uint8_t out[PT_LEN], zero[PT_LEN] = {0};
	int r;

	memset(out, 0xa5, sizeof out);
	r = envol_seal_open(k, n, a, n_aad, c, PT_LEN, t, out);
	CU_ASSERT_EQUAL(memcmp(out, zero, PT_LEN), 0); /* nothing unauthenticated is left */
	return r;
}

static void test_tamper(void)
{
	const struct envol_seal_aad one[] = {{aad, AAD_LEN}};
	uint8_t k2[32], n2[12], c2[PT_LEN], t2[16], a2[AAD_LEN];

	load_vector();
	memcpy(k2, key, 32);
	k2[31] ^= 1;
	CU_ASSERT_EQUAL(open_wiped(k2, nonce, one, 1, ct, tag), -EBADMSG);
	memcpy(n2, nonce, 12);
	n2[0] ^= 0x80;
	CU_ASSERT_EQUAL(open_wiped(key, n2, one, 1, ct, tag), -EBADMSG);
	memcpy(c2, ct, PT_LEN);
	c2[PT_LEN - 1] ^= 1;
	CU_ASSERT_EQUAL(open_wiped(key, nonce, one, 1, c2, tag), -EBADMSG);
	memcpy(t2, tag, 16);
	t2[7] ^= 4;
	CU_ASSERT_EQUAL(open_wiped(key, nonce, one, 1, ct, t2), -EBADMSG);
	memcpy(a2, aad, AAD_LEN);
	a2[0] ^= 1;
	CU_ASSERT_EQUAL(
	    open_wiped(key, nonce, (struct envol_seal_aad[]){{a2, AAD_LEN}}, 1, ct, tag), -EBADMSG);
	CU_ASSERT_EQUAL(open_wiped(key, nonce, NULL, 0, ct, tag), -EBADMSG); /* AAD dropped */
}

static void test_nonce_and_lengths(void)
{
	uint8_t n1[12], n2[12], t[16], out[1];

	load_vector();
	CU_ASSERT_EQUAL(envol_seal_nonce(n1), 0);
	CU_ASSERT_EQUAL(envol_seal_nonce(n2), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(n1, n2, 12), 0);
	/* an empty message still carries a tag that binds key, nonce and AAD */
	CU_ASSERT_EQUAL(envol_seal(key, n1, NULL, 0, NULL, 0, NULL, t), 0);
	CU_ASSERT_EQUAL(envol_seal_open(key, n1, NULL, 0, NULL, 0, t, out), 0);
	CU_ASSERT_EQUAL(envol_seal_open(key, n2, NULL, 0, NULL, 0, t, out), -EBADMSG);
	/* lengths OpenSSL cannot take are refused before any byte is touched */
	CU_ASSERT_EQUAL(envol_seal(key, n1, NULL, 0, pt, (size_t)INT32_MAX + 1, ct, t), -EINVAL);
	CU_ASSERT_EQUAL(envol_seal(key, n1, (struct envol_seal_aad[]){{aad, (size_t)INT32_MAX + 1}},
				   1, pt, PT_LEN, ct, t),
			-EINVAL);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"GCM spec test case 16 (AES-256, with AAD)", test_known_answer},
	    {"AAD in parts is their concatenation", test_aad_parts},
	    {"key, nonce, ciphertext, tag or AAD changed: -EBADMSG, output wiped", test_tamper},
	    {"fresh nonces, empty message, length limits", test_nonce_and_lengths},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"seal", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
