/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_nbd_validate.c — request validation (lib/nbd/validate.c) before any backend call: the
 * table of past the end, too large, unaligned, bad flags, not advertised, read-only, and the
 * texts of its refusals.
 */
#include <stdio.h>
#include <string.h>

#include "nbd/validate.h"
#include "unit.h"

static void test_validation(void)
{
	const struct nbd_export_limits rw = {
	    .size = 1 << 20,
	    .min_block = 512,
	    .max_payload = NBD_MAX_PAYLOAD,
	    .transmission_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
				  NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
				  NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_SEND_CACHE,
	    .structured = true,
	    .meta_base_allocation = true,
	};
	struct nbd_export_limits ro = rw, big = rw, plain = rw, k4 = rw;
	static const struct {
		uint16_t type, flags;
		uint64_t offset;
		uint32_t length;
		int want;
	} t[] = {
	    {NBD_CMD_READ, 0, 0, 512, 0},
	    {NBD_CMD_READ, 0, (1 << 20) - 512, 512, 0},
	    {NBD_CMD_READ, 0, 1 << 20, 512, -EINVAL},	       /* past the end */
	    {NBD_CMD_READ, 0, (1 << 20) - 512, 1024, -EINVAL}, /* straddles the end */
	    {NBD_CMD_READ, 0, UINT64_MAX - 511, 512, -EINVAL}, /* offset overflow */
	    {NBD_CMD_READ, 0, 1, 512, -EINVAL},		       /* unaligned offset */
	    {NBD_CMD_READ, 0, 0, 100, -EINVAL},		       /* unaligned length */
	    {NBD_CMD_READ, 0, 0, 0, -EINVAL},		       /* zero length */
	    {NBD_CMD_READ, NBD_CMD_FLAG_FUA, 0, 512, 0},       /* FUA valid everywhere */
	    {NBD_CMD_READ, NBD_CMD_FLAG_DF, 0, 512, -EINVAL},  /* DF not offered */
	    {NBD_CMD_READ, 0x8000, 0, 512, -EINVAL},	       /* unknown flag */
	    {NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 512, 4096, 0},
	    {NBD_CMD_WRITE, 0, 1 << 20, 512, -ENOSPC}, /* write past the end */
	    {NBD_CMD_WRITE, NBD_CMD_FLAG_NO_HOLE, 0, 512, -EINVAL},
	    {NBD_CMD_WRITE, 0, 0, 511, -EINVAL},
	    {NBD_CMD_FLUSH, 0, 0, 0, 0},
	    {NBD_CMD_TRIM, NBD_CMD_FLAG_FUA, 0, 1 << 20, 0},
	    {NBD_CMD_TRIM, 0, 512, 1 << 20, -EINVAL}, /* trim past the end */
	    {NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO, 0, 4096, 0},
	    {NBD_CMD_WRITE_ZEROES, 0, 4096, 1 << 20, -ENOSPC},
	    {NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_REQ_ONE, 0, 512, -EINVAL},
	    {NBD_CMD_CACHE, 0, 0, 1 << 20, 0},
	    {NBD_CMD_BLOCK_STATUS, NBD_CMD_FLAG_REQ_ONE, 0, 1 << 20, 0},
	    {NBD_CMD_BLOCK_STATUS, NBD_CMD_FLAG_FAST_ZERO, 0, 512, -EINVAL},
	    {NBD_CMD_DISC, 0, 0, 0, 0},
	    {8, 0, 0, 512, -EINVAL}, /* NBD_CMD_RESIZE: not offered */
	    {0xffff, 0, 0, 512, -EINVAL},
	};
	struct nbd_request r = {0};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		r.type = t[i].type;
		r.flags = t[i].flags;
		r.offset = t[i].offset;
		r.length = t[i].length;
		if (nbd_validate_request(&r, &rw) != t[i].want)
			fprintf(stderr, "validation case %zu: got %d want %d\n", i,
				nbd_validate_request(&r, &rw), t[i].want);
		CU_ASSERT_EQUAL(nbd_validate_request(&r, &rw), t[i].want);
	}

	/* payload larger than the advertised maximum (the export is big enough) */
	big.size = UINT64_C(1) << 40;
	r = (struct nbd_request){.type = NBD_CMD_READ, .length = NBD_MAX_PAYLOAD};
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &big), 0);
	r.length = NBD_MAX_PAYLOAD + 512;
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &big), -EINVAL);
	r.type = NBD_CMD_WRITE;
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &big), -EINVAL);
	r.type = NBD_CMD_TRIM; /* no payload: large is fine */
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &big), 0);
	r.type = NBD_CMD_WRITE_ZEROES;
	r.length = UINT32_MAX - 511;
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &big), 0);

	/* read-only: every write is EPERM, reads fine */
	ro.transmission_flags =
	    NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA;
	r = (struct nbd_request){.type = NBD_CMD_WRITE, .length = 512};
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &ro), -EPERM);
	r.type = NBD_CMD_TRIM;
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &ro), -EPERM);
	r.type = NBD_CMD_WRITE_ZEROES;
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &ro), -EPERM);
	r.type = NBD_CMD_READ;
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &ro), 0);
	r.type = NBD_CMD_CACHE; /* not offered on this export */
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &ro), -EINVAL);

	/* BLOCK_STATUS needs structured replies and a selected context */
	plain.structured = false;
	plain.meta_base_allocation = false;
	r = (struct nbd_request){.type = NBD_CMD_BLOCK_STATUS, .length = 512};
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &plain), -EINVAL);

	/* 4096-byte sectors: 512-aligned is not enough */
	k4.min_block = 4096;
	r = (struct nbd_request){.type = NBD_CMD_READ, .offset = 512, .length = 4096};
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &k4), -EINVAL);
	r.offset = 8192;
	CU_ASSERT_EQUAL(nbd_validate_request(&r, &k4), 0);
}

static void test_strerror(void)
{
	CU_ASSERT_STRING_EQUAL(nbd_validate_strerror(-EPERM), "the export is read-only");
	CU_ASSERT_STRING_EQUAL(nbd_validate_strerror(-ENOSPC), "write past the end of the export");
	CU_ASSERT_STRING_EQUAL(nbd_validate_strerror(-EINVAL),
			       "invalid request (range, alignment, length or flags)");
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"request validation table", test_validation},
	    {"refusal texts", test_strerror},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
	    {"nbd_validate", NULL, NULL, NULL, NULL, tests},
	    CU_SUITE_INFO_NULL,
	};

	return unit_run(suites);
}
