/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.h — the key store: what the KMS keeps (keys, sealed material, rotations, aliases, tags)
 * and every SQL statement that reads or writes it, in store.c (connection, schema,
 * transactions), store_keys.c (keys, material, rotations), store_aliases.c, store_tags.c and
 * store_grants.c; nothing else in lib/kms sees SQLite.  SQLite with WAL, synchronous=FULL,
 * foreign keys and secure_delete; CMK material only sealed under the root key (root_key.h).
 *
 * Locking: the store's mutex (recursive) serializes every use of the connection, statements
 * included; callers hold it (kms_store_lock()) around every kms_store_* call but open/close.
 * The connection is also opened SQLITE_OPEN_FULLMUTEX as a second line of defence.  Functions
 * that change more than one row run their own transaction.
 *
 * Return values: 0 or -errno: -ENOENT (no such row), -EEXIST (a constraint), -EBADMSG (a row
 * that cannot be right), -ENOMEM, -EIO (SQLite failed).
 */
#ifndef ENVOL_KMS_STORE_H
#define ENVOL_KMS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kms/request.h"
#include "util/macros.h"

#define KMS_KEY_ID_SIZE 37	      /* a key id: a UUID in text form, NUL-terminated */
#define KMS_DAY 86400		      /* dates are whole epoch seconds */
#define KMS_DEFAULT_ROTATION_DAYS 365 /* and the managed key's yearly rotation */

struct kms_store;

enum kms_key_state {
	KMS_KEY_ENABLED,
	KMS_KEY_DISABLED,
	KMS_KEY_PENDING_DELETION,
	KMS_KEY_STATE_MAX,
};

/* "Enabled", "Disabled", "PendingDeletion": the KeyState names, as stored. */
const char *kms_key_state_name(enum kms_key_state s);

/* One row of the keys table. */
struct kms_key {
	char id[KMS_KEY_ID_SIZE];
	uint8_t uuid[16];
	int64_t created;
	char *description; /* malloc'd, never NULL after a load */
	enum kms_key_state state;
	int64_t deletion_date;
	int64_t pending_days;
	bool managed; /* KeyManager AWS */
	bool rotation_enabled;
	int64_t rotation_period; /* days */
	int64_t next_rotation;
	uint32_t current_version; /* material versions are 1..current_version */
};

void kms_key_done(struct kms_key *key);
#define _cleanup_key_ _cleanup_(kms_key_done)

struct kms_alias {
	char *name;
	char key_id[KMS_KEY_ID_SIZE];
	int64_t created, updated;
};

struct kms_rotation {
	uint32_t version;
	int64_t date;
	bool on_demand; /* RotationType ON_DEMAND, else AUTOMATIC */
};

struct kms_tag_row {
	char *key, *value;
};

/* A list of key ids (ListKeys, the sweeps). */
struct kms_key_ids {
	char (*id)[KMS_KEY_ID_SIZE];
	size_t n;
};

void kms_key_ids_done(struct kms_key_ids *ids);
void kms_aliases_free(struct kms_alias *a, size_t n);
void kms_tag_rows_free(struct kms_tag_row *t, size_t n);

/* ---- open, close, lock ---- */

/*
 * Loads the root key (root_key.h) and opens or creates the database and its schema.  Returns 0
 * or -errno with err set.
 */
int kms_store_open(const char *database, const char *root_key_file, struct kms_store **ret,
		   char *err, size_t errlen);
void kms_store_close(struct kms_store *s); /* NULL is fine */
/* A wrong root key is found at start, not at the first Decrypt: 0, or -EBADMSG if the first
 * sealed material does not unseal, or -errno. */
int kms_store_check_root_key(struct kms_store *s);

/*
 * Whether an existing database holds anything sealed under a root key (keys, key material or
 * an audit anchor), read without changing it: 1, 0 (also when there is no file), or -errno.
 */
int kms_store_holds_state(const char *database);
/* The root key (32 bytes of secure memory owned by the store). */
const uint8_t *kms_store_root_key(struct kms_store *s);

void kms_store_lock(struct kms_store *s);
void kms_store_unlock(struct kms_store *s);

/* ---- keys ---- */

int kms_store_key_get(struct kms_store *s, const char *id, struct kms_key *ret);
/*
 * Creates a key with fresh material version 1, its tags and, if alias is not NULL, an alias for
 * it, in one transaction.  managed: KeyManager AWS with yearly automatic rotation.  policy:
 * the key policy text, NULL for the default policy.
 */
int kms_store_key_create(struct kms_store *s, const char *id, int64_t now, const char *description,
			 bool managed, const char *policy, const struct kms_tag *tags,
			 size_t n_tags, const char *alias);
/* The key policy text in a new string, or NULL in *ret when the key has the default policy. */
int kms_store_key_policy_get(struct kms_store *s, const char *id, char **ret);
int kms_store_key_policy_put(struct kms_store *s, const char *id, const char *policy);
int kms_store_key_set_description(struct kms_store *s, const char *id, const char *description);
/* Enabled or Disabled (clears nothing else). */
int kms_store_key_set_state(struct kms_store *s, const char *id, enum kms_key_state state);
int kms_store_key_schedule_deletion(struct kms_store *s, const char *id, int64_t when,
				    int64_t days);
/* Back to Disabled, as AWS does. */
int kms_store_key_cancel_deletion(struct kms_store *s, const char *id);
/* The key row and with it (ON DELETE CASCADE) its material, aliases, tags, rotations and
 * grants. */
int kms_store_key_delete(struct kms_store *s, const char *id);
/*
 * The List* queries return one page: at most limit rows after the marker `after`, in order,
 * and whether more follow (*ret_more).
 */
/* Key ids greater than after (a key id or ""). */
int kms_store_keys_list(struct kms_store *s, const char *after, int64_t limit,
			struct kms_key_ids *ret, bool *ret_more);
/* Keys PendingDeletion whose deletion date is <= now. */
int kms_store_keys_deletion_due(struct kms_store *s, int64_t now, struct kms_key_ids *ret);
/* Keys Enabled with automatic rotation whose next rotation is <= now. */
int kms_store_keys_rotation_due(struct kms_store *s, int64_t now, struct kms_key_ids *ret);
/* The earliest deletion date of a key PendingDeletion: INT64_MAX if none, 0 if unknown. */
int64_t kms_store_next_deletion(struct kms_store *s);
/* Truncates the WAL, so destroyed material leaves the disk. */
void kms_store_checkpoint(struct kms_store *s);

/* ---- material and rotation ---- */

/*
 * State and every material version of a key, unsealed into a new secure buffer of
 * *ret_n_versions * KMS_KEY_LEN bytes (version v at (v - 1) * KMS_KEY_LEN).
 */
int kms_store_material_load(struct kms_store *s, const uint8_t uuid[16],
			    enum kms_key_state *ret_state, uint32_t *ret_n_versions,
			    uint8_t **ret_material);
/*
 * Adds material version current_version + 1 and its rotation record (on_demand or automatic),
 * in one transaction.  next_rotation < 0 leaves the schedule alone.
 */
int kms_store_key_rotate(struct kms_store *s, const struct kms_key *key, bool on_demand,
			 int64_t now, int64_t next_rotation);
int kms_store_key_set_rotation(struct kms_store *s, const char *id, bool enabled, int64_t period,
			       int64_t next_rotation);
int kms_store_rotations_on_demand(struct kms_store *s, const char *id, int64_t *ret_count);
/* A page of a key's rotations with a version greater than after. */
int kms_store_rotations_list(struct kms_store *s, const char *id, int64_t after, int64_t limit,
			     struct kms_rotation **ret, size_t *ret_n, bool *ret_more);

/* ---- aliases ---- */

int kms_store_alias_get(struct kms_store *s, const char *name, char ret_key_id[KMS_KEY_ID_SIZE]);
/* Points name at key_id: a new alias (-EEXIST if it exists) or, if update, an existing one. */
int kms_store_alias_put(struct kms_store *s, const char *name, const char *key_id, bool update,
			int64_t now);
int kms_store_alias_delete(struct kms_store *s, const char *name);
/* A page of the aliases named after `after`, of key_id ("" for all). */
int kms_store_aliases_list(struct kms_store *s, const char *after, const char *key_id,
			   int64_t limit, struct kms_alias **ret, size_t *ret_n, bool *ret_more);

/* ---- tags ---- */

/* Adds or replaces tags, in one transaction; -E2BIG (nothing changed) if the key would then
 * have more than max tags. */
int kms_store_tags_put(struct kms_store *s, const char *id, const struct kms_tag *tags, size_t n,
		       int64_t max);
int kms_store_tags_delete(struct kms_store *s, const char *id, const char *const *keys, size_t n);
/* A page of a key's tags with a tag key after `after`. */
int kms_store_tags_list(struct kms_store *s, const char *id, const char *after, int64_t limit,
			struct kms_tag_row **ret, size_t *ret_n, bool *ret_more);

/* ---- grants (grant.h is the logic; this is only their rows) ---- */

#define KMS_GRANT_ID_SIZE 65 /* 64 hex digits, NUL-terminated */

/* One row of the grants table. */
struct kms_grant_row {
	char grant_id[KMS_GRANT_ID_SIZE];
	char key_id[KMS_KEY_ID_SIZE];
	char *name;	   /* NULL: none */
	char *grantee;	   /* GranteePrincipal */
	char *retiring;	   /* RetiringPrincipal, NULL: none */
	char *constraints; /* JSON text {"EncryptionContextEquals": {…}, …}, NULL: none */
	char *issuing;	   /* IssuingAccount */
	uint32_t ops;	   /* enum kms_grant_op bits */
	int64_t created;
};

void kms_grant_row_done(struct kms_grant_row *g);
void kms_grant_rows_free(struct kms_grant_row *g, size_t n);
#define _cleanup_grant_row_ _cleanup_(kms_grant_row_done)

/*
 * Creates grant g (g->grant_id fresh) on g->key_id, in one transaction.  When g has a name
 * and a grant of that key has the same name and same(existing, g) says it has the same
 * properties, nothing is created and that grant's id is copied into g->grant_id: returns 1.
 * Returns 0 when created, -E2BIG (nothing created) when the key already has max grants,
 * -ENOENT when the key does not exist.
 */
int kms_store_grant_create(struct kms_store *s, struct kms_grant_row *g, int64_t max,
			   bool (*same)(const struct kms_grant_row *a,
					const struct kms_grant_row *b));
int kms_store_grant_get(struct kms_store *s, const char *grant_id, struct kms_grant_row *ret);
/* Deletes a grant (RetireGrant, RevokeGrant): 0 or -ENOENT. */
int kms_store_grant_delete(struct kms_store *s, const char *grant_id);
/*
 * A page of the grants of key_id by grant id, after `after` ("" for the first page), only
 * grant_id and only grantee when not NULL.
 */
int kms_store_grants_list(struct kms_store *s, const char *key_id, const char *grant_id,
			  const char *grantee, const char *after, int64_t limit,
			  struct kms_grant_row **ret, size_t *ret_n, bool *ret_more);
/* A page of the grants, of any key, whose retiring principal is retiring, by grant id. */
int kms_store_grants_retirable(struct kms_store *s, const char *retiring, const char *after,
			       int64_t limit, struct kms_grant_row **ret, size_t *ret_n,
			       bool *ret_more);
/*
 * Calls match() on each grant of key_id whose grantee is grantee (one indexed lookup), until
 * it returns non-zero: returns that value (> 0: found), 0 when none matched, or -errno.
 */
int kms_store_grants_match(struct kms_store *s, const char *key_id, const char *grantee,
			   int (*match)(const struct kms_grant_row *g, void *userdata),
			   void *userdata);
/* The number of grants of key_id. */
int kms_store_grants_count(struct kms_store *s, const char *key_id, int64_t *ret);

/* ---- the audit anchor (audit.h) ---- */

#define KMS_AUDIT_MAC_LEN 32

/* Where the audit chain stood when last anchored (audit.c computes mac and tag). */
struct kms_audit_anchor {
	uint64_t seq;			/* the newest record anchored */
	uint64_t offset;		/* where its line starts in the log file */
	uint8_t mac[KMS_AUDIT_MAC_LEN]; /* its chain MAC */
	uint8_t tag[KMS_AUDIT_MAC_LEN]; /* HMAC over seq, offset and mac under the chain key */
};

/* The anchor: 0, -ENOENT (none yet) or -errno. */
int kms_store_audit_anchor_get(struct kms_store *s, struct kms_audit_anchor *ret);
int kms_store_audit_anchor_put(struct kms_store *s, const struct kms_audit_anchor *a);
/* The same from a database opened read-only for the verifier (envolctl): 0, -ENOENT, -errno. */
int kms_store_audit_anchor_read(const char *database, struct kms_audit_anchor *ret);

#endif
