/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms.c — the KMS core: kms_open/kms_handle/kms_reject/kms_tick, the AWS KMS operations,
 * authorization (kms_authorize(), the one decision point), the error map, key resolution
 * (id, key ARN, alias, alias ARN), the managed key alias/envol/ebs, the cache of unsealed key
 * material, and the deletion and rotation sweeps.
 *
 * Locking: db_lock (recursive) serializes every use of the SQLite handle; every operation
 * that changes state runs wholly under it.  The cryptographic operations (Encrypt, Decrypt,
 * ReEncrypt, GenerateDataKey*) never write SQLite: they read key state and material from the
 * cache under cache_lock (read side), filling it under db_lock on a miss.  Lock order:
 * db_lock, then cache_lock.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util/clock.h"
#include "util/macros.h"
#include "util/encoding.h"
#include "kms/kms.h"
#include "kms/audit.h"
#include "kms/blob.h"
#include "kms/json.h"
#include "kms/store.h"
#include "util/log.h"
#include "util/secure_mem.h"

#define MANAGED_ALIAS "alias/envol/ebs"
#define MANAGED_DESCRIPTION                                                                        \
	"Default key that protects my envol volumes when no other key is defined"
#define MANAGED_ROTATION_DAYS 365
#define DAY 86400
#define MAX_ON_DEMAND_ROTATIONS 10
#define SYSTEM_PRINCIPAL "envol-kmsd"
#define ARN_MAX 512

enum key_state {
	KEY_ENABLED,
	KEY_DISABLED,
	KEY_PENDING_DELETION,
};

static const char *const state_names[] = {"Enabled", "Disabled", "PendingDeletion"};

struct key_info {
	char id[37];
	uint8_t uuid[16];
	int64_t created;
	char *description;
	enum key_state state;
	int64_t deletion_date;
	int64_t pending_days;
	bool managed;
	bool rotation_enabled;
	int64_t rotation_period;
	int64_t next_rotation;
	uint32_t current_version;
};

struct cache_entry {
	struct cache_entry *next;
	uint8_t uuid[16];
	enum key_state state;
	uint32_t n_versions; /* versions 1..n; new encryptions use n */
	uint8_t *material;   /* secure buffer, n_versions * 32 bytes */
};

#define CACHE_BUCKETS 256

struct kms {
	pthread_mutex_t db_lock;
	sqlite3 *db;
	uint8_t *root; /* secure buffer, 32 bytes */
	struct kms_audit *audit;
	char *region, *account_id;
	char **admins, **services;
	size_t n_admins, n_services;
	char key_arn_prefix[272]; /* arn:aws:kms:<region>:<account>:key/ */
	char arn_prefix[256];	  /* arn:aws:kms:<region>:<account>: */
	pthread_rwlock_t cache_lock;
	struct cache_entry *buckets[CACHE_BUCKETS];
	_Atomic int64_t next_deletion; /* earliest deletion date, INT64_MAX if none */
};

/* One request in flight. */
struct call {
	struct kms *k;
	const struct kms_caller *caller;
	struct kms_request req;
	int error; /* enum kms_error */
	char msg[1024];
	char key_arn[ARN_MAX];
	json_t *resp;	/* success: response object … */
	char *raw_body; /* … or a body built by hand (holds plaintext; wiped on free) */
};

/* ---- errors ---- */

static const struct {
	const char *type;
	int status;
} error_table[KMS_ERR_MAX] = {
    [KMS_OK] = {"", 200},
    [KMS_ERR_VALIDATION] = {"ValidationException", 400},
    [KMS_ERR_SERIALIZATION] = {"SerializationException", 400},
    [KMS_ERR_NOT_FOUND] = {"NotFoundException", 400},
    [KMS_ERR_DISABLED] = {"DisabledException", 400},
    [KMS_ERR_INVALID_STATE] = {"KMSInvalidStateException", 400},
    [KMS_ERR_INVALID_CIPHERTEXT] = {"InvalidCiphertextException", 400},
    [KMS_ERR_INCORRECT_KEY] = {"IncorrectKeyException", 400},
    [KMS_ERR_ACCESS_DENIED] = {"AccessDeniedException", 400},
    [KMS_ERR_ALREADY_EXISTS] = {"AlreadyExistsException", 400},
    [KMS_ERR_INVALID_ALIAS_NAME] = {"InvalidAliasNameException", 400},
    [KMS_ERR_INVALID_ARN] = {"InvalidArnException", 400},
    [KMS_ERR_INVALID_MARKER] = {"InvalidMarkerException", 400},
    [KMS_ERR_UNSUPPORTED_OPERATION] = {"UnsupportedOperationException", 400},
    [KMS_ERR_UNKNOWN_OPERATION] = {"UnknownOperationException", 400},
    [KMS_ERR_TAG] = {"TagException", 400},
    [KMS_ERR_LIMIT_EXCEEDED] = {"LimitExceededException", 400},
    [KMS_ERR_INVALID_KEY_USAGE] = {"InvalidKeyUsageException", 400},
    [KMS_ERR_INTERNAL] = {"KMSInternalException", 500},
};

const char *kms_error_map(int error, int *ret_status)
{
	int kind;

	if (error > 0 && error < KMS_ERR_MAX)
		kind = error;
	else
		switch (error) {
		case -ENOENT:
			kind = KMS_ERR_NOT_FOUND;
			break;
		case -EACCES:
		case -EPERM:
			kind = KMS_ERR_ACCESS_DENIED;
			break;
		case -EEXIST:
			kind = KMS_ERR_ALREADY_EXISTS;
			break;
		case -EINVAL:
		case -E2BIG:
			kind = KMS_ERR_VALIDATION;
			break;
		case -EBADMSG:
			kind = KMS_ERR_INVALID_CIPHERTEXT;
			break;
		case -EOPNOTSUPP:
			kind = KMS_ERR_UNSUPPORTED_OPERATION;
			break;
		default:
			kind = KMS_ERR_INTERNAL;
		}
	if (ret_status)
		*ret_status = error_table[kind].status;
	return error_table[kind].type;
}

static int fail(struct call *c, int kind, const char *fmt, ...) _printf_(3, 4);
static int fail(struct call *c, int kind, const char *fmt, ...)
{
	va_list ap;

	c->error = kind;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_internal(struct call *c, int r, const char *what)
{
	log_debug_errno(r, "kms: %s: %m", what);
	return fail(c, KMS_ERR_INTERNAL, "Internal error (%s)", what);
}

/* ---- small helpers ---- */

static void format_key_arn(const struct kms *k, const char *id, char out[ARN_MAX])
{
	snprintf(out, ARN_MAX, "%s%s", k->key_arn_prefix, id);
}

static void format_alias_arn(const struct kms *k, const char *alias, char out[ARN_MAX])
{
	snprintf(out, ARN_MAX, "%s%s", k->arn_prefix, alias);
}

static bool is_reserved_alias(const char *name)
{
	return strncmp(name, "alias/aws/", 10) == 0 || strncmp(name, "alias/envol/", 12) == 0;
}

static void stmt_finalizep(sqlite3_stmt **st) { sqlite3_finalize(*st); }
#define _cleanup_stmt_ _cleanup_(stmt_finalizep)

static sqlite3_stmt *prep(struct kms *k, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(k->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_debug("sqlite prepare: %s: %s", sql, sqlite3_errmsg(k->db));
		return NULL;
	}
	return st;
}

static void lock_db(struct kms *k) { pthread_mutex_lock(&k->db_lock); }

static void unlock_db(struct kms *k) { pthread_mutex_unlock(&k->db_lock); }

static int begin(struct kms *k) { return kms_store_exec(k->db, "BEGIN IMMEDIATE;"); }

static int commit(struct kms *k)
{
	int r = kms_store_exec(k->db, "COMMIT;");

	if (r < 0)
		(void)kms_store_exec(k->db, "ROLLBACK;");
	return r;
}

static void rollback(struct kms *k) { (void)kms_store_exec(k->db, "ROLLBACK;"); }

static void key_info_done(struct key_info *ki)
{
	free(ki->description);
	ki->description = NULL;
}
#define _cleanup_key_info_ _cleanup_(key_info_done)

/* ---- cache of unsealed key material ---- */

static struct cache_entry **cache_slot(struct kms *k, const uint8_t uuid[16])
{
	struct cache_entry **p = &k->buckets[uuid[15]];

	while (*p && memcmp((*p)->uuid, uuid, 16) != 0)
		p = &(*p)->next;
	return p;
}

static void cache_entry_free(struct cache_entry *e)
{
	if (!e)
		return;
	envol_secure_free(e->material);
	free(e);
}

/* Drops a key from the cache (state change, rotation, destruction). */
static void cache_drop(struct kms *k, const uint8_t uuid[16])
{
	struct cache_entry **p, *e;

	pthread_rwlock_wrlock(&k->cache_lock);
	p = cache_slot(k, uuid);
	e = *p;
	if (e)
		*p = e->next;
	pthread_rwlock_unlock(&k->cache_lock);
	cache_entry_free(e);
}

static void cache_drop_id(struct kms *k, const char *id)
{
	uint8_t u[16];

	if (envol_uuid_parse(id, u) == 0)
		cache_drop(k, u);
}

/* Loads a key's state and all material versions into the cache.  Returns 0, -ENOENT, -errno. */
static int cache_load_locked(struct kms *k, const uint8_t uuid[16])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL, *sm = NULL;
	struct cache_entry *e, **p;
	char id[37];
	const char *state;
	int r;

	envol_uuid_format(uuid, id);
	st = prep(k, "SELECT state, current_version FROM keys WHERE id = ?");
	if (!st) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		r = -ENOENT;
		goto out;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(e->uuid, uuid, 16);
	state = (const char *)sqlite3_column_text(st, 0);
	e->state = !state || strcmp(state, "Enabled") == 0 ? KEY_ENABLED
		   : strcmp(state, "Disabled") == 0	   ? KEY_DISABLED
							   : KEY_PENDING_DELETION;
	e->n_versions = (uint32_t)sqlite3_column_int64(st, 1);
	if (e->n_versions == 0 || e->n_versions > 100000) {
		free(e);
		r = -EBADMSG;
		goto out;
	}
	e->material = envol_secure_alloc((size_t)e->n_versions * KMS_KEY_LEN);
	if (!e->material) {
		free(e);
		r = -ENOMEM;
		goto out;
	}
	sm = prep(k, "SELECT version, sealed FROM key_material WHERE key_id = ? ORDER BY version");
	if (!sm) {
		cache_entry_free(e);
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(sm, 1, id, -1, SQLITE_STATIC);
	for (uint32_t v = 1; v <= e->n_versions; v++) {
		if (sqlite3_step(sm) != SQLITE_ROW || sqlite3_column_int64(sm, 0) != v) {
			cache_entry_free(e);
			r = -EBADMSG;
			goto out;
		}
		r = kms_store_unseal(k->root, uuid, v, sqlite3_column_blob(sm, 1),
				     (size_t)sqlite3_column_bytes(sm, 1),
				     e->material + (size_t)(v - 1) * KMS_KEY_LEN);
		if (r < 0) {
			cache_entry_free(e);
			goto out;
		}
	}
	pthread_rwlock_wrlock(&k->cache_lock);
	p = cache_slot(k, uuid);
	if (*p) {
		struct cache_entry *old = *p;

		e->next = old->next;
		*p = e;
		pthread_rwlock_unlock(&k->cache_lock);
		cache_entry_free(old);
	} else {
		*p = e;
		pthread_rwlock_unlock(&k->cache_lock);
	}
	r = 0;
out:
	return r;
}

/* The statements of cache_load_locked() are finalized before db_lock is released. */
static int cache_load(struct kms *k, const uint8_t uuid[16])
{
	int r;

	lock_db(k);
	r = cache_load_locked(k, uuid);
	unlock_db(k);
	return r;
}

/*
 * Finds a key in the cache, loading it on a miss; on success returns 0 with cache_lock held
 * for reading (release with cache_release()).  -ENOENT if the key does not exist.
 */
static int cache_acquire(struct kms *k, const uint8_t uuid[16], struct cache_entry **ret)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		struct cache_entry *e;
		int r;

		pthread_rwlock_rdlock(&k->cache_lock);
		e = *cache_slot(k, uuid);
		if (e) {
			*ret = e;
			return 0;
		}
		pthread_rwlock_unlock(&k->cache_lock);
		r = cache_load(k, uuid);
		if (r < 0)
			return r;
	}
	return -EAGAIN;
}

static void cache_release(struct kms *k) { pthread_rwlock_unlock(&k->cache_lock); }

static void cache_clear(struct kms *k)
{
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		while (k->buckets[i]) {
			struct cache_entry *e = k->buckets[i];

			k->buckets[i] = e->next;
			cache_entry_free(e);
		}
	}
}

/* ---- keys in the database (db_lock held) ---- */

static int load_key(struct kms *k, const char *id, struct key_info *ret)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct key_info ki = {0};
	const char *s;

	st = prep(k, "SELECT created, description, state, deletion_date, pending_days, manager, "
		     "rotation_enabled, rotation_period, next_rotation, current_version "
		     "FROM keys WHERE id = ?");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		break;
	case SQLITE_DONE:
		return -ENOENT;
	default:
		return -EIO;
	}
	snprintf(ki.id, sizeof ki.id, "%s", id);
	if (envol_uuid_parse(id, ki.uuid) < 0)
		return -EBADMSG;
	ki.created = sqlite3_column_int64(st, 0);
	s = (const char *)sqlite3_column_text(st, 1);
	ki.description = strdup(s ? s : "");
	if (!ki.description)
		return -ENOMEM;
	s = (const char *)sqlite3_column_text(st, 2);
	ki.state = s && strcmp(s, "Disabled") == 0	    ? KEY_DISABLED
		   : s && strcmp(s, "PendingDeletion") == 0 ? KEY_PENDING_DELETION
							    : KEY_ENABLED;
	ki.deletion_date = sqlite3_column_int64(st, 3);
	ki.pending_days = sqlite3_column_int64(st, 4);
	s = (const char *)sqlite3_column_text(st, 5);
	ki.managed = s && strcmp(s, "AWS") == 0;
	ki.rotation_enabled = sqlite3_column_int64(st, 6) != 0;
	ki.rotation_period = sqlite3_column_int64(st, 7);
	ki.next_rotation = sqlite3_column_int64(st, 8);
	ki.current_version = (uint32_t)sqlite3_column_int64(st, 9);
	*ret = ki;
	return 0;
}

static int lookup_alias(struct kms *k, const char *name, char id[37])
{
	_cleanup_stmt_ sqlite3_stmt *st = prep(k, "SELECT key_id FROM aliases WHERE name = ?");
	const char *s;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -ENOENT;
	s = (const char *)sqlite3_column_text(st, 0);
	if (!s || strlen(s) != 36)
		return -EBADMSG;
	memcpy(id, s, 37);
	return 0;
}

static int insert_key(struct kms *k, const char *id, int64_t now, const char *description,
		      bool managed)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	st = prep(k, "INSERT INTO keys (id, created, description, state, manager, "
		     "rotation_enabled, rotation_period, next_rotation, current_version) "
		     "VALUES (?, ?, ?, 'Enabled', ?, ?, ?, ?, 1)");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, description ? description : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, managed ? "AWS" : "CUSTOMER", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, managed ? 1 : 0);
	sqlite3_bind_int64(st, 6, MANAGED_ROTATION_DAYS);
	if (managed)
		sqlite3_bind_int64(st, 7, now + (int64_t)MANAGED_ROTATION_DAYS * DAY);
	else
		sqlite3_bind_null(st, 7);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -EIO;
	return kms_store_add_material(k->db, k->root, id, 1, now);
}

/* Creates the managed key and its alias (db_lock held).  Returns 0 or -errno. */
static int create_managed_key(struct kms *k, char id[37])
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int64_t now = envol_clock_now();
	uint8_t u[16];
	int r;

	r = envol_uuid_generate(u);
	if (r < 0)
		return r;
	envol_uuid_format(u, id);
	r = begin(k);
	if (r < 0)
		return r;
	r = insert_key(k, id, now, MANAGED_DESCRIPTION, true);
	if (r < 0)
		goto fail;
	st = prep(k, "INSERT INTO aliases (name, key_id, created, updated) VALUES (?, ?, ?, ?)");
	if (!st) {
		r = -EIO;
		goto fail;
	}
	sqlite3_bind_text(st, 1, MANAGED_ALIAS, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = -EIO;
		goto fail;
	}
	r = commit(k);
	if (r == 0)
		log_debug("kms: created the managed key %s (%s)", id, MANAGED_ALIAS);
	return r;
fail:
	rollback(k);
	return r;
}

/*
 * Resolves a KeyId member (key id, key ARN, and if allow_alias alias name or alias ARN) to a
 * key id.  Creates the managed key when alias/envol/ebs is named and does not exist yet.
 * Sets c->key_arn.  Returns 0 or -1 with the AWS error in c.
 */
static int resolve_id(struct call *c, const char *key_id, bool allow_alias, char id[37])
{
	struct kms *k = c->k;
	const char *alias = NULL;
	uint8_t u[16];
	int r;

	if (strncmp(key_id, "arn:", 4) == 0) {
		size_t n = strlen(k->arn_prefix);

		if (strncmp(key_id, "arn:aws:kms:", 12) != 0)
			return fail(c, KMS_ERR_INVALID_ARN, "Invalid arn %s", key_id);
		if (strncmp(key_id, k->arn_prefix, n) != 0)
			return fail(c, KMS_ERR_NOT_FOUND,
				    "Invalid arn %s: not in region %s of account %s", key_id,
				    k->region, k->account_id);
		if (strncmp(key_id + n, "key/", 4) == 0) {
			key_id += n + 4;
			if (envol_uuid_parse(key_id, u) < 0)
				return fail(c, KMS_ERR_NOT_FOUND, "Invalid keyId %s", key_id);
		} else if (strncmp(key_id + n, "alias/", 6) == 0) {
			alias = key_id + n;
		} else {
			return fail(c, KMS_ERR_INVALID_ARN, "Invalid arn %s", key_id);
		}
	} else if (strncmp(key_id, "alias/", 6) == 0) {
		alias = key_id;
	} else if (envol_uuid_parse(key_id, u) < 0) {
		return fail(c, KMS_ERR_NOT_FOUND, "Invalid keyId '%s'", key_id);
	}

	if (!alias) {
		envol_uuid_format(u, id);
		format_key_arn(k, id, c->key_arn);
		return 0;
	}
	if (!allow_alias)
		return fail(c, KMS_ERR_NOT_FOUND,
			    "Invalid keyId '%s': this operation takes a key id or key ARN, not an "
			    "alias",
			    key_id);
	lock_db(k);
	r = lookup_alias(k, alias, id);
	if (r == -ENOENT && strcmp(alias, MANAGED_ALIAS) == 0)
		r = create_managed_key(k, id);
	unlock_db(k);
	if (r == -ENOENT) {
		char arn[ARN_MAX];

		format_alias_arn(k, alias, arn);
		return fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", arn);
	}
	if (r < 0)
		return fail_internal(c, r, "alias lookup");
	format_key_arn(k, id, c->key_arn);
	return 0;
}

/* resolve_id() and load_key() together (db_lock held by the caller). */
static int resolve_key(struct call *c, const char *key_id, bool allow_alias, struct key_info *ki)
{
	char id[37];
	int r;

	if (resolve_id(c, key_id, allow_alias, id) < 0)
		return -1;
	r = load_key(c->k, id, ki);
	if (r == -ENOENT)
		return fail(c, KMS_ERR_NOT_FOUND, "Key '%s' does not exist", c->key_arn);
	if (r < 0)
		return fail_internal(c, r, "key lookup");
	return 0;
}

static int refuse_managed(struct call *c, const struct key_info *ki)
{
	if (!ki->managed)
		return 0;
	return fail(c, KMS_ERR_ACCESS_DENIED,
		    "User: %s is not authorized to perform: kms:%s on resource: %s because %s is "
		    "an envol managed key (alias %s)",
		    c->caller && c->caller->principal ? c->caller->principal : "anonymous",
		    kms_op_name(c->req.op), c->key_arn, c->key_arn, MANAGED_ALIAS);
}

static int refuse_pending(struct call *c, const struct key_info *ki)
{
	if (ki->state != KEY_PENDING_DELETION)
		return 0;
	return fail(c, KMS_ERR_INVALID_STATE, "%s is pending deletion.", c->key_arn);
}

static int refuse_disabled(struct call *c, const struct key_info *ki)
{
	if (ki->state != KEY_DISABLED)
		return 0;
	return fail(c, KMS_ERR_DISABLED, "%s is disabled.", c->key_arn);
}

enum { REFUSE_MANAGED = 1 << 0, REFUSE_DISABLED = 1 << 1, REFUSE_PENDING = 1 << 2 };

/*
 * resolve_key() without aliases, then the refusals in `refuse` (managed, disabled, pending,
 * in that order).  Returns 0, or -1 with the error set and *ki released.
 */
static int open_key(struct call *c, const char *key_id, unsigned refuse, struct key_info *ki)
{
	if (resolve_key(c, key_id, false, ki) < 0)
		return -1;
	if (((refuse & REFUSE_MANAGED) && refuse_managed(c, ki) < 0) ||
	    ((refuse & REFUSE_DISABLED) && refuse_disabled(c, ki) < 0) ||
	    ((refuse & REFUSE_PENDING) && refuse_pending(c, ki) < 0)) {
		key_info_done(ki);
		return -1;
	}
	return 0;
}

/* Runs one UPDATE/DELETE with a key id as its only parameter ... plus optional ints. */
static int update_key_sql(struct kms *k, const char *sql, const char *id, int n_ints, ...)
{
	_cleanup_stmt_ sqlite3_stmt *st = prep(k, sql);
	va_list ap;
	int i;

	if (!st)
		return -EIO;
	va_start(ap, n_ints);
	for (i = 0; i < n_ints; i++)
		sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
	va_end(ap);
	sqlite3_bind_text(st, n_ints + 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return (sqlite3_errcode(k->db) & 0xff) == SQLITE_CONSTRAINT ? -EEXIST : -EIO;
	return 0;
}

static void refresh_next_deletion(struct kms *k)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    prep(k, "SELECT MIN(deletion_date) FROM keys WHERE state = 'PendingDeletion'");
	int64_t next = INT64_MAX;

	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		next = sqlite3_column_int64(st, 0);
	if (!st)
		next = 0; /* cannot tell: check again next time */
	atomic_store(&k->next_deletion, next);
}

/* ---- JSON responses ---- */

static json_t *key_metadata(struct kms *k, const struct key_info *ki)
{
	char arn[ARN_MAX];
	json_t *m = json_object();

	if (!m)
		return NULL;
	format_key_arn(k, ki->id, arn);
	json_object_set_new(m, "AWSAccountId", json_string(k->account_id));
	json_object_set_new(m, "KeyId", json_string(ki->id));
	json_object_set_new(m, "Arn", json_string(arn));
	json_object_set_new(m, "CreationDate", json_integer(ki->created));
	json_object_set_new(m, "Enabled", json_boolean(ki->state == KEY_ENABLED));
	json_object_set_new(m, "Description", json_string(ki->description ? ki->description : ""));
	json_object_set_new(m, "KeyUsage", json_string("ENCRYPT_DECRYPT"));
	json_object_set_new(m, "KeyState", json_string(state_names[ki->state]));
	if (ki->state == KEY_PENDING_DELETION)
		json_object_set_new(m, "DeletionDate", json_integer(ki->deletion_date));
	json_object_set_new(m, "Origin", json_string("AWS_KMS"));
	json_object_set_new(m, "KeyManager", json_string(ki->managed ? "AWS" : "CUSTOMER"));
	json_object_set_new(m, "CustomerMasterKeySpec", json_string("SYMMETRIC_DEFAULT"));
	json_object_set_new(m, "KeySpec", json_string("SYMMETRIC_DEFAULT"));
	json_object_set_new(m, "EncryptionAlgorithms", json_pack("[s]", "SYMMETRIC_DEFAULT"));
	json_object_set_new(m, "MultiRegion", json_false());
	return m;
}

static int respond_metadata(struct call *c, const struct key_info *ki)
{
	json_t *m = key_metadata(c->k, ki);

	if (!m)
		return fail_internal(c, -ENOMEM, "response");
	c->resp = json_pack("{s:o}", "KeyMetadata", m);
	return c->resp ? 0 : fail_internal(c, -ENOMEM, "response");
}

static int respond_key_id(struct call *c)
{
	c->resp = json_pack("{s:s}", "KeyId", c->key_arn);
	return c->resp ? 0 : fail_internal(c, -ENOMEM, "response");
}

static int respond_empty(struct call *c)
{
	c->resp = json_object();
	return c->resp ? 0 : fail_internal(c, -ENOMEM, "response");
}

/* ---- key management operations (run under db_lock) ---- */

static int validate_tags(struct call *c)
{
	for (size_t i = 0; i < c->req.n_tags; i++)
		if (strncmp(c->req.tags[i].key, "aws:", 4) == 0)
			return fail(c, KMS_ERR_TAG, "Tag keys beginning with aws: are reserved");
	return 0;
}

static int insert_tags(struct kms *k, const char *id, const struct kms_tag *tags, size_t n)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	if (n == 0)
		return 0;
	st = prep(k, "INSERT INTO tags (key_id, tag_key, tag_value) VALUES (?, ?, ?) "
		     "ON CONFLICT (key_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value");
	if (!st)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, tags[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, tags[i].value, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -EIO;
	}
	return 0;
}

static int op_create_key(struct call *c)
{
	const struct kms_request *q = &c->req;
	struct kms *k = c->k;
	const char *spec = q->key_spec ? q->key_spec : q->customer_master_key_spec;
	struct key_info ki = {0};
	uint8_t u[16];
	char id[37];
	int r;

	if (q->key_spec && q->customer_master_key_spec)
		return fail(c, KMS_ERR_VALIDATION,
			    "You cannot specify KeySpec and CustomerMasterKeySpec in the same "
			    "request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec.");
	if (spec && strcmp(spec, "SYMMETRIC_DEFAULT") != 0)
		return fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
			    "KeySpec %s is not supported: envol-kmsd supports SYMMETRIC_DEFAULT "
			    "keys only",
			    spec);
	if (q->key_usage && strcmp(q->key_usage, "ENCRYPT_DECRYPT") != 0)
		return fail(c, KMS_ERR_VALIDATION,
			    "KeyUsage %s is not compatible with KeySpec SYMMETRIC_DEFAULT",
			    q->key_usage);
	if (q->origin && strcmp(q->origin, "AWS_KMS") != 0)
		return fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
			    "Origin %s is not supported: envol-kmsd supports AWS_KMS only",
			    q->origin);
	if (q->multi_region == 1)
		return fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
			    "Multi-Region keys are not supported by envol-kmsd");
	if (validate_tags(c) < 0)
		return -1;

	r = envol_uuid_generate(u);
	if (r < 0)
		return fail_internal(c, r, "uuid");
	envol_uuid_format(u, id);
	format_key_arn(k, id, c->key_arn);
	r = begin(k);
	if (r < 0)
		return fail_internal(c, r, "begin");
	r = insert_key(k, id, envol_clock_now(), q->description, false);
	if (r == 0)
		r = insert_tags(k, id, q->tags, q->n_tags);
	if (r < 0) {
		rollback(k);
		return fail_internal(c, r, "create key");
	}
	r = commit(k);
	if (r < 0)
		return fail_internal(c, r, "commit");
	r = load_key(k, id, &ki);
	if (r < 0)
		return fail_internal(c, r, "reload key");
	r = respond_metadata(c, &ki);
	key_info_done(&ki);
	return r;
}

static int op_describe_key(struct call *c)
{
	struct key_info ki = {0};
	int r;

	if (resolve_key(c, c->req.key_id, true, &ki) < 0)
		return -1;
	r = respond_metadata(c, &ki);
	key_info_done(&ki);
	return r;
}

/* Limit and Marker of the List* operations. */
static int64_t page_limit(const struct kms_request *q, int64_t dflt)
{
	return q->limit > 0 ? q->limit : dflt;
}

static int finish_page(struct call *c, json_t *list, const char *list_name, bool truncated,
		       const char *next_marker)
{
	c->resp = json_object();
	if (!c->resp || !list) {
		json_decref(list);
		return fail_internal(c, -ENOMEM, "response");
	}
	json_object_set_new(c->resp, list_name, list);
	json_object_set_new(c->resp, "Truncated", json_boolean(truncated));
	if (truncated && next_marker)
		json_object_set_new(c->resp, "NextMarker", json_string(next_marker));
	return 0;
}

static int op_list_keys(struct call *c)
{
	struct kms *k = c->k;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int64_t limit = page_limit(&c->req, 100), n = 0;
	char last[37] = "", arn[ARN_MAX];
	uint8_t u[16];
	bool truncated = false;
	json_t *list;

	if (c->req.marker && envol_uuid_parse(c->req.marker, u) < 0)
		return fail(c, KMS_ERR_INVALID_MARKER, "Invalid marker");
	st = prep(k, "SELECT id FROM keys WHERE id > ? ORDER BY id LIMIT ?");
	if (!st)
		return fail_internal(c, -EIO, "list keys");
	sqlite3_bind_text(st, 1, c->req.marker ? c->req.marker : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, limit + 1);
	list = json_array();
	while (list && sqlite3_step(st) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);

		if (!id)
			continue;
		if (n == limit) {
			truncated = true;
			break;
		}
		format_key_arn(k, id, arn);
		json_array_append_new(list, json_pack("{s:s,s:s}", "KeyId", id, "KeyArn", arn));
		snprintf(last, sizeof last, "%s", id);
		n++;
	}
	return finish_page(c, list, "Keys", truncated, last);
}

static int op_update_key_description(struct call *c)
{
	_cleanup_key_info_ struct key_info ki = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;

	if (open_key(c, c->req.key_id, REFUSE_MANAGED | REFUSE_PENDING, &ki) < 0)
		return -1;
	st = prep(c->k, "UPDATE keys SET description = ? WHERE id = ?");
	if (!st)
		return fail_internal(c, -EIO, "update");
	sqlite3_bind_text(st, 1, c->req.description, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ki.id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail_internal(c, -EIO, "update");
	return respond_empty(c);
}

static int set_state(struct call *c, const struct key_info *ki, const char *sql, int n_ints,
		     int64_t a, int64_t b)
{
	int r = update_key_sql(c->k, sql, ki->id, n_ints, a, b);

	if (r < 0)
		return fail_internal(c, r, "update key state");
	cache_drop(c->k, ki->uuid);
	refresh_next_deletion(c->k);
	return 0;
}

/* The whole of an operation that runs one key UPDATE after open_key() and answers {}. */
static int update_key_op(struct call *c, unsigned refuse, const char *sql, int n_ints, int64_t a,
			 int64_t b)
{
	_cleanup_key_info_ struct key_info ki = {0};

	if (open_key(c, c->req.key_id, refuse, &ki) < 0 || set_state(c, &ki, sql, n_ints, a, b) < 0)
		return -1;
	return respond_empty(c);
}

static int op_enable_disable_key(struct call *c)
{
	bool enable = c->req.op == KMS_OP_ENABLE_KEY;

	return update_key_op(c, REFUSE_MANAGED | REFUSE_PENDING,
			     enable ? "UPDATE keys SET state = 'Enabled' WHERE id = ?"
				    : "UPDATE keys SET state = 'Disabled' WHERE id = ?",
			     0, 0, 0);
}

static int op_schedule_key_deletion(struct call *c)
{
	int64_t days = c->req.pending_window_in_days ? c->req.pending_window_in_days : 30;
	_cleanup_key_info_ struct key_info ki = {0};
	int64_t when;

	if (open_key(c, c->req.key_id, REFUSE_MANAGED, &ki) < 0)
		return -1;
	if (days < 7 || days > 30)
		return fail(c, KMS_ERR_VALIDATION,
			    "PendingWindowInDays value %lld is invalid: it must be between 7 "
			    "and 30",
			    (long long)days);
	if (refuse_pending(c, &ki) < 0)
		return -1;
	when = envol_clock_now() + days * DAY;
	if (set_state(c, &ki,
		      "UPDATE keys SET state = 'PendingDeletion', deletion_date = ?, "
		      "pending_days = ? WHERE id = ?",
		      2, when, days) < 0)
		return -1;
	c->resp =
	    json_pack("{s:s,s:I,s:s,s:I}", "KeyId", c->key_arn, "DeletionDate", (json_int_t)when,
		      "KeyState", "PendingDeletion", "PendingWindowInDays", (json_int_t)days);
	return c->resp ? 0 : fail_internal(c, -ENOMEM, "response");
}

static int op_cancel_key_deletion(struct call *c)
{
	_cleanup_key_info_ struct key_info ki = {0};

	if (open_key(c, c->req.key_id, REFUSE_MANAGED, &ki) < 0)
		return -1;
	if (ki.state != KEY_PENDING_DELETION)
		return fail(c, KMS_ERR_INVALID_STATE, "%s is not pending deletion.", c->key_arn);
	if (set_state(c, &ki,
		      "UPDATE keys SET state = 'Disabled', deletion_date = NULL, "
		      "pending_days = NULL WHERE id = ?",
		      0, 0, 0) < 0)
		return -1;
	return respond_key_id(c);
}

static int check_alias_name(struct call *c, const char *name, bool creating)
{
	char arn[ARN_MAX];

	if (strncmp(name, "alias/", 6) != 0 || name[6] == 0)
		return fail(c, KMS_ERR_INVALID_ALIAS_NAME,
			    "Alias must start with the prefix \"alias/\" followed by a name");
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == ':' || *p == '/' || *p == '_' || *p == '-'))
			return fail(c, KMS_ERR_VALIDATION,
				    "1 validation error detected: Value '%s' at 'aliasName' failed "
				    "to satisfy constraint: Member must satisfy regular expression "
				    "pattern: ^[a-zA-Z0-9:/_-]+$",
				    name);
	if (is_reserved_alias(name)) {
		format_alias_arn(c->k, name, arn);
		if (creating)
			return fail(c, KMS_ERR_INVALID_ALIAS_NAME,
				    "Alias %s: the prefixes alias/aws/ and alias/envol/ are "
				    "reserved for managed keys",
				    name);
		return fail(c, KMS_ERR_ACCESS_DENIED,
			    "User: %s is not authorized to perform: kms:%s on resource: %s "
			    "because it is reserved for managed keys",
			    c->caller->principal, kms_op_name(c->req.op), arn);
	}
	return 0;
}

static int op_create_update_alias(struct call *c)
{
	bool create = c->req.op == KMS_OP_CREATE_ALIAS;
	struct kms *k = c->k;
	_cleanup_key_info_ struct key_info ki = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char existing[37], arn[ARN_MAX];
	int64_t now = envol_clock_now();
	int q;

	if (check_alias_name(c, c->req.alias_name, create) < 0)
		return -1;
	format_alias_arn(k, c->req.alias_name, arn);
	q = lookup_alias(k, c->req.alias_name, existing);
	if (q < 0 && q != -ENOENT)
		return fail_internal(c, q, "alias lookup");
	if (create && q == 0)
		return fail(c, KMS_ERR_ALREADY_EXISTS, "An alias with the name %s already exists",
			    arn);
	if (!create && q == -ENOENT)
		return fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", arn);
	if (open_key(c, c->req.target_key_id, REFUSE_MANAGED | REFUSE_PENDING, &ki) < 0)
		return -1;
	st = prep(k, create ? "INSERT INTO aliases (name, key_id, created, updated) "
			      "VALUES (?1, ?2, ?3, ?3)"
			    : "UPDATE aliases SET key_id = ?2, updated = ?3 WHERE name = ?1");
	if (!st)
		return fail_internal(c, -EIO, "alias");
	sqlite3_bind_text(st, 1, c->req.alias_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ki.id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail_internal(c, -EIO, "alias");
	return respond_empty(c);
}

static int op_delete_alias(struct call *c)
{
	struct kms *k = c->k;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char id[37], arn[ARN_MAX];
	int q;

	if (strncmp(c->req.alias_name, "alias/", 6) != 0)
		return fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", c->req.alias_name);
	format_alias_arn(k, c->req.alias_name, arn);
	if (is_reserved_alias(c->req.alias_name))
		return check_alias_name(c, c->req.alias_name, false);
	q = lookup_alias(k, c->req.alias_name, id);
	if (q == -ENOENT)
		return fail(c, KMS_ERR_NOT_FOUND, "Alias %s is not found.", arn);
	if (q < 0)
		return fail_internal(c, q, "alias lookup");
	format_key_arn(k, id, c->key_arn);
	st = prep(k, "DELETE FROM aliases WHERE name = ?");
	if (!st)
		return fail_internal(c, -EIO, "alias");
	sqlite3_bind_text(st, 1, c->req.alias_name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail_internal(c, -EIO, "alias");
	return respond_empty(c);
}

static int op_list_aliases(struct call *c)
{
	struct kms *k = c->k;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int64_t limit = page_limit(&c->req, 50), n = 0;
	char filter[37] = "", arn[ARN_MAX];
	_cleanup_free_ char *last = NULL;
	bool truncated = false;
	json_t *list;

	if (limit > 100)
		return fail(
		    c, KMS_ERR_VALIDATION,
		    "1 validation error detected: Value '%lld' at 'limit' failed to satisfy "
		    "constraint: Member must have value less than or equal to 100",
		    (long long)limit);
	if (c->req.key_id) {
		struct key_info ki = {0};

		if (resolve_key(c, c->req.key_id, false, &ki) < 0)
			return -1;
		memcpy(filter, ki.id, 37);
		key_info_done(&ki);
	}
	st = prep(k, "SELECT name, key_id, created, updated FROM aliases "
		     "WHERE name > ?1 AND (?2 = '' OR key_id = ?2) ORDER BY name LIMIT ?3");
	if (!st)
		return fail_internal(c, -EIO, "list aliases");
	sqlite3_bind_text(st, 1, c->req.marker ? c->req.marker : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, filter, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit + 1);
	list = json_array();
	while (list && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *kid = (const char *)sqlite3_column_text(st, 1);

		if (!name || !kid)
			continue;
		if (n == limit) {
			truncated = true;
			break;
		}
		format_alias_arn(k, name, arn);
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:s,s:I,s:I}", "AliasName", name, "AliasArn", arn,
				    "TargetKeyId", kid, "CreationDate",
				    (json_int_t)sqlite3_column_int64(st, 2), "LastUpdatedDate",
				    (json_int_t)sqlite3_column_int64(st, 3)));
		free(last);
		last = strdup(name);
		n++;
	}
	return finish_page(c, list, "Aliases", truncated, last);
}

static int op_enable_key_rotation(struct call *c)
{
	int64_t days = c->req.rotation_period_in_days ? c->req.rotation_period_in_days : 365;

	return update_key_op(c, REFUSE_MANAGED | REFUSE_DISABLED | REFUSE_PENDING,
			     "UPDATE keys SET rotation_enabled = 1, rotation_period = ?, "
			     "next_rotation = ? WHERE id = ?",
			     2, days, envol_clock_now() + days * DAY);
}

static int op_disable_key_rotation(struct call *c)
{
	return update_key_op(c, REFUSE_MANAGED | REFUSE_DISABLED | REFUSE_PENDING,
			     "UPDATE keys SET rotation_enabled = 0, next_rotation = NULL "
			     "WHERE id = ?",
			     0, 0, 0);
}

static int op_get_key_rotation_status(struct call *c)
{
	_cleanup_key_info_ struct key_info ki = {0};

	if (open_key(c, c->req.key_id, REFUSE_PENDING, &ki) < 0)
		return -1;
	c->resp =
	    json_pack("{s:b,s:s}", "KeyRotationEnabled", ki.rotation_enabled, "KeyId", c->key_arn);
	if (!c->resp)
		return fail_internal(c, -ENOMEM, "response");
	if (ki.rotation_enabled) {
		json_object_set_new(c->resp, "RotationPeriodInDays",
				    json_integer(ki.rotation_period));
		json_object_set_new(c->resp, "NextRotationDate", json_integer(ki.next_rotation));
	}
	return 0;
}

/* Adds a new material version (db_lock held).  next_rotation < 0 leaves the schedule alone. */
static int rotate_key(struct kms *k, const struct key_info *ki, const char *type, int64_t now,
		      int64_t next_rotation)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	uint32_t v = ki->current_version + 1;
	int r;

	r = begin(k);
	if (r < 0)
		return r;
	r = kms_store_add_material(k->db, k->root, ki->id, v, now);
	if (r < 0)
		goto fail;
	st = prep(k, "INSERT INTO rotations (key_id, version, rotation_date, rotation_type) "
		     "VALUES (?, ?, ?, ?)");
	if (!st) {
		r = -EIO;
		goto fail;
	}
	sqlite3_bind_text(st, 1, ki->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		r = -EIO;
		goto fail;
	}
	if (next_rotation >= 0)
		r = update_key_sql(k,
				   "UPDATE keys SET current_version = ?, next_rotation = ? "
				   "WHERE id = ?",
				   ki->id, 2, (int64_t)v, next_rotation);
	else
		r = update_key_sql(k, "UPDATE keys SET current_version = ? WHERE id = ?", ki->id, 1,
				   (int64_t)v);
	if (r < 0)
		goto fail;
	r = commit(k);
	cache_drop(k, ki->uuid);
	return r;
fail:
	rollback(k);
	return r;
}

static int op_rotate_key_on_demand(struct call *c)
{
	struct kms *k = c->k;
	struct key_info ki = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = -1, q;

	if (resolve_key(c, c->req.key_id, false, &ki) < 0)
		return -1;
	if (ki.managed) {
		fail(c, KMS_ERR_UNSUPPORTED_OPERATION,
		     "%s is a managed key: on-demand rotation is not supported for it", c->key_arn);
		goto out;
	}
	if (refuse_disabled(c, &ki) < 0 || refuse_pending(c, &ki) < 0)
		goto out;
	st = prep(k, "SELECT COUNT(*) FROM rotations WHERE key_id = ? AND "
		     "rotation_type = 'ON_DEMAND'");
	if (!st) {
		r = fail_internal(c, -EIO, "rotations");
		goto out;
	}
	sqlite3_bind_text(st, 1, ki.id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_int64(st, 0) >= MAX_ON_DEMAND_ROTATIONS) {
		fail(c, KMS_ERR_LIMIT_EXCEEDED,
		     "%s has reached the limit of %d on-demand rotations", c->key_arn,
		     MAX_ON_DEMAND_ROTATIONS);
		goto out;
	}
	q = rotate_key(k, &ki, "ON_DEMAND", envol_clock_now(), -1);
	if (q < 0) {
		r = fail_internal(c, q, "rotate");
		goto out;
	}
	c->resp = json_pack("{s:s}", "KeyId", ki.id); /* a key id here, as AWS */
	r = c->resp ? 0 : fail_internal(c, -ENOMEM, "response");
out:
	key_info_done(&ki);
	return r;
}

static int op_list_key_rotations(struct call *c)
{
	struct kms *k = c->k;
	struct key_info ki = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int64_t limit = page_limit(&c->req, 100), n = 0, marker = 0, last = 0;
	char next[32] = "";
	bool truncated = false;
	json_t *list;
	char *end;

	if (c->req.marker) {
		errno = 0;
		marker = strtoll(c->req.marker, &end, 10);
		if (errno || *end || marker < 0)
			return fail(c, KMS_ERR_INVALID_MARKER, "Invalid marker");
	}
	if (resolve_key(c, c->req.key_id, false, &ki) < 0)
		return -1;
	key_info_done(&ki);
	st = prep(k, "SELECT version, rotation_date, rotation_type FROM rotations "
		     "WHERE key_id = ? AND version > ? ORDER BY version LIMIT ?");
	if (!st)
		return fail_internal(c, -EIO, "list rotations");
	sqlite3_bind_text(st, 1, ki.id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, marker);
	sqlite3_bind_int64(st, 3, limit + 1);
	list = json_array();
	while (list && sqlite3_step(st) == SQLITE_ROW) {
		if (n == limit) {
			truncated = true;
			break;
		}
		last = sqlite3_column_int64(st, 0);
		json_array_append_new(
		    list, json_pack("{s:s,s:I,s:s}", "KeyId", ki.id, "RotationDate",
				    (json_int_t)sqlite3_column_int64(st, 1), "RotationType",
				    (const char *)sqlite3_column_text(st, 2)));
		n++;
	}
	snprintf(next, sizeof next, "%lld", (long long)last);
	return finish_page(c, list, "Rotations", truncated, next);
}

static int op_tag_untag(struct call *c)
{
	bool tag = c->req.op == KMS_OP_TAG_RESOURCE;
	struct kms *k = c->k;
	struct key_info ki = {0};
	int r = -1, q;

	if (open_key(c, c->req.key_id, REFUSE_MANAGED | REFUSE_PENDING, &ki) < 0)
		return -1;
	if (tag && validate_tags(c) < 0)
		goto out;
	q = begin(k);
	if (q < 0) {
		r = fail_internal(c, q, "begin");
		goto out;
	}
	if (tag) {
		_cleanup_stmt_ sqlite3_stmt *st = NULL;

		q = insert_tags(k, ki.id, c->req.tags, c->req.n_tags);
		st = prep(k, "SELECT COUNT(*) FROM tags WHERE key_id = ?");
		if (q == 0 && st) {
			sqlite3_bind_text(st, 1, ki.id, -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW &&
			    sqlite3_column_int64(st, 0) > KMS_MAX_TAGS) {
				rollback(k);
				fail(c, KMS_ERR_LIMIT_EXCEEDED, "A key can have at most %d tags",
				     KMS_MAX_TAGS);
				goto out;
			}
		} else if (q == 0) {
			q = -EIO;
		}
	} else {
		_cleanup_stmt_ sqlite3_stmt *st =
		    prep(k, "DELETE FROM tags WHERE key_id = ? AND tag_key = ?");

		q = st ? 0 : -EIO;
		for (size_t i = 0; q == 0 && i < c->req.n_tag_keys; i++) {
			sqlite3_reset(st);
			sqlite3_bind_text(st, 1, ki.id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, c->req.tag_keys[i], -1, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				q = -EIO;
		}
	}
	if (q < 0) {
		rollback(k);
		r = fail_internal(c, q, "tags");
		goto out;
	}
	q = commit(k);
	if (q < 0) {
		r = fail_internal(c, q, "commit");
		goto out;
	}
	r = respond_empty(c);
out:
	key_info_done(&ki);
	return r;
}

static int op_list_resource_tags(struct call *c)
{
	struct kms *k = c->k;
	struct key_info ki = {0};
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int64_t limit = page_limit(&c->req, 50), n = 0;
	_cleanup_free_ char *last = NULL;
	bool truncated = false;
	json_t *list;

	if (limit > 50)
		return fail(
		    c, KMS_ERR_VALIDATION,
		    "1 validation error detected: Value '%lld' at 'limit' failed to satisfy "
		    "constraint: Member must have value less than or equal to 50",
		    (long long)limit);
	if (resolve_key(c, c->req.key_id, false, &ki) < 0)
		return -1;
	key_info_done(&ki);
	st = prep(k, "SELECT tag_key, tag_value FROM tags WHERE key_id = ? AND tag_key > ? "
		     "ORDER BY tag_key LIMIT ?");
	if (!st)
		return fail_internal(c, -EIO, "list tags");
	sqlite3_bind_text(st, 1, ki.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->req.marker ? c->req.marker : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, limit + 1);
	list = json_array();
	while (list && sqlite3_step(st) == SQLITE_ROW) {
		const char *tk = (const char *)sqlite3_column_text(st, 0);
		const char *tv = (const char *)sqlite3_column_text(st, 1);

		if (!tk || !tv)
			continue;
		if (n == limit) {
			truncated = true;
			break;
		}
		json_array_append_new(list, json_pack("{s:s,s:s}", "TagKey", tk, "TagValue", tv));
		free(last);
		last = strdup(tk);
		n++;
	}
	return finish_page(c, list, "Tags", truncated, last);
}

/* ---- cryptographic operations (no SQLite writes; key material from the cache) ---- */

/*
 * A per-thread secure buffer for plaintext and data keys: mapping and locking a buffer per
 * request (mmap, mlock, munmap with its TLB shootdown) would cost more than the crypto.
 * Users wipe what they wrote before returning; the buffer is freed when the thread exits.
 */
#define SCRATCH_LEN 8192
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static __thread uint8_t *scratch;

static void scratch_free(void *p) { envol_secure_free(p); }

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

static uint8_t *scratch_get(void)
{
	if (!scratch) {
		(void)pthread_once(&scratch_once, scratch_init);
		scratch = envol_secure_alloc(SCRATCH_LEN);
		if (scratch)
			(void)pthread_setspecific(scratch_key, scratch);
	}
	return scratch;
}

_Static_assert(KMS_MAX_CIPHERTEXT <= SCRATCH_LEN, "scratch holds any plaintext");

static int key_state_refusal(struct call *c, enum key_state s)
{
	if (s == KEY_DISABLED)
		return fail(c, KMS_ERR_DISABLED, "%s is disabled.", c->key_arn);
	if (s == KEY_PENDING_DELETION)
		return fail(c, KMS_ERR_INVALID_STATE, "%s is pending deletion.", c->key_arn);
	return 0;
}

static int check_algorithm(struct call *c, const char *alg)
{
	if (alg && strcmp(alg, "SYMMETRIC_DEFAULT") != 0)
		return fail(c, KMS_ERR_INVALID_KEY_USAGE,
			    "%s is not a valid encryption algorithm for a SYMMETRIC_DEFAULT key",
			    alg);
	return 0;
}

/* Encrypts pt under key_id (any KeyId form) into a new blob; sets c->key_arn. */
static int encrypt_with(struct call *c, const char *key_id, const struct kms_context *ctx,
			const uint8_t *pt, size_t len, uint8_t **ret, size_t *ret_len)
{
	struct kms *k = c->k;
	struct cache_entry *e;
	char id[37];
	uint8_t u[16];
	int r;

	if (resolve_id(c, key_id, true, id) < 0)
		return -1;
	(void)envol_uuid_parse(id, u);
	r = cache_acquire(k, u, &e);
	if (r == -ENOENT)
		return fail(c, KMS_ERR_NOT_FOUND, "Key '%s' does not exist", c->key_arn);
	if (r < 0)
		return fail_internal(c, r, "key material");
	if (key_state_refusal(c, e->state) < 0) {
		cache_release(k);
		return -1;
	}
	r = kms_blob_seal(e->material + (size_t)(e->n_versions - 1) * KMS_KEY_LEN, u, e->n_versions,
			  ctx->canon, ctx->canon_len, pt, len, ret, ret_len);
	cache_release(k);
	if (r < 0)
		return fail_internal(c, r, "encrypt");
	return 0;
}

#define INVALID_CIPHERTEXT_MSG                                                                     \
	"The ciphertext is invalid: it was not produced by this KMS, was changed, its key no "     \
	"longer exists, or the encryption context does not match"

/*
 * Decrypts a CiphertextBlob; key_id (may be NULL) must name the blob's key.  On success
 * *ret is this thread's scratch buffer holding the plaintext (the caller wipes it) and
 * c->key_arn the blob's key.
 */
static int decrypt_blob(struct call *c, const char *key_id, const uint8_t *data, size_t len,
			const struct kms_context *ctx, uint8_t **ret, size_t *ret_len)
{
	struct kms *k = c->k;
	struct kms_blob b;
	struct cache_entry *e;
	uint8_t *pt;
	char id[37];
	int r;

	if (key_id) {
		uint8_t want[16];

		if (resolve_id(c, key_id, true, id) < 0)
			return -1;
		(void)envol_uuid_parse(id, want);
		if (kms_blob_parse(data, len, &b) < 0)
			return fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
		if (memcmp(want, b.key_id, 16) != 0)
			return fail(c, KMS_ERR_INCORRECT_KEY,
				    "The key ID in the request does not identify the KMS key that "
				    "encrypted the ciphertext.");
	} else if (kms_blob_parse(data, len, &b) < 0) {
		return fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
	}
	envol_uuid_format(b.key_id, id);
	format_key_arn(k, id, c->key_arn);
	r = cache_acquire(k, b.key_id, &e);
	if (r == -ENOENT)
		return fail(c, KMS_ERR_INVALID_CIPHERTEXT,
			    "The ciphertext is invalid: the KMS key that encrypted it no longer "
			    "exists (deleted, or never created in this KMS)");
	if (r < 0)
		return fail_internal(c, r, "key material");
	if (key_state_refusal(c, e->state) < 0) {
		cache_release(k);
		return -1;
	}
	if (b.key_version > e->n_versions) {
		cache_release(k);
		return fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
	}
	pt = scratch_get();
	if (!pt) {
		cache_release(k);
		return fail_internal(c, -ENOMEM, "secure memory");
	}
	r = kms_blob_open(e->material + (size_t)(b.key_version - 1) * KMS_KEY_LEN, &b, ctx->canon,
			  ctx->canon_len, pt);
	cache_release(k);
	if (r < 0) {
		envol_wipe(pt, b.ciphertext_len);
		if (r == -EBADMSG)
			return fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
		return fail_internal(c, r, "decrypt");
	}
	*ret = pt;
	*ret_len = b.ciphertext_len;
	return 0;
}

static size_t b64_len(size_t n) { return 4 * ((n + 2) / 3); }

/* Appends "name":"<base64>", to a body being built in place. */
static char *put_b64(char *p, const char *name, const uint8_t *data, size_t n)
{
	size_t l = strlen(name);

	*p++ = '"';
	memcpy(p, name, l);
	p += l;
	memcpy(p, "\":\"", 3);
	p += 3;
	p += EVP_EncodeBlock((unsigned char *)p, data, (int)n);
	memcpy(p, "\",", 2);
	return p + 2;
}

/*
 * Builds a response holding plaintext by hand, straight into the body the caller owns
 * (jansson would leave copies of the plaintext in freed heap memory).
 */
static int respond_with_plaintext(struct call *c, const uint8_t *blob, size_t blob_len,
				  const uint8_t *pt, size_t pt_len, bool with_alg)
{
	static const char alg[] = ",\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"";
	size_t cap = 64 + strlen(c->key_arn) + sizeof alg;
	char *body, *p;

	if (blob)
		cap += b64_len(blob_len) + 24;
	if (pt)
		cap += b64_len(pt_len) + 24;
	body = malloc(cap);
	if (!body)
		return fail_internal(c, -ENOMEM, "response");
	p = body;
	*p++ = '{';
	if (blob)
		p = put_b64(p, "CiphertextBlob", blob, blob_len);
	if (pt)
		p = put_b64(p, "Plaintext", pt, pt_len);
	snprintf(p, cap - (size_t)(p - body), "\"KeyId\":\"%s\"%s}", c->key_arn,
		 with_alg ? alg : "");
	c->raw_body = body;
	return 0;
}

static int op_encrypt(struct call *c)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_free_ char *b64 = NULL;
	size_t blob_len;

	if (check_algorithm(c, c->req.encryption_algorithm) < 0)
		return -1;
	if (encrypt_with(c, c->req.key_id, &c->req.context, c->req.plaintext, c->req.plaintext_len,
			 &blob, &blob_len) < 0)
		return -1;
	b64 = envol_base64_encode(blob, blob_len);
	if (!b64)
		return fail_internal(c, -ENOMEM, "response");
	c->resp = json_pack("{s:s,s:s,s:s}", "CiphertextBlob", b64, "KeyId", c->key_arn,
			    "EncryptionAlgorithm", "SYMMETRIC_DEFAULT");
	return c->resp ? 0 : fail_internal(c, -ENOMEM, "response");
}

static int op_decrypt(struct call *c)
{
	uint8_t *pt = NULL;
	size_t len;
	int r;

	if (check_algorithm(c, c->req.encryption_algorithm) < 0)
		return -1;
	if (decrypt_blob(c, c->req.key_id, c->req.ciphertext_blob, c->req.ciphertext_blob_len,
			 &c->req.context, &pt, &len) < 0)
		return -1;
	r = respond_with_plaintext(c, NULL, 0, pt, len, true);
	envol_wipe(pt, len);
	return r;
}

static int op_re_encrypt(struct call *c)
{
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_free_ char *b64 = NULL;
	uint8_t *pt = NULL;
	char src_arn[ARN_MAX];
	size_t len, blob_len;
	int r;

	if (check_algorithm(c, c->req.encryption_algorithm) < 0 ||
	    check_algorithm(c, c->req.destination_encryption_algorithm) < 0)
		return -1;
	if (decrypt_blob(c, c->req.source_key_id, c->req.ciphertext_blob,
			 c->req.ciphertext_blob_len, &c->req.context, &pt, &len) < 0)
		return -1;
	memcpy(src_arn, c->key_arn, sizeof src_arn);
	r = encrypt_with(c, c->req.destination_key_id, &c->req.dst_context, pt, len, &blob,
			 &blob_len);
	envol_wipe(pt, len);
	if (r < 0)
		return -1;
	b64 = envol_base64_encode(blob, blob_len);
	if (!b64)
		return fail_internal(c, -ENOMEM, "response");
	c->resp = json_pack("{s:s,s:s,s:s,s:s,s:s}", "CiphertextBlob", b64, "SourceKeyId", src_arn,
			    "KeyId", c->key_arn, "SourceEncryptionAlgorithm", "SYMMETRIC_DEFAULT",
			    "DestinationEncryptionAlgorithm", "SYMMETRIC_DEFAULT");
	return c->resp ? 0 : fail_internal(c, -ENOMEM, "response");
}

static int op_generate_data_key(struct call *c)
{
	bool with_plaintext = c->req.op == KMS_OP_GENERATE_DATA_KEY;
	_cleanup_free_ uint8_t *blob = NULL;
	uint8_t *dk;
	size_t n, blob_len;
	int r;

	if (c->req.number_of_bytes && c->req.data_key_spec)
		return fail(c, KMS_ERR_VALIDATION,
			    "Please specify either number of bytes or key spec, not both.");
	if (!c->req.number_of_bytes && !c->req.data_key_spec)
		return fail(c, KMS_ERR_VALIDATION,
			    "Please specify either number of bytes or key spec.");
	n = c->req.number_of_bytes			   ? (size_t)c->req.number_of_bytes
	    : strcmp(c->req.data_key_spec, "AES_128") == 0 ? 16
							   : 32;
	dk = scratch_get();
	if (!dk)
		return fail_internal(c, -ENOMEM, "secure memory");
	if (RAND_priv_bytes(dk, (int)n) != 1)
		return fail_internal(c, -EIO, "random");
	r = encrypt_with(c, c->req.key_id, &c->req.context, dk, n, &blob, &blob_len);
	if (r == 0)
		r = respond_with_plaintext(c, blob, blob_len, with_plaintext ? dk : NULL, n, false);
	envol_wipe(dk, n);
	return r;
}

static int op_generate_random(struct call *c)
{
	_cleanup_secure_ uint8_t *rnd = NULL;
	size_t n = (size_t)c->req.number_of_bytes;
	char *b64;

	if (n == 0)
		return fail(c, KMS_ERR_VALIDATION,
			    "1 validation error detected: Value null at 'numberOfBytes' failed to "
			    "satisfy constraint: Member must not be null");
	rnd = envol_secure_alloc(n);
	if (!rnd)
		return fail_internal(c, -ENOMEM, "secure memory");
	if (RAND_bytes(rnd, (int)n) != 1)
		return fail_internal(c, -EIO, "random");
	b64 = envol_base64_encode(rnd, n);
	if (!b64 || asprintf(&c->raw_body, "{\"Plaintext\":\"%s\"}", b64) < 0) {
		c->raw_body = NULL;
		free(b64);
		return fail_internal(c, -ENOMEM, "response");
	}
	envol_wipe(b64, strlen(b64));
	free(b64);
	return 0;
}

/* ---- authorization: the one decision point (key policies and grants go here) ---- */

static bool principal_in(const char *p, char *const *list, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		if (strcmp(p, list[i]) == 0)
			return true;
	return false;
}

static bool context_has_volume_id(const struct kms_context *ctx)
{
	for (size_t i = 0; i < ctx->n; i++)
		if (strcmp(ctx->keys[i], "envol:volume-id") == 0)
			return true;
	return false;
}

/*
 * Returns 0 when caller may run req, else KMS_ERR_ACCESS_DENIED with the AWS-style message.
 * kms.admins: everything.  kms.services: DescribeKey; GenerateDataKeyWithoutPlaintext,
 * Decrypt and ReEncrypt (both contexts) only with "envol:volume-id" in the encryption context.
 */
static int kms_authorize(const struct kms *k, const struct kms_caller *caller,
			 const struct kms_request *req, char *msg, size_t msglen)
{
	const char *p = caller ? caller->principal : NULL;
	const char *op = kms_op_name(req->op);
	bool ok = false, ctx_missing = false;

	if (principal_in(p, k->admins, k->n_admins))
		return 0;
	if (principal_in(p, k->services, k->n_services)) {
		switch (req->op) {
		case KMS_OP_DESCRIBE_KEY:
			ok = true;
			break;
		case KMS_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT:
		case KMS_OP_DECRYPT:
			ok = context_has_volume_id(&req->context);
			ctx_missing = !ok;
			break;
		case KMS_OP_RE_ENCRYPT:
			ok = context_has_volume_id(&req->context) &&
			     context_has_volume_id(&req->dst_context);
			ctx_missing = !ok;
			break;
		default:
			break;
		}
	}
	if (ok)
		return 0;
	if (ctx_missing)
		snprintf(msg, msglen,
			 "User: %s is not authorized to perform: kms:%s because the encryption "
			 "context does not contain envol:volume-id",
			 p ? p : "anonymous", op);
	else
		snprintf(msg, msglen,
			 "User: %s is not authorized to perform: kms:%s because no identity-based "
			 "policy allows the kms:%s action",
			 p ? p : "anonymous", op, op);
	return KMS_ERR_ACCESS_DENIED;
}

/* ---- deletion and rotation sweeps ---- */

static void audit_system(struct kms *k, const char *operation, const char *key_arn)
{
	char rid[37];
	uint8_t u[16];
	struct kms_audit_record rec = {
	    .operation = operation,
	    .principal = SYSTEM_PRINCIPAL,
	    .source = "internal",
	    .key_arn = key_arn,
	    .request_id = rid,
	};

	if (envol_uuid_generate(u) < 0)
		memset(u, 0, sizeof u);
	envol_uuid_format(u, rid);
	(void)kms_audit_append(k->audit, &rec);
}

/* Collects the ids a query returns (db_lock held). */
static int collect_ids(struct kms *k, const char *sql, int64_t now, char (**ret)[37], size_t *ret_n)
{
	_cleanup_stmt_ sqlite3_stmt *st = prep(k, sql);
	char(*ids)[37] = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);

		if (!id || strlen(id) != 36)
			continue;
		if (n == cap) {
			char(*nids)[37];

			cap = cap ? cap * 2 : 8;
			nids = realloc(ids, cap * sizeof(*ids));
			if (!nids) {
				free(ids);
				return -ENOMEM;
			}
			ids = nids;
		}
		memcpy(ids[n++], id, 37);
	}
	if (rc != SQLITE_DONE) {
		free(ids);
		return -EIO;
	}
	*ret = ids;
	*ret_n = n;
	return 0;
}

/* Destroys keys whose deletion date has passed.  Returns the number destroyed or -errno. */
static int sweep_deletions(struct kms *k, bool force)
{
	char(*ids)[37] = NULL;
	int64_t now = envol_clock_now();
	size_t n = 0;
	int r, done = 0;

	if (!force && now < atomic_load(&k->next_deletion))
		return 0;
	lock_db(k);
	r = collect_ids(k,
			"SELECT id FROM keys WHERE state = 'PendingDeletion' AND "
			"deletion_date <= ?",
			now, &ids, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		char arn[ARN_MAX];

		r = update_key_sql(k, "DELETE FROM keys WHERE id = ?", ids[i], 0);
		if (r < 0)
			break;
		cache_drop_id(k, ids[i]);
		format_key_arn(k, ids[i], arn);
		log_debug("kms: destroyed key %s (deletion window over)", ids[i]);
		audit_system(k, "DeleteKey", arn);
		done++;
	}
	if (done > 0)
		(void)kms_store_exec(k->db, "PRAGMA wal_checkpoint(TRUNCATE);");
	refresh_next_deletion(k);
	unlock_db(k);
	free(ids);
	return r < 0 ? r : done;
}

static int sweep_rotations(struct kms *k)
{
	char(*ids)[37] = NULL;
	int64_t now = envol_clock_now();
	size_t n = 0;
	int r, done = 0;

	lock_db(k);
	r = collect_ids(k,
			"SELECT id FROM keys WHERE rotation_enabled = 1 AND state = 'Enabled' "
			"AND next_rotation <= ?",
			now, &ids, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct key_info ki = {0};
		char arn[ARN_MAX];

		r = load_key(k, ids[i], &ki);
		if (r < 0)
			break;
		r = rotate_key(k, &ki, "AUTOMATIC", now, now + ki.rotation_period * DAY);
		key_info_done(&ki);
		if (r < 0)
			break;
		format_key_arn(k, ids[i], arn);
		audit_system(k, "RotateKey", arn);
		done++;
	}
	unlock_db(k);
	free(ids);
	return r < 0 ? r : done;
}

int kms_tick(struct kms *k)
{
	int d, r;

	if (!k)
		return -EINVAL;
	d = sweep_deletions(k, true);
	if (d < 0)
		return d;
	r = sweep_rotations(k);
	if (r < 0)
		return r;
	return d + r;
}

/* ---- the request entry points ---- */

typedef int (*op_fn)(struct call *c);

static const struct {
	op_fn fn;
	bool crypto; /* runs without db_lock */
} ops[KMS_OP_MAX] = {
    [KMS_OP_CANCEL_KEY_DELETION] = {op_cancel_key_deletion, false},
    [KMS_OP_CREATE_ALIAS] = {op_create_update_alias, false},
    [KMS_OP_CREATE_KEY] = {op_create_key, false},
    [KMS_OP_DECRYPT] = {op_decrypt, true},
    [KMS_OP_DELETE_ALIAS] = {op_delete_alias, false},
    [KMS_OP_DESCRIBE_KEY] = {op_describe_key, false},
    [KMS_OP_DISABLE_KEY] = {op_enable_disable_key, false},
    [KMS_OP_DISABLE_KEY_ROTATION] = {op_disable_key_rotation, false},
    [KMS_OP_ENABLE_KEY] = {op_enable_disable_key, false},
    [KMS_OP_ENABLE_KEY_ROTATION] = {op_enable_key_rotation, false},
    [KMS_OP_ENCRYPT] = {op_encrypt, true},
    [KMS_OP_GENERATE_DATA_KEY] = {op_generate_data_key, true},
    [KMS_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT] = {op_generate_data_key, true},
    [KMS_OP_GENERATE_RANDOM] = {op_generate_random, true},
    [KMS_OP_GET_KEY_ROTATION_STATUS] = {op_get_key_rotation_status, false},
    [KMS_OP_LIST_ALIASES] = {op_list_aliases, false},
    [KMS_OP_LIST_KEY_ROTATIONS] = {op_list_key_rotations, false},
    [KMS_OP_LIST_KEYS] = {op_list_keys, false},
    [KMS_OP_LIST_RESOURCE_TAGS] = {op_list_resource_tags, false},
    [KMS_OP_RE_ENCRYPT] = {op_re_encrypt, true},
    [KMS_OP_ROTATE_KEY_ON_DEMAND] = {op_rotate_key_on_demand, false},
    [KMS_OP_SCHEDULE_KEY_DELETION] = {op_schedule_key_deletion, false},
    [KMS_OP_TAG_RESOURCE] = {op_tag_untag, false},
    [KMS_OP_UNTAG_RESOURCE] = {op_tag_untag, false},
    [KMS_OP_UPDATE_ALIAS] = {op_create_update_alias, false},
    [KMS_OP_UPDATE_KEY_DESCRIPTION] = {op_update_key_description, false},
};

static char *error_body(int kind, const char *type, const char *msg)
{
	json_t *o = json_pack("{s:s,s:s}", "__type", type ? type : kms_error_map(kind, NULL),
			      "message", msg ? msg : "");
	char *s;

	if (!o) /* msg was not valid UTF-8: fall back to the bare type */
		o = json_pack("{s:s,s:s}", "__type", type ? type : kms_error_map(kind, NULL),
			      "message", "");
	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Operation names in audit lines and messages come from the wire: bound and sanitize them. */
static void safe_name(const char *in, char out[129])
{
	size_t i = 0;

	for (; in && in[i] && i < 128; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = 0;
}

/* The caller's request id, or a fresh random one formatted into rid. */
static const char *request_id_or_new(const char *request_id, char rid[37])
{
	uint8_t u[16];

	if (request_id)
		return request_id;
	if (envol_uuid_generate(u) < 0)
		memset(u, 0, sizeof u);
	envol_uuid_format(u, rid);
	return rid;
}

int kms_handle(struct kms *k, const struct kms_caller *caller, const char *operation,
	       const char *body, size_t body_len, const char *request_id, int *ret_status,
	       char **ret_body)
{
	struct call c = {.k = k, .caller = caller};
	struct kms_audit_record rec = {0};
	json_t *ctx = NULL, *src_ctx = NULL;
	char rid[37], opname[129];
	char *out = NULL;
	int op, status = 200;

	if (!k || !ret_status || !ret_body)
		return -EINVAL;
	request_id = request_id_or_new(request_id, rid);
	safe_name(operation, opname);
	(void)sweep_deletions(k, false);

	op = kms_op_from_name(operation);
	if (op == -EOPNOTSUPP) {
		fail(&c, KMS_ERR_UNSUPPORTED_OPERATION,
		     "%s is not supported by envol-kmsd (see docs/kms-api.md)", opname);
	} else if (op < 0) {
		fail(&c, KMS_ERR_UNKNOWN_OPERATION, "Unknown operation %s", opname);
	} else {
		int q = kms_request_decode((enum kms_op)op, body, body_len, &c.req, c.msg,
					   sizeof c.msg);

		c.req.op = (enum kms_op)op;
		if (q) {
			c.error = q;
		} else if ((q = kms_authorize(k, caller, &c.req, c.msg, sizeof c.msg))) {
			c.error = q;
		} else if (ops[op].crypto) {
			(void)ops[op].fn(&c);
		} else {
			lock_db(k);
			(void)ops[op].fn(&c);
			unlock_db(k);
		}
	}

	if (c.error) {
		out = error_body(c.error, NULL, c.msg);
		kms_error_map(c.error, &status);
	} else if (c.raw_body) {
		out = TAKE_PTR(c.raw_body);
	} else {
		out = c.resp ? json_dumps(c.resp, JSON_COMPACT) : strdup("{}");
	}

	if (c.req.op == KMS_OP_RE_ENCRYPT && c.req.root) {
		ctx = c.req.dst_context.present ? kms_context_json(&c.req.dst_context) : NULL;
		src_ctx = c.req.context.present ? kms_context_json(&c.req.context) : NULL;
	} else if (c.req.context.present) {
		ctx = kms_context_json(&c.req.context);
	}
	rec.operation = opname;
	rec.principal = caller ? caller->principal : NULL;
	rec.source = caller ? caller->source : NULL;
	rec.key_arn = c.key_arn[0] ? c.key_arn : NULL;
	rec.encryption_context = ctx;
	rec.source_encryption_context = src_ctx;
	rec.request_id = request_id;
	rec.error_code = c.error ? kms_error_map(c.error, NULL) : NULL;
	(void)kms_audit_append(k->audit, &rec);

	json_decref(ctx);
	json_decref(src_ctx);
	json_decref(c.resp);
	if (c.raw_body) {
		envol_wipe(c.raw_body, strlen(c.raw_body));
		free(c.raw_body);
	}
	kms_request_done(&c.req);
	if (!out)
		return -ENOMEM;
	*ret_status = status;
	*ret_body = out;
	return 0;
}

int kms_reject(struct kms *k, const struct kms_caller *caller, const char *operation,
	       const char *request_id, const char *error_type, int http_status, const char *message,
	       char **ret_body)
{
	struct kms_audit_record rec = {0};
	char opname[129], rid[37];
	char *out;

	if (!k || !ret_body || !error_type)
		return -EINVAL;
	request_id = request_id_or_new(request_id, rid);
	safe_name(operation, opname);
	out = error_body(0, error_type, message);
	rec.operation = opname;
	rec.principal = caller ? caller->principal : NULL;
	rec.source = caller ? caller->source : NULL;
	rec.request_id = request_id;
	rec.error_code = error_type;
	(void)kms_audit_append(k->audit, &rec);
	(void)http_status;
	if (!out)
		return -ENOMEM;
	*ret_body = out;
	return 0;
}

/* ---- open / close ---- */

/* A wrong root key is found at start, not at the first Decrypt (db_lock held). */
static int check_root_key(struct kms *k)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    prep(k, "SELECT key_id, version, sealed FROM key_material LIMIT 1");
	_cleanup_(envol_secure_freep) uint8_t *m = NULL;
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
	return kms_store_unseal(k->root, u, (uint32_t)sqlite3_column_int64(st, 1),
				sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2), m);
}

static char **strv_copy(char *const *v, size_t n)
{
	char **c = calloc(n + 1, sizeof(char *));

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(v[i] ? v[i] : "");
		if (!c[i]) {
			for (size_t j = 0; j < i; j++)
				free(c[j]);
			free(c);
			return NULL;
		}
	}
	return c;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void kms_close(struct kms *k)
{
	if (!k)
		return;
	cache_clear(k);
	if (k->db)
		sqlite3_close(k->db);
	kms_audit_close(k->audit);
	envol_secure_free(k->root);
	strv_free(k->admins, k->n_admins);
	strv_free(k->services, k->n_services);
	free(k->region);
	free(k->account_id);
	pthread_rwlock_destroy(&k->cache_lock);
	pthread_mutex_destroy(&k->db_lock);
	free(k);
}

int kms_open(const struct kms_options *o, struct kms **ret, char *err, size_t errlen)
{
	struct kms *k;
	pthread_mutexattr_t attr;
	char dummy[1];
	int r;

	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	if (!o || !ret || !o->database || !o->audit_log || !o->region || !o->account_id) {
		snprintf(err, errlen,
			 "kms_open: database, audit_log, region and account_id are "
			 "required");
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&k->db_lock, &attr);
	pthread_mutexattr_destroy(&attr);
	{
		/* Writers first: a stream of Decrypts must not starve DisableKey. */
		pthread_rwlockattr_t ra;

		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&k->cache_lock, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	atomic_store(&k->next_deletion, INT64_MAX);
	k->region = strdup(o->region);
	k->account_id = strdup(o->account_id);
	k->admins = strv_copy(o->admins, o->n_admins);
	k->services = strv_copy(o->services, o->n_services);
	if (!k->region || !k->account_id || !k->admins || !k->services) {
		kms_close(k);
		return -ENOMEM;
	}
	k->n_admins = o->n_admins;
	k->n_services = o->n_services;
	snprintf(k->arn_prefix, sizeof k->arn_prefix, "arn:aws:kms:%s:%s:", o->region,
		 o->account_id);
	snprintf(k->key_arn_prefix, sizeof k->key_arn_prefix, "%skey/", k->arn_prefix);

	r = kms_store_root_key(o->root_key_file, &k->root, err, errlen);
	if (r < 0)
		goto fail;
	r = kms_store_open(o->database, &k->db, err, errlen);
	if (r < 0)
		goto fail;
	r = kms_audit_open(o->audit_log, &k->audit);
	if (r < 0) {
		snprintf(err, errlen, "cannot open audit log %s: %s", o->audit_log, strerror(-r));
		goto fail;
	}
	lock_db(k);
	r = check_root_key(k);
	refresh_next_deletion(k);
	unlock_db(k);
	if (r < 0) {
		snprintf(err, errlen,
			 "the root key does not unseal the key material in %s (wrong root key "
			 "file or credential?)",
			 o->database);
		goto fail;
	}
	*ret = k;
	return 0;
fail:
	kms_close(k);
	return r;
}
