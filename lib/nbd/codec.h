/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * codec.h — the pure NBD codec: handshake options, option replies, requests and simple or
 * structured replies, to and from their bytes on the wire (lib/nbd/wire.h).  Bytes in, bytes
 * out: no I/O, no allocation, no logging.  The encoders write into caller buffers and return the
 * number of bytes written, or -ENOBUFS when the buffer is too small.  Decoders treat every byte
 * as hostile and return -EINVAL (malformed) or -EBADMSG (bad magic); outputs are untouched on
 * failure.
 */
#ifndef ENVOL_NBD_CODEC_H
#define ENVOL_NBD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nbd/wire.h"

/* ---- handshake ---- */

/* Server greeting: NBDMAGIC, IHAVEOPT, handshake flags (buf: NBD_GREETING_SIZE bytes). */
int nbd_encode_greeting(uint8_t *buf, size_t cap, uint16_t handshake_flags);
/*
 * Client flags: returns 0, or -EPROTO for flags we did not offer (the spec says drop the
 * connection).  offered = the handshake flags the server sent.
 */
int nbd_decode_client_flags(const uint8_t buf[4], uint16_t offered, uint32_t *ret_flags);

/* -EBADMSG on a bad magic; the length is returned as sent (check it against the limits). */
int nbd_decode_option_header(const uint8_t buf[NBD_OPTION_HEADER_SIZE],
			     struct nbd_option_header *ret);
int nbd_encode_option(uint8_t *buf, size_t cap, uint32_t option, const void *data, uint32_t len);

int nbd_decode_info_request(const uint8_t *data, size_t len, struct nbd_info_request *ret);
int nbd_decode_meta_request(const uint8_t *data, size_t len, struct nbd_meta_request *ret);
/* Does the query select base:allocation ("base:allocation", "base:", or "" when listing)? */
bool nbd_meta_query_selects_base_allocation(const char *q, uint32_t len, bool listing);

/* Option reply header + payload. */
int nbd_encode_option_reply(uint8_t *buf, size_t cap, uint32_t option, uint32_t type,
			    const void *data, uint32_t len);
/* Error reply with a human-readable text (truncated at NBD_MAX_ERROR_TEXT). */
int nbd_encode_option_error(uint8_t *buf, size_t cap, uint32_t option, uint32_t type,
			    const char *text);
/* NBD_REP_SERVER: u32 name length, name, then description text (may be NULL). */
int nbd_encode_rep_server(uint8_t *buf, size_t cap, uint32_t option, const char *name,
			  const char *description);
int nbd_encode_rep_info_export(uint8_t *buf, size_t cap, uint32_t option, uint64_t size,
			       uint16_t transmission_flags);
/* NBD_INFO_NAME or NBD_INFO_DESCRIPTION with a string. */
int nbd_encode_rep_info_string(uint8_t *buf, size_t cap, uint32_t option, uint16_t info,
			       const char *text);
int nbd_encode_rep_info_block_size(uint8_t *buf, size_t cap, uint32_t option, uint32_t minimum,
				   uint32_t preferred, uint32_t maximum);
int nbd_encode_rep_meta_context(uint8_t *buf, size_t cap, uint32_t option, uint32_t id,
				const char *name);

/* Decodes an option reply header (for tests and clients); -EBADMSG on a bad magic. */
int nbd_decode_option_reply(const uint8_t buf[NBD_OPTION_REPLY_HEADER_SIZE],
			    struct nbd_option_reply *ret);

/* NBD_OPT_EXPORT_NAME reply: size, flags, and 124 zeros unless no_zeroes. */
int nbd_encode_export_name_reply(uint8_t *buf, size_t cap, uint64_t size, uint16_t flags,
				 bool no_zeroes);

/* ---- transmission ---- */

/* -EBADMSG on a bad magic (a protocol violation: disconnect). */
int nbd_decode_request(const uint8_t buf[NBD_REQUEST_SIZE], struct nbd_request *ret);
int nbd_encode_request(uint8_t buf[NBD_REQUEST_SIZE], const struct nbd_request *r);

int nbd_encode_simple_reply(uint8_t *buf, size_t cap, uint32_t error, uint64_t cookie);
int nbd_encode_structured_reply(uint8_t *buf, size_t cap, uint16_t flags, uint16_t type,
				uint64_t cookie, uint32_t length);
/* Chunk header + offset of an OFFSET_DATA chunk for data_len bytes that follow. */
int nbd_encode_offset_data_header(uint8_t *buf, size_t cap, uint16_t flags, uint64_t cookie,
				  uint64_t offset, uint32_t data_len);
/* NBD_REPLY_TYPE_ERROR chunk: error, u16 message length, message. */
int nbd_encode_error_chunk(uint8_t *buf, size_t cap, uint16_t flags, uint64_t cookie,
			   uint32_t error, const char *message);
/* BLOCK_STATUS chunk header + context id, for n descriptors that follow. */
int nbd_encode_block_status_header(uint8_t *buf, size_t cap, uint16_t flags, uint64_t cookie,
				   uint32_t context_id, uint32_t n_descriptors);
int nbd_encode_block_descriptor(uint8_t *buf, size_t cap, uint32_t length, uint32_t status);

/* Decodes a simple (16 bytes) or structured (20 bytes) reply header; buf must hold len bytes. */
int nbd_decode_reply(const uint8_t *buf, size_t len, struct nbd_reply *ret);

/* ---- errors and names ---- */

/* The one mapping from -errno (or errno) to the NBD_E* value of a transmission reply. */
uint32_t nbd_errno_to_wire(int err);
/*
 * The one mapping from -errno to the NBD_REP_ERR_* of an option reply that refuses an export:
 * -EACCES, -EPERM, -EKEYREVOKED → NBD_REP_ERR_POLICY; anything else (-ENOENT …) →
 * NBD_REP_ERR_UNKNOWN.
 */
uint32_t nbd_errno_to_rep_error(int err);

/* Names for logs ("NBD_OPT_GO", "NBD_CMD_READ", …), "unknown" otherwise. */
const char *nbd_option_name(uint32_t option);
const char *nbd_command_name(uint16_t type);

#endif
