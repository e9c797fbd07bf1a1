/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* codec.c — the pure NBD codec: big-endian encode/decode of the wire forms (see codec.h). */
#include <errno.h>
#include <string.h>

#include "util/macros.h"
#include "nbd/codec.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get64(const uint8_t *p) { return ((uint64_t)get32(p) << 32) | get32(p + 4); }

/* Length of a string clamped to max (strnlen). */
static uint32_t text_len(const char *s, size_t max) { return s ? (uint32_t)strnlen(s, max) : 0; }

int nbd_encode_greeting(uint8_t *buf, size_t cap, uint16_t handshake_flags)
{
	if (cap < NBD_GREETING_SIZE)
		return -ENOBUFS;
	put64(buf, NBD_MAGIC);
	put64(buf + 8, NBD_OPTS_MAGIC);
	put16(buf + 16, handshake_flags);
	return NBD_GREETING_SIZE;
}

int nbd_decode_client_flags(const uint8_t buf[4], uint16_t offered, uint32_t *ret_flags)
{
	uint32_t f = get32(buf);

	if (f & ~(uint32_t)offered)
		return -EPROTO;
	*ret_flags = f;
	return 0;
}

int nbd_decode_option_header(const uint8_t buf[NBD_OPTION_HEADER_SIZE],
			     struct nbd_option_header *ret)
{
	if (get64(buf) != NBD_OPTS_MAGIC)
		return -EBADMSG;
	ret->option = get32(buf + 8);
	ret->length = get32(buf + 12);
	return 0;
}

int nbd_encode_option(uint8_t *buf, size_t cap, uint32_t option, const void *data, uint32_t len)
{
	if (cap < NBD_OPTION_HEADER_SIZE || cap - NBD_OPTION_HEADER_SIZE < len)
		return -ENOBUFS;
	put64(buf, NBD_OPTS_MAGIC);
	put32(buf + 8, option);
	put32(buf + 12, len);
	if (len)
		memcpy(buf + NBD_OPTION_HEADER_SIZE, data, len);
	return (int)(NBD_OPTION_HEADER_SIZE + len);
}

/*
 * The export name (u32 length, then the bytes) that opens NBD_OPT_INFO/GO and the meta context
 * payloads.  Returns the offset just past it, or -EINVAL.
 */
static int decode_export_name(const uint8_t *data, size_t len, const char **ret_name,
			      uint32_t *ret_len)
{
	uint32_t n;

	if (len < 4)
		return -EINVAL;
	n = get32(data);
	if (n > NBD_MAX_STRING || n > len - 4)
		return -EINVAL;
	*ret_name = (const char *)data + 4;
	*ret_len = n;
	return (int)(4 + n);
}

int nbd_decode_info_request(const uint8_t *data, size_t len, struct nbd_info_request *ret)
{
	struct nbd_info_request r = {0};
	size_t pos;
	int q;

	q = decode_export_name(data, len, &r.name, &r.name_len);
	if (q < 0)
		return q;
	pos = (size_t)q;
	if (len - pos < 2)
		return -EINVAL;
	r.n_info = get16(data + pos);
	pos += 2;
	if (r.n_info > NBD_MAX_INFO_REQUESTS || (size_t)r.n_info * 2 != len - pos)
		return -EINVAL;
	for (uint16_t i = 0; i < r.n_info; i++)
		r.info[i] = get16(data + pos + 2 * (size_t)i);
	*ret = r;
	return 0;
}

int nbd_decode_meta_request(const uint8_t *data, size_t len, struct nbd_meta_request *ret)
{
	struct nbd_meta_request r;
	size_t pos;
	int q;

	memset(&r, 0, sizeof r);
	q = decode_export_name(data, len, &r.name, &r.name_len);
	if (q < 0)
		return q;
	pos = (size_t)q;
	if (len - pos < 4)
		return -EINVAL;
	r.n_queries = get32(data + pos);
	pos += 4;
	if (r.n_queries > NBD_MAX_META_QUERIES)
		return -EINVAL;
	for (uint32_t i = 0; i < r.n_queries; i++) {
		uint32_t ql;

		if (len - pos < 4)
			return -EINVAL;
		ql = get32(data + pos);
		pos += 4;
		if (ql > NBD_MAX_STRING || ql > len - pos)
			return -EINVAL;
		r.query[i] = (const char *)data + pos;
		r.query_len[i] = ql;
		pos += ql;
	}
	if (pos != len)
		return -EINVAL;
	*ret = r;
	return 0;
}

bool nbd_meta_query_selects_base_allocation(const char *q, uint32_t len, bool listing)
{
	static const char full[] = NBD_META_BASE_ALLOCATION;

	if (len == sizeof full - 1 && memcmp(q, full, len) == 0)
		return true;
	/* "base:" lists (and, as nbdkit does, selects) every context of the namespace */
	return listing && len == 5 && memcmp(q, "base:", 5) == 0;
}

int nbd_encode_option_reply(uint8_t *buf, size_t cap, uint32_t option, uint32_t type,
			    const void *data, uint32_t len)
{
	if (cap < NBD_OPTION_REPLY_HEADER_SIZE || cap - NBD_OPTION_REPLY_HEADER_SIZE < len)
		return -ENOBUFS;
	put64(buf, NBD_REP_MAGIC);
	put32(buf + 8, option);
	put32(buf + 12, type);
	put32(buf + 16, len);
	if (len)
		memcpy(buf + NBD_OPTION_REPLY_HEADER_SIZE, data, len);
	return (int)(NBD_OPTION_REPLY_HEADER_SIZE + len);
}

int nbd_encode_option_error(uint8_t *buf, size_t cap, uint32_t option, uint32_t type,
			    const char *text)
{
	if (!(type & NBD_REP_FLAG_ERROR))
		return -EINVAL;
	return nbd_encode_option_reply(buf, cap, option, type, text,
				       text_len(text, NBD_MAX_ERROR_TEXT));
}

int nbd_encode_rep_server(uint8_t *buf, size_t cap, uint32_t option, const char *name,
			  const char *description)
{
	uint32_t nl = text_len(name, NBD_MAX_STRING);
	uint32_t dl = text_len(description, NBD_MAX_STRING);
	uint32_t len = 4 + nl + dl;
	uint8_t *p = buf + NBD_OPTION_REPLY_HEADER_SIZE;

	if (cap < NBD_OPTION_REPLY_HEADER_SIZE || cap - NBD_OPTION_REPLY_HEADER_SIZE < len)
		return -ENOBUFS;
	nbd_encode_option_reply(buf, cap, option, NBD_REP_SERVER, NULL, 0);
	put32(buf + 16, len);
	put32(p, nl);
	memcpy(p + 4, name, nl);
	if (dl)
		memcpy(p + 4 + nl, description, dl);
	return (int)(NBD_OPTION_REPLY_HEADER_SIZE + len);
}

int nbd_encode_rep_info_export(uint8_t *buf, size_t cap, uint32_t option, uint64_t size,
			       uint16_t transmission_flags)
{
	uint8_t d[12];

	put16(d, NBD_INFO_EXPORT);
	put64(d + 2, size);
	put16(d + 10, transmission_flags);
	return nbd_encode_option_reply(buf, cap, option, NBD_REP_INFO, d, sizeof d);
}

int nbd_encode_rep_info_string(uint8_t *buf, size_t cap, uint32_t option, uint16_t info,
			       const char *text)
{
	uint32_t tl = text_len(text, NBD_MAX_STRING);
	uint32_t len = 2 + tl;

	if (info != NBD_INFO_NAME && info != NBD_INFO_DESCRIPTION)
		return -EINVAL;
	if (cap < NBD_OPTION_REPLY_HEADER_SIZE || cap - NBD_OPTION_REPLY_HEADER_SIZE < len)
		return -ENOBUFS;
	nbd_encode_option_reply(buf, cap, option, NBD_REP_INFO, NULL, 0);
	put32(buf + 16, len);
	put16(buf + NBD_OPTION_REPLY_HEADER_SIZE, info);
	if (tl)
		memcpy(buf + NBD_OPTION_REPLY_HEADER_SIZE + 2, text, tl);
	return (int)(NBD_OPTION_REPLY_HEADER_SIZE + len);
}

int nbd_encode_rep_info_block_size(uint8_t *buf, size_t cap, uint32_t option, uint32_t minimum,
				   uint32_t preferred, uint32_t maximum)
{
	uint8_t d[14];

	put16(d, NBD_INFO_BLOCK_SIZE);
	put32(d + 2, minimum);
	put32(d + 6, preferred);
	put32(d + 10, maximum);
	return nbd_encode_option_reply(buf, cap, option, NBD_REP_INFO, d, sizeof d);
}

int nbd_encode_rep_meta_context(uint8_t *buf, size_t cap, uint32_t option, uint32_t id,
				const char *name)
{
	uint32_t nl = text_len(name, NBD_MAX_STRING);
	uint32_t len = 4 + nl;

	if (cap < NBD_OPTION_REPLY_HEADER_SIZE || cap - NBD_OPTION_REPLY_HEADER_SIZE < len)
		return -ENOBUFS;
	nbd_encode_option_reply(buf, cap, option, NBD_REP_META_CONTEXT, NULL, 0);
	put32(buf + 16, len);
	put32(buf + NBD_OPTION_REPLY_HEADER_SIZE, id);
	memcpy(buf + NBD_OPTION_REPLY_HEADER_SIZE + 4, name, nl);
	return (int)(NBD_OPTION_REPLY_HEADER_SIZE + len);
}

int nbd_decode_option_reply(const uint8_t buf[NBD_OPTION_REPLY_HEADER_SIZE],
			    struct nbd_option_reply *ret)
{
	if (get64(buf) != NBD_REP_MAGIC)
		return -EBADMSG;
	ret->option = get32(buf + 8);
	ret->type = get32(buf + 12);
	ret->length = get32(buf + 16);
	return 0;
}

int nbd_encode_export_name_reply(uint8_t *buf, size_t cap, uint64_t size, uint16_t flags,
				 bool no_zeroes)
{
	size_t n = no_zeroes ? 10 : NBD_EXPORT_NAME_REPLY_SIZE;

	if (cap < n)
		return -ENOBUFS;
	put64(buf, size);
	put16(buf + 8, flags);
	if (!no_zeroes)
		memset(buf + 10, 0, 124);
	return (int)n;
}

int nbd_decode_request(const uint8_t buf[NBD_REQUEST_SIZE], struct nbd_request *ret)
{
	if (get32(buf) != NBD_REQUEST_MAGIC)
		return -EBADMSG;
	ret->flags = get16(buf + 4);
	ret->type = get16(buf + 6);
	ret->cookie = get64(buf + 8);
	ret->offset = get64(buf + 16);
	ret->length = get32(buf + 24);
	return 0;
}

int nbd_encode_request(uint8_t buf[NBD_REQUEST_SIZE], const struct nbd_request *r)
{
	put32(buf, NBD_REQUEST_MAGIC);
	put16(buf + 4, r->flags);
	put16(buf + 6, r->type);
	put64(buf + 8, r->cookie);
	put64(buf + 16, r->offset);
	put32(buf + 24, r->length);
	return NBD_REQUEST_SIZE;
}

int nbd_encode_simple_reply(uint8_t *buf, size_t cap, uint32_t error, uint64_t cookie)
{
	if (cap < NBD_SIMPLE_REPLY_SIZE)
		return -ENOBUFS;
	put32(buf, NBD_SIMPLE_REPLY_MAGIC);
	put32(buf + 4, error);
	put64(buf + 8, cookie);
	return NBD_SIMPLE_REPLY_SIZE;
}

int nbd_encode_structured_reply(uint8_t *buf, size_t cap, uint16_t flags, uint16_t type,
				uint64_t cookie, uint32_t length)
{
	if (cap < NBD_STRUCTURED_REPLY_SIZE)
		return -ENOBUFS;
	put32(buf, NBD_STRUCTURED_REPLY_MAGIC);
	put16(buf + 4, flags);
	put16(buf + 6, type);
	put64(buf + 8, cookie);
	put32(buf + 16, length);
	return NBD_STRUCTURED_REPLY_SIZE;
}

int nbd_encode_offset_data_header(uint8_t *buf, size_t cap, uint16_t flags, uint64_t cookie,
				  uint64_t offset, uint32_t data_len)
{
	if (cap < NBD_OFFSET_DATA_HEADER_SIZE || data_len > UINT32_MAX - 8)
		return -ENOBUFS;
	nbd_encode_structured_reply(buf, cap, flags, NBD_REPLY_TYPE_OFFSET_DATA, cookie,
				    data_len + 8);
	put64(buf + NBD_STRUCTURED_REPLY_SIZE, offset);
	return NBD_OFFSET_DATA_HEADER_SIZE;
}

int nbd_encode_error_chunk(uint8_t *buf, size_t cap, uint16_t flags, uint64_t cookie,
			   uint32_t error, const char *message)
{
	uint32_t ml = text_len(message, NBD_MAX_ERROR_TEXT);
	size_t n = NBD_STRUCTURED_REPLY_SIZE + 6 + ml;

	if (cap < n)
		return -ENOBUFS;
	nbd_encode_structured_reply(buf, cap, flags, NBD_REPLY_TYPE_ERROR, cookie, 6 + ml);
	put32(buf + NBD_STRUCTURED_REPLY_SIZE, error);
	put16(buf + NBD_STRUCTURED_REPLY_SIZE + 4, (uint16_t)ml);
	if (ml)
		memcpy(buf + NBD_STRUCTURED_REPLY_SIZE + 6, message, ml);
	return (int)n;
}

int nbd_encode_block_status_header(uint8_t *buf, size_t cap, uint16_t flags, uint64_t cookie,
				   uint32_t context_id, uint32_t n_descriptors)
{
	if (cap < NBD_BLOCK_STATUS_HEADER_SIZE || n_descriptors == 0 ||
	    n_descriptors > (UINT32_MAX - 4) / NBD_BLOCK_DESCRIPTOR_SIZE)
		return n_descriptors == 0 ? -EINVAL : -ENOBUFS;
	nbd_encode_structured_reply(buf, cap, flags, NBD_REPLY_TYPE_BLOCK_STATUS, cookie,
				    4 + n_descriptors * NBD_BLOCK_DESCRIPTOR_SIZE);
	put32(buf + NBD_STRUCTURED_REPLY_SIZE, context_id);
	return NBD_BLOCK_STATUS_HEADER_SIZE;
}

int nbd_encode_block_descriptor(uint8_t *buf, size_t cap, uint32_t length, uint32_t status)
{
	if (cap < NBD_BLOCK_DESCRIPTOR_SIZE)
		return -ENOBUFS;
	put32(buf, length);
	put32(buf + 4, status);
	return NBD_BLOCK_DESCRIPTOR_SIZE;
}

int nbd_decode_reply(const uint8_t *buf, size_t len, struct nbd_reply *ret)
{
	struct nbd_reply r = {0};

	if (len < 4)
		return -EINVAL;
	switch (get32(buf)) {
	case NBD_SIMPLE_REPLY_MAGIC:
		if (len < NBD_SIMPLE_REPLY_SIZE)
			return -EINVAL;
		r.error = get32(buf + 4);
		r.cookie = get64(buf + 8);
		break;
	case NBD_STRUCTURED_REPLY_MAGIC:
		if (len < NBD_STRUCTURED_REPLY_SIZE)
			return -EINVAL;
		r.structured = true;
		r.flags = get16(buf + 4);
		r.type = get16(buf + 6);
		r.cookie = get64(buf + 8);
		r.length = get32(buf + 16);
		break;
	default:
		return -EBADMSG;
	}
	*ret = r;
	return 0;
}

uint32_t nbd_errno_to_wire(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return NBD_SUCCESS;
	case EPERM:
	case EROFS:
	case EACCES:
		return NBD_EPERM;
	case EIO:
	case EBADMSG:
	case ENOKEY:
		return NBD_EIO;
	case ENOMEM:
		return NBD_ENOMEM;
	case ENOSPC:
	case EFBIG:
	case EDQUOT:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	case EINVAL:
	default:
		return NBD_EINVAL;
	}
}

uint32_t nbd_errno_to_rep_error(int err)
{
	switch (err < 0 ? -err : err) {
	case EACCES:
	case EPERM:
	case EKEYREVOKED:
		return NBD_REP_ERR_POLICY;
	case ENOENT:
	default:
		return NBD_REP_ERR_UNKNOWN;
	}
}

const char *nbd_option_name(uint32_t option)
{
	static const char *const names[] = {
	    [NBD_OPT_EXPORT_NAME] = "NBD_OPT_EXPORT_NAME",
	    [NBD_OPT_ABORT] = "NBD_OPT_ABORT",
	    [NBD_OPT_LIST] = "NBD_OPT_LIST",
	    [NBD_OPT_PEEK_EXPORT] = "NBD_OPT_PEEK_EXPORT",
	    [NBD_OPT_STARTTLS] = "NBD_OPT_STARTTLS",
	    [NBD_OPT_INFO] = "NBD_OPT_INFO",
	    [NBD_OPT_GO] = "NBD_OPT_GO",
	    [NBD_OPT_STRUCTURED_REPLY] = "NBD_OPT_STRUCTURED_REPLY",
	    [NBD_OPT_LIST_META_CONTEXT] = "NBD_OPT_LIST_META_CONTEXT",
	    [NBD_OPT_SET_META_CONTEXT] = "NBD_OPT_SET_META_CONTEXT",
	    [NBD_OPT_EXTENDED_HEADERS] = "NBD_OPT_EXTENDED_HEADERS",
	};

	if (option < ARRAY_SIZE(names) && names[option])
		return names[option];
	return "unknown";
}

const char *nbd_command_name(uint16_t type)
{
	static const char *const names[] = {
	    [NBD_CMD_READ] = "NBD_CMD_READ",
	    [NBD_CMD_WRITE] = "NBD_CMD_WRITE",
	    [NBD_CMD_DISC] = "NBD_CMD_DISC",
	    [NBD_CMD_FLUSH] = "NBD_CMD_FLUSH",
	    [NBD_CMD_TRIM] = "NBD_CMD_TRIM",
	    [NBD_CMD_CACHE] = "NBD_CMD_CACHE",
	    [NBD_CMD_WRITE_ZEROES] = "NBD_CMD_WRITE_ZEROES",
	    [NBD_CMD_BLOCK_STATUS] = "NBD_CMD_BLOCK_STATUS",
	};

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	return "unknown";
}
