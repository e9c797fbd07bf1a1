/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_volume_util.h — small helpers the volume unit tests share (test_volume.c,
 * test_volume_backend.c).
 */
#ifndef ENVOL_TEST_VOLUME_UTIL_H
#define ENVOL_TEST_VOLUME_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/random.h>

#include "envol/volume.h"
#include "unit.h"

static inline void fill_random(void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);

		CU_ASSERT_FATAL(r > 0);
		b += r;
		n -= (size_t)r;
	}
}

static inline bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * The encryption context of a new volume: the n_extra pairs of extra, then the pairs binding
 * its parameters (envol_volume_bound_context, kept in bc).  Returns the number of pairs in out.
 */
static inline size_t make_context(const uint8_t uuid[16], uint64_t size, uint32_t sector_size,
				  bool read_only, const struct envol_context_pair *extra,
				  size_t n_extra, struct envol_volume_bound_context *bc,
				  struct envol_context_pair *out)
{
	CU_ASSERT_FATAL(envol_volume_bound_context(uuid, size, sector_size, read_only, bc) == 0);
	for (size_t i = 0; i < n_extra; i++)
		out[i] = extra[i];
	for (size_t i = 0; i < ENVOL_VOLUME_BOUND_PAIRS; i++)
		out[n_extra + i] = bc->pairs[i];
	return n_extra + ENVOL_VOLUME_BOUND_PAIRS;
}

/* An envol_extent_cb that records the first 64 extents. */
struct extent_log {
	uint64_t off[64], len[64];
	bool hole[64];
	int n;
};

static inline int log_extent(void *opaque, uint64_t off, uint64_t len, bool hole)
{
	struct extent_log *l = opaque;

	if (l->n < 64) {
		l->off[l->n] = off;
		l->len[l->n] = len;
		l->hole[l->n] = hole;
		l->n++;
	}
	return 0;
}

#endif
