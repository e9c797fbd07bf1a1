/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_xts.c — the sector cipher (lib/crypto/xts.c and its backends): IEEE 1619-2007
 * XTS-AES-256 known answers, a reference XTS built from AES-256-ECB for 4096-byte sectors and
 * sector numbers above 2^32, multi-sector calls against sector-by-sector calls, and every
 * -EINVAL path.  Every test runs through envol_xts_new() (the selected backend) and once more on
 * each backend usable here (envol_xts_new_backend); further tests compare all backends with each
 * other byte for byte and check names and the process-wide selection (in re-executed children).
 * The self-test and the selection rule themselves are in test_xts_selftest.c.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/macros.h"
#include "unit.h"
#include "crypto/xts.h"

/*
 * IEEE Std 1619-2007, Annex B, Vectors 10 to 14: XTS-AES-256, one 512-byte data unit,
 * Key1 = 2718…7627, Key2 = 3141…4592, plaintext = bytes 00..ff twice, data unit sequence
 * numbers 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff (the tweak is the sequence number
 * as a 128-bit little-endian integer, i.e. dm-crypt's plain64).  Bytes as transcribed in
 * jakcron/libtoolchain test/crypto_Aes256XtsEncryptor_TestClass.cpp
 * (util_Setup_IEEE1619_2007_TestCases); Vector 10 also equals the Linux kernel's
 * crypto/testmgr.h aes_xts_tv_template entry "XTS-AES 10".  They were checked against
 * python3-cryptography before being committed here.
 */
static const char ieee_key_hex[] =
	"2718281828459045235360287471352662497757247093699959574966967627"
	"3141592653589793238462643383279502884197169399375105820974944592";

static const struct {
	uint64_t sector;
	const char *ciphertext_hex;
} ieee_vectors[] = {
	{ 0xffULL,
	  "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b"
	  "5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
	  "5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0"
	  "c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca"
	  "2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0"
	  "b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f"
	  "93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec"
	  "583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a"
	  "84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1"
	  "505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae"
	  "9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
	  "a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac"
	  "6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f"
	  "645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385"
	  "1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa"
	  "773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151" },
	{ 0xffffULL,
	  "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11"
	  "e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2"
	  "469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d"
	  "3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201"
	  "3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179"
	  "8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a"
	  "aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6"
	  "9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80"
	  "470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a"
	  "bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0"
	  "18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75"
	  "bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63"
	  "094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a"
	  "7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68"
	  "6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090"
	  "54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803" },
	{ 0xffffffULL,
	  "e387aaa58ba483afa7e8eb469778317ecf4cf573aa9d4eac23f2cdf914e4e200"
	  "a8b490e42ee646802dc6ee2b471b278195d60918ececb44bf79966f83faba049"
	  "9298ebc699c0c8634715a320bb4f075d622e74c8c932004f25b41e361025b5a8"
	  "7815391f6108fc4afa6a05d9303c6ba68a128a55705d415985832fdeaae6c8e1"
	  "9110e84d1b1f199a2692119edc96132658f09da7c623efcec712537a3d94c0bf"
	  "5d7e352ec94ae5797fdb377dc1551150721adf15bd26a8efc2fcaad56881fa9e"
	  "62462c28f30ae1ceaca93c345cf243b73f542e2074a705bd2643bb9f7cc79bb6"
	  "e7091ea6e232df0f9ad0d6cf502327876d82207abf2115cdacf6d5a48f6c1879"
	  "a65b115f0f8b3cb3c59d15dd8c769bc014795a1837f3901b5845eb491adfefe0"
	  "97b1fa30a12fc1f65ba22905031539971a10f2f36c321bb51331cdefb39e3964"
	  "c7ef079994f5b69b2edd83a71ef549971ee93f44eac3938fcdd61d01fa71799d"
	  "a3a8091c4c48aa9ed263ff0749df95d44fef6a0bb578ec69456aa5408ae32c7a"
	  "f08ad7ba8921287e3bbee31b767be06a0e705c864a769137df28292283ea81a2"
	  "480241b44d9921cdbec1bc28dc1fda114bd8e5217ac9d8ebafa720e9da4f9ace"
	  "231cc949e5b96fe76ffc21063fddc83a6b8679c00d35e09576a875305bed5f36"
	  "ed242c8900dd1fa965bc950dfce09b132263a1eef52dd6888c309f5a7d712826" },
	{ 0xffffffffULL,
	  "bf53d2dade78e822a4d949a9bc6766b01b06a8ef70d26748c6a7fc36d80ae4c5"
	  "520f7c4ab0ac8544424fa405162fef5a6b7f229498063618d39f0003cb5fb8d1"
	  "c86b643497da1ff945c8d3bedeca4f479702a7a735f043ddb1d6aaade3c4a0ac"
	  "7ca7f3fa5279bef56f82cd7a2f38672e824814e10700300a055e1630b8f1cb0e"
	  "919f5e942010a416e2bf48cb46993d3cb6a51c19bacf864785a00bc2ecff15d3"
	  "50875b246ed53e68be6f55bd7e05cfc2b2ed6432198a6444b6d8c247fab941f5"
	  "69768b5c429366f1d3f00f0345b96123d56204c01c63b22ce78baf116e525ed9"
	  "0fdea39fa469494d3866c31e05f295ff21fea8d4e6e13d67e47ce722e9698a1c"
	  "1048d68ebcde76b86fcf976eab8aa9790268b7068e017a8b9b749409514f1053"
	  "027fd16c3786ea1bac5f15cb79711ee2abe82f5cf8b13ae73030ef5b9e4457e7"
	  "5d1304f988d62dd6fc4b94ed38ba831da4b7634971b6cd8ec325d9c61c00f1df"
	  "73627ed3745a5e8489f3a95c69639c32cd6e1d537a85f75cc844726e8a72fc00"
	  "77ad22000f1d5078f6b866318c668f1ad03d5a5fced5219f2eabbd0aa5c0f460"
	  "d183f04404a0d6f469558e81fab24a167905ab4c7878502ad3e38fdbe62a4155"
	  "6cec37325759533ce8f25f367c87bb5578d667ae93f9e2fd99bcbc5f2fbba88c"
	  "f6516139420fcff3b7361d86322c4bd84c82f335abb152c4a93411373aaa8220" },
	{ 0xffffffffffULL,
	  "64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed23"
	  "50eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b80"
	  "8da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604"
	  "e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4"
	  "a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b"
	  "50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434"
	  "631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d8"
	  "76c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff"
	  "3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41b"
	  "f6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f6"
	  "85b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa"
	  "6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abc"
	  "e19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a"
	  "0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd9272120546"
	  "81d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de"
	  "6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9" },
};

/* The backend the current suite runs the tests on (set by the suite's init). */
static enum envol_xts_backend suite_backend = ENVOL_XTS_BACKEND_AUTO;

static int xts_new(const uint8_t *key, size_t key_len, unsigned sector_size, struct envol_xts **ret)
{
	int r;

	if (suite_backend == ENVOL_XTS_BACKEND_AUTO)
		return envol_xts_new(key, key_len, sector_size, ret);
	r = envol_xts_new_backend(key, key_len, sector_size, suite_backend, ret);
	if (r == 0)
		CU_ASSERT_EQUAL(envol_xts_get_backend(*ret), suite_backend);
	return r;
}

static int suite_auto(void)
{
	suite_backend = ENVOL_XTS_BACKEND_AUTO;
	return 0;
}

#define SUITE_INIT(b, B)                                                                           \
	static int suite_##b(void)                                                                 \
	{                                                                                          \
		suite_backend = ENVOL_XTS_BACKEND_##B;                                             \
		return 0;                                                                          \
	}
SUITE_INIT(openssl, OPENSSL)
SUITE_INIT(gcrypt, GCRYPT)
SUITE_INIT(vaes, VAES)

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

static void random_bytes(uint8_t *p, size_t n)
{
	CU_ASSERT_FATAL(RAND_bytes(p, (int)n) == 1);
}

/* A random 64-byte key with distinct halves. */
static void random_key(uint8_t key[ENVOL_XTS_KEY_SIZE])
{
	do
		random_bytes(key, ENVOL_XTS_KEY_SIZE);
	while (memcmp(key, key + 32, 32) == 0);
}

static void test_ieee1619_vectors(void)
{
	uint8_t key[ENVOL_XTS_KEY_SIZE], plain[512], expect[512], buf[512];
	struct envol_xts *x = NULL;

	CU_ASSERT_EQUAL_FATAL(hex_decode(ieee_key_hex, key, sizeof(key)), ENVOL_XTS_KEY_SIZE);
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)i;
	CU_ASSERT_EQUAL_FATAL(xts_new(key, sizeof(key), 512, &x), 0);
	CU_ASSERT_EQUAL(envol_xts_sector_size(x), 512);

	for (size_t v = 0; v < ARRAY_SIZE(ieee_vectors); v++) {
		CU_ASSERT_EQUAL_FATAL(hex_decode(ieee_vectors[v].ciphertext_hex, expect,
						 sizeof(expect)), 512);
		memcpy(buf, plain, sizeof(buf));
		CU_ASSERT_EQUAL(envol_xts_encrypt(x, ieee_vectors[v].sector, buf, sizeof(buf)), 0);
		CU_ASSERT_EQUAL(memcmp(buf, expect, sizeof(buf)), 0);
		CU_ASSERT_EQUAL(envol_xts_decrypt(x, ieee_vectors[v].sector, buf, sizeof(buf)), 0);
		CU_ASSERT_EQUAL(memcmp(buf, plain, sizeof(buf)), 0);
		/* Decrypt straight from the published ciphertext as well. */
		memcpy(buf, expect, sizeof(buf));
		CU_ASSERT_EQUAL(envol_xts_decrypt(x, ieee_vectors[v].sector, buf, sizeof(buf)), 0);
		CU_ASSERT_EQUAL(memcmp(buf, plain, sizeof(buf)), 0);
	}
	/* Off by one sector must not match. */
	CU_ASSERT_EQUAL_FATAL(hex_decode(ieee_vectors[0].ciphertext_hex, expect, sizeof(expect)),
			      512);
	memcpy(buf, plain, sizeof(buf));
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, ieee_vectors[0].sector + 1, buf, sizeof(buf)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(buf, expect, sizeof(buf)), 0);
	envol_xts_free(x);
}

/*
 * Reference XTS-AES-256 (IEEE 1619 section 5.3) from single-block AES-256-ECB: T = E_K2(tweak),
 * then per 16-byte block C = E_K1(P ^ T) ^ T and T = T * alpha in GF(2^128) (little-endian
 * byte order, reduction 0x87).  Whole blocks only, which is all a sector ever is.
 */
static void ref_aes_block(const uint8_t *key32, const uint8_t in[16], uint8_t out[16], int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl = 0;

	CU_ASSERT_FATAL(ctx != NULL);
	CU_ASSERT_FATAL(EVP_CipherInit_ex(ctx, EVP_aes_256_ecb(), NULL, key32, NULL, enc) == 1);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	CU_ASSERT_FATAL(EVP_CipherUpdate(ctx, out, &outl, in, 16) == 1 && outl == 16);
	EVP_CIPHER_CTX_free(ctx);
}

static void ref_xts(const uint8_t key[64], uint64_t sector, uint8_t *buf, size_t len, int enc)
{
	uint8_t t[16] = { 0 }, x[16];

	for (unsigned i = 0; i < 8; i++)
		t[i] = (uint8_t)(sector >> (8 * i));
	ref_aes_block(key + 32, t, t, 1);
	for (size_t off = 0; off < len; off += 16) {
		unsigned carry = 0;

		for (unsigned i = 0; i < 16; i++)
			x[i] = buf[off + i] ^ t[i];
		ref_aes_block(key, x, x, enc);
		for (unsigned i = 0; i < 16; i++)
			buf[off + i] = x[i] ^ t[i];
		for (unsigned i = 0; i < 16; i++) {
			unsigned next = t[i] >> 7;

			t[i] = (uint8_t)((t[i] << 1) | carry);
			carry = next;
		}
		if (carry)
			t[0] ^= 0x87;
	}
}

static void test_reference_sector_sizes(void)
{
	static const uint64_t sectors[] = { 0,
					    1,
					    255,
					    UINT64_C(0xffffffff),
					    UINT64_C(0x100000000),
					    UINT64_C(0x100000001),
					    UINT64_C(0x123456789abcdef0),
					    UINT64_MAX };
	static const unsigned sizes[] = { 512, 4096 };
	uint8_t key[ENVOL_XTS_KEY_SIZE], plain[4096], buf[4096], ref[4096];

	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		unsigned ss = sizes[s];
		struct envol_xts *x = NULL;

		random_key(key);
		CU_ASSERT_EQUAL_FATAL(xts_new(key, sizeof(key), ss, &x), 0);
		for (size_t i = 0; i < ARRAY_SIZE(sectors); i++) {
			random_bytes(plain, ss);
			memcpy(buf, plain, ss);
			memcpy(ref, plain, ss);
			CU_ASSERT_EQUAL(envol_xts_encrypt(x, sectors[i], buf, ss), 0);
			ref_xts(key, sectors[i], ref, ss, 1);
			CU_ASSERT_EQUAL(memcmp(buf, ref, ss), 0);
			CU_ASSERT_NOT_EQUAL(memcmp(buf, plain, ss), 0);
			ref_xts(key, sectors[i], ref, ss, 0);
			CU_ASSERT_EQUAL(memcmp(ref, plain, ss), 0);
			CU_ASSERT_EQUAL(envol_xts_decrypt(x, sectors[i], buf, ss), 0);
			CU_ASSERT_EQUAL(memcmp(buf, plain, ss), 0);
		}
		envol_xts_free(x);
	}
}

/* Sector numbers are 64-bit: 2^32 + n must not encrypt like n (no 32-bit truncation). */
static void test_sector_above_2_32(void)
{
	uint8_t key[ENVOL_XTS_KEY_SIZE], a[4096], b[4096], two[8192];
	struct envol_xts *x = NULL;

	random_key(key);
	CU_ASSERT_EQUAL_FATAL(xts_new(key, sizeof(key), 4096, &x), 0);
	/* Identical plaintext sectors give different ciphertext: the tweak differs. */
	memset(two, 0, sizeof(two));
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, UINT64_C(0x1ffffffff), two, sizeof(two)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(two, two + 4096, 4096), 0);
	memset(a, 0x5a, sizeof(a));
	memset(b, 0x5a, sizeof(b));
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, 7, a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, UINT64_C(0x100000007), b, sizeof(b)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	CU_ASSERT_EQUAL(envol_xts_decrypt(x, UINT64_C(0x100000007), b, sizeof(b)), 0);
	for (size_t i = 0; i < sizeof(b); i++)
		CU_ASSERT_FATAL(b[i] == 0x5a);
	envol_xts_free(x);
}

/* One call over n sectors equals n calls of one sector each, across the 2^32 boundary. */
static void test_multi_sector_equals_single(void)
{
	static const unsigned sizes[] = { 512, 4096 };
	enum { N = 16 };
	uint8_t key[ENVOL_XTS_KEY_SIZE];
	uint8_t *plain = malloc(N * 4096), *all = malloc(N * 4096), *one = malloc(N * 4096);
	const uint64_t first = UINT64_C(0x100000000) - N / 2;

	CU_ASSERT_FATAL(plain && all && one);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		unsigned ss = sizes[s];
		size_t len = (size_t)N * ss;
		struct envol_xts *x = NULL;

		random_key(key);
		random_bytes(plain, len);
		CU_ASSERT_EQUAL_FATAL(xts_new(key, sizeof(key), ss, &x), 0);
		memcpy(all, plain, len);
		memcpy(one, plain, len);
		CU_ASSERT_EQUAL(envol_xts_encrypt(x, first, all, len), 0);
		for (size_t i = 0; i < N; i++)
			CU_ASSERT_EQUAL(envol_xts_encrypt(x, first + i, one + i * ss, ss), 0);
		CU_ASSERT_EQUAL(memcmp(all, one, len), 0);
		for (size_t i = 0; i < N; i++)
			CU_ASSERT_EQUAL(envol_xts_decrypt(x, first + i, all + i * ss, ss), 0);
		CU_ASSERT_EQUAL(memcmp(all, plain, len), 0);
		CU_ASSERT_EQUAL(envol_xts_decrypt(x, first, one, len), 0);
		CU_ASSERT_EQUAL(memcmp(one, plain, len), 0);
		envol_xts_free(x);
	}
	free(plain);
	free(all);
	free(one);
}

static void test_round_trip_4096(void)
{
	enum { N = 64 };
	uint8_t key[ENVOL_XTS_KEY_SIZE];
	uint8_t *plain = malloc(N * 4096), *buf = malloc(N * 4096);
	struct envol_xts *x = NULL;

	CU_ASSERT_FATAL(plain && buf);
	random_key(key);
	random_bytes(plain, N * 4096);
	memcpy(buf, plain, N * 4096);
	CU_ASSERT_EQUAL_FATAL(xts_new(key, sizeof(key), 4096, &x), 0);
	/* The caller's key copy may be wiped: the object holds its own. */
	memset(key, 0, sizeof(key));
	CU_ASSERT_EQUAL(envol_xts_sector_size(x), 4096);
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, 1000, buf, N * 4096), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(buf, plain, N * 4096), 0);
	/* Decrypting at the wrong sector gives garbage, at the right one the plaintext. */
	CU_ASSERT_EQUAL(envol_xts_decrypt(x, 1001, buf, 4096), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(buf, plain, 4096), 0);
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, 1001, buf, 4096), 0);
	CU_ASSERT_EQUAL(envol_xts_decrypt(x, 1000, buf, N * 4096), 0);
	CU_ASSERT_EQUAL(memcmp(buf, plain, N * 4096), 0);
	/* Zero length is a whole number (zero) of sectors. */
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, 0, buf, 0), 0);
	envol_xts_free(x);
	free(plain);
	free(buf);
}

static void test_new_rejects(void)
{
	static const unsigned bad_sizes[] = { 0, 1, 16, 256, 511, 513, 1024, 2048, 4095, 8192 };
	uint8_t key[ENVOL_XTS_KEY_SIZE + 1], eq[ENVOL_XTS_KEY_SIZE];
	struct envol_xts *x = (struct envol_xts *)&x; /* a sentinel: must stay untouched */
	struct envol_xts *const sentinel = x;

	random_key(key);
	for (size_t i = 0; i < ARRAY_SIZE(bad_sizes); i++)
		CU_ASSERT_EQUAL(xts_new(key, ENVOL_XTS_KEY_SIZE, bad_sizes[i], &x), -EINVAL);
	CU_ASSERT_EQUAL(xts_new(key, 0, 512, &x), -EINVAL);
	CU_ASSERT_EQUAL(xts_new(key, 32, 512, &x), -EINVAL);
	CU_ASSERT_EQUAL(xts_new(key, 63, 512, &x), -EINVAL);
	CU_ASSERT_EQUAL(xts_new(key, 65, 4096, &x), -EINVAL);
	CU_ASSERT_EQUAL(xts_new(NULL, ENVOL_XTS_KEY_SIZE, 512, &x), -EINVAL);
	CU_ASSERT_EQUAL(xts_new(key, ENVOL_XTS_KEY_SIZE, 512, NULL), -EINVAL);
	/* Equal halves (IEEE 1619 / OpenSSL refuse them), also all-zero. */
	random_bytes(eq, 32);
	memcpy(eq + 32, eq, 32);
	CU_ASSERT_EQUAL(xts_new(eq, sizeof(eq), 512, &x), -EINVAL);
	CU_ASSERT_EQUAL(xts_new(eq, sizeof(eq), 4096, &x), -EINVAL);
	memset(eq, 0, sizeof(eq));
	CU_ASSERT_EQUAL(xts_new(eq, sizeof(eq), 512, &x), -EINVAL);
	/* Halves differing in one bit of the last byte are fine. */
	eq[63] = 1;
	CU_ASSERT_PTR_EQUAL(x, sentinel);
	CU_ASSERT_EQUAL(xts_new(eq, sizeof(eq), 512, &x), 0);
	CU_ASSERT_PTR_NOT_EQUAL(x, sentinel);
	CU_ASSERT_PTR_NULL(envol_xts_free(x));
	CU_ASSERT_PTR_NULL(envol_xts_free(NULL));
	CU_ASSERT_EQUAL(envol_xts_sector_size(NULL), 0);
}

static void test_crypt_rejects(void)
{
	static const struct {
		unsigned sector_size;
		size_t len;
	} bad[] = { { 512, 1 },	   { 512, 16 },	  { 512, 511 },	 { 512, 513 },
		    { 512, 1000 }, { 4096, 512 }, { 4096, 4095 }, { 4096, 4097 },
		    { 4096, 6144 } };
	uint8_t key[ENVOL_XTS_KEY_SIZE], buf[8192], copy[8192];
	struct envol_xts *x = NULL;

	random_key(key);
	random_bytes(buf, sizeof(buf));
	memcpy(copy, buf, sizeof(buf));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		CU_ASSERT_EQUAL_FATAL(xts_new(key, sizeof(key), bad[i].sector_size, &x), 0);
		CU_ASSERT_EQUAL(envol_xts_encrypt(x, 3, buf, bad[i].len), -EINVAL);
		CU_ASSERT_EQUAL(envol_xts_decrypt(x, 3, buf, bad[i].len), -EINVAL);
		CU_ASSERT_EQUAL(memcmp(buf, copy, sizeof(buf)), 0); /* untouched */
		x = envol_xts_free(x);
	}

	CU_ASSERT_EQUAL_FATAL(xts_new(key, sizeof(key), 4096, &x), 0);
	/* The last sector number would wrap past 2^64 - 1. */
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, UINT64_MAX, buf, 8192), -EINVAL);
	CU_ASSERT_EQUAL(envol_xts_decrypt(x, UINT64_MAX - 1, buf, 8192), 0);
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, UINT64_MAX - 1, buf, 8192), 0);
	CU_ASSERT_EQUAL(memcmp(buf, copy, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(envol_xts_encrypt(NULL, 0, buf, 4096), -EINVAL);
	CU_ASSERT_EQUAL(envol_xts_decrypt(NULL, 0, buf, 4096), -EINVAL);
	CU_ASSERT_EQUAL(envol_xts_encrypt(x, 0, NULL, 4096), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(buf, copy, sizeof(buf)), 0);
	envol_xts_free(x);
}

/* Two objects (e.g. two worker threads) with different keys do not disturb each other. */
static void test_independent_objects(void)
{
	uint8_t k1[ENVOL_XTS_KEY_SIZE], k2[ENVOL_XTS_KEY_SIZE], a[512], b[512], ref[512];
	struct envol_xts *x1 = NULL, *x2 = NULL;

	random_key(k1);
	random_key(k2);
	random_bytes(a, sizeof(a));
	memcpy(b, a, sizeof(a));
	memcpy(ref, a, sizeof(a));
	CU_ASSERT_EQUAL_FATAL(xts_new(k1, sizeof(k1), 512, &x1), 0);
	CU_ASSERT_EQUAL_FATAL(xts_new(k2, sizeof(k2), 512, &x2), 0);
	CU_ASSERT_EQUAL(envol_xts_encrypt(x1, 9, a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(envol_xts_encrypt(x2, 9, b, sizeof(b)), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	ref_xts(k1, 9, ref, sizeof(ref), 1);
	CU_ASSERT_EQUAL(memcmp(a, ref, sizeof(a)), 0);
	envol_xts_free(x1);
	envol_xts_free(x2);
}

/* The backends usable here, in enum order. */
static size_t usable_backends(enum envol_xts_backend out[ENVOL_XTS_BACKEND_MAX])
{
	size_t n = 0;

	for (int b = ENVOL_XTS_BACKEND_AUTO + 1; b < ENVOL_XTS_BACKEND_MAX; b++)
		if (envol_xts_backend_status((enum envol_xts_backend)b, NULL, 0) == 0)
			out[n++] = (enum envol_xts_backend)b;
	return n;
}

/*
 * Every usable backend agrees with every other byte for byte, and each decrypts what another
 * encrypted: random keys, 512 and 4096, one- and many-sector calls, sector numbers near 0, 2^32
 * and 2^64.
 */
static void test_backends_agree(void)
{
	static const unsigned sizes[] = { 512, 4096 };
	/* An odd count: multi-sector calls end with a partial group on batched paths. */
	enum { N = 33 };
	static const uint64_t firsts[] = { 0, UINT64_C(0xfffffff0), UINT64_MAX - (N - 1) };
	enum envol_xts_backend bs[ENVOL_XTS_BACKEND_MAX];
	size_t nb = usable_backends(bs);
	uint8_t key[ENVOL_XTS_KEY_SIZE];
	uint8_t *plain = malloc(N * 4096), *a = malloc(N * 4096), *b = malloc(N * 4096);

	CU_ASSERT_FATAL(plain && a && b);
	/* openssl is everywhere; gcrypt wherever libenvol was built with it. */
	CU_ASSERT_FATAL(nb >= 2);
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (size_t f = 0; f < ARRAY_SIZE(firsts); f++) {
			unsigned ss = sizes[s];
			size_t len = (size_t)N * ss;

			random_key(key);
			random_bytes(plain, len);
			for (size_t i = 0; i < nb; i++) {
				for (size_t j = 0; j < nb; j++) {
					struct envol_xts *xa = NULL, *xb = NULL;

					if (i == j)
						continue;
					CU_ASSERT_EQUAL_FATAL(envol_xts_new_backend(key, sizeof(key), ss,
										    bs[i], &xa), 0);
					CU_ASSERT_EQUAL_FATAL(envol_xts_new_backend(key, sizeof(key), ss,
										    bs[j], &xb), 0);
					CU_ASSERT_EQUAL(envol_xts_get_backend(xa), bs[i]);
					CU_ASSERT_EQUAL(envol_xts_get_backend(xb), bs[j]);
					memcpy(a, plain, len);
					memcpy(b, plain, len);
					CU_ASSERT_EQUAL(envol_xts_encrypt(xa, firsts[f], a, len), 0);
					/* The other one sector at a time, to mix the call patterns. */
					for (size_t k = 0; k < N; k++)
						CU_ASSERT_EQUAL(envol_xts_encrypt(xb, firsts[f] + k,
										  b + k * ss, ss),
								0);
					CU_ASSERT_EQUAL(memcmp(a, b, len), 0);
					CU_ASSERT_NOT_EQUAL(memcmp(a, plain, len), 0);
					/* Cross-decrypt. */
					CU_ASSERT_EQUAL(envol_xts_decrypt(xb, firsts[f], a, len), 0);
					CU_ASSERT_EQUAL(envol_xts_decrypt(xa, firsts[f], b, len), 0);
					CU_ASSERT_EQUAL(memcmp(a, plain, len), 0);
					CU_ASSERT_EQUAL(memcmp(b, plain, len), 0);
					envol_xts_free(xa);
					envol_xts_free(xb);
				}
			}
		}
	}
	free(plain);
	free(a);
	free(b);
}

/* Names round-trip; out-of-range backends are refused; what each backend reports here. */
static void test_backend_names(void)
{
	static const char *const names[] = { "auto", "openssl", "gcrypt", "vaes" };
	uint8_t key[ENVOL_XTS_KEY_SIZE];
	struct envol_xts *x = NULL;
	char why[256];

	CU_ASSERT_EQUAL(ARRAY_SIZE(names), ENVOL_XTS_BACKEND_MAX);
	for (int b = 0; b < ENVOL_XTS_BACKEND_MAX; b++) {
		CU_ASSERT_STRING_EQUAL(envol_xts_backend_to_string((enum envol_xts_backend)b),
				       names[b]);
		CU_ASSERT_EQUAL(envol_xts_backend_from_string(names[b]), b);
	}
	CU_ASSERT_PTR_NULL(envol_xts_backend_to_string(ENVOL_XTS_BACKEND_MAX));
	CU_ASSERT_PTR_NULL(envol_xts_backend_to_string((enum envol_xts_backend)-1));
	CU_ASSERT_EQUAL(envol_xts_backend_from_string("OpenSSL"), ENVOL_XTS_BACKEND_INVALID);
	CU_ASSERT_EQUAL(envol_xts_backend_from_string(""), ENVOL_XTS_BACKEND_INVALID);
	CU_ASSERT_EQUAL(envol_xts_backend_from_string("evp"), ENVOL_XTS_BACKEND_INVALID);
	CU_ASSERT_EQUAL(envol_xts_backend_from_string(NULL), ENVOL_XTS_BACKEND_INVALID);

	random_key(key);
	CU_ASSERT_EQUAL(envol_xts_new_backend(key, sizeof(key), 512, ENVOL_XTS_BACKEND_MAX, &x),
			-EINVAL);
	CU_ASSERT_EQUAL(envol_xts_new_backend(key, sizeof(key), 512, (enum envol_xts_backend)-1,
					      &x),
			-EINVAL);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_EQUAL(envol_xts_get_backend(NULL), ENVOL_XTS_BACKEND_AUTO);
	CU_ASSERT_EQUAL(envol_xts_backend_status(ENVOL_XTS_BACKEND_AUTO, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(envol_xts_backend_status(ENVOL_XTS_BACKEND_MAX, NULL, 0), -EINVAL);

	/* openssl always passes; it says what does the work. */
	CU_ASSERT_EQUAL(envol_xts_backend_status(ENVOL_XTS_BACKEND_OPENSSL, why, sizeof why), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "OpenSSL"));
#ifdef ENVOL_HAVE_GCRYPT
	CU_ASSERT_EQUAL(envol_xts_backend_status(ENVOL_XTS_BACKEND_GCRYPT, why, sizeof why), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "libgcrypt"));
#else
	CU_ASSERT_EQUAL(envol_xts_backend_status(ENVOL_XTS_BACKEND_GCRYPT, why, sizeof why),
			-EOPNOTSUPP);
	CU_ASSERT_STRING_EQUAL(why, "built without libgcrypt");
#endif
	for (int b = ENVOL_XTS_BACKEND_AUTO + 1; b < ENVOL_XTS_BACKEND_MAX; b++) {
		int r = envol_xts_backend_status((enum envol_xts_backend)b, why, sizeof why);

		printf("\n    backend %-9s %s: %s", names[b], r == 0 ? "passed" : "not usable", why);
		/* Nothing fails its self-test on a healthy machine. */
		CU_ASSERT(r == 0 || r == -EOPNOTSUPP);
		/* And an unusable one cannot be used. */
		if (r != 0)
			CU_ASSERT_EQUAL(envol_xts_new_backend(key, sizeof(key), 512,
							      (enum envol_xts_backend)b, &x),
					r);
	}
	printf("\n");
}

/*
 * Child mode (argv[1] == "--select", argv[2] = NAME): envol_xts_select(NAME) in a fresh process,
 * then an envol_xts with the IEEE 1619 key; prints "<select result> <backend chosen> <backend of
 * the object> <first 16 bytes of vector 10 in hex>", and the why line on stderr.  No CUnit here:
 * the parent checks the line.
 */
static int child_select(const char *name)
{
	uint8_t key[ENVOL_XTS_KEY_SIZE], buf[512];
	struct envol_xts *x = NULL;
	char why[1024] = "";
	int r;

	for (size_t i = 0; i < sizeof(key); i++) {
		unsigned v;

		if (sscanf(ieee_key_hex + 2 * i, "%2x", &v) != 1)
			return 2;
		key[i] = (uint8_t)v;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	r = envol_xts_select(name, why, sizeof why);
	fprintf(stderr, "%s\n", why);
	printf("%d %s ", r, envol_xts_backend_to_string(envol_xts_selected()));
	if (envol_xts_new(key, sizeof(key), 512, &x) < 0 ||
	    envol_xts_encrypt(x, ieee_vectors[0].sector, buf, sizeof(buf)) < 0)
		return 1;
	printf("%s ", envol_xts_backend_to_string(envol_xts_get_backend(x)));
	for (size_t i = 0; i < 16; i++)
		printf("%02x", buf[i]);
	printf("\n");
	envol_xts_free(x);
	return 0;
}

/* Runs this program as a child "--select name"; its output line. */
static void run_child(const char *name, char *out, size_t out_size)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int fds[2], status = 0;
	size_t got = 0;
	pid_t pid;

	CU_ASSERT_FATAL(n > 0);
	self[n] = 0;
	CU_ASSERT_FATAL(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(3);
		close(fds[0]);
		close(fds[1]);
		execl(self, self, "--select", name, (char *)NULL);
		_exit(4);
	}
	close(fds[1]);
	while (got + 1 < out_size) {
		ssize_t r = read(fds[0], out + got, out_size - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	out[got] = 0;
	close(fds[0]);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* What auto must pick here: the first of vaes, gcrypt, openssl usable on this machine. */
static const char *auto_expected(void)
{
	if (envol_xts_backend_status(ENVOL_XTS_BACKEND_VAES, NULL, 0) == 0)
		return "vaes";
#ifdef ENVOL_HAVE_GCRYPT
	return "gcrypt";
#else
	return "openssl";
#endif
}

/*
 * envol_xts_select() sets the backend of every later envol_xts_new() in the process; auto picks
 * the preferred usable one; an unknown name changes nothing (auto on first use).  Same
 * ciphertext whichever backend.
 */
static void test_select_in_child(void)
{
	static const char kat[] = "1c3b3a102f770386e4836c99e370cf9b\n";
	enum envol_xts_backend bs[ENVOL_XTS_BACKEND_MAX];
	size_t nb = usable_backends(bs);
	char line[256], want[256];

	for (size_t i = 0; i < nb; i++) {
		const char *name = envol_xts_backend_to_string(bs[i]);

		run_child(name, line, sizeof(line));
		snprintf(want, sizeof want, "0 %s %s %s", name, name, kat);
		CU_ASSERT_STRING_EQUAL(line, want);
	}
	/* auto: the first usable of vaes, gcrypt, openssl. */
	run_child("auto", line, sizeof(line));
	snprintf(want, sizeof want, "0 %s %s %s", auto_expected(), auto_expected(), kat);
	CU_ASSERT_STRING_EQUAL(line, want);
	/* An unknown name: -EINVAL, nothing selected, the first envol_xts_new() takes auto. */
	run_child("aes-ni", line, sizeof(line));
	snprintf(want, sizeof want, "%d auto ", -EINVAL);
	CU_ASSERT_EQUAL(strncmp(line, want, strlen(want)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, kat));
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--select") == 0)
		return child_select(argv[2]);

	CU_TestInfo tests[] = {
		{ "IEEE 1619-2007 vectors 10-14, both directions", test_ieee1619_vectors },
		{ "reference XTS from AES-ECB, 512 and 4096, sectors up to 2^64-1",
		  test_reference_sector_sizes },
		{ "sector numbers above 2^32 are not truncated", test_sector_above_2_32 },
		{ "multi-sector call equals sector-by-sector", test_multi_sector_equals_single },
		{ "round trip at 4096, wrong sector fails", test_round_trip_4096 },
		{ "new: bad sizes, key lengths, equal halves", test_new_rejects },
		{ "encrypt/decrypt: bad len is -EINVAL, buffer untouched", test_crypt_rejects },
		{ "independent objects", test_independent_objects },
		CU_TEST_INFO_NULL,
	};
	CU_TestInfo backend_tests[] = {
		{ "every backend agrees with every other, cross-decrypt", test_backends_agree },
		{ "backend names, status, out-of-range backends", test_backend_names },
		{ "envol_xts_select in a fresh process (children)", test_select_in_child },
		CU_TEST_INFO_NULL,
	};
	/* One suite per backend usable here (test_backend_names says which are, and why not). */
	static const struct {
		enum envol_xts_backend backend;
		const char *name;
		CU_InitializeFunc init;
	} per_backend[] = {
		{ ENVOL_XTS_BACKEND_OPENSSL, "xts (openssl)", suite_openssl },
		{ ENVOL_XTS_BACKEND_GCRYPT, "xts (gcrypt)", suite_gcrypt },
		{ ENVOL_XTS_BACKEND_VAES, "xts (vaes)", suite_vaes },
	};
	CU_SuiteInfo suites[ARRAY_SIZE(per_backend) + 3] = {
		{ "xts (envol_xts_new, selected backend)", suite_auto, NULL, NULL, NULL, tests },
	};
	size_t n = 1;
	char why[256];

	for (size_t i = 0; i < ARRAY_SIZE(per_backend); i++) {
		if (envol_xts_backend_status(per_backend[i].backend, why, sizeof why) < 0) {
			printf("%s: skipped, not usable here: %s\n", per_backend[i].name, why);
			continue;
		}
		suites[n++] = (CU_SuiteInfo){ per_backend[i].name, per_backend[i].init, NULL, NULL,
					      NULL, tests };
	}
	suites[n++] = (CU_SuiteInfo){ "xts backends", suite_auto, NULL, NULL, NULL, backend_tests };
	suites[n] = (CU_SuiteInfo)CU_SUITE_INFO_NULL;
	return unit_run(suites);
}
