/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store_aliases.c — the statements of the aliases table (store.h). */
#include <string.h>

#include "kms/store_sql.h"

int kms_store_alias_get(struct kms_store *s, const char *name, char ret_key_id[KMS_KEY_ID_SIZE])
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "SELECT key_id FROM aliases WHERE name = ?");
	const char *t;

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, name);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -ENOENT;
	t = (const char *)sqlite3_column_text(st, 0);
	if (!t || strlen(t) != KMS_KEY_ID_SIZE - 1)
		return -EBADMSG;
	memcpy(ret_key_id, t, KMS_KEY_ID_SIZE);
	return 0;
}

int kms_store_alias_put(struct kms_store *s, const char *name, const char *key_id, bool update,
			int64_t now)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, update ? "UPDATE aliases SET key_id = ?2, updated = ?3 WHERE name = ?1"
		      : "INSERT INTO aliases (name, key_id, created, updated) "
			"VALUES (?1, ?2, ?3, ?3)");

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, name);
	kms_sql_bind_text(st, 2, key_id);
	sqlite3_bind_int64(st, 3, now);
	return kms_sql_step_done(s, st);
}

int kms_store_alias_delete(struct kms_store *s, const char *name)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(s, "DELETE FROM aliases WHERE name = ?");

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, name);
	return kms_sql_step_done(s, st);
}

static int alias_row(sqlite3_stmt *st, void *item)
{
	struct kms_alias *a = item;
	const char *name = (const char *)sqlite3_column_text(st, 0);
	const char *kid = (const char *)sqlite3_column_text(st, 1);

	if (!name || !kid || strlen(kid) != KMS_KEY_ID_SIZE - 1)
		return 1;
	a->name = strdup(name);
	if (!a->name)
		return -ENOMEM;
	memcpy(a->key_id, kid, KMS_KEY_ID_SIZE);
	a->created = sqlite3_column_int64(st, 2);
	a->updated = sqlite3_column_int64(st, 3);
	return 0;
}

static void aliases_free(void *items, size_t n) { kms_aliases_free(items, n); }

int kms_store_aliases_list(struct kms_store *s, const char *after, const char *key_id,
			   int64_t limit, struct kms_alias **ret, size_t *ret_n, bool *ret_more)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "SELECT name, key_id, created, updated FROM aliases "
	       "WHERE name > ?1 AND (?2 = '' OR key_id = ?2) ORDER BY name LIMIT ?3");
	void *items = NULL;
	int r;

	if (st) {
		kms_sql_bind_text(st, 1, after);
		kms_sql_bind_text(st, 2, key_id);
		sqlite3_bind_int64(st, 3, limit + 1);
	}
	r = kms_sql_page(st, limit, sizeof(**ret), alias_row, aliases_free, &items, ret_n,
			 ret_more);
	if (r == 0)
		*ret = items;
	return r;
}
