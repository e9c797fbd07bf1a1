/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume.h — envol volumes inside libenvol: the public API (include/envol/volume.h) plus what
 * only our own code and tests use: opening or creating a volume through a given storage
 * backend (volume/backend.h) instead of the one its location names.
 */
#ifndef ENVOL_VOLUME_H
#define ENVOL_VOLUME_H

#include "envol/volume.h"

struct envol_backend_type;

/*
 * envol_volume_create() and envol_volume_open() with the backend given, not picked from the
 * location (envol_backend_type_for()).  For tests and for backends that are not in the
 * built-in table.  Same contracts.
 */
int envol_volume_create_with(const struct envol_backend_type *type,
			     const struct envol_volume_create_params *p, char *err, size_t errlen);
int envol_volume_open_with(const struct envol_backend_type *type, const char *location,
			   bool writable, struct envol_volume **ret, char *err, size_t errlen);

/*
 * Forced takeover of a volume whose holder is dead or cut off (envolctl volume release
 * --force): fences the holder and breaks its lock (volume/backend.h, lock_break), taking no
 * lock itself.  holder gets who was fenced ("" when nobody held the volume).  -EOPNOTSUPP
 * on a backend whose locks die with their holder (file).
 */
int envol_volume_force_release(const char *location, char *holder, size_t holder_len,
			       char *err, size_t errlen);

/* Does storage exist at location (a file, an RBD image)?  1, 0, or -errno when it cannot be
 * told (the cluster is unreachable). */
int envol_volume_exists(const char *location);

/* Removes the storage of an erased volume (envol_volume_erase): unlink, or rbd rm. */
int envol_volume_remove(const char *location, char *err, size_t errlen);

/* The name of the backend a location names: "file" or "rbd". */
const char *envol_volume_backend_name(const char *location);

#endif
