/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms_store.h — the KMS core's persistent state: the root key (file or systemd credential),
 * the SQLite database (WAL, synchronous=FULL, foreign keys) and the sealing of CMK material
 * under the root key (AES-256-GCM, AAD = key id (16 bytes) || version (u32 BE)).
 *
 * The caller (kms.c) serializes every use of the sqlite3 handle, statements included, with
 * its mutex; the connection is also opened SQLITE_OPEN_FULLMUTEX as a second line of defence.
 */
#ifndef ENVOL_KMS_STORE_H
#define ENVOL_KMS_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/seal.h"

#define KMS_SEALED_LEN (ENVOL_SEAL_NONCE_SIZE + 32 + ENVOL_SEAL_TAG_SIZE)

/*
 * Loads the root key into a new secure buffer (32 bytes): $CREDENTIALS_DIRECTORY/root.key
 * if it exists, else path, which is created (O_EXCL, mode 0600, 32 random bytes, fsync'd)
 * when missing.  Returns 0 or -errno with err set.
 */
int kms_store_root_key(const char *path, uint8_t **ret, char *err, size_t errlen);

/* Opens/creates the database and its schema.  Returns 0 or -errno with err set. */
int kms_store_open(const char *path, sqlite3 **ret, char *err, size_t errlen);

/* Seals/unseals one version of CMK material (32 bytes) under the root key. */
int kms_store_seal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
		   const uint8_t *material, uint8_t sealed[KMS_SEALED_LEN]);
int kms_store_unseal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
		     const uint8_t *sealed, size_t sealed_len, uint8_t *material);

/*
 * Generates fresh material for (key id, version), seals it and inserts it into key_material
 * (inside the caller's transaction).  Returns 0 or -errno.
 */
int kms_store_add_material(sqlite3 *db, const uint8_t *root, const char *key_id_text,
			   uint32_t version, int64_t now);

/* Runs one SQL statement without results.  Returns 0 or -EIO/-EEXIST (constraint). */
int kms_store_exec(sqlite3 *db, const char *sql);

#endif
