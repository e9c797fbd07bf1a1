/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store_tags.c — the statements of the tags table (store.h). */
#include <string.h>

#include "kms/store_sql.h"

int kms_sql_insert_tags(struct kms_store *s, const char *id, const struct kms_tag *tags, size_t n)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	if (n == 0)
		return 0;
	st = kms_sql_prepare(
	    s, "INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?, ?, ?) "
	       "ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value");
	if (!st)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		kms_sql_bind_text(st, 1, id);
		kms_sql_bind_text(st, 2, tags[i].key);
		kms_sql_bind_text(st, 3, tags[i].value);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -EIO;
	}
	return 0;
}

int kms_store_tags_put(struct kms_store *s, const char *id, const struct kms_tag *tags, size_t n,
		       int64_t max)
{
	int r = kms_sql_begin(s);

	if (r < 0)
		return r;
	r = kms_sql_insert_tags(s, id, tags, n);
	if (r == 0) {
		_cleanup_stmt_ sqlite3_stmt *st =
		    kms_sql_prepare(s, "SELECT COUNT(*) FROM tags WHERE key_id = ?");

		if (!st)
			r = -EIO;
		else {
			kms_sql_bind_text(st, 1, id);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > max)
				r = -E2BIG;
		}
	}
	return kms_sql_end(s, r);
}

int kms_store_tags_delete(struct kms_store *s, const char *id, const char *const *keys, size_t n)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = kms_sql_begin(s);

	if (r < 0)
		return r;
	st = kms_sql_prepare(s, "DELETE FROM tags WHERE key_id = ? AND tag_key = ?");
	if (!st)
		r = -EIO;
	for (size_t i = 0; r == 0 && i < n; i++) {
		sqlite3_reset(st);
		kms_sql_bind_text(st, 1, id);
		kms_sql_bind_text(st, 2, keys[i]);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = -EIO;
	}
	return kms_sql_end(s, r);
}

static int tag_row(sqlite3_stmt *st, void *item)
{
	struct kms_tag_row *t = item;
	const char *k = (const char *)sqlite3_column_text(st, 0);
	const char *v = (const char *)sqlite3_column_text(st, 1);

	if (!k || !v)
		return 1;
	t->key = strdup(k);
	t->value = strdup(v);
	return t->key && t->value ? 0 : -ENOMEM;
}

static void tags_free(void *items, size_t n) { kms_tag_rows_free(items, n); }

int kms_store_tags_list(struct kms_store *s, const char *id, const char *after, int64_t limit,
			struct kms_tag_row **ret, size_t *ret_n, bool *ret_more)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "SELECT tag_key, tag_value FROM tags WHERE key_id = ? AND tag_key > ? "
	       "ORDER BY tag_key LIMIT ?");
	void *items = NULL;
	int r;

	if (st) {
		kms_sql_bind_text(st, 1, id);
		kms_sql_bind_text(st, 2, after);
		sqlite3_bind_int64(st, 3, limit + 1);
	}
	r = kms_sql_page(st, limit, sizeof(**ret), tag_row, tags_free, &items, ret_n, ret_more);
	if (r == 0)
		*ret = items;
	return r;
}
