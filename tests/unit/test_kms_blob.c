/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_blob.c — the pure parts of the KMS core against an independent implementation:
 * CiphertextBlob v1 and the root-key sealing, with vectors made by python3-cryptography's
 * AESGCM (see the comments), the canonical encryption context, and the blob parser's bounds.
 */
#include <string.h>

#include "crypto/seal.h"
#include "kms/blob.h"
#include "kms/request.h"
#include "kms/root_key.h"
#include "unit.h"

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static const char *const id_text = "11111111-2222-4333-8444-555555555555";
static const uint8_t id_bin[16] = {0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x43, 0x33,
				   0x84, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};

/*
 * python3: hdr = b'EVK\x01' + uuid.bytes + struct.pack('>I', 2) + bytes(range(0xa0, 0xac));
 * blob = hdr + AESGCM(bytes(range(32))).encrypt(nonce, b'envol known answer', hdr + canon)
 * with canon the canonical form of {"envol:volume-id":"vol-1","b":"2"}.
 */
static const char canon_hex[] =
    "00000002000000016200000001320000000f656e766f6c3a766f6c756d652d696400000005766f6c2d31";
static const char blob_hex[] =
    "45564b011111111122224333844455555555555500000002a0a1a2a3a4a5a6a7a8a9aaab83760a4229eb69"
    "d10d12e9f36614b3a915de32faebdf9c443ca36454ff7b258f7e0b";
/* nonce bytes(range(12)) || AESGCM(bytes(range(32))).encrypt(nonce, b'\x55'*32, id || u32 2) */
static const char sealed_hex[] =
    "000102030405060708090a0b1257834e90b0974ed814c2dee4bc2d38d683d261a52e0a296d32b0d0483c55e7"
    "8324df6e09efb1b72bbe73652fd56aaa";

static void key32(uint8_t k[32])
{
	for (int i = 0; i < 32; i++)
		k[i] = (uint8_t)i;
}

static void test_canonical_context(void)
{
	const char *keys[] = {"b", "envol:volume-id"}, *values[] = {"2", "vol-1"};
	uint8_t want[64], *got = NULL;
	size_t wn = unhex(canon_hex, want), gn = 0;

	CU_ASSERT_EQUAL(kms_context_canonical(keys, values, 2, &got, &gn), 0);
	CU_ASSERT_EQUAL(gn, wn);
	CU_ASSERT(gn == wn && memcmp(got, want, wn) == 0);
	free(got);
	CU_ASSERT_EQUAL(kms_context_canonical(NULL, NULL, 0, &got, &gn), 0);
	CU_ASSERT_EQUAL(gn, 4);
	CU_ASSERT(memcmp(got, "\0\0\0\0", 4) == 0);
	free(got);
}

static void test_blob_known_answer(void)
{
	uint8_t key[32], blob[128], canon[64], out[64], ct[64], tag[16];
	size_t bn = unhex(blob_hex, blob), cn = unhex(canon_hex, canon);
	struct kms_blob b;

	key32(key);
	CU_ASSERT_EQUAL_FATAL(kms_blob_parse(blob, bn, &b), 0);
	CU_ASSERT_EQUAL(b.key_version, 2);
	CU_ASSERT_EQUAL(memcmp(b.key_id, id_bin, 16), 0);
	CU_ASSERT_EQUAL(b.ciphertext_len, 18);
	CU_ASSERT_EQUAL(kms_blob_open(key, &b, canon, cn, out), 0);
	CU_ASSERT_EQUAL(memcmp(out, "envol known answer", 18), 0);
	/* our GCM with the same nonce gives the same bytes */
	CU_ASSERT_EQUAL(envol_seal(key, b.nonce,
				   (struct envol_seal_aad[]){{blob, KMS_BLOB_HEADER_LEN}, {canon, cn}},
				   2, (const uint8_t *)"envol known answer", 18, ct, tag),
			0);
	CU_ASSERT_EQUAL(memcmp(ct, b.ciphertext, 18), 0);
	CU_ASSERT_EQUAL(memcmp(tag, b.tag, 16), 0);
	/* wrong context, wrong key */
	CU_ASSERT_EQUAL(kms_blob_open(key, &b, NULL, 0, out), -EBADMSG);
	key[0] ^= 1;
	CU_ASSERT_EQUAL(kms_blob_open(key, &b, canon, cn, out), -EBADMSG);
}

static void test_seal_roundtrip(void)
{
	uint8_t key[32], *blob = NULL, out[100];
	size_t n = 0;
	struct kms_blob b;

	key32(key);
	CU_ASSERT_EQUAL(
	    kms_blob_seal(key, id_bin, 9, NULL, 0, (const uint8_t *)"abc", 3, &blob, &n), 0);
	CU_ASSERT_EQUAL(n, 3 + KMS_BLOB_OVERHEAD);
	CU_ASSERT_EQUAL(memcmp(blob, "EVK\x01", 4), 0);
	CU_ASSERT_EQUAL_FATAL(kms_blob_parse(blob, n, &b), 0);
	CU_ASSERT_EQUAL(b.key_version, 9);
	CU_ASSERT_EQUAL(kms_blob_open(key, &b, NULL, 0, out), 0);
	CU_ASSERT_EQUAL(memcmp(out, "abc", 3), 0);
	free(blob);
	CU_ASSERT_EQUAL(kms_blob_seal(key, id_bin, 0, NULL, 0, (const uint8_t *)"a", 1, &blob, &n),
			-EINVAL);
	CU_ASSERT_EQUAL(kms_blob_seal(key, id_bin, 1, NULL, 0, (const uint8_t *)"a", 0, &blob, &n),
			-EINVAL);
}

static void test_parse_bounds(void)
{
	uint8_t buf[KMS_MAX_CIPHERTEXT + 2] = {'E', 'V', 'K', 1};
	struct kms_blob b;

	buf[23] = 1;							       /* version 1 */
	CU_ASSERT_EQUAL(kms_blob_parse(buf, KMS_BLOB_OVERHEAD, &b), -EBADMSG); /* empty ct */
	CU_ASSERT_EQUAL(kms_blob_parse(buf, KMS_BLOB_OVERHEAD + 1, &b), 0);
	CU_ASSERT_EQUAL(kms_blob_parse(buf, KMS_MAX_CIPHERTEXT, &b), 0);
	CU_ASSERT_EQUAL(kms_blob_parse(buf, KMS_MAX_CIPHERTEXT + 1, &b), -EBADMSG);
	CU_ASSERT_EQUAL(kms_blob_parse(NULL, 0, &b), -EBADMSG);
	buf[3] = 2; /* unknown format version */
	CU_ASSERT_EQUAL(kms_blob_parse(buf, 100, &b), -EBADMSG);
	buf[3] = 1;
	buf[23] = 0; /* key version 0 */
	CU_ASSERT_EQUAL(kms_blob_parse(buf, 100, &b), -EBADMSG);
}

static void test_root_sealing(void)
{
	uint8_t root[32], sealed[KMS_SEALED_LEN], m[32], want[32];
	size_t n = unhex(sealed_hex, sealed);

	key32(root);
	memset(want, 0x55, sizeof want);
	CU_ASSERT_EQUAL_FATAL(n, KMS_SEALED_LEN);
	CU_ASSERT_EQUAL(kms_root_key_unseal(root, id_bin, 2, sealed, n, m), 0);
	CU_ASSERT_EQUAL(memcmp(m, want, 32), 0);
	/* AAD binds id and version */
	CU_ASSERT_EQUAL(kms_root_key_unseal(root, id_bin, 3, sealed, n, m), -EBADMSG);
	CU_ASSERT_EQUAL(kms_root_key_seal(root, id_bin, 4, want, sealed), 0);
	CU_ASSERT_EQUAL(kms_root_key_unseal(root, id_bin, 4, sealed, n, m), 0);
	CU_ASSERT_EQUAL(memcmp(m, want, 32), 0);
	(void)id_text;
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"canonical encryption context", test_canonical_context},
	    {"blob v1 known answer (python3-cryptography AESGCM)", test_blob_known_answer},
	    {"seal/parse/open round trip", test_seal_roundtrip},
	    {"parser bounds", test_parse_bounds},
	    {"root-key sealing known answer, AAD binds id and version", test_root_sealing},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms_blob", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
