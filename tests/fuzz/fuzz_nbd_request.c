/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_nbd_request.c — the transmission side of the NBD codec on hostile bytes: the first byte
 * picks the negotiated limits (sector size, read-only, structured replies), then 28-byte
 * requests are decoded and validated as envold's reader does; whatever passes must be inside
 * the export and aligned, and its replies are encoded.
 */
#include <stdint.h>
#include <string.h>

#include "nbd/codec.h"
#include "nbd/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbd_export_limits lim;
	uint8_t out[NBD_STRUCTURED_REPLY_SIZE + 6 + NBD_MAX_ERROR_TEXT];
	size_t pos = 1;

	if (size < 1)
		return 0;
	memset(&lim, 0, sizeof lim);
	lim.size = (data[0] & 1) ? (UINT64_C(1) << 30) : (UINT64_C(1) << 20) + 4096;
	lim.min_block = (data[0] & 2) ? 4096 : 512;
	lim.max_payload = NBD_MAX_PAYLOAD;
	lim.transmission_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
				 NBD_FLAG_SEND_CACHE | NBD_FLAG_CAN_MULTI_CONN;
	if (data[0] & 4)
		lim.transmission_flags |= NBD_FLAG_READ_ONLY;
	else
		lim.transmission_flags |=
		    NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
	lim.structured = data[0] & 8;
	lim.meta_base_allocation = lim.structured && (data[0] & 16);

	while (size - pos >= NBD_REQUEST_SIZE) {
		struct nbd_request r;
		struct nbd_reply rep;
		int v, n;

		if (nbd_decode_request(data + pos, &r) < 0)
			return 0; /* bad magic: envold disconnects */
		pos += NBD_REQUEST_SIZE;
		v = nbd_validate_request(&r, &lim);
		if (v == 0 && r.type != NBD_CMD_DISC && r.type != NBD_CMD_FLUSH) {
			uint64_t end = r.offset + r.length;

			if (r.length == 0 || end < r.offset || end > lim.size ||
			    r.offset % lim.min_block || r.length % lim.min_block)
				__builtin_trap();
			if ((r.type == NBD_CMD_READ || r.type == NBD_CMD_WRITE) &&
			    r.length > lim.max_payload)
				__builtin_trap();
			if ((lim.transmission_flags & NBD_FLAG_READ_ONLY) &&
			    (r.type == NBD_CMD_WRITE || r.type == NBD_CMD_TRIM ||
			     r.type == NBD_CMD_WRITE_ZEROES))
				__builtin_trap();
		}
		if (r.type == NBD_CMD_WRITE && v == 0) {
			/* the payload follows the header */
			if (r.length > size - pos)
				return 0;
			pos += r.length;
		}
		if (lim.structured)
			n = nbd_encode_error_chunk(out, sizeof out, NBD_REPLY_FLAG_DONE, r.cookie,
						   nbd_errno_to_wire(v), nbd_command_name(r.type));
		else
			n = nbd_encode_simple_reply(out, sizeof out, nbd_errno_to_wire(v),
						    r.cookie);
		if (n < 0 || nbd_decode_reply(out, (size_t)n, &rep) < 0 || rep.cookie != r.cookie)
			__builtin_trap();
		if (r.type == NBD_CMD_READ && v == 0)
			(void)nbd_encode_offset_data_header(out, sizeof out, NBD_REPLY_FLAG_DONE,
							    r.cookie, r.offset, r.length);
	}
	return 0;
}
