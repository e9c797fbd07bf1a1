/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend.c — the built-in storage backends, and which one a location names.
 */
#include <string.h>

#include "util/macros.h"
#include "volume/backend.h"

/*
 * Types chosen by a location prefix, tried in order.  A location with none of their prefixes
 * is a path: the file backend.
 */
static const struct envol_backend_type *const prefixed_types[] = { &envol_backend_rbd };

const struct envol_backend_type *envol_backend_type_for(const char *location)
{
	for (size_t i = 0; location && i < ARRAY_SIZE(prefixed_types); i++) {
		const struct envol_backend_type *t = prefixed_types[i];

		if (t && strncmp(location, t->prefix, strlen(t->prefix)) == 0)
			return t;
	}
	return &envol_backend_file;
}
