/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_xts_selftest.c — the sector cipher's start-up self-test and selection rule
 * (lib/crypto/xts-selftest.c, sector_cipher_choose() in xts.c): every real backend passes;
 * deliberately broken backends (wrong above 2^32, wrong in one IEEE vector, wrong only in
 * many-sector calls, wrong only when decrypting, wrong only at 4096) fail with a reason; a
 * backend whose probe says no is "not usable"; the reference XTS matches IEEE 1619 vector 10;
 * the choice falls back, in preference order, past unusable and failed backends; and
 * server.cipher_backend in envol.conf takes exactly the backend names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/sector_cipher.h"
#include "unit.h"
#include "util/config.h"
#include "util/macros.h"

/* ---- broken backends: the openssl backend with one fault each ------------------------------ */

enum fault {
	FAULT_ABOVE_2_32,  /* one bit flipped in sectors >= 2^32 */
	FAULT_ABOVE_2_48,  /* one bit flipped in sectors >= 2^48, beyond every IEEE vector */
	FAULT_TRUNC32,     /* the tweak from the low 32 bits of the sector number only */
	FAULT_VECTOR_12,   /* one bit flipped in sector 0xffffff (IEEE vector 12) */
	FAULT_MULTI,       /* many-sector calls reuse the first sector's tweak */
	FAULT_DECRYPT,     /* decryption flips a bit */
	FAULT_4096,        /* 4096-byte sectors: the last byte of each sector flipped */
	FAULT_PROBE,       /* the probe says no */
	FAULT_KEY,         /* keying fails */
};
static enum fault fault;

static int broken_probe(const char **ret_why)
{
	if (fault == FAULT_PROBE) {
		*ret_why = "CPU lacks the instructions";
		return -EOPNOTSUPP;
	}
	return sector_cipher_openssl.probe(ret_why);
}

static const char *broken_describe(void)
{
	return "a broken backend";
}

static int broken_new(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret)
{
	if (fault == FAULT_KEY)
		return -EIO;
	return sector_cipher_openssl.new_state(key, ret);
}

static void broken_free(void *state)
{
	sector_cipher_openssl.free_state(state);
}

static int broken_crypt(void *state, bool enc, uint64_t sector, unsigned shift, uint8_t *buf,
			size_t n)
{
	size_t ss = (size_t)1 << shift;
	int r;

	if (fault == FAULT_MULTI && n > 1) {
		for (size_t i = 0; i < n; i++) {
			r = sector_cipher_openssl.crypt(state, enc, sector, shift, buf + i * ss, 1);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (fault == FAULT_TRUNC32) {
		for (size_t i = 0; i < n; i++) {
			r = sector_cipher_openssl.crypt(state, enc, (uint32_t)(sector + i), shift,
							buf + i * ss, 1);
			if (r < 0)
				return r;
		}
		return 0;
	}
	r = sector_cipher_openssl.crypt(state, enc, sector, shift, buf, n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		uint64_t s = sector + i;

		if ((fault == FAULT_ABOVE_2_32 && s >= UINT64_C(0x100000000)) ||
		    (fault == FAULT_ABOVE_2_48 && s >= UINT64_C(0x1000000000000)) ||
		    (fault == FAULT_VECTOR_12 && s == 0xffffff && enc) ||
		    (fault == FAULT_DECRYPT && !enc))
			buf[i * ss + 100] ^= 0x10;
		if (fault == FAULT_4096 && shift == 12)
			buf[i * ss + ss - 1] ^= 1;
	}
	return r;
}

static const struct sector_cipher_ops broken = {
	.name = "broken",
	.probe = broken_probe,
	.describe = broken_describe,
	.new_state = broken_new,
	.free_state = broken_free,
	.crypt = broken_crypt,
};

static void test_real_backends_pass(void)
{
	const struct sector_cipher_ops *const ops[] = { &sector_cipher_openssl,
							&sector_cipher_gcrypt, &sector_cipher_vaes };
	char why[256];

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		int r = sector_cipher_selftest(ops[i], why, sizeof why);

#ifndef ENVOL_HAVE_GCRYPT
		if (ops[i] == &sector_cipher_gcrypt) {
			CU_ASSERT_EQUAL(r, -EOPNOTSUPP);
			continue;
		}
#endif
		/* vaes needs AVX-512 and VAES; where the CPU lacks them the probe says so. */
		if (ops[i] == &sector_cipher_vaes && r == -EOPNOTSUPP) {
			printf("\n    vaes not usable here: %s\n", why);
			CU_ASSERT_PTR_NOT_NULL(strstr(why, "CPU"));
			continue;
		}
		CU_ASSERT_EQUAL(r, 0);
		CU_ASSERT_STRING_EQUAL(why, "");
	}
}

static void expect_failure(enum fault f, int want_r, const char *want_in_why)
{
	char why[256] = "";

	fault = f;
	CU_ASSERT_EQUAL(sector_cipher_selftest(&broken, why, sizeof why), want_r);
	if (!strstr(why, want_in_why))
		printf("\n    fault %d: why = \"%s\", expected \"%s\" in it\n", (int)f, why,
		       want_in_why);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, want_in_why));
}

static void test_broken_backends_fail(void)
{
	expect_failure(FAULT_ABOVE_2_32, -EIO, "IEEE 1619 vector 14: wrong ciphertext");
	expect_failure(FAULT_ABOVE_2_48, -EIO, "sectors of 512 bytes from 0x");
	expect_failure(FAULT_TRUNC32, -EIO, "IEEE 1619 vector 14: wrong ciphertext");
	expect_failure(FAULT_VECTOR_12, -EIO, "IEEE 1619 vector 12: wrong ciphertext");
	expect_failure(FAULT_MULTI, -EIO, "cross-check: 3 sectors of 512 bytes");
	expect_failure(FAULT_DECRYPT, -EIO, "IEEE 1619 vector 10: wrong decryption");
	expect_failure(FAULT_4096, -EIO, "of 4096 bytes");
	expect_failure(FAULT_PROBE, -EOPNOTSUPP, "CPU lacks the instructions");
	expect_failure(FAULT_KEY, -EIO, "cannot key the IEEE 1619 key");
	/* NULL why is fine. */
	fault = FAULT_MULTI;
	CU_ASSERT_EQUAL(sector_cipher_selftest(&broken, NULL, 0), -EIO);
}

/* The reference XTS against IEEE 1619 vector 10's first blocks, and its own inverse. */
static void test_reference(void)
{
	static const uint8_t head[16] = { 0x1c, 0x3b, 0x3a, 0x10, 0x2f, 0x77, 0x03, 0x86,
					  0xe4, 0x83, 0x6c, 0x99, 0xe3, 0x70, 0xcf, 0x9b };
	static const char key_hex[] =
		"2718281828459045235360287471352662497757247093699959574966967627"
		"3141592653589793238462643383279502884197169399375105820974944592";
	uint8_t key[ENVOL_XTS_KEY_SIZE], buf[1024];

	for (size_t i = 0; i < sizeof key; i++) {
		unsigned v;

		CU_ASSERT_FATAL(sscanf(key_hex + 2 * i, "%2x", &v) == 1);
		key[i] = (uint8_t)v;
	}
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)i;
	CU_ASSERT_EQUAL(sector_cipher_reference(key, true, 0xff, 512, buf, 2), 0);
	CU_ASSERT_EQUAL(memcmp(buf, head, sizeof head), 0);
	CU_ASSERT_EQUAL(sector_cipher_reference(key, false, 0xff, 512, buf, 2), 0);
	for (size_t i = 0; i < sizeof buf; i++)
		CU_ASSERT_FATAL(buf[i] == (uint8_t)i);
}

/* ---- the selection rule ------------------------------------------------------------------- */

#define OK 0
#define NA (-EOPNOTSUPP)
#define BAD (-EIO)

static int choose(enum envol_xts_backend want, int openssl, int gcrypt, int vaes, bool fips,
		  char *why, size_t len)
{
	int status[ENVOL_XTS_BACKEND_MAX] = { 0 };
	const char *whys[ENVOL_XTS_BACKEND_MAX] = { 0 };

	status[ENVOL_XTS_BACKEND_OPENSSL] = openssl;
	status[ENVOL_XTS_BACKEND_GCRYPT] = gcrypt;
	status[ENVOL_XTS_BACKEND_VAES] = vaes;
	whys[ENVOL_XTS_BACKEND_OPENSSL] = openssl == OK ? "OpenSSL EVP" : "openssl reason";
	whys[ENVOL_XTS_BACKEND_GCRYPT] = gcrypt == OK ? "libgcrypt" : "gcrypt reason";
	whys[ENVOL_XTS_BACKEND_VAES] = vaes == OK ? "VAES" : "vaes reason";
	return sector_cipher_choose(want, status, whys, fips, why, len);
}

static void test_choose(void)
{
	const enum envol_xts_backend A = ENVOL_XTS_BACKEND_AUTO, O = ENVOL_XTS_BACKEND_OPENSSL,
				     G = ENVOL_XTS_BACKEND_GCRYPT, V = ENVOL_XTS_BACKEND_VAES;
	char why[512];

	/* auto: the first of vaes, gcrypt, openssl that passed. */
	CU_ASSERT_EQUAL(choose(A, OK, OK, OK, false, why, sizeof why), V);
	CU_ASSERT_STRING_EQUAL(why, "sector cipher vaes (VAES): auto: the first of vaes, gcrypt, "
				    "openssl that passed; self-tests: vaes passed, gcrypt passed, "
				    "openssl passed");
	CU_ASSERT_EQUAL(choose(A, OK, OK, NA, false, why, sizeof why), G);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "vaes not usable (vaes reason), gcrypt passed"));
	CU_ASSERT_EQUAL(choose(A, OK, NA, NA, false, why, sizeof why), O);
	CU_ASSERT_EQUAL(choose(A, OK, BAD, BAD, false, why, sizeof why), O);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "vaes FAILED (vaes reason), gcrypt FAILED (gcrypt "
					   "reason), openssl passed"));
	/* As configured when it passed. */
	CU_ASSERT_EQUAL(choose(O, OK, OK, OK, false, why, sizeof why), O);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "sector cipher openssl (OpenSSL EVP): as configured"));
	CU_ASSERT_EQUAL(choose(G, OK, OK, OK, false, why, sizeof why), G);
	/* A configured backend that failed falls back, and says why. */
	CU_ASSERT_EQUAL(choose(G, OK, BAD, OK, false, why, sizeof why), V);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "gcrypt failed its self-test (gcrypt reason), falling "
					   "back to the first of vaes, gcrypt, openssl"));
	CU_ASSERT_EQUAL(choose(V, OK, OK, BAD, false, why, sizeof why), G);
	CU_ASSERT_EQUAL(choose(V, OK, NA, NA, false, why, sizeof why), O);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "vaes is not usable here (vaes reason)"));
	CU_ASSERT_EQUAL(choose(O, BAD, OK, NA, false, why, sizeof why), G);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "openssl failed its self-test (openssl reason)"));
	/* FIPS: openssl only, whatever was asked. */
	CU_ASSERT_EQUAL(choose(A, OK, OK, OK, true, why, sizeof why), O);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "FIPS mode: only openssl may be used;"));
	CU_ASSERT_EQUAL(choose(V, OK, OK, OK, true, why, sizeof why), O);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "(server.cipher_backend ignored)"));
	CU_ASSERT_EQUAL(choose(A, BAD, OK, OK, true, why, sizeof why), -EIO);
	/* Nothing passed. */
	CU_ASSERT_EQUAL(choose(A, BAD, NA, BAD, false, why, sizeof why), -EIO);
	CU_ASSERT_EQUAL(strncmp(why, "no sector cipher backend can be used", 36), 0);
	CU_ASSERT_EQUAL(choose(O, BAD, BAD, NA, false, why, sizeof why), -EIO);
	/* A short or absent why buffer is fine. */
	CU_ASSERT_EQUAL(choose(A, OK, OK, OK, false, why, 8), V);
	CU_ASSERT_EQUAL(strlen(why), 7);
	CU_ASSERT_EQUAL(choose(A, OK, OK, OK, false, NULL, 0), V);
}

/* Loads a config file holding `text`; returns envol_config_load()'s result. */
static int load_conf(const char *text, struct envol_config **ret, char *err, size_t errlen)
{
	char path[] = "/tmp/test_xts_conf.XXXXXX";
	int fd = mkstemp(path), r;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	r = envol_config_load(path, ret, err, errlen);
	unlink(path);
	return r;
}

static void test_config_setting(void)
{
	static const char *const good[] = { "auto", "openssl", "gcrypt", "vaes" };
	struct envol_config *c = NULL;
	char text[256], err[512];

	/* The default. */
	CU_ASSERT_EQUAL_FATAL(load_conf("server: { threads = 2; };\n", &c, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c->server.cipher_backend, "auto");
	c = envol_config_free(c);
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof text, "server: {\n  cipher_backend = \"%s\";\n};\n", good[i]);
		CU_ASSERT_EQUAL_FATAL(load_conf(text, &c, err, sizeof err), 0);
		CU_ASSERT_STRING_EQUAL(c->server.cipher_backend, good[i]);
		CU_ASSERT_EQUAL(envol_xts_backend_from_string(c->server.cipher_backend),
				(enum envol_xts_backend)i);
		c = envol_config_free(c);
	}
	/* Anything else names the file's line and the setting. */
	CU_ASSERT_EQUAL(load_conf("server: {\n  cipher_backend = \"aes-ni\";\n};\n", &c, err,
				  sizeof err),
			-EINVAL);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: server.cipher_backend: \"aes-ni\" is not a sector "
					   "cipher backend (auto, openssl"));
	CU_ASSERT_EQUAL(load_conf("server: { cipher_backend = 1; };\n", &c, err, sizeof err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "server.cipher_backend: must be a string"));
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "every real backend passes", test_real_backends_pass },
		{ "broken backends fail, each with its reason", test_broken_backends_fail },
		{ "the reference XTS (AES-ECB) matches IEEE 1619 vector 10", test_reference },
		{ "selection: auto, configured, fallback, FIPS, none", test_choose },
		{ "server.cipher_backend in envol.conf", test_config_setting },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "sector cipher self-test", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return unit_run(suites);
}
