/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store_sql.h — private to the key store's files (store.c: the connection, schema and these
 * helpers; store_keys.c, store_aliases.c, store_tags.c: the statements of each table family).
 * Nothing outside store*.c sees SQLite.
 */
#ifndef ENVOL_KMS_STORE_SQL_H
#define ENVOL_KMS_STORE_SQL_H

#include <pthread.h>
#include <sqlite3.h>

#include "kms/store.h"

struct kms_store {
	pthread_mutex_t lock; /* recursive */
	sqlite3 *db;
	uint8_t *root; /* secure buffer, 32 bytes */
};

static inline void kms_sql_finalizep(sqlite3_stmt **st) { sqlite3_finalize(*st); }
#define _cleanup_stmt_ _cleanup_(kms_sql_finalizep)

static inline void kms_sql_bind_text(sqlite3_stmt *st, int i, const char *t)
{
	sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
}

/* Runs SQL without results: 0, -EEXIST (a constraint) or -EIO. */
int kms_sql_exec(sqlite3 *db, const char *sql);
/* A prepared statement, or NULL (logged at debug level). */
sqlite3_stmt *kms_sql_prepare(struct kms_store *s, const char *sql);
/* Steps a statement that returns no rows: 0, -EEXIST (a constraint) or -EIO. */
int kms_sql_step_done(struct kms_store *s, sqlite3_stmt *st);
/* BEGIN IMMEDIATE; and its end: commits when r is 0 (rolling back if that fails), else rolls
 * back.  Returns r or the commit's error. */
int kms_sql_begin(struct kms_store *s);
int kms_sql_end(struct kms_store *s, int r);
/* Runs one statement whose parameters are a key id (?1) and n_ints (0..2) integers (?2, ?3). */
int kms_sql_update_key(struct kms_store *s, const char *sql, const char *id, int n_ints, int64_t a,
		       int64_t b);
/*
 * One page of a query whose LIMIT (bound by the caller) is limit + 1: up to limit rows into a
 * new array of items of `size` bytes, and whether a row follows the page.  st NULL: -EIO.
 * row() fills one item from the current row and returns 0, 1 to skip the row, or -ENOMEM.  On
 * failure, free_items(items, filled) releases what was filled and the array.
 */
int kms_sql_page(sqlite3_stmt *st, int64_t limit, size_t size,
		 int (*row)(sqlite3_stmt *st, void *item), void (*free_items)(void *, size_t),
		 void **ret, size_t *ret_n, bool *ret_more);

/* store_tags.c: adds or replaces tags inside the caller's transaction. */
int kms_sql_insert_tags(struct kms_store *s, const char *id, const struct kms_tag *tags, size_t n);

#endif
