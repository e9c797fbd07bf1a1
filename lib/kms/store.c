/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.c — the key store's database: open and close, the schema, transactions and the
 * statement helpers of store_sql.h, and the data model's small functions (store.h).  The
 * statements of each table family are in store_keys.c, store_aliases.c, store_tags.c and
 * store_grants.c.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

void kms_grant_row_done(struct kms_grant_row *g)
{
	free(g->name);
	free(g->grantee);
	free(g->retiring);
	free(g->constraints);
	free(g->issuing);
	g->name = g->grantee = g->retiring = g->constraints = g->issuing = NULL;
}

void kms_grant_rows_free(struct kms_grant_row *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		kms_grant_row_done(&g[i]);
	free(g);
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
    " current_version INTEGER NOT NULL,"
    " policy TEXT);" /* the key policy; NULL: the default policy */
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
    "CREATE TABLE IF NOT EXISTS grants ("
    " grant_id TEXT PRIMARY KEY,"
    " key_id TEXT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,"
    " name TEXT,"
    " grantee TEXT NOT NULL,"
    " retiring TEXT,"
    " operations INTEGER NOT NULL,"
    " constraints TEXT,"
    " issuing TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS grants_key ON grants(key_id, grant_id);"
    "CREATE INDEX IF NOT EXISTS grants_retiring ON grants(retiring);"
    "CREATE INDEX IF NOT EXISTS grants_grantee ON grants(key_id, grantee);";

/* Schema version 1 had no key policies: add the column. */
static const char upgrade_1_2[] = "ALTER TABLE keys ADD COLUMN policy TEXT;";

static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version;", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Creates the schema, or brings an older one up to date (inside the caller's transaction). */
static int create_schema(sqlite3 *db)
{
	int v = schema_version(db);
	bool has_keys;
	sqlite3_stmt *st = NULL;

	if (v < 0)
		return -EIO;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'keys';", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	has_keys = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (has_keys && v < 2 && kms_sql_exec(db, upgrade_1_2) < 0)
		return -EIO;
	if (kms_sql_exec(db, schema) < 0)
		return -EIO;
	return kms_sql_exec(db, "PRAGMA user_version = 2;");
}

/* The audit log's anchor (audit.h): the sequence number and chain MAC of its newest record. */
static const char anchor_schema[] = "CREATE TABLE IF NOT EXISTS audit_anchor ("
				    " id INTEGER PRIMARY KEY CHECK (id = 1),"
				    " seq INTEGER NOT NULL,"
				    " offset INTEGER NOT NULL,"
				    " mac BLOB NOT NULL,"
				    " tag BLOB NOT NULL);";

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
	if (create_schema(db) < 0 || kms_sql_exec(db, anchor_schema) < 0 ||
	    kms_sql_exec(db, "COMMIT;") < 0) {
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
	r = kms_root_key_load(root_key_file, false, &s->root, err, errlen);
	if (r == -ENOENT) {
		/* A new root key only for a store that holds nothing sealed under an old one. */
		r = kms_store_holds_state(database);
		if (r > 0)
			r = envol_fail(
			    -ENOENT, err, errlen,
			    "root key %s is missing but %s holds keys or an audit anchor "
			    "sealed under it; nothing was changed. Restore root.key from "
			    "its backup (docs/operations.md, \"Backup and restore\")",
			    root_key_file, database);
		else if (r == 0)
			r = kms_root_key_load(root_key_file, true, &s->root, err, errlen);
		else
			envol_set_error(err, errlen, "cannot read %s: %s", database, strerror(-r));
	}
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

const uint8_t *kms_store_root_key(struct kms_store *s) { return s->root; }

/* ---- the audit anchor ---- */

static int anchor_row(sqlite3_stmt *st, struct kms_audit_anchor *ret)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return -EIO;
	if (sqlite3_column_int64(st, 0) < 1 || sqlite3_column_int64(st, 1) < 0 ||
	    sqlite3_column_bytes(st, 2) != KMS_AUDIT_MAC_LEN ||
	    sqlite3_column_bytes(st, 3) != KMS_AUDIT_MAC_LEN)
		return -EBADMSG;
	ret->seq = (uint64_t)sqlite3_column_int64(st, 0);
	ret->offset = (uint64_t)sqlite3_column_int64(st, 1);
	memcpy(ret->mac, sqlite3_column_blob(st, 2), KMS_AUDIT_MAC_LEN);
	memcpy(ret->tag, sqlite3_column_blob(st, 3), KMS_AUDIT_MAC_LEN);
	return 0;
}

#define ANCHOR_SELECT "SELECT seq, offset, mac, tag FROM audit_anchor WHERE id = 1"

int kms_store_audit_anchor_get(struct kms_store *s, struct kms_audit_anchor *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(s, ANCHOR_SELECT);

	return st ? anchor_row(st, ret) : -EIO;
}

int kms_store_audit_anchor_put(struct kms_store *s, const struct kms_audit_anchor *a)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "INSERT OR REPLACE INTO audit_anchor (id, seq, offset, mac, tag) "
			       "VALUES (1, ?1, ?2, ?3, ?4)");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)a->seq);
	sqlite3_bind_int64(st, 2, (int64_t)a->offset);
	sqlite3_bind_blob(st, 3, a->mac, KMS_AUDIT_MAC_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, a->tag, KMS_AUDIT_MAC_LEN, SQLITE_STATIC);
	return kms_sql_step_done(s, st);
}

/* A read-only connection to an existing database, or NULL with r set (-ENOENT: no file). */
static sqlite3 *open_readonly(const char *database, int *r)
{
	sqlite3 *db = NULL;

	if (access(database, F_OK) < 0) {
		*r = negative_errno();
		return NULL;
	}
	if (sqlite3_open_v2(database, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		*r = -EIO;
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	*r = 0;
	return db;
}

/* 1 if the table exists and has a row, 0 if not, -EIO. */
static int table_has_rows(sqlite3 *db, const char *table)
{
	_cleanup_free_ char *sql = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	if (asprintf(&sql, "SELECT 1 FROM %s LIMIT 1", table) < 0)
		return -ENOMEM;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		bool missing = strstr(sqlite3_errmsg(db), "no such table") != NULL;

		sqlite3_finalize(st);
		return missing ? 0 : -EIO;
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

int kms_store_holds_state(const char *database)
{
	static const char *const tables[] = {"keys", "key_material", "audit_anchor"};
	_cleanup_free_ char *wal = NULL;
	sqlite3 *db = NULL;
	struct stat st;
	char *uri;
	int r = 0, rc;

	if (access(database, F_OK) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	/* A write-ahead log left by a crash may hold keys: count it as state, and otherwise read
	 * the file as immutable, so that not even -wal and -shm files are made. */
	if (asprintf(&wal, "%s-wal", database) < 0)
		return -ENOMEM;
	if (stat(wal, &st) == 0 && st.st_size > 0)
		return 1;
	uri = sqlite3_mprintf("file:%q?mode=ro&immutable=1", database);
	if (!uri)
		return -ENOMEM;
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	sqlite3_free(uri);
	if (rc != SQLITE_OK) {
		sqlite3_close(db);
		return -EIO;
	}
	for (size_t i = 0; i < ARRAY_SIZE(tables) && r == 0; i++)
		r = table_has_rows(db, tables[i]);
	sqlite3_close(db);
	return r;
}

int kms_store_audit_anchor_read(const char *database, struct kms_audit_anchor *ret)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int r;

	db = open_readonly(database, &r);
	if (!db)
		return r;
	r = table_has_rows(db, "audit_anchor");
	if (r == 0)
		r = -ENOENT;
	else if (r > 0) {
		if (sqlite3_prepare_v2(db, ANCHOR_SELECT, -1, &st, NULL) == SQLITE_OK)
			r = anchor_row(st, ret);
		else
			r = -EIO;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return r;
}
