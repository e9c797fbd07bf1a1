/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts-vaes.c — the "vaes" sector-cipher backend: AES-256-XTS on many sectors per call with
 * VAES, VPCLMULQDQ and AVX-512 (512-bit vectors, four AES blocks per instruction), written
 * with compiler intrinsics only: every AES round is the CPU's AESENC/AESDEC instruction, the key
 * schedule comes from AESKEYGENASSIST and AESIMC.  Usable only where the CPU and the kernel
 * have all of AES-NI, AVX-512F/BW, VAES and VPCLMULQDQ (checked at run time; the rest of
 * libenvol is built for the baseline x86-64 and calls in here only then).
 *
 * Why it is faster than the libraries (docs/performance.md, "Sector cipher backends"): a
 * 512-byte sector is 32 AES blocks, exactly eight 512-bit vectors, so one sector fills eight
 * independent AES pipelines; the tweak of every block is computed from the sector's encrypted
 * tweak with a few vector shifts and one carry-less multiply per vector, in parallel rather than
 * one doubling after another; and the sector tweaks of four sectors are encrypted together in
 * one vector.  Per call there is no context re-initialisation, so a many-sector call costs what
 * its blocks cost.
 *
 * Key schedules (the two AES-256 expansions and the decryption schedule, each round key
 * broadcast to 512 bits) live in secure memory (util/secure_mem.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sector_cipher.h"
#include "util/log.h"
#include "util/secure_mem.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define VAES_TARGET __attribute__((target("aes,avx2,avx512f,avx512bw,vaes,vpclmulqdq")))
/*
 * The data path is inlined into the two entry points and its short loops unrolled, so that the
 * eight vectors of a pass stay in registers and `enc` is a constant.
 */
#define VAES_INLINE VAES_TARGET __attribute__((always_inline)) static inline
#define UNROLL _Pragma("GCC unroll 16")
#define AES256_ROUNDS 14
#define VAES_VECS 8 /* 512-bit vectors per pass: 32 blocks, one 512-byte sector */

struct vaes_keys {
	__m512i enc1[AES256_ROUNDS + 1]; /* K1, encryption */
	__m512i dec1[AES256_ROUNDS + 1]; /* K1, decryption (equivalent inverse cipher) */
	__m512i enc2[AES256_ROUNDS + 1]; /* K2, for the sector tweaks */
};

struct vaes_state {
	void *mem; /* the envol_secure_alloc() block */
	struct vaes_keys *k; /* 64-byte aligned inside mem */
};

/* ---- key schedule: FIPS 197 AES-256 expansion with AESKEYGENASSIST ------------------------ */

/* w[i..i+3] from w[i-8..i-5] (in t1) and the assist result of w[i-1] (t2, word 3 used). */
VAES_TARGET static inline __m128i expand_even(__m128i t1, __m128i t2)
{
	t2 = _mm_shuffle_epi32(t2, 0xff);
	t1 = _mm_xor_si128(t1, _mm_slli_si128(t1, 4));
	t1 = _mm_xor_si128(t1, _mm_slli_si128(t1, 8));
	return _mm_xor_si128(t1, t2);
}

/* w[i..i+3] from w[i-8..i-5] (in t3) and SubWord of w[i-1] (t1's word 3, no rotation, no rcon). */
VAES_TARGET static inline __m128i expand_odd(__m128i t1, __m128i t3)
{
	__m128i t2 = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(t1, 0), 0xaa);

	t3 = _mm_xor_si128(t3, _mm_slli_si128(t3, 4));
	t3 = _mm_xor_si128(t3, _mm_slli_si128(t3, 8));
	return _mm_xor_si128(t3, t2);
}

/* AESKEYGENASSIST takes the round constant as an immediate, hence a macro per step. */
#define EXPAND_STEP(i, rcon)                                                                      \
	do {                                                                                      \
		t1 = expand_even(t1, _mm_aeskeygenassist_si128(t3, rcon));                        \
		rk[2 * (i) + 2] = t1;                                                             \
		if ((i) < 6) {                                                                    \
			t3 = expand_odd(t1, t3);                                                  \
			rk[2 * (i) + 3] = t3;                                                     \
		}                                                                                 \
	} while (0)

VAES_TARGET static void expand_key(const uint8_t key[32], __m128i rk[AES256_ROUNDS + 1])
{
	__m128i t1 = _mm_loadu_si128((const __m128i *)key);
	__m128i t3 = _mm_loadu_si128((const __m128i *)(key + 16));

	rk[0] = t1;
	rk[1] = t3;
	EXPAND_STEP(0, 0x01);
	EXPAND_STEP(1, 0x02);
	EXPAND_STEP(2, 0x04);
	EXPAND_STEP(3, 0x08);
	EXPAND_STEP(4, 0x10);
	EXPAND_STEP(5, 0x20);
	EXPAND_STEP(6, 0x40);
}

VAES_TARGET static void vaes_schedule(struct vaes_keys *k, const uint8_t key[ENVOL_XTS_KEY_SIZE])
{
	__m128i k1[AES256_ROUNDS + 1], k2[AES256_ROUNDS + 1];

	expand_key(key, k1);
	expand_key(key + 32, k2);
	for (int i = 0; i <= AES256_ROUNDS; i++) {
		__m128i d = k1[AES256_ROUNDS - i];

		if (i > 0 && i < AES256_ROUNDS)
			d = _mm_aesimc_si128(d);
		k->enc1[i] = _mm512_broadcast_i32x4(k1[i]);
		k->dec1[i] = _mm512_broadcast_i32x4(d);
		k->enc2[i] = _mm512_broadcast_i32x4(k2[i]);
	}
	envol_wipe(k1, sizeof k1);
	envol_wipe(k2, sizeof k2);
}

/* ---- tweaks: multiplication by powers of alpha in GF(2^128) ------------------------------- */

/*
 * Each 128-bit lane of v is an XTS tweak, a little-endian number (low qword first).  Returns
 * every lane times alpha^s, s given per qword in `s` (the same for both qwords of a lane,
 * 0 <= s <= 56) and 64 - s in `s64`: shift the 128-bit lane left by s (the low qword's top s
 * bits move into the high qword), then fold the s bits shifted out of the top back in with the
 * reduction polynomial x^7 + x^2 + x + 1 (0x87): a carry-less product of at most s + 8 bits
 * that lands in the low qword.  A shift by 64 gives 0 in AVX-512, so s = 0 is the identity.
 */
VAES_INLINE __m512i gf_mul_alpha_pow(__m512i v, __m512i s, __m512i s64)
{
	const __m512i poly = _mm512_set_epi64(0, 0x87, 0, 0x87, 0, 0x87, 0, 0x87);
	__m512i shifted = _mm512_sllv_epi64(v, s);
	__m512i out = _mm512_srlv_epi64(v, s64); /* the top s bits of each qword */
	__m512i carry = _mm512_bslli_epi128(out, 8); /* low qword's bits into the high qword */
	__m512i fold = _mm512_clmulepi64_epi128(_mm512_bsrli_epi128(out, 8), poly, 0x00);

	return _mm512_ternarylogic_epi64(shifted, carry, fold, 0x96); /* a ^ b ^ c */
}

/* Every lane times alpha^32: the step from one 32-block pass of a 4096-byte sector to the next. */
VAES_INLINE __m512i gf_mul_alpha32(__m512i v)
{
	const __m512i poly = _mm512_set_epi64(0, 0x87, 0, 0x87, 0, 0x87, 0, 0x87);
	__m512i out = _mm512_srli_epi64(v, 32);
	__m512i fold = _mm512_clmulepi64_epi128(_mm512_bsrli_epi128(out, 8), poly, 0x00);

	return _mm512_ternarylogic_epi64(_mm512_slli_epi64(v, 32), _mm512_bslli_epi128(out, 8),
					 fold, 0x96);
}

/*
 * The tweaks of blocks 0..31 of a sector whose encrypted tweak is T: vector j holds blocks
 * 4j..4j+3, i.e. T times alpha^(4j), alpha^(4j+1), alpha^(4j+2), alpha^(4j+3).  All eight are
 * computed from T directly, independently of each other.
 */
VAES_INLINE void sector_tweaks(__m128i T, __m512i t[VAES_VECS])
{
	const __m512i lane = _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0), sixty_four = _mm512_set1_epi64(64);
	__m512i b = _mm512_broadcast_i32x4(T);

	UNROLL
	for (int j = 0; j < VAES_VECS; j++) {
		__m512i s = _mm512_add_epi64(lane, _mm512_set1_epi64(4 * j));

		t[j] = gf_mul_alpha_pow(b, s, _mm512_sub_epi64(sixty_four, s));
	}
}

/* ---- the data path ------------------------------------------------------------------------- */

/* 32 blocks (512 bytes) at p in place: XOR tweak, AES-256 with rk, XOR tweak. */
VAES_INLINE void pass32(const __m512i *rk, const __m512i t[VAES_VECS], uint8_t *p,
				      bool enc)
{
	__m512i b[VAES_VECS];

	UNROLL
	for (int j = 0; j < VAES_VECS; j++)
		b[j] = _mm512_ternarylogic_epi64(_mm512_loadu_si512(p + 64 * j), t[j], rk[0], 0x96);
	UNROLL
	for (int r = 1; r < AES256_ROUNDS; r++)
		UNROLL
		for (int j = 0; j < VAES_VECS; j++)
			b[j] = enc ? _mm512_aesenc_epi128(b[j], rk[r]) :
				     _mm512_aesdec_epi128(b[j], rk[r]);
	UNROLL
	for (int j = 0; j < VAES_VECS; j++) {
		b[j] = enc ? _mm512_aesenclast_epi128(b[j], rk[AES256_ROUNDS]) :
			     _mm512_aesdeclast_epi128(b[j], rk[AES256_ROUNDS]);
		_mm512_storeu_si512(p + 64 * j, _mm512_xor_si512(b[j], t[j]));
	}
}

/* One sector of `passes` x 512 bytes whose encrypted tweak is T. */
VAES_INLINE void vaes_crypt_sector(const __m512i *rk, __m128i T, uint8_t *p,
					    unsigned passes, bool enc)
{
	__m512i t[VAES_VECS];

	sector_tweaks(T, t);
	for (unsigned i = 0;;) {
		pass32(rk, t, p, enc);
		if (++i == passes)
			break;
		p += 512;
		UNROLL
		for (int j = 0; j < VAES_VECS; j++)
			t[j] = gf_mul_alpha32(t[j]);
	}
}

/*
 * n sectors from `sector`, four at a time: their plain64 tweaks, one per 128-bit lane, go
 * through AES-256 under K2 together; then each sector is processed with its lane.  In the last
 * group, lanes past n encrypt tweaks that are never used.
 */
VAES_INLINE void vaes_crypt_sectors(const struct vaes_keys *k, bool enc, uint64_t sector,
					     unsigned shift, uint8_t *p, size_t n)
{
	const __m512i *rk = enc ? k->enc1 : k->dec1;
	const __m512i lanes = _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0);
	unsigned passes = 1u << (shift - 9);
	size_t ss = (size_t)1 << shift;
	__m128i T[4] __attribute__((aligned(64)));

	while (n > 0) {
		size_t g = n < 4 ? n : 4;
		__m512i tw = _mm512_add_epi64(_mm512_maskz_set1_epi64(0x55, (long long)sector), lanes);

		tw = _mm512_xor_si512(tw, k->enc2[0]);
		UNROLL
		for (int r = 1; r < AES256_ROUNDS; r++)
			tw = _mm512_aesenc_epi128(tw, k->enc2[r]);
		tw = _mm512_aesenclast_epi128(tw, k->enc2[AES256_ROUNDS]);

		_mm512_store_si512(T, tw);
		for (size_t i = 0; i < g; i++, p += ss)
			vaes_crypt_sector(rk, T[i], p, passes, enc);
		sector += g;
		n -= g;
	}
	/* The encrypted tweaks are K2's output: not left on the stack (the barrier keeps the store). */
	_mm512_store_si512(T, _mm512_setzero_si512());
	__asm__ volatile("" : : "r"(T) : "memory");
}

/* Two copies, so that `enc` is a constant inside each and the branches go. */
VAES_TARGET static void vaes_encrypt_sectors(const struct vaes_keys *k, uint64_t sector, unsigned shift,
					uint8_t *p, size_t n)
{
	vaes_crypt_sectors(k, true, sector, shift, p, n);
}

VAES_TARGET static void vaes_decrypt_sectors(const struct vaes_keys *k, uint64_t sector, unsigned shift,
					uint8_t *p, size_t n)
{
	vaes_crypt_sectors(k, false, sector, shift, p, n);
}

/* ---- the backend --------------------------------------------------------------------------- */

/*
 * CPUID and XGETBV directly (compilers differ in which names __builtin_cpu_supports knows):
 * leaf 1 ECX: AES-NI (bit 25), OSXSAVE (27); leaf 7 EBX: AVX-512F (16), AVX-512BW (30); leaf 7
 * ECX: VAES (9), VPCLMULQDQ (10); XCR0: the kernel saves SSE, AVX, opmask and ZMM state (bits
 * 1, 2, 5, 6, 7).
 */
static bool vaes_cpu_ok(void)
{
	unsigned a, b, c, d, xcr0_lo, xcr0_hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 25)) || !(c & (1u << 27)))
		return false;
	__asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
	if ((xcr0_lo & 0xe6) != 0xe6)
		return false;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return false;
	return (b & (1u << 16)) && (b & (1u << 30)) && (c & (1u << 9)) && (c & (1u << 10));
}

static pthread_once_t vaes_once = PTHREAD_ONCE_INIT;
static bool vaes_ok;

static void vaes_setup(void)
{
	vaes_ok = vaes_cpu_ok();
}

static int vaes_probe(const char **ret_why)
{
	if (pthread_once(&vaes_once, vaes_setup) != 0 || !vaes_ok) {
		*ret_why = "the CPU (or the kernel) lacks AES-NI, AVX-512F/BW, VAES or VPCLMULQDQ";
		return -EOPNOTSUPP;
	}
	return 0;
}

static void vaes_free(void *state)
{
	struct vaes_state *s = state;

	if (!s)
		return;
	envol_secure_free(s->mem); /* wipes the key schedules */
	free(s);
}

static int vaes_new(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret)
{
	struct vaes_state *s = calloc(1, sizeof(*s));
	const char *why;

	if (!s)
		return -ENOMEM;
	if (vaes_probe(&why) < 0) {
		free(s);
		return -EIO;
	}
	s->mem = envol_secure_alloc(sizeof(struct vaes_keys) + 63);
	if (!s->mem) {
		free(s);
		return -ENOMEM;
	}
	s->k = (struct vaes_keys *)(((uintptr_t)s->mem + 63) & ~(uintptr_t)63);
	vaes_schedule(s->k, key);
	*ret = s;
	return 0;
}

static int vaes_crypt(void *state, bool enc, uint64_t sector, unsigned sector_shift, uint8_t *buf,
		      size_t n)
{
	struct vaes_state *s = state;

	if (enc)
		vaes_encrypt_sectors(s->k, sector, sector_shift, buf, n);
	else
		vaes_decrypt_sectors(s->k, sector, sector_shift, buf, n);
	return 0;
}

static const char *vaes_describe(void)
{
	return "VAES/VPCLMULQDQ AVX-512 intrinsics, 4 sector tweaks and 32 blocks per pass";
}

const struct sector_cipher_ops sector_cipher_vaes = {
	.name = "vaes",
	.probe = vaes_probe,
	.describe = vaes_describe,
	.new_state = vaes_new,
	.free_state = vaes_free,
	.crypt = vaes_crypt,
};

#else /* not x86-64 with a GCC-compatible compiler */

SECTOR_CIPHER_UNAVAILABLE(sector_cipher_vaes, "vaes", "not an x86-64 build");

#endif
