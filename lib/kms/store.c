/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kms_store.c — root key file, SQLite schema, sealing of CMK material under the root key. */
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/seal.h"
#include "util/macros.h"
#include "util/encoding.h"
#include "kms/blob.h"
#include "kms/store.h"
#include "util/log.h"
#include "util/secure_mem.h"

static int read_key_file(int fd, uint8_t *key)
{
	size_t got = 0;
	uint8_t extra;

	while (got < KMS_KEY_LEN) {
		ssize_t n = read(fd, key + got, KMS_KEY_LEN - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EBADMSG;
		got += (size_t)n;
	}
	if (read(fd, &extra, 1) != 0)
		return -EBADMSG;
	return 0;
}

int kms_store_root_key(const char *path, uint8_t **ret, char *err, size_t errlen)
{
	_cleanup_(envol_secure_freep) uint8_t *key = envol_secure_alloc(KMS_KEY_LEN);
	_cleanup_free_ char *cred = NULL;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	_cleanup_close_ int fd = -1;
	int r;

	if (!key) {
		snprintf(err, errlen, "cannot allocate locked memory for the root key");
		return -ENOMEM;
	}
	if (dir && *dir) {
		if (asprintf(&cred, "%s/root.key", dir) < 0)
			return -ENOMEM;
		fd = open(cred, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			path = cred;
		else if (errno != ENOENT) {
			r = negative_errno();
			snprintf(err, errlen, "%s: %s", cred, strerror(-r));
			return r;
		}
	}
	if (fd < 0) {
		if (!path || !*path) {
			snprintf(err, errlen, "no root key file configured");
			return -EINVAL;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			r = negative_errno();
			snprintf(err, errlen, "cannot create root key %s: %s", path, strerror(-r));
			return r;
		}
		if (RAND_priv_bytes(key, KMS_KEY_LEN) != 1) {
			snprintf(err, errlen, "no randomness for the root key");
			(void)unlink(path);
			return -EIO;
		}
		if (write(fd, key, KMS_KEY_LEN) != KMS_KEY_LEN || fsync(fd) < 0) {
			r = negative_errno();
			snprintf(err, errlen, "cannot write root key %s: %s", path, strerror(-r));
			(void)unlink(path);
			return r;
		}
		*ret = TAKE_PTR(key);
		return 0;
	}
	if (fd < 0) {
		r = negative_errno();
		snprintf(err, errlen, "cannot open root key %s: %s", path, strerror(-r));
		return r;
	}
	r = read_key_file(fd, key);
	if (r < 0) {
		snprintf(err, errlen, "root key %s: %s", path,
			 r == -EBADMSG ? "must be exactly 32 bytes" : strerror(-r));
		return r;
	}
	*ret = TAKE_PTR(key);
	return 0;
}

int kms_store_exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		return 0;
	log_debug("sqlite: %s: %s", sql, sqlite3_errmsg(db));
	return (rc & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS keys ("
    " id TEXT PRIMARY KEY,"
    " created INTEGER NOT NULL,"
    " description TEXT NOT NULL DEFAULT '',"
    " state TEXT NOT NULL CHECK (state IN ('Enabled','Disabled','PendingDeletion')),"
    " deletion_date INTEGER,"
    " pending_days INTEGER,"
    " manager TEXT NOT NULL CHECK (manager IN ('CUSTOMER','AWS')),"
    " rotation_enabled INTEGER NOT NULL DEFAULT 0,"
    " rotation_period INTEGER NOT NULL DEFAULT 365,"
    " next_rotation INTEGER,"
    " current_version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS key_material ("
    " key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " sealed BLOB NOT NULL,"
    " PRIMARY KEY (key_id, version));"
    "CREATE TABLE IF NOT EXISTS rotations ("
    " key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL,"
    " rotation_date INTEGER NOT NULL,"
    " rotation_type TEXT NOT NULL CHECK (rotation_type IN ('AUTOMATIC','ON_DEMAND')),"
    " PRIMARY KEY (key_id, version));"
    "CREATE TABLE IF NOT EXISTS aliases ("
    " name TEXT PRIMARY KEY,"
    " key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    " created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS aliases_key ON aliases(key_id);"
    "CREATE TABLE IF NOT EXISTS tags ("
    " key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    " tag_key TEXT NOT NULL,"
    " tag_value TEXT NOT NULL,"
    " PRIMARY KEY (key_id, tag_key));"
    "PRAGMA user_version = 1;";

int kms_store_open(const char *path, sqlite3 **ret, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
				 SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	(void)chmod(path, 0600);
	sqlite3_busy_timeout(db, 5000);
	if (kms_store_exec(db, "PRAGMA journal_mode=WAL;") < 0 ||
	    kms_store_exec(db, "PRAGMA synchronous=FULL;") < 0 ||
	    kms_store_exec(db, "PRAGMA foreign_keys=ON;") < 0 ||
	    kms_store_exec(db, "PRAGMA secure_delete=ON;") < 0 ||
	    kms_store_exec(db, "BEGIN IMMEDIATE;") < 0) {
		snprintf(err, errlen, "cannot set up database %s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -EIO;
	}
	if (kms_store_exec(db, schema) < 0 || kms_store_exec(db, "COMMIT;") < 0) {
		snprintf(err, errlen, "cannot create the schema in %s: %s", path,
			 sqlite3_errmsg(db));
		sqlite3_close(db);
		return -EIO;
	}
	*ret = db;
	return 0;
}

static void material_aad(const uint8_t key_id[16], uint32_t version, uint8_t aad[20])
{
	memcpy(aad, key_id, 16);
	aad[16] = (uint8_t)(version >> 24);
	aad[17] = (uint8_t)(version >> 16);
	aad[18] = (uint8_t)(version >> 8);
	aad[19] = (uint8_t)version;
}

int kms_store_seal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
		   const uint8_t *material, uint8_t sealed[KMS_SEALED_LEN])
{
	uint8_t aad[20];

	int r;

	material_aad(key_id, version, aad);
	r = envol_seal_nonce(sealed);
	if (r < 0)
		return r;
	return envol_seal(root, sealed, &(struct envol_seal_aad){aad, sizeof aad}, 1, material,
			  KMS_KEY_LEN, sealed + ENVOL_SEAL_NONCE_SIZE,
			  sealed + ENVOL_SEAL_NONCE_SIZE + KMS_KEY_LEN);
}

int kms_store_unseal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
		     const uint8_t *sealed, size_t sealed_len, uint8_t *material)
{
	uint8_t aad[20];

	if (sealed_len != KMS_SEALED_LEN)
		return -EBADMSG;
	material_aad(key_id, version, aad);
	return envol_seal_open(root, sealed, &(struct envol_seal_aad){aad, sizeof aad}, 1,
			       sealed + ENVOL_SEAL_NONCE_SIZE, KMS_KEY_LEN,
			       sealed + ENVOL_SEAL_NONCE_SIZE + KMS_KEY_LEN, material);
}

int kms_store_add_material(sqlite3 *db, const uint8_t *root, const char *key_id_text,
			   uint32_t version, int64_t now)
{
	_cleanup_(envol_secure_freep) uint8_t *m = envol_secure_alloc(KMS_KEY_LEN);
	uint8_t sealed[KMS_SEALED_LEN], id[16];
	sqlite3_stmt *st = NULL;
	int r;

	if (!m)
		return -ENOMEM;
	r = envol_uuid_parse(key_id_text, id);
	if (r < 0)
		return r;
	if (RAND_priv_bytes(m, KMS_KEY_LEN) != 1)
		return -EIO;
	r = kms_store_seal(root, id, version, m, sealed);
	if (r < 0)
		return r;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO key_material (key_id, version, created, sealed) "
			       "VALUES (?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key_id_text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_blob(st, 4, sealed, sizeof sealed, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}
