/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * locate.h — where the volume a name stands for lives, on every backend (docs/operations.md,
 * "Volumes on Ceph").  Volume NAME is the file <server.volume_dir>/NAME.vol or, when Ceph is
 * enabled (the configuration has an rbd group, or server.backend = "rbd"), the RBD image
 * NAME.vol in rbd.pool (and rbd.namespace).  A name is unique across the two: a new volume
 * gets no name that exists on either, and the file is the one found should both exist.
 * A volume in another pool is named with its pool: "POOL/NAME", or "POOL/NAMESPACE/NAME".
 * These names are also the NBD export names envold serves.
 *
 * Every function sets the RBD backend up from the configuration's rbd group first
 * (envol_backend_rbd_setup), so a process that finds its volumes here needs no other setup.
 * Returns are 0 or -errno, with a message for humans in err where there is one.
 */
#ifndef ENVOL_VOLUME_LOCATE_H
#define ENVOL_VOLUME_LOCATE_H

#include <stdbool.h>
#include <stddef.h>

#include "volume/name.h"

/* The longest ref: POOL/NAMESPACE/NAME, Ceph's names being at most 255 bytes. */
#define ENVOL_VOLUME_REF_MAX (255 + 1 + 255 + 1 + ENVOL_VOLUME_NAME_MAX)

struct envol_config;

/* NAME, POOL/NAME or POOL/NAMESPACE/NAME, with NAME as envol_volume_name_valid() wants it. */
bool envol_volume_ref_valid(const char *ref);

/*
 * The location of volume ref (malloc'd): the file when it exists, else the RBD image it would
 * be (not opened here: a missing image is -ENOENT from whatever opens it).  -ENOENT when
 * neither can hold it (no file, Ceph not enabled), -EINVAL for a ref that is no volume name.
 */
int envol_volume_locate(const struct envol_config *cfg, const char *ref, char **ret_location,
			char *err, size_t errlen);

/*
 * Where a new volume name goes: backend "file" or "rbd" (NULL: server.backend), pool for rbd
 * (NULL: rbd.pool).  *ret_location is its location and *ret_ref the name to call it by (name,
 * or POOL[/NAMESPACE]/name outside rbd.pool), both malloc'd.  -EEXIST when the name is taken
 * on any backend; an error (the cluster is unreachable) when that cannot be checked.
 */
int envol_volume_locate_new(const struct envol_config *cfg, const char *name,
			    const char *backend, const char *pool, char **ret_location,
			    char **ret_ref, char *err, size_t errlen);

struct envol_volume_entry {
	char *ref;      /* the volume's name: NAME, or POOL[/NAMESPACE]/NAME */
	char *location; /* its path or rbd: location */
	bool import;    /* ref is the temporary name of an unfinished import (volume/name.h) */
};

/*
 * Every volume: the files of server.volume_dir, then the images of pool (NULL: rbd.pool, when
 * Ceph is enabled), sorted by name; the unfinished imports among them are marked.  Returns
 * -errno when the volume directory cannot be read; when the pool cannot be listed it returns
 * the files with 0 and says why in rbd_err (empty otherwise).
 */
int envol_volume_list_all(const struct envol_config *cfg, const char *pool,
			  struct envol_volume_entry **ret, size_t *ret_n, char *rbd_err,
			  size_t rbd_errlen);
void envol_volume_entries_free(struct envol_volume_entry *e, size_t n);

/*
 * Renames the volume at location to name, in the same place (directory, or pool and
 * namespace), never replacing one: -EEXIST when name is taken there.  *ret_location (when
 * given) is the new location, malloc'd.
 */
int envol_volume_rename_to(const char *location, const char *name, char **ret_location,
			   char *err, size_t errlen);

#endif
