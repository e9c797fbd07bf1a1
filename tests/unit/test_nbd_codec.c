/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_nbd_codec.c — the NBD codec (lib/nbd/codec.c): exact bytes of every option reply and
 * transmission reply we encode (values from doc/proto.md), decoding of hostile option payloads
 * and requests, and the errno maps.
 */
#include <string.h>

#include "nbd/codec.h"
#include "unit.h"

static void test_greeting_and_flags(void)
{
	static const uint8_t want[] = {'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C',	'I',
				       'H', 'A', 'V', 'E', 'O', 'P', 'T', 0x00, 0x03};
	uint8_t b[32];
	uint32_t f = 0xdead;

	CU_ASSERT_EQUAL(
	    nbd_encode_greeting(b, sizeof b, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES),
	    NBD_GREETING_SIZE);
	CU_ASSERT_EQUAL(memcmp(b, want, sizeof want), 0);
	CU_ASSERT_EQUAL(nbd_encode_greeting(b, 17, 3), -ENOBUFS);

	CU_ASSERT_EQUAL(nbd_decode_client_flags((const uint8_t[]){0, 0, 0, 3}, 3, &f), 0);
	CU_ASSERT_EQUAL(f, 3);
	CU_ASSERT_EQUAL(nbd_decode_client_flags((const uint8_t[]){0, 0, 0, 4}, 3, &f), -EPROTO);
	CU_ASSERT_EQUAL(nbd_decode_client_flags((const uint8_t[]){0, 0, 0, 2}, 1, &f), -EPROTO);
	CU_ASSERT_EQUAL(nbd_decode_client_flags((const uint8_t[]){0x80, 0, 0, 1}, 3, &f), -EPROTO);
	CU_ASSERT_EQUAL(f, 3); /* untouched on failure */
}

static void test_option_header(void)
{
	uint8_t b[64];
	struct nbd_option_header h;

	CU_ASSERT_EQUAL(nbd_encode_option(b, sizeof b, NBD_OPT_GO, "abc", 3), 19);
	CU_ASSERT_EQUAL(memcmp(b,
			       "IHAVEOPT\0\0\0\x07\0\0\0\x03"
			       "abc",
			       19),
			0);
	CU_ASSERT_EQUAL(nbd_decode_option_header(b, &h), 0);
	CU_ASSERT_EQUAL(h.option, NBD_OPT_GO);
	CU_ASSERT_EQUAL(h.length, 3);
	b[0] = 'X';
	CU_ASSERT_EQUAL(nbd_decode_option_header(b, &h), -EBADMSG);
	CU_ASSERT_EQUAL(nbd_encode_option(b, 18, NBD_OPT_GO, "abc", 3), -ENOBUFS);
}

static void test_info_request(void)
{
	/* name "disk", two requests: NAME, BLOCK_SIZE */
	static const uint8_t ok[] = {0, 0, 0, 4, 'd', 'i', 's', 'k', 0, 2, 0, 1, 0, 3};
	static const uint8_t empty[] = {0, 0, 0, 0, 0, 0};
	static const uint8_t count_mismatch[] = {0, 0, 0, 1, 'a', 0, 2, 0, 1};
	static const uint8_t name_too_long[] = {0, 0, 0, 9, 'a', 'b'};
	static const uint8_t huge_name[] = {0xff, 0xff, 0xff, 0xff, 0, 0};
	static const uint8_t trailing[] = {0, 0, 0, 0, 0, 0, 0xff};
	struct nbd_info_request r;

	CU_ASSERT_EQUAL(nbd_decode_info_request(ok, sizeof ok, &r), 0);
	CU_ASSERT_EQUAL(r.name_len, 4);
	CU_ASSERT_EQUAL(memcmp(r.name, "disk", 4), 0);
	CU_ASSERT_EQUAL(r.n_info, 2);
	CU_ASSERT_EQUAL(r.info[0], NBD_INFO_NAME);
	CU_ASSERT_EQUAL(r.info[1], NBD_INFO_BLOCK_SIZE);
	CU_ASSERT_EQUAL(nbd_decode_info_request(empty, sizeof empty, &r), 0);
	CU_ASSERT_EQUAL(r.name_len, 0);
	CU_ASSERT_EQUAL(r.n_info, 0);
	CU_ASSERT_EQUAL(nbd_decode_info_request(count_mismatch, sizeof count_mismatch, &r),
			-EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_info_request(name_too_long, sizeof name_too_long, &r), -EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_info_request(huge_name, sizeof huge_name, &r), -EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_info_request(trailing, sizeof trailing, &r), -EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_info_request(ok, 3, &r), -EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_info_request(ok, 9, &r), -EINVAL);
}

static void test_meta_request(void)
{
	static const uint8_t two[] = {
	    0,	 0,   0,   1,	'v', 0,	  0,   0,   2,	 0, 0, 0, 15, 'b', 'a', 's', 'e', ':', 'a',
	    'l', 'l', 'o', 'c', 'a', 't', 'i', 'o', 'n', 0, 0, 0, 5,  'b', 'a', 's', 'e', ':'};
	static const uint8_t none[] = {0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t short_query[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 'x'};
	static const uint8_t too_many[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t trailing[] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
	struct nbd_meta_request r;

	CU_ASSERT_EQUAL(nbd_decode_meta_request(two, sizeof two, &r), 0);
	CU_ASSERT_EQUAL(r.name_len, 1);
	CU_ASSERT_EQUAL(r.n_queries, 2);
	CU_ASSERT_EQUAL(r.query_len[0], 15);
	CU_ASSERT(nbd_meta_query_selects_base_allocation(r.query[0], r.query_len[0], false));
	CU_ASSERT(nbd_meta_query_selects_base_allocation(r.query[1], r.query_len[1], true));
	CU_ASSERT(!nbd_meta_query_selects_base_allocation(r.query[1], r.query_len[1], false));
	CU_ASSERT(!nbd_meta_query_selects_base_allocation("qemu:dirty-bitmap:x", 19, true));
	CU_ASSERT(!nbd_meta_query_selects_base_allocation("base:allocatio", 14, false));
	CU_ASSERT_EQUAL(nbd_decode_meta_request(none, sizeof none, &r), 0);
	CU_ASSERT_EQUAL(r.n_queries, 0);
	CU_ASSERT_EQUAL(nbd_decode_meta_request(short_query, sizeof short_query, &r), -EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_meta_request(too_many, sizeof too_many, &r), -EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_meta_request(trailing, sizeof trailing, &r), -EINVAL);
	CU_ASSERT_EQUAL(nbd_decode_meta_request(two, 3, &r), -EINVAL);
}

static const uint8_t rep_magic[8] = {0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9};

static void check_rep_header(const uint8_t *b, uint32_t opt, uint32_t type, uint32_t len)
{
	struct nbd_option_reply h;

	CU_ASSERT_EQUAL(memcmp(b, rep_magic, 8), 0);
	CU_ASSERT_EQUAL(nbd_decode_option_reply(b, &h), 0);
	CU_ASSERT_EQUAL(h.option, opt);
	CU_ASSERT_EQUAL(h.type, type);
	CU_ASSERT_EQUAL(h.length, len);
}

static void test_option_replies(void)
{
	uint8_t b[256];
	struct nbd_option_reply h;

	CU_ASSERT_EQUAL(nbd_encode_option_reply(b, sizeof b, NBD_OPT_ABORT, NBD_REP_ACK, NULL, 0),
			20);
	check_rep_header(b, NBD_OPT_ABORT, NBD_REP_ACK, 0);

	CU_ASSERT_EQUAL(nbd_encode_rep_server(b, sizeof b, NBD_OPT_LIST, "vol1", "desc"), 32);
	check_rep_header(b, NBD_OPT_LIST, NBD_REP_SERVER, 12);
	CU_ASSERT_EQUAL(memcmp(b + 20, "\0\0\0\x04vol1desc", 12), 0);
	CU_ASSERT_EQUAL(nbd_encode_rep_server(b, 31, NBD_OPT_LIST, "vol1", "desc"), -ENOBUFS);

	CU_ASSERT_EQUAL(
	    nbd_encode_rep_info_export(b, sizeof b, NBD_OPT_GO, 0x123456789aULL, 0x0d0d), 32);
	check_rep_header(b, NBD_OPT_GO, NBD_REP_INFO, 12);
	CU_ASSERT_EQUAL(memcmp(b + 20, "\0\0\0\0\0\x12\x34\x56\x78\x9a\x0d\x0d", 12), 0);

	CU_ASSERT_EQUAL(nbd_encode_rep_info_string(b, sizeof b, NBD_OPT_INFO, NBD_INFO_NAME, "v"),
			23);
	check_rep_header(b, NBD_OPT_INFO, NBD_REP_INFO, 3);
	CU_ASSERT_EQUAL(memcmp(b + 20, "\0\x01v", 3), 0);
	CU_ASSERT_EQUAL(
	    nbd_encode_rep_info_string(b, sizeof b, NBD_OPT_INFO, NBD_INFO_DESCRIPTION, "hello"),
	    27);
	CU_ASSERT_EQUAL(memcmp(b + 20, "\0\x02hello", 7), 0);
	CU_ASSERT_EQUAL(nbd_encode_rep_info_string(b, sizeof b, NBD_OPT_INFO, NBD_INFO_EXPORT, "x"),
			-EINVAL);

	CU_ASSERT_EQUAL(
	    nbd_encode_rep_info_block_size(b, sizeof b, NBD_OPT_GO, 512, 4096, 32 << 20), 34);
	check_rep_header(b, NBD_OPT_GO, NBD_REP_INFO, 14);
	CU_ASSERT_EQUAL(memcmp(b + 20, "\0\x03\0\0\x02\0\0\0\x10\0\x02\0\0\0", 14), 0);

	CU_ASSERT_EQUAL(nbd_encode_rep_meta_context(b, sizeof b, NBD_OPT_SET_META_CONTEXT, 1,
						    NBD_META_BASE_ALLOCATION),
			39);
	check_rep_header(b, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT, 19);
	CU_ASSERT_EQUAL(memcmp(b + 20,
			       "\0\0\0\x01"
			       "base:allocation",
			       19),
			0);

	CU_ASSERT_EQUAL(nbd_encode_option_error(b, sizeof b, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY,
						"TLS not supported yet"),
			41);
	check_rep_header(b, NBD_OPT_STARTTLS, 0x80000002u, 21);
	CU_ASSERT_EQUAL(memcmp(b + 20, "TLS not supported yet", 21), 0);
	CU_ASSERT_EQUAL(nbd_encode_option_error(b, sizeof b, 1, NBD_REP_ACK, "x"), -EINVAL);
	CU_ASSERT_EQUAL(NBD_REP_ERR_UNSUP, 0x80000001u);
	CU_ASSERT_EQUAL(NBD_REP_ERR_UNKNOWN, 0x80000006u);

	b[0] ^= 1;
	CU_ASSERT_EQUAL(nbd_decode_option_reply(b, &h), -EBADMSG);
}

static void test_export_name_reply(void)
{
	uint8_t b[200];

	memset(b, 0xaa, sizeof b);
	CU_ASSERT_EQUAL(nbd_encode_export_name_reply(b, sizeof b, 1 << 20, 0x0103, false), 134);
	CU_ASSERT_EQUAL(memcmp(b, "\0\0\0\0\0\x10\0\0\x01\x03", 10), 0);
	for (int i = 10; i < 134; i++)
		CU_ASSERT_EQUAL_FATAL(b[i], 0);
	CU_ASSERT_EQUAL(b[134], 0xaa);
	CU_ASSERT_EQUAL(nbd_encode_export_name_reply(b, 10, 1, 1, true), 10);
	CU_ASSERT_EQUAL(nbd_encode_export_name_reply(b, 10, 1, 1, false), -ENOBUFS);
}

static void test_request_codec(void)
{
	static const uint8_t wire[] = {0x25, 0x60, 0x95, 0x13, 0x00, 0x01, 0x00, 0x01, 1, 2,
				       3,    4,	   5,	 6,    7,    8,	   0,	 0,    0, 0,
				       0,    0,	   0x10, 0x00, 0,    0,	   0x02, 0x00};
	struct nbd_request r, s;
	uint8_t b[NBD_REQUEST_SIZE];

	CU_ASSERT_EQUAL(nbd_decode_request(wire, &r), 0);
	CU_ASSERT_EQUAL(r.flags, NBD_CMD_FLAG_FUA);
	CU_ASSERT_EQUAL(r.type, NBD_CMD_WRITE);
	CU_ASSERT_EQUAL(r.cookie, 0x0102030405060708ULL);
	CU_ASSERT_EQUAL(r.offset, 4096);
	CU_ASSERT_EQUAL(r.length, 512);
	CU_ASSERT_EQUAL(nbd_encode_request(b, &r), NBD_REQUEST_SIZE);
	CU_ASSERT_EQUAL(memcmp(b, wire, sizeof wire), 0);
	b[3] = 0x14;
	CU_ASSERT_EQUAL(nbd_decode_request(b, &s), -EBADMSG);
}

static void test_errno_map(void)
{
	CU_ASSERT_EQUAL(nbd_errno_to_wire(0), NBD_SUCCESS);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-EPERM), 1);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-EROFS), 1);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-EIO), 5);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-ENOMEM), 12);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-EINVAL), 22);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-ENOSPC), 28);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-EDQUOT), 28);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-EOVERFLOW), 75);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-ENOTSUP), 95);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-ESHUTDOWN), 108);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-ENOKEY), 5);
	CU_ASSERT_EQUAL(nbd_errno_to_wire(-EBADF), 22); /* anything else */
	CU_ASSERT_EQUAL(nbd_errno_to_wire(ENOSPC), 28);

	/* option replies refusing an export */
	CU_ASSERT_EQUAL(nbd_errno_to_rep_error(-EACCES), NBD_REP_ERR_POLICY);
	CU_ASSERT_EQUAL(nbd_errno_to_rep_error(-EPERM), NBD_REP_ERR_POLICY);
	CU_ASSERT_EQUAL(nbd_errno_to_rep_error(-EKEYREVOKED), NBD_REP_ERR_POLICY);
	CU_ASSERT_EQUAL(nbd_errno_to_rep_error(-ENOENT), NBD_REP_ERR_UNKNOWN);
	CU_ASSERT_EQUAL(nbd_errno_to_rep_error(-EHOSTDOWN), NBD_REP_ERR_UNKNOWN);
	CU_ASSERT_EQUAL(nbd_errno_to_rep_error(-EBADMSG), NBD_REP_ERR_UNKNOWN);
}

static void test_transmission_replies(void)
{
	uint8_t b[128];
	struct nbd_reply r;

	CU_ASSERT_EQUAL(nbd_encode_simple_reply(b, sizeof b, NBD_EINVAL, 0x1122334455667788ULL),
			16);
	CU_ASSERT_EQUAL(memcmp(b, "\x67\x44\x66\x98\0\0\0\x16\x11\x22\x33\x44\x55\x66\x77\x88", 16),
			0);
	CU_ASSERT_EQUAL(nbd_decode_reply(b, 16, &r), 0);
	CU_ASSERT(!r.structured);
	CU_ASSERT_EQUAL(r.error, 22);
	CU_ASSERT_EQUAL(r.cookie, 0x1122334455667788ULL);
	CU_ASSERT_EQUAL(nbd_decode_reply(b, 15, &r), -EINVAL);

	CU_ASSERT_EQUAL(
	    nbd_encode_offset_data_header(b, sizeof b, NBD_REPLY_FLAG_DONE, 7, 4096, 512), 28);
	CU_ASSERT_EQUAL(memcmp(b,
			       "\x66\x8e\x33\xef\0\x01\0\x01\0\0\0\0\0\0\0\x07\0\0\x02\x08"
			       "\0\0\0\0\0\0\x10\0",
			       28),
			0);
	CU_ASSERT_EQUAL(nbd_decode_reply(b, 20, &r), 0);
	CU_ASSERT(r.structured);
	CU_ASSERT_EQUAL(r.type, NBD_REPLY_TYPE_OFFSET_DATA);
	CU_ASSERT_EQUAL(r.flags, NBD_REPLY_FLAG_DONE);
	CU_ASSERT_EQUAL(r.length, 520);

	CU_ASSERT_EQUAL(nbd_encode_error_chunk(b, sizeof b, NBD_REPLY_FLAG_DONE, 9, NBD_EIO, "bad"),
			29);
	CU_ASSERT_EQUAL(memcmp(b + 4, "\0\x01\x80\x01", 4), 0);
	CU_ASSERT_EQUAL(memcmp(b + 16,
			       "\0\0\0\x09\0\0\0\x05\0\x03"
			       "bad",
			       13),
			0);
	CU_ASSERT_EQUAL(nbd_encode_error_chunk(b, 28, 1, 9, NBD_EIO, "bad"), -ENOBUFS);

	CU_ASSERT_EQUAL(nbd_encode_block_status_header(b, sizeof b, NBD_REPLY_FLAG_DONE, 3, 1, 2),
			24);
	CU_ASSERT_EQUAL(memcmp(b + 4, "\0\x01\0\x05", 4), 0);
	CU_ASSERT_EQUAL(memcmp(b + 16, "\0\0\0\x14\0\0\0\x01", 8), 0);
	CU_ASSERT_EQUAL(
	    nbd_encode_block_descriptor(b + 24, 8, 65536, NBD_STATE_HOLE | NBD_STATE_ZERO), 8);
	CU_ASSERT_EQUAL(memcmp(b + 24, "\0\x01\0\0\0\0\0\x03", 8), 0);
	CU_ASSERT_EQUAL(nbd_encode_block_status_header(b, sizeof b, 1, 3, 1, 0), -EINVAL);

	memcpy(b, "\x12\x34\x56\x78", 4);
	CU_ASSERT_EQUAL(nbd_decode_reply(b, 20, &r), -EBADMSG);
}

static void test_names(void)
{
	CU_ASSERT_STRING_EQUAL(nbd_option_name(NBD_OPT_GO), "NBD_OPT_GO");
	CU_ASSERT_STRING_EQUAL(nbd_option_name(NBD_OPT_SET_META_CONTEXT),
			       "NBD_OPT_SET_META_CONTEXT");
	CU_ASSERT_STRING_EQUAL(nbd_option_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(nbd_option_name(0xffffffffu), "unknown");
	CU_ASSERT_STRING_EQUAL(nbd_command_name(NBD_CMD_BLOCK_STATUS), "NBD_CMD_BLOCK_STATUS");
	CU_ASSERT_STRING_EQUAL(nbd_command_name(99), "unknown");
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"greeting and client flags", test_greeting_and_flags},
	    {"option header", test_option_header},
	    {"INFO/GO request", test_info_request},
	    {"meta context request", test_meta_request},
	    {"option replies", test_option_replies},
	    {"EXPORT_NAME reply", test_export_name_reply},
	    {"request codec", test_request_codec},
	    {"errno to NBD error", test_errno_map},
	    {"simple and structured replies", test_transmission_replies},
	    {"names", test_names},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
	    {"nbd_codec", NULL, NULL, NULL, NULL, tests},
	    CU_SUITE_INFO_NULL,
	};

	return unit_run(suites);
}
