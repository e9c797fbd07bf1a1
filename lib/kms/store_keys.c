/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store_keys.c — the statements of the keys, key_material and rotations tables (store.h). */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "kms/blob.h"
#include "kms/root_key.h"
#include "kms/store_sql.h"
#include "util/buffer.h"
#include "util/encoding.h"
#include "util/macros.h"
#include "util/secure_mem.h"

#define MAX_VERSIONS 100000 /* more material versions than this: a corrupt row */

/* A state column: anything but Disabled and PendingDeletion reads as Enabled. */
static enum kms_key_state state_from_text(const unsigned char *t)
{
	const char *s = (const char *)t;

	if (s && strcmp(s, "Disabled") == 0)
		return KMS_KEY_DISABLED;
	if (s && strcmp(s, "PendingDeletion") == 0)
		return KMS_KEY_PENDING_DELETION;
	return KMS_KEY_ENABLED;
}

/* Steps a statement that returns one row: 0 (a row), -ENOENT (none) or -EIO. */
static int step_row(sqlite3_stmt *st)
{
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		return 0;
	case SQLITE_DONE:
		return -ENOENT;
	default:
		return -EIO;
	}
}

int kms_store_key_get(struct kms_store *s, const char *id, struct kms_key *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct kms_key key = {0};
	const char *t;
	int r;

	st = kms_sql_prepare(
	    s, "SELECT created, description, state, deletion_date, pending_days, manager, "
	       "rotation_enabled, rotation_period, next_rotation, current_version "
	       "FROM keys WHERE id = ?");
	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, id);
	r = step_row(st);
	if (r < 0)
		return r;
	snprintf(key.id, sizeof key.id, "%s", id);
	if (envol_uuid_parse(id, key.uuid) < 0)
		return -EBADMSG;
	key.created = sqlite3_column_int64(st, 0);
	t = (const char *)sqlite3_column_text(st, 1);
	key.description = strdup(t ? t : "");
	if (!key.description)
		return -ENOMEM;
	key.state = state_from_text(sqlite3_column_text(st, 2));
	key.deletion_date = sqlite3_column_int64(st, 3);
	key.pending_days = sqlite3_column_int64(st, 4);
	t = (const char *)sqlite3_column_text(st, 5);
	key.managed = t && strcmp(t, "AWS") == 0;
	key.rotation_enabled = sqlite3_column_int64(st, 6) != 0;
	key.rotation_period = sqlite3_column_int64(st, 7);
	key.next_rotation = sqlite3_column_int64(st, 8);
	key.current_version = (uint32_t)sqlite3_column_int64(st, 9);
	*ret = key;
	return 0;
}

/* Seals fresh material for (key id, version) and inserts it (inside the caller's transaction). */
static int add_material(struct kms_store *s, const char *id, uint32_t version, int64_t now)
{
	_cleanup_secure_ uint8_t *m = envol_secure_alloc(KMS_KEY_LEN);
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	uint8_t sealed[KMS_SEALED_LEN], u[16];
	int r;

	if (!m)
		return -ENOMEM;
	r = envol_uuid_parse(id, u);
	if (r < 0)
		return r;
	if (RAND_priv_bytes(m, KMS_KEY_LEN) != 1)
		return -EIO;
	r = kms_root_key_seal(s->root, u, version, m, sealed);
	if (r < 0)
		return r;
	st = kms_sql_prepare(s, "INSERT INTO key_material (key_id, version, created, sealed) "
				"VALUES (?, ?, ?, ?)");
	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, version);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_blob(st, 4, sealed, sizeof sealed, SQLITE_STATIC);
	return kms_sql_step_done(s, st);
}

static int insert_key(struct kms_store *s, const char *id, int64_t now, const char *description,
		      bool managed, const char *policy)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r;

	st =
	    kms_sql_prepare(s, "INSERT INTO keys (id, created, description, state, manager, "
			       "rotation_enabled, rotation_period, next_rotation, current_version, "
			       "policy) VALUES (?, ?, ?, 'Enabled', ?, ?, ?, ?, 1, ?)");
	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	kms_sql_bind_text(st, 3, description ? description : "");
	kms_sql_bind_text(st, 4, managed ? "AWS" : "CUSTOMER");
	sqlite3_bind_int64(st, 5, managed ? 1 : 0);
	sqlite3_bind_int64(st, 6, KMS_DEFAULT_ROTATION_DAYS);
	if (managed)
		sqlite3_bind_int64(st, 7, now + (int64_t)KMS_DEFAULT_ROTATION_DAYS * KMS_DAY);
	else
		sqlite3_bind_null(st, 7);
	if (policy)
		kms_sql_bind_text(st, 8, policy);
	else
		sqlite3_bind_null(st, 8);
	r = kms_sql_step_done(s, st);
	if (r < 0)
		return r;
	return add_material(s, id, 1, now);
}

int kms_store_key_create(struct kms_store *s, const char *id, int64_t now, const char *description,
			 bool managed, const char *policy, const struct kms_tag *tags,
			 size_t n_tags, const char *alias)
{
	int r = kms_sql_begin(s);

	if (r < 0)
		return r;
	r = insert_key(s, id, now, description, managed, policy);
	if (r == 0)
		r = kms_sql_insert_tags(s, id, tags, n_tags);
	if (r == 0 && alias)
		r = kms_store_alias_put(s, alias, id, false, now);
	return kms_sql_end(s, r);
}

int kms_store_key_policy_get(struct kms_store *s, const char *id, char **ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(s, "SELECT policy FROM keys WHERE id = ?");
	const char *t;
	char *p = NULL;
	int r;

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, id);
	r = step_row(st);
	if (r < 0)
		return r;
	t = (const char *)sqlite3_column_text(st, 0);
	if (t) {
		p = strdup(t);
		if (!p)
			return -ENOMEM;
	}
	*ret = p;
	return 0;
}

int kms_store_key_policy_put(struct kms_store *s, const char *id, const char *policy)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "UPDATE keys SET policy = ? WHERE id = ?");

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, policy);
	kms_sql_bind_text(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(s->db) ? 0 : -ENOENT;
}

int kms_store_key_set_description(struct kms_store *s, const char *id, const char *description)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "UPDATE keys SET description = ? WHERE id = ?");

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, description);
	kms_sql_bind_text(st, 2, id);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
}

int kms_store_key_set_state(struct kms_store *s, const char *id, enum kms_key_state state)
{
	if (state == KMS_KEY_ENABLED)
		return kms_sql_update_key(s, "UPDATE keys SET state = 'Enabled' WHERE id = ?1", id,
					  0, 0, 0);
	if (state == KMS_KEY_DISABLED)
		return kms_sql_update_key(s, "UPDATE keys SET state = 'Disabled' WHERE id = ?1", id,
					  0, 0, 0);
	return -EINVAL; /* deletion has its own calls */
}

int kms_store_key_schedule_deletion(struct kms_store *s, const char *id, int64_t when, int64_t days)
{
	return kms_sql_update_key(s,
				  "UPDATE keys SET state = 'PendingDeletion', deletion_date = ?2, "
				  "pending_days = ?3 WHERE id = ?1",
				  id, 2, when, days);
}

int kms_store_key_cancel_deletion(struct kms_store *s, const char *id)
{
	return kms_sql_update_key(s,
				  "UPDATE keys SET state = 'Disabled', deletion_date = NULL, "
				  "pending_days = NULL WHERE id = ?1",
				  id, 0, 0, 0);
}

int kms_store_key_delete(struct kms_store *s, const char *id)
{
	return kms_sql_update_key(s, "DELETE FROM keys WHERE id = ?1", id, 0, 0, 0);
}

/* Collects the ids the statement returns. */
static int collect_ids(sqlite3_stmt *st, struct kms_key_ids *ret)
{
	_cleanup_buffer_ struct envol_buffer b = ENVOL_BUFFER_INIT;
	size_t n = 0;
	char *data;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);

		if (!id || strlen(id) != KMS_KEY_ID_SIZE - 1)
			continue;
		(void)envol_buffer_append(&b, id, KMS_KEY_ID_SIZE); /* with its NUL */
		n++;
	}
	if (rc != SQLITE_DONE)
		return -EIO;
	rc = envol_buffer_take(&b, &data, NULL);
	if (rc < 0)
		return rc;
	ret->id = (char(*)[KMS_KEY_ID_SIZE])data;
	ret->n = n;
	return 0;
}

static int key_id_row(sqlite3_stmt *st, void *item)
{
	const char *id = (const char *)sqlite3_column_text(st, 0);

	if (!id || strlen(id) != KMS_KEY_ID_SIZE - 1)
		return 1;
	memcpy(item, id, KMS_KEY_ID_SIZE);
	return 0;
}

static void key_ids_free(void *items, _unused_ size_t n) { free(items); }

int kms_store_keys_list(struct kms_store *s, const char *after, int64_t limit,
			struct kms_key_ids *ret, bool *ret_more)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "SELECT id FROM keys WHERE id > ? ORDER BY id LIMIT ?");
	void *items = NULL;
	int r;

	if (st) {
		kms_sql_bind_text(st, 1, after);
		sqlite3_bind_int64(st, 2, limit + 1);
	}
	r = kms_sql_page(st, limit, KMS_KEY_ID_SIZE, key_id_row, key_ids_free, &items, &ret->n,
			 ret_more);
	if (r == 0)
		ret->id = items;
	return r;
}

static int ids_due(struct kms_store *s, const char *sql, int64_t now, struct kms_key_ids *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(s, sql);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, now);
	return collect_ids(st, ret);
}

int kms_store_keys_deletion_due(struct kms_store *s, int64_t now, struct kms_key_ids *ret)
{
	return ids_due(s,
		       "SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= ?",
		       now, ret);
}

int kms_store_keys_rotation_due(struct kms_store *s, int64_t now, struct kms_key_ids *ret)
{
	return ids_due(s,
		       "SELECT id FROM keys WHERE rotation_enabled = 1 AND state = 'Enabled' "
		       "AND next_rotation <= ?",
		       now, ret);
}

int64_t kms_store_next_deletion(struct kms_store *s)
{
	_cleanup_stmt_ sqlite3_stmt *st = kms_sql_prepare(
	    s, "SELECT MIN(deletion_date) FROM keys WHERE state = 'PendingDeletion'");

	if (!st)
		return 0; /* cannot tell: check again next time */
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		return sqlite3_column_int64(st, 0);
	return INT64_MAX;
}

void kms_store_checkpoint(struct kms_store *s)
{
	(void)kms_sql_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE);");
}

/* ---- material and rotation ---- */

int kms_store_material_load(struct kms_store *s, const uint8_t uuid[16],
			    enum kms_key_state *ret_state, uint32_t *ret_n_versions,
			    uint8_t **ret_material)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *sm = NULL;
	_cleanup_secure_ uint8_t *material = NULL;
	char id[KMS_KEY_ID_SIZE];
	enum kms_key_state state;
	uint32_t n;
	int r;

	envol_uuid_format(uuid, id);
	st = kms_sql_prepare(s, "SELECT state, current_version FROM keys WHERE id = ?");
	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -ENOENT;
	state = state_from_text(sqlite3_column_text(st, 0));
	n = (uint32_t)sqlite3_column_int64(st, 1);
	if (n == 0 || n > MAX_VERSIONS)
		return -EBADMSG;
	material = envol_secure_alloc((size_t)n * KMS_KEY_LEN);
	if (!material)
		return -ENOMEM;
	sm = kms_sql_prepare(
	    s, "SELECT version, sealed FROM key_material WHERE key_id = ? ORDER BY version");
	if (!sm)
		return -EIO;
	kms_sql_bind_text(sm, 1, id);
	for (uint32_t v = 1; v <= n; v++) {
		if (sqlite3_step(sm) != SQLITE_ROW || sqlite3_column_int64(sm, 0) != v)
			return -EBADMSG;
		r = kms_root_key_unseal(s->root, uuid, v, sqlite3_column_blob(sm, 1),
					(size_t)sqlite3_column_bytes(sm, 1),
					material + (size_t)(v - 1) * KMS_KEY_LEN);
		if (r < 0)
			return r;
	}
	*ret_state = state;
	*ret_n_versions = n;
	*ret_material = TAKE_PTR(material);
	return 0;
}

int kms_store_key_rotate(struct kms_store *s, const struct kms_key *key, bool on_demand,
			 int64_t now, int64_t next_rotation)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	uint32_t v = key->current_version + 1;
	int r = kms_sql_begin(s);

	if (r < 0)
		return r;
	r = add_material(s, key->id, v, now);
	if (r == 0) {
		st = kms_sql_prepare(s, "INSERT INTO rotations (key_id, version, rotation_date, "
					"rotation_type) VALUES (?, ?, ?, ?)");
		r = st ? 0 : -EIO;
	}
	if (r == 0) {
		kms_sql_bind_text(st, 1, key->id);
		sqlite3_bind_int64(st, 2, v);
		sqlite3_bind_int64(st, 3, now);
		kms_sql_bind_text(st, 4, on_demand ? "ON_DEMAND" : "AUTOMATIC");
		r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	}
	if (r == 0 && next_rotation >= 0)
		r = kms_sql_update_key(s,
				       "UPDATE keys SET current_version = ?2, next_rotation = ?3 "
				       "WHERE id = ?1",
				       key->id, 2, (int64_t)v, next_rotation);
	else if (r == 0)
		r = kms_sql_update_key(s, "UPDATE keys SET current_version = ?2 WHERE id = ?1",
				       key->id, 1, (int64_t)v, 0);
	return kms_sql_end(s, r);
}

int kms_store_key_set_rotation(struct kms_store *s, const char *id, bool enabled, int64_t period,
			       int64_t next_rotation)
{
	if (enabled)
		return kms_sql_update_key(
		    s,
		    "UPDATE keys SET rotation_enabled = 1, rotation_period = ?2, "
		    "next_rotation = ?3 WHERE id = ?1",
		    id, 2, period, next_rotation);
	return kms_sql_update_key(
	    s, "UPDATE keys SET rotation_enabled = 0, next_rotation = NULL WHERE id = ?1", id, 0, 0,
	    0);
}

int kms_store_rotations_on_demand(struct kms_store *s, const char *id, int64_t *ret_count)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "SELECT COUNT(*) FROM rotations WHERE key_id = ? "
			       "AND rotation_type = 'ON_DEMAND'");

	if (!st)
		return -EIO;
	kms_sql_bind_text(st, 1, id);
	*ret_count = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	return 0;
}

static int rotation_row(sqlite3_stmt *st, void *item)
{
	struct kms_rotation *rot = item;
	const char *type = (const char *)sqlite3_column_text(st, 2);

	rot->version = (uint32_t)sqlite3_column_int64(st, 0);
	rot->date = sqlite3_column_int64(st, 1);
	rot->on_demand = type && strcmp(type, "ON_DEMAND") == 0;
	return 0;
}

static void rotations_free(void *items, _unused_ size_t n) { free(items); }

int kms_store_rotations_list(struct kms_store *s, const char *id, int64_t after, int64_t limit,
			     struct kms_rotation **ret, size_t *ret_n, bool *ret_more)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    kms_sql_prepare(s, "SELECT version, rotation_date, rotation_type FROM rotations "
			       "WHERE key_id = ? AND version > ? ORDER BY version LIMIT ?");
	void *items = NULL;
	int r;

	if (st) {
		kms_sql_bind_text(st, 1, id);
		sqlite3_bind_int64(st, 2, after);
		sqlite3_bind_int64(st, 3, limit + 1);
	}
	r = kms_sql_page(st, limit, sizeof(**ret), rotation_row, rotations_free, &items, ret_n,
			 ret_more);
	if (r == 0)
		*ret = items;
	return r;
}
