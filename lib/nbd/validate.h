/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * validate.h — request validation before any backend call (nbdkit's validate_request model):
 * command known and advertised, flags allowed for the command, range inside the export,
 * alignment to the minimum block size, payload cap, read-only.  Pure: no I/O, no logging.
 */
#ifndef ENVOL_NBD_VALIDATE_H
#define ENVOL_NBD_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "nbd/wire.h"

/* What was negotiated for one connection (lib/nbd/handshake.h fills it). */
struct nbd_export_limits {
	uint64_t size;
	uint32_t min_block; /* offsets and lengths must be multiples of it (1: any) */
	uint32_t max_payload;
	uint16_t transmission_flags;
	bool structured;
	bool meta_base_allocation;
};

/*
 * Validates a decoded request.  Returns 0, or the negative errno whose NBD error is to be
 * replied (the connection stays): -EINVAL (unknown command, bad flags, unaligned, zero length,
 * past the end, payload too large), -ENOSPC (a write past the end), -EPERM (a write to a
 * read-only export).  NBD_CMD_DISC is always valid.
 */
int nbd_validate_request(const struct nbd_request *r, const struct nbd_export_limits *lim);

/* A text for the client and the log for a refusal of nbd_validate_request(). */
const char *nbd_validate_strerror(int r);

#endif
