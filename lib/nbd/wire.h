/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wire.h — the NBD wire protocol (doc/proto.md of NetworkBlockDevice/nbd), fixed newstyle only:
 * magic numbers, flags, option and command numbers, error values, sizes on the wire, the limits
 * we enforce on untrusted input, and the decoded forms of what a client sends.  Every field on
 * the wire is big-endian; lib/nbd/codec.h converts.  No functions here.
 */
#ifndef ENVOL_NBD_WIRE_H
#define ENVOL_NBD_WIRE_H

#include <stdbool.h>
#include <stdint.h>

/* Magic numbers */
#define NBD_MAGIC UINT64_C(0x4e42444d41474943)	    /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC UINT64_C(0x49484156454f5054) /* "IHAVEOPT" */
#define NBD_REP_MAGIC UINT64_C(0x0003e889045565a9)
#define NBD_REQUEST_MAGIC UINT32_C(0x25609513)
#define NBD_SIMPLE_REPLY_MAGIC UINT32_C(0x67446698)
#define NBD_STRUCTURED_REPLY_MAGIC UINT32_C(0x668e33ef)

/* Handshake flags (server, 16 bits) and client flags (32 bits) */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES (1u << 1)

/* Transmission flags (16 bits) */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_ROTATIONAL (1u << 4)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define NBD_FLAG_SEND_RESIZE (1u << 9)
#define NBD_FLAG_SEND_CACHE (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO (1u << 11)

/* Options */
#define NBD_OPT_EXPORT_NAME 1
#define NBD_OPT_ABORT 2
#define NBD_OPT_LIST 3
#define NBD_OPT_PEEK_EXPORT 4
#define NBD_OPT_STARTTLS 5
#define NBD_OPT_INFO 6
#define NBD_OPT_GO 7
#define NBD_OPT_STRUCTURED_REPLY 8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT 10
#define NBD_OPT_EXTENDED_HEADERS 11

/* Option reply types */
#define NBD_REP_ACK 1
#define NBD_REP_SERVER 2
#define NBD_REP_INFO 3
#define NBD_REP_META_CONTEXT 4
#define NBD_REP_FLAG_ERROR (UINT32_C(1) << 31)
#define NBD_REP_ERR_UNSUP (NBD_REP_FLAG_ERROR | 1)
#define NBD_REP_ERR_POLICY (NBD_REP_FLAG_ERROR | 2)
#define NBD_REP_ERR_INVALID (NBD_REP_FLAG_ERROR | 3)
#define NBD_REP_ERR_PLATFORM (NBD_REP_FLAG_ERROR | 4)
#define NBD_REP_ERR_TLS_REQD (NBD_REP_FLAG_ERROR | 5)
#define NBD_REP_ERR_UNKNOWN (NBD_REP_FLAG_ERROR | 6)
#define NBD_REP_ERR_SHUTDOWN (NBD_REP_FLAG_ERROR | 7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (NBD_REP_FLAG_ERROR | 8)
#define NBD_REP_ERR_TOO_BIG (NBD_REP_FLAG_ERROR | 9)

/* NBD_REP_INFO types */
#define NBD_INFO_EXPORT 0
#define NBD_INFO_NAME 1
#define NBD_INFO_DESCRIPTION 2
#define NBD_INFO_BLOCK_SIZE 3

/* Commands and command flags */
#define NBD_CMD_READ 0
#define NBD_CMD_WRITE 1
#define NBD_CMD_DISC 2
#define NBD_CMD_FLUSH 3
#define NBD_CMD_TRIM 4
#define NBD_CMD_CACHE 5
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_BLOCK_STATUS 7
#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)
#define NBD_CMD_FLAG_DF (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO (1u << 4)

/* Structured reply flags and chunk types */
#define NBD_REPLY_FLAG_DONE (1u << 0)
#define NBD_REPLY_TYPE_NONE 0
#define NBD_REPLY_TYPE_OFFSET_DATA 1
#define NBD_REPLY_TYPE_OFFSET_HOLE 2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_ERROR ((1u << 15) | 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET ((1u << 15) | 2)

/* base:allocation states */
#define NBD_STATE_HOLE (1u << 0)
#define NBD_STATE_ZERO (1u << 1)
#define NBD_META_BASE_ALLOCATION "base:allocation"

/* Error values */
#define NBD_SUCCESS 0
#define NBD_EPERM 1
#define NBD_EIO 5
#define NBD_ENOMEM 12
#define NBD_EINVAL 22
#define NBD_ENOSPC 28
#define NBD_EOVERFLOW 75
#define NBD_ENOTSUP 95
#define NBD_ESHUTDOWN 108

/* Sizes on the wire */
#define NBD_GREETING_SIZE 18		/* NBDMAGIC, IHAVEOPT, handshake flags */
#define NBD_OPTION_HEADER_SIZE 16	/* IHAVEOPT, option, length */
#define NBD_OPTION_REPLY_HEADER_SIZE 20 /* magic, option, type, length */
#define NBD_EXPORT_NAME_REPLY_SIZE 134	/* size, flags, 124 zero bytes */
#define NBD_REQUEST_SIZE 28
#define NBD_SIMPLE_REPLY_SIZE 16
#define NBD_STRUCTURED_REPLY_SIZE 20
#define NBD_OFFSET_DATA_HEADER_SIZE (NBD_STRUCTURED_REPLY_SIZE + 8)
#define NBD_BLOCK_STATUS_HEADER_SIZE (NBD_STRUCTURED_REPLY_SIZE + 4)
#define NBD_BLOCK_DESCRIPTOR_SIZE 8

/* Limits we enforce on untrusted input (checked before any allocation) */
#define NBD_MAX_OPTION_LEN 8192		     /* option payload bytes */
#define NBD_MAX_STRING 4096		     /* export names, queries (spec: 4096) */
#define NBD_MAX_INFO_REQUESTS 64	     /* NBD_INFO_* items in one INFO/GO */
#define NBD_MAX_META_QUERIES 64		     /* queries in one LIST/SET_META_CONTEXT */
#define NBD_MAX_PAYLOAD (UINT32_C(32) << 20) /* READ/WRITE payload: 32 MiB */
#define NBD_MAX_ERROR_TEXT 1024		     /* text in error replies */
#define NBD_MAX_OPTIONS 4096		     /* options in one handshake, then disconnect */
#define NBD_MAX_DISCARD (UINT32_C(64) << 20) /* oversized data still read and dropped */

/* ---- decoded forms (lib/nbd/codec.h fills them) ---- */

/* The 16-byte header of every option: IHAVEOPT, option, length of the data that follows. */
struct nbd_option_header {
	uint32_t option;
	uint32_t length;
};

/* NBD_OPT_INFO / NBD_OPT_GO payload: u32 name length, name, u16 count, u16 info types. */
struct nbd_info_request {
	const char *name; /* points into the payload, NOT NUL-terminated */
	uint32_t name_len;
	uint16_t n_info;
	uint16_t info[NBD_MAX_INFO_REQUESTS];
};

/*
 * NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT payload: u32 export name length, name,
 * u32 number of queries, then (u32 length, query) each.  Pointers into the payload.
 */
struct nbd_meta_request {
	const char *name;
	uint32_t name_len;
	uint32_t n_queries;
	const char *query[NBD_MAX_META_QUERIES];
	uint32_t query_len[NBD_MAX_META_QUERIES];
};

/* The header of an option reply (what a client reads). */
struct nbd_option_reply {
	uint32_t option;
	uint32_t type;
	uint32_t length;
};

/* A transmission request (28 bytes on the wire). */
struct nbd_request {
	uint16_t flags;
	uint16_t type;
	uint64_t cookie; /* the "handle" */
	uint64_t offset;
	uint32_t length;
};

/* A simple or structured reply header (what a client reads). */
struct nbd_reply {
	bool structured;
	uint32_t error;	 /* simple */
	uint16_t flags;	 /* structured */
	uint16_t type;	 /* structured */
	uint32_t length; /* structured */
	uint64_t cookie;
};

#endif
