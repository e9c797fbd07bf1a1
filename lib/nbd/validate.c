/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* validate.c — request validation before any backend call (see validate.h). */
#include <errno.h>

#include "nbd/validate.h"
#include "util/macros.h"

/* Flags each command accepts (FUA is valid on every command once SEND_FUA is advertised). */
static uint16_t allowed_flags(uint16_t type, const struct nbd_export_limits *lim)
{
	uint16_t f = (lim->transmission_flags & NBD_FLAG_SEND_FUA) ? NBD_CMD_FLAG_FUA : 0;

	switch (type) {
	case NBD_CMD_READ:
		if (lim->structured && (lim->transmission_flags & NBD_FLAG_SEND_DF))
			f |= NBD_CMD_FLAG_DF;
		break;
	case NBD_CMD_WRITE_ZEROES:
		f |= NBD_CMD_FLAG_NO_HOLE;
		if (lim->transmission_flags & NBD_FLAG_SEND_FAST_ZERO)
			f |= NBD_CMD_FLAG_FAST_ZERO;
		break;
	case NBD_CMD_BLOCK_STATUS:
		f |= NBD_CMD_FLAG_REQ_ONE;
		break;
	default:
		break;
	}
	return f;
}

int nbd_validate_request(const struct nbd_request *r, const struct nbd_export_limits *lim)
{
	bool is_write = false, needs_range = true, payload = false;
	uint16_t need_flag = 0;
	uint64_t end;

	switch (r->type) {
	case NBD_CMD_READ:
		payload = true;
		break;
	case NBD_CMD_WRITE:
		is_write = payload = true;
		break;
	case NBD_CMD_DISC:
		return 0;
	case NBD_CMD_FLUSH:
		need_flag = NBD_FLAG_SEND_FLUSH;
		needs_range = false;
		break;
	case NBD_CMD_TRIM:
		need_flag = NBD_FLAG_SEND_TRIM;
		is_write = true;
		break;
	case NBD_CMD_CACHE:
		need_flag = NBD_FLAG_SEND_CACHE;
		break;
	case NBD_CMD_WRITE_ZEROES:
		need_flag = NBD_FLAG_SEND_WRITE_ZEROES;
		is_write = true;
		break;
	case NBD_CMD_BLOCK_STATUS:
		if (!lim->structured || !lim->meta_base_allocation)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (r->flags & ~allowed_flags(r->type, lim))
		return -EINVAL;
	if (is_write && (lim->transmission_flags & NBD_FLAG_READ_ONLY))
		return -EPERM;
	if (need_flag && !(lim->transmission_flags & need_flag))
		return -EINVAL;
	if (!needs_range)
		return 0;
	if (r->length == 0)
		return -EINVAL;
	if (payload && r->length > lim->max_payload)
		return -EINVAL;
	if (lim->min_block > 1 &&
	    (r->offset % lim->min_block != 0 || r->length % lim->min_block != 0))
		return -EINVAL;
	if (ADD_OVERFLOW(r->offset, (uint64_t)r->length, &end) || end > lim->size)
		return (r->type == NBD_CMD_WRITE || r->type == NBD_CMD_WRITE_ZEROES) ? -ENOSPC
										     : -EINVAL;
	return 0;
}

const char *nbd_validate_strerror(int r)
{
	switch (r) {
	case -EPERM:
		return "the export is read-only";
	case -ENOSPC:
		return "write past the end of the export";
	default:
		return "invalid request (range, alignment, length or flags)";
	}
}
