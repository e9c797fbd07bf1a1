/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slots.c — the two header slots on a volume's backend (docs/format.md, "Choosing the slot"
 * and "Updating the header"): read both and pick the newer valid one, write a new header
 * crash-safely into the older one, read a header for inspection, and crypto-erase the header
 * area.  The bytes of one slot are header.c's business.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"
#include "volume/internal.h"

static const uint64_t slot_offsets[2] = { ENVOL_HEADER_SLOT_A_OFFSET, ENVOL_HEADER_SLOT_B_OFFSET };

int envol_slots_write(struct envol_backend *b, int slot, const struct envol_volume_header *h,
		      char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = calloc(1, ENVOL_HEADER_SLOT_SIZE);
	int r;

	if (!buf)
		return -ENOMEM;
	r = envol_header_encode(h, buf, ENVOL_HEADER_SLOT_SIZE, err, errlen);
	if (r < 0)
		return r;
	r = b->ops->pwrite(b, buf, ENVOL_HEADER_SLOT_SIZE, slot_offsets[slot]);
	if (r < 0)
		return envol_fail(r, err, errlen, "writing header slot %c: %s", 'A' + slot,
				  strerror(-r));
	r = b->ops->flush(b);
	if (r < 0)
		return envol_fail(r, err, errlen, "syncing header slot %c: %s", 'A' + slot,
				  strerror(-r));
	return 0;
}

/* Reads and decodes one slot; the message (prefixed "slot X: ") goes to err. */
static int read_slot(struct envol_backend *b, uint64_t dev_size, int slot,
		     struct envol_volume_header *ret, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = malloc(ENVOL_HEADER_SLOT_SIZE);
	char msg[256] = "";
	size_t avail = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	if (dev_size > slot_offsets[slot])
		avail = dev_size - slot_offsets[slot] < ENVOL_HEADER_SLOT_SIZE
				? (size_t)(dev_size - slot_offsets[slot])
				: ENVOL_HEADER_SLOT_SIZE;
	if (avail > 0) {
		r = b->ops->pread(b, buf, avail, slot_offsets[slot]);
		if (r < 0)
			return envol_fail(r, err, errlen, "slot %c: read failed: %s", 'A' + slot,
					  strerror(-r));
	}
	r = envol_header_decode(buf, avail, ret, msg, sizeof msg);
	if (r < 0)
		envol_set_error(err, errlen, "slot %c: %s", 'A' + slot, msg);
	return r;
}

int envol_slots_pick(struct envol_backend *b, uint64_t dev_size, const char *location,
		     struct envol_volume_header *ret, int *ret_slot, char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *ha = calloc(1, sizeof(*ha));
	_cleanup_free_ struct envol_volume_header *hb = calloc(1, sizeof(*hb));
	char err_a[300] = "", err_b[300] = "";
	int ra, rb;

	if (!ha || !hb)
		return -ENOMEM;
	ra = read_slot(b, dev_size, 0, ha, err_a, sizeof err_a);
	rb = read_slot(b, dev_size, 1, hb, err_b, sizeof err_b);
	if (ra == -ENOMEM || rb == -ENOMEM)
		return -ENOMEM;
	if (ra < 0 && rb < 0) {
		envol_set_error(err, errlen, "%s: no valid volume header: %s; %s", location, err_a,
				err_b);
		return (ra == -EPROTONOSUPPORT || rb == -EPROTONOSUPPORT) ? -EPROTONOSUPPORT
									  : -EBADMSG;
	}
	if (ra == 0 && rb == 0 && memcmp(ha->uuid, hb->uuid, 16) != 0)
		log_debug("%s: header slots name different volumes; using the newer", location);
	if (ra < 0 || (rb == 0 && hb->sequence > ha->sequence)) {
		*ret = *hb;
		*ret_slot = 1;
		if (ra < 0)
			log_debug("%s: %s; using slot B", location, err_a);
	} else {
		*ret = *ha;
		*ret_slot = 0;
		if (rb < 0)
			log_debug("%s: %s; using slot A", location, err_b);
	}
	return 0;
}

int envol_slots_commit(struct envol_volume *v, struct envol_volume_header *nh,
		       const uint8_t *mac_key, char *err, size_t errlen)
{
	int target = 1 - v->slot, r;

	if (v->hdr->sequence == UINT64_MAX)
		return envol_fail(-EOVERFLOW, err, errlen, "header sequence number exhausted");
	nh->sequence = v->hdr->sequence + 1;
	memset(nh->mac, 0, sizeof nh->mac);
	if (mac_key) {
		r = envol_header_compute_mac(nh, mac_key, nh->mac);
		if (r < 0)
			return envol_fail(r, err, errlen, "computing the header MAC failed");
	}
	r = envol_slots_write(v->backend, target, nh, err, errlen);
	if (r < 0)
		return r;
	*v->hdr = *nh;
	v->slot = target;
	envol_volume_refresh_info(v);
	log_debug("volume header sequence %llu written to slot %c",
		  (unsigned long long)nh->sequence, 'A' + target);
	return 0;
}

int envol_volume_read_header(const char *location, struct envol_volume_header *ret, char *err,
			     size_t errlen)
{
	struct envol_backend *b = NULL;
	uint64_t dev_size;
	int slot, r;

	if (!location)
		return -EINVAL;
	r = envol_volume_open_backend(envol_backend_type_for(location), location, false, &b,
				      &dev_size, err, errlen);
	if (r < 0)
		return r;
	r = envol_slots_pick(b, dev_size, location, ret, &slot, err, errlen);
	b->ops->close(b);
	return r;
}

/* The whole header area: random bytes, then zeros, flushed after each pass. */
static int overwrite_header_area(struct envol_backend *b, uint8_t *buf)
{
	int r;

	for (size_t off = 0; off < ENVOL_VOLUME_DATA_OFFSET;) {
		ssize_t n = getrandom(buf + off, ENVOL_VOLUME_DATA_OFFSET - off, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		off += (size_t)n;
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			memset(buf, 0, ENVOL_VOLUME_DATA_OFFSET);
		r = b->ops->pwrite(b, buf, ENVOL_VOLUME_DATA_OFFSET, 0);
		if (r >= 0)
			r = b->ops->flush(b);
		if (r < 0)
			return r;
	}
	return 0;
}

static int erase(struct envol_backend *b, const char *location, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *buf = NULL;
	bool magic = false;
	int r;

	r = envol_volume_lock(b, true, location, err, errlen);
	if (r < 0)
		return r;
	buf = malloc(ENVOL_VOLUME_DATA_OFFSET);
	if (!buf)
		return -ENOMEM;
	/* Refuse to wipe the start of something that is not a volume (a wrong path or device). */
	for (int s = 0; s < 2; s++) {
		r = b->ops->pread(b, buf, 8, slot_offsets[s]);
		if (r < 0)
			return r;
		magic |= memcmp(buf, ENVOL_HEADER_MAGIC, 8) == 0;
	}
	if (!magic)
		return envol_fail(-EMEDIUMTYPE, err, errlen,
				  "%s is not an envol volume (no header magic); not erased",
				  location);
	r = overwrite_header_area(b, buf);
	if (r < 0)
		return envol_fail(r, err, errlen, "overwriting the header of %s: %s", location,
				  strerror(-r));
	return 0;
}

int envol_volume_erase(const char *location, char *err, size_t errlen)
{
	struct envol_backend *b = NULL;
	uint64_t size = 0;
	int r;

	if (!location)
		return -EINVAL;
	r = envol_backend_type_for(location)->open(location, true, &b, err, errlen);
	if (r < 0)
		return r;
	r = b->ops->size(b, &size);
	if (r < 0 || size < ENVOL_VOLUME_DATA_OFFSET)
		r = envol_fail(-EINVAL, err, errlen, "%s is not a volume (too small or not a file)",
			       location);
	else
		r = erase(b, location, err, errlen);
	b->ops->close(b);
	return r;
}
