/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store_grants.c — the statements of the grants table (store.h).  A grant row goes with its
 * key (ON DELETE CASCADE, with PRAGMA foreign_keys on in store.c); lookups by key and grantee
 * use the index grants_grantee, pages by key grants_key, ListRetirableGrants grants_retiring.
 */
#include <string.h>

#include "kms/store_sql.h"

#define GRANT_COLUMNS                                                                              \
	"grant_id, key_id, name, grantee, retiring, operations, constraints, issuing, created"

static int dup_column(sqlite3_stmt *st, int i, char **ret)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	*ret = NULL;
	if (!t)
		return 0;
	*ret = strdup(t);
	return *ret ? 0 : -ENOMEM;
}

/* Fills g from a row of GRANT_COLUMNS: 0, 1 (a row that cannot be right: skipped), -ENOMEM. */
static int grant_row(sqlite3_stmt *st, void *item)
{
	struct kms_grant_row *g = item;
	const char *id = (const char *)sqlite3_column_text(st, 0);
	const char *key = (const char *)sqlite3_column_text(st, 1);

	if (!id || !key || strlen(id) >= sizeof g->grant_id || strlen(key) >= sizeof g->key_id ||
	    sqlite3_column_type(st, 3) != SQLITE_TEXT || sqlite3_column_type(st, 7) != SQLITE_TEXT)
		return 1;
	memset(g, 0, sizeof(*g));
	memcpy(g->grant_id, id, strlen(id) + 1);
	memcpy(g->key_id, key, strlen(key) + 1);
	g->ops = (uint32_t)sqlite3_column_int64(st, 5);
	g->created = sqlite3_column_int64(st, 8);
	if (dup_column(st, 2, &g->name) < 0 || dup_column(st, 3, &g->grantee) < 0 ||
	    dup_column(st, 4, &g->retiring) < 0 || dup_column(st, 6, &g->constraints) < 0 ||
	    dup_column(st, 7, &g->issuing) < 0) {
		kms_grant_row_done(g);
		return -ENOMEM;
	}
	return 0;
}

static void grants_free(void *items, size_t n) { kms_grant_rows_free(items, n); }

/* A page of the grants st selects (kms_sql_page()). */
static int grants_page(sqlite3_stmt *st, int64_t limit, struct kms_grant_row **ret, size_t *ret_n,
		       bool *ret_more)
{
	void *items = NULL;
	int r =
	    kms_sql_page(st, limit, sizeof(**ret), grant_row, grants_free, &items, ret_n, ret_more);

	if (r == 0)
		*ret = items;
	return r;
}

int kms_store_grants_count(struct kms_store *s, const char *key_id, int64_t *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "SELECT COUNT(*) FROM grants WHERE key_id = ?");

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, key_id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -EIO;
	*ret = sqlite3_column_int64(st, 0);
	return 0;
}

/* A grant of g's key with g's name and the same properties: 1 (its id copied into g), 0, or
 * -errno. */
static int find_same(struct kms_store *s, struct kms_grant_row *g,
		     bool (*same)(const struct kms_grant_row *a, const struct kms_grant_row *b))
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "SELECT " GRANT_COLUMNS " FROM grants WHERE key_id = ? AND name = ?");
	int rc;

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, g->key_id);
	kms_sql_bind_text(st, 2, g->name);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		_cleanup_grant_row_ struct kms_grant_row other = {0};
		int r = grant_row(st, &other);

		if (r < 0)
			return r;
		if (r == 0 && same(&other, g)) {
			memcpy(g->grant_id, other.grant_id, sizeof g->grant_id);
			return 1;
		}
	}
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int insert(struct kms_store *s, const struct kms_grant_row *g)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "INSERT INTO grants (" GRANT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, g->grant_id);
	kms_sql_bind_text(st, 2, g->key_id);
	kms_sql_bind_text(st, 3, g->name);
	kms_sql_bind_text(st, 4, g->grantee);
	kms_sql_bind_text(st, 5, g->retiring);
	sqlite3_bind_int64(st, 6, g->ops);
	kms_sql_bind_text(st, 7, g->constraints);
	kms_sql_bind_text(st, 8, g->issuing);
	sqlite3_bind_int64(st, 9, g->created);
	return kms_sql_step_done(s, st);
}

int kms_store_grant_create(struct kms_store *s, struct kms_grant_row *g, int64_t max,
			   bool (*same)(const struct kms_grant_row *a,
					const struct kms_grant_row *b))
{
	int64_t n = 0;
	int r = kms_sql_begin(s);

	if (r < 0)
		return r;
	if (g->name && same)
		r = find_same(s, g, same);
	if (r == 0)
		r = kms_store_grants_count(s, g->key_id, &n);
	if (r == 0 && n >= max)
		r = -E2BIG;
	if (r == 0) {
		r = insert(s, g);
		if (r == -EEXIST) /* the only constraint a fresh id can break: the key's FK */
			r = -ENOENT;
	}
	if (r == 1) /* the same grant exists: nothing to write */
		return kms_sql_end(s, 0) < 0 ? -EIO : 1;
	return kms_sql_end(s, r);
}

int kms_store_grant_get(struct kms_store *s, const char *grant_id, struct kms_grant_row *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "SELECT " GRANT_COLUMNS " FROM grants WHERE grant_id = ?");
	int rc, r;

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, grant_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return -EIO;
	r = grant_row(st, ret);
	return r == 1 ? -EBADMSG : r;
}

int kms_store_grant_delete(struct kms_store *s, const char *grant_id)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "DELETE FROM grants WHERE grant_id = ?");
	int r;

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, grant_id);
	r = kms_sql_step_done(s, st);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		return -ENOENT;
	return r;
}

int kms_store_grants_list(struct kms_store *s, const char *key_id, const char *grant_id,
			  const char *grantee, const char *after, int64_t limit,
			  struct kms_grant_row **ret, size_t *ret_n, bool *ret_more)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "SELECT " GRANT_COLUMNS " FROM grants WHERE key_id = ?1 AND grant_id > ?2"
	       " AND (?3 IS NULL OR grant_id = ?3) AND (?4 IS NULL OR grantee = ?4)"
	       " ORDER BY grant_id LIMIT ?5");

	if (st) {
		kms_sql_bind_text(st, 1, key_id);
		kms_sql_bind_text(st, 2, after);
		kms_sql_bind_text(st, 3, grant_id);
		kms_sql_bind_text(st, 4, grantee);
		sqlite3_bind_int64(st, 5, limit + 1);
	}
	return grants_page(st, limit, ret, ret_n, ret_more);
}

int kms_store_grants_retirable(struct kms_store *s, const char *retiring, const char *after,
			       int64_t limit, struct kms_grant_row **ret, size_t *ret_n,
			       bool *ret_more)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "SELECT " GRANT_COLUMNS " FROM grants WHERE retiring = ? AND grant_id > ?"
	       " ORDER BY grant_id LIMIT ?");

	if (st) {
		kms_sql_bind_text(st, 1, retiring);
		kms_sql_bind_text(st, 2, after);
		sqlite3_bind_int64(st, 3, limit + 1);
	}
	return grants_page(st, limit, ret, ret_n, ret_more);
}

int kms_store_grants_match(struct kms_store *s, const char *key_id, const char *grantee,
			   int (*match)(const struct kms_grant_row *g, void *userdata),
			   void *userdata)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "SELECT " GRANT_COLUMNS " FROM grants WHERE key_id = ? AND grantee = ?");
	int rc = SQLITE_DONE, r = 0;

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, key_id);
	kms_sql_bind_text(st, 2, grantee);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		_cleanup_grant_row_ struct kms_grant_row g = {0};

		r = grant_row(st, &g);
		if (r == 1) {
			r = 0;
			continue;
		}
		if (r == 0)
			r = match(&g, userdata);
	}
	if (r == 0 && rc != SQLITE_DONE)
		return -EIO;
	return r;
}
