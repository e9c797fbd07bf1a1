/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h — what the files of lib/volume share and nothing outside it includes: the open
 * volume (struct envol_volume) and one section per file.
 *
 * Locking: key_lock (rwlock) is held shared by every I/O call and exclusively by attach and
 * detach, so the DEK and the XTS pool never change under an I/O.  hdr_lock serialises header
 * updates.  A partial-sector write (read-modify-write) holds the stripe mutex of its sector, so
 * concurrent writes to disjoint bytes of one sector all survive.  Writes of whole sectors take
 * no lock: concurrent writes to overlapping bytes leave the overlap unspecified, as NBD allows.
 */
#ifndef ENVOL_VOLUME_INTERNAL_H
#define ENVOL_VOLUME_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "volume/backend.h"
#include "volume/header.h"
#include "volume/volume.h"

#define ENVOL_VOLUME_STRIPES 64

struct envol_xts;

struct envol_volume {
	struct envol_backend *backend;
	bool writable;
	bool read_only; /* the header's read-only flag (never changes while open) */
	uint64_t dev_size; /* bytes of the backing storage */
	unsigned sector_size;
	uint64_t size;
	uint64_t data_offset;

	pthread_mutex_t hdr_lock;
	struct envol_volume_header *hdr; /* the slot in use; updated in place */
	int slot;                        /* 0 = A, 1 = B */
	struct envol_volume_info info;
	struct envol_context_pair pairs[ENVOL_VOLUME_MAX_CONTEXT];

	pthread_rwlock_t key_lock;
	uint8_t *dek;     /* secure memory, NULL when detached */
	uint8_t *mac_key; /* secure memory, 32 bytes */

	pthread_mutex_t pool_lock;
	struct envol_xts **pool; /* idle XTS contexts */
	size_t n_pool, cap_pool;

	pthread_mutex_t stripes[ENVOL_VOLUME_STRIPES];
};

/* volume.c */

/*
 * Opens location through type (read-write or read-only, no lock) and gets its size; the
 * message for storage no volume can live on is "LOCATION is not a regular file or block
 * device".
 */
int envol_volume_open_backend(const struct envol_backend_type *type, const char *location,
			      bool writable, struct envol_backend **ret, uint64_t *ret_size,
			      char *err, size_t errlen);

/* Fills v->info from v->hdr (after open and after every header update). */
void envol_volume_refresh_info(struct envol_volume *v);

/* slots.c: the two header slots on the backend */

/*
 * Reads both slots and picks the valid one with the higher sequence into ret (*ret_slot: 0 = A,
 * 1 = B); dev_size is the backend's size.  -EBADMSG (or -EPROTONOSUPPORT) with both slots'
 * reasons, prefixed with location, when neither is valid.
 */
int envol_slots_pick(struct envol_backend *b, uint64_t dev_size, const char *location,
		     struct envol_volume_header *ret, int *ret_slot, char *err, size_t errlen);
/* Encodes h into a zero-padded slot, writes the whole slot and flushes. */
int envol_slots_write(struct envol_backend *b, int slot, const struct envol_volume_header *h,
		      char *err, size_t errlen);
/*
 * Writes nh into the older slot of v (hdr_lock held); on success it becomes the header in
 * use.  The sequence number is set here, and so is the MAC when mac_key is given (nh must not
 * be MAC pending then).
 */
int envol_slots_commit(struct envol_volume *v, struct envol_volume_header *nh,
		       const uint8_t *mac_key, char *err, size_t errlen);

/* lock.c: who holds a volume */

/* Takes the backend's lock; -EBUSY says "LOCATION is in use by HOLDER (attached)" in err. */
int envol_volume_lock(struct envol_backend *b, bool exclusive, const char *location, char *err,
		      size_t errlen);

/* io.c: sector I/O */

/* Starts the XTS pool of a volume being attached with its first context (pool_lock free). */
int envol_io_pool_start(struct envol_volume *v, struct envol_xts *x);
/* Frees the pool (key_lock held exclusively). */
void envol_io_pool_free(struct envol_volume *v);

#endif
