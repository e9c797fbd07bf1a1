/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume_name.h — how volume names (NBD export names) map to files in server.volume_dir:
 * NAME ↔ <volume_dir>/NAME.vol, NAME matching [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
 */
#ifndef ENVOL_VOLUME_NAME_H
#define ENVOL_VOLUME_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define ENVOL_VOLUME_NAME_MAX 64
#define ENVOL_VOLUME_SUFFIX ".vol"

/*
 * An unfinished "envolctl volume import" of NAME lives under the temporary name
 * NAME.import-TAG (TAG: ENVOL_VOLUME_IMPORT_TAG_LEN lower-case hex digits, random) until it is
 * renamed to NAME when complete: such names are valid export names (envold serves the import
 * through them) but are never listed by envol_volume_name_list, and NAME itself does not exist
 * until the import finishes.  Returns true when name is one, with strlen(NAME) in
 * *ret_target_len (if not NULL).
 */
#define ENVOL_VOLUME_IMPORT_INFIX ".import-"
#define ENVOL_VOLUME_IMPORT_TAG_LEN 12
bool envol_volume_name_is_import(const char *name, size_t *ret_target_len);

/* A volume name (1 to ENVOL_VOLUME_NAME_MAX characters), or an import's temporary name. */
bool envol_volume_name_valid(const char *name);
/* malloc'd "<dir>/<name>.vol". Returns 0, -EINVAL (bad name) or -ENOMEM. */
int envol_volume_name_path(const char *dir, const char *name, char **ret_path);
/* Sorted, malloc'd array of malloc'd names of the *.vol files in dir with valid names.
 * Returns 0 (a missing dir is an empty list) or -errno. */
int envol_volume_name_list(const char *dir, char ***ret_names, size_t *ret_n);
/* The same for the temporary names of unfinished imports (NAME.import-TAG). */
int envol_volume_name_list_imports(const char *dir, char ***ret_names, size_t *ret_n);
void envol_volume_name_list_free(char **names, size_t n);

#endif
