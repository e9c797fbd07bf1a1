/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_nbd_handshake.c — the handshake side of the NBD codec on hostile bytes: the input is what
 * a client sends after the greeting (client flags, then options); every option is decoded as
 * envold does it (header, bounded length, INFO/GO and META_CONTEXT payloads) and answered with
 * the reply encoders into fixed buffers.
 */
#include <stdint.h>
#include <string.h>

#include "nbd/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[2 * NBD_MAX_STRING + 64];

static void answer(uint32_t opt, const uint8_t *p, uint32_t len)
{
	struct nbd_info_request ir;
	struct nbd_meta_request mr;
	char name[NBD_MAX_STRING + 1];

	switch (opt) {
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		if (nbd_decode_info_request(p, len, &ir) < 0) {
			(void)nbd_encode_option_error(out, sizeof out, opt, NBD_REP_ERR_INVALID,
						      "bad");
			return;
		}
		if (ir.name_len > NBD_MAX_STRING || ir.n_info > NBD_MAX_INFO_REQUESTS)
			__builtin_trap();
		memcpy(name, ir.name, ir.name_len);
		name[ir.name_len] = 0;
		(void)nbd_encode_rep_info_export(out, sizeof out, opt, 1 << 20, 0x0d0d);
		(void)nbd_encode_rep_info_string(out, sizeof out, opt, NBD_INFO_NAME, name);
		(void)nbd_encode_rep_info_string(out, sizeof out, opt, NBD_INFO_DESCRIPTION, name);
		(void)nbd_encode_rep_info_block_size(out, sizeof out, opt, 512, 4096, 32 << 20);
		break;
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		if (nbd_decode_meta_request(p, len, &mr) < 0)
			return;
		if (mr.n_queries > NBD_MAX_META_QUERIES)
			__builtin_trap();
		for (uint32_t i = 0; i < mr.n_queries; i++) {
			if ((const uint8_t *)mr.query[i] < p ||
			    (const uint8_t *)mr.query[i] + mr.query_len[i] > p + len)
				__builtin_trap();
			if (nbd_meta_query_selects_base_allocation(
				mr.query[i], mr.query_len[i], opt == NBD_OPT_LIST_META_CONTEXT))
				(void)nbd_encode_rep_meta_context(out, sizeof out, opt, 1,
								  NBD_META_BASE_ALLOCATION);
		}
		break;
	case NBD_OPT_EXPORT_NAME:
		if (len <= NBD_MAX_STRING) {
			memcpy(name, p, len);
			name[len] = 0;
			(void)nbd_encode_rep_server(out, sizeof out, NBD_OPT_LIST, name, name);
			(void)nbd_encode_export_name_reply(out, sizeof out, len, 3, len & 1);
		}
		break;
	default:
		(void)nbd_encode_option_error(out, sizeof out, opt, NBD_REP_ERR_UNSUP,
					      nbd_option_name(opt));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t flags;
	size_t pos = 4;

	if (size < 4)
		return 0;
	if (nbd_decode_client_flags(data, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES, &flags) < 0)
		return 0;
	while (size - pos >= NBD_OPTION_HEADER_SIZE) {
		struct nbd_option_header h;

		if (nbd_decode_option_header(data + pos, &h) < 0)
			return 0;
		pos += NBD_OPTION_HEADER_SIZE;
		if (h.length > NBD_MAX_OPTION_LEN || h.length > size - pos)
			return 0; /* envold discards or disconnects */
		answer(h.option, data + pos, h.length);
		pos += h.length;
	}
	return 0;
}
