/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.c — the key store's database: open and close, the schema, transactions and the
 * statement helpers of store_sql.h, and the data model's small functions (store.h).  The
 * statements of each table family are in store_keys.c, store_aliases.c and store_tags.c.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "kms/blob.h"
#include "kms/root_key.h"
#include "kms/store_sql.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/secure_mem.h"

static const char *const state_names[KMS_KEY_STATE_MAX] = {
    [KMS_KEY_ENABLED] = "Enabled",
    [KMS_KEY_DISABLED] = "Disabled",
    [KMS_KEY_PENDING_DELETION] = "PendingDeletion",
};

const char *kms_key_state_name(enum kms_key_state s)
{
	return (unsigned)s < KMS_KEY_STATE_MAX ? state_names[s] : "Unknown";
}

void kms_key_done(struct kms_key *key)
{
	free(key->description);
	key->description = NULL;
}

void kms_key_ids_done(struct kms_key_ids *ids)
{
	free(ids->id);
	ids->id = NULL;
	ids->n = 0;
}

void kms_aliases_free(struct kms_alias *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		free(a[i].name);
	free(a);
}

void kms_tag_rows_free(struct kms_tag_row *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	free(t);
}

/* ---- statements and transactions ---- */

int kms_sql_exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		return 0;
	log_debug("sqlite: %s: %s", sql, sqlite3_errmsg(db));
	return (rc & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
}

sqlite3_stmt *kms_sql_prepare(struct kms_store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_debug("sqlite prepare: %s: %s", sql, sqlite3_errmsg(s->db));
		return NULL;
	}
	return st;
}

int kms_sql_step_done(struct kms_store *s, sqlite3_stmt *st)
{
	if (sqlite3_step(st) == SQLITE_DONE)
		return 0;
	return (sqlite3_errcode(s->db) & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
}

int kms_sql_begin(struct kms_store *s) { return kms_sql_exec(s->db, "BEGIN IMMEDIATE;"); }

int kms_sql_end(struct kms_store *s, int r)
{
	if (r == 0)
		r = kms_sql_exec(s->db, "COMMIT;");
	if (r < 0)
		(void)kms_sql_exec(s->db, "ROLLBACK;");
	return r;
}

int kms_sql_update_key(struct kms_store *s, const char *sql, const char *id, int n_ints, int64_t a,
		       int64_t b)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(s, sql);

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, id);
	if (n_ints > 0)
		sqlite3_bind_int64(st, 2, a);
	if (n_ints > 1)
		sqlite3_bind_int64(st, 3, b);
	return kms_sql_step_done(s, st);
}

int kms_sql_page(sqlite3_stmt *st, int64_t limit, size_t size,
		 int (*row)(sqlite3_stmt *st, void *item), void (*free_items)(void *, size_t),
		 void **ret, size_t *ret_n, bool *ret_more)
{
	uint8_t *items;
	size_t n = 0;
	bool more = false;
	int r;

	if (!st)
		return -EIO;
	if (limit < 0)
		return -EINVAL;
	items = calloc((size_t)limit + 1, size);
	if (!items)
		return -ENOMEM;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == (size_t)limit) {
			more = true; /* the row past the page only says there is more */
			break;
		}
		r = row(st, items + n * size);
		if (r < 0) {
			free_items(items, n + 1);
			return r;
		}
		if (r == 0)
			n++;
	}
	*ret = items;
	*ret_n = n;
	*ret_more = more;
	return 0;
}

void kms_store_lock(struct kms_store *s) { pthread_mutex_lock(&s->lock); }

void kms_store_unlock(struct kms_store *s) { pthread_mutex_unlock(&s->lock); }

/* ---- open and close ---- */

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

static int open_db(const char *path, sqlite3 **ret, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
				 SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		envol_set_error(err, errlen, "cannot open database %s: %s", path,
				db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	(void)chmod(path, 0600);
	sqlite3_busy_timeout(db, 5000);
	if (kms_sql_exec(db, "PRAGMA journal_mode=WAL;") < 0 ||
	    kms_sql_exec(db, "PRAGMA synchronous=FULL;") < 0 ||
	    kms_sql_exec(db, "PRAGMA foreign_keys=ON;") < 0 ||
	    kms_sql_exec(db, "PRAGMA secure_delete=ON;") < 0 ||
	    kms_sql_exec(db, "BEGIN IMMEDIATE;") < 0) {
		envol_set_error(err, errlen, "cannot set up database %s: %s", path,
				sqlite3_errmsg(db));
		sqlite3_close(db);
		return -EIO;
	}
	if (kms_sql_exec(db, schema) < 0 || kms_sql_exec(db, "COMMIT;") < 0) {
		envol_set_error(err, errlen, "cannot create the schema in %s: %s", path,
				sqlite3_errmsg(db));
		sqlite3_close(db);
		return -EIO;
	}
	*ret = db;
	return 0;
}

int kms_store_open(const char *database, const char *root_key_file, struct kms_store **ret,
		   char *err, size_t errlen)
{
	struct kms_store *s = calloc(1, sizeof(*s));
	pthread_mutexattr_t attr;
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	r = kms_root_key_load(root_key_file, &s->root, err, errlen);
	if (r == 0)
		r = open_db(database, &s->db, err, errlen);
	if (r < 0) {
		kms_store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void kms_store_close(struct kms_store *s)
{
	if (!s)
		return;
	if (s->db)
		sqlite3_close(s->db);
	envol_secure_free(s->root);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int kms_store_check_root_key(struct kms_store *s)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "SELECT key_id, version, sealed FROM key_material LIMIT 1");
	_cleanup_secure_ uint8_t *m = NULL;
	const char *id;
	uint8_t u[16];

	if (!st)
		return -EIO;
	if (sqlite3_step(st) != SQLITE_ROW)
		return 0; /* empty store */
	id = (const char *)sqlite3_column_text(st, 0);
	if (!id || envol_uuid_parse(id, u) < 0)
		return -EBADMSG;
	m = envol_secure_alloc(KMS_KEY_LEN);
	if (!m)
		return -ENOMEM;
	return kms_root_key_unseal(s->root, u, (uint32_t)sqlite3_column_int64(st, 1),
				   sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
				   m);
}
