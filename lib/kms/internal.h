/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h — what the files of lib/kms share: the KMS object, one request in flight (struct
 * kms_call), and the functions each file offers the others, in a section per file.  Modules
 * with an interface of their own have their own header: op.h, request.h (decoding),
 * context.h, blob.h, response.h (typed results, encoding), store.h (all SQL), root_key.h,
 * cache.h, audit.h.
 *
 * How a request flows (kms.c): kms_op_from_name() → kms_request_decode() → kms_authorize()
 * (authz.c, the one decision point) → the operation's handler (keys.c, aliases.c,
 * rotation.c, tags.c, crypto.c, grants.c), which fills c->result or calls kms_fail() →
 * kms_response_encode() or kms_response_error() → one audit record (audit.c).
 */
#ifndef ENVOL_KMS_INTERNAL_H
#define ENVOL_KMS_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kms/audit.h"
#include "kms/cache.h"
#include "kms/kms.h"
#include "kms/request.h"
#include "kms/response.h"
#include "kms/store.h"
#include "util/macros.h"

struct kms_authz;

struct kms {
	struct kms_store *store; /* its mutex serializes every state change */
	struct kms_cache *cache;
	struct kms_audit *audit;
	struct kms_authz *authz;
	char *region, *account_id;
	char key_arn_prefix[272];      /* arn:aws:kms:<region>:<account>:key/ */
	char arn_prefix[256];	       /* arn:aws:kms:<region>:<account>: */
	_Atomic int64_t next_deletion; /* earliest deletion date, INT64_MAX if none */
	uint8_t *grant_token_key;      /* secure memory: the MAC key of grant tokens (grants.c) */
};

/* One request in flight. */
struct kms_call {
	struct kms *k;
	const struct kms_caller *caller;
	char grant_id[65]; /* the grant that allowed this request, "" if none (audit) */
	struct kms_request req;
	int error; /* enum kms_error; 0: success */
	char msg[1024];
	char key_arn[KMS_ARN_MAX]; /* the key the request resolved to ("": none), for the audit */
	/* authorization (authz.c) */
	const char *action;		    /* the action asked, when not the operation's name
					       ("ReEncryptFrom"); NULL: kms_op_name() */
	const struct kms_context *authz_ctx; /* the context conditions see; NULL: req.context */
	bool authorized;		    /* a decision allowed the call */
	int decision;			    /* enum kms_access_reason of the last decision */
	struct kms_result result;  /* filled by the operation on success */
};

/* The principal's ARN for messages ("anonymous" when the transport gave none). */
static inline const char *kms_call_principal(const struct kms_call *c)
{
	return c->caller && c->caller->principal ? c->caller->principal : "anonymous";
}

/* ---- error.c ---- */

/* Sets the call's error kind and message; returns -1 ("return kms_fail(c, …);"). */
int kms_fail(struct kms_call *c, int kind, const char *fmt, ...) _printf_(3, 4);
/* KMSInternalException "Internal error (what)", with r logged at debug level. */
int kms_fail_internal(struct kms_call *c, int r, const char *what);

/* ---- authz.c ---- */

/* Service principal name of envold (Principal {"Service": …}). */
#define KMS_ENVOLD_SERVICE "envold.envol.internal"

struct kms_policy;

/* Reads the identity policies of o; -errno with err set (a file that does not parse). */
int kms_authz_new(const struct kms_options *o, struct kms_authz **ret, char *err, size_t errlen);
void kms_authz_free(struct kms_authz *a);
/* Whether the operation names a key (then kms_authorize_key() decides it). */
bool kms_authz_names_key(enum kms_op op);
/*
 * The decision for operations that name no key (identity policies alone), before the handler
 * runs; for the others 0 (kms_authorize_key() decides).  Returns 0, or -1 with
 * AccessDeniedException and an AWS-style message set on c.
 */
int kms_authorize(struct kms_call *c);
/*
 * The decision for an operation on key id (c->key_arn set), under the key's policy, the
 * caller's identity policies and grants (after checking the request's GrantTokens): 0
 * (c->authorized set, c->grant_id when a grant allowed), -1 with the error set,
 * or -ENOENT with nothing set when the key does not exist (the caller says so its way).
 */
int kms_authorize_key(struct kms_call *c, const char *id);
/*
 * A key policy text for CreateKey or PutKeyPolicy, parsed and checked (unknown principals):
 * 0 and a new reference, or -1 with MalformedPolicyDocumentException set.
 */
int kms_authz_parse_key_policy(struct kms_call *c, const char *text, struct kms_policy **ret);
/* The lockout safety check of policy for key id (skipped when the request bypasses it): 0, or
 * -1 with MalformedPolicyDocumentException set. */
int kms_authz_lockout_check(struct kms_call *c, const char *id, const struct kms_policy *policy);
/*
 * X-Envol-On-Behalf-Of (caller->on_behalf_of set): honoured only when the caller is a
 * principal of kms.services, the operation is CreateGrant and the client principal exists;
 * then *as (c's caller) becomes the client with invoked_by KMS_ENVOLD_SERVICE and
 * service_principal the service, and 0 is returned.  Else -1 with AccessDeniedException set,
 * its message naming the caller and why.
 */
int kms_authz_on_behalf(struct kms_call *c, struct kms_caller *as, const char *operation);
/* Drops the cached policy of key id (PutKeyPolicy, deletion). */
void kms_authz_policy_changed(struct kms_authz *a, const char *id);

/* ---- resolve.c: which key a KeyId names ---- */

void kms_key_arn(const struct kms *k, const char *id, char out[KMS_ARN_MAX]);
void kms_alias_arn(const struct kms *k, const char *alias, char out[KMS_ARN_MAX]);
/*
 * Resolves a KeyId member (key id, key ARN, and if allow_alias alias name or alias ARN) to a
 * key id, creating the managed key when alias/envol/ebs names it and it does not exist yet.
 * Sets c->key_arn.  Takes the store's mutex only for aliases.  Returns 0 or -1 (error set).
 */
int kms_resolve_id(struct kms_call *c, const char *key_id, bool allow_alias,
		   char id[KMS_KEY_ID_SIZE]);
/* kms_resolve_id(), then the key's row (store locked by the caller).  0 or -1. */
int kms_resolve_key(struct kms_call *c, const char *key_id, bool allow_alias, struct kms_key *ret);

enum {
	KMS_REFUSE_MANAGED = 1 << 0,
	KMS_REFUSE_DISABLED = 1 << 1,
	KMS_REFUSE_PENDING = 1 << 2,
};
/*
 * kms_resolve_key() without aliases, then the refusals asked for (managed, disabled, pending
 * deletion, in that order).  Returns 0, or -1 with the error set and *ret released.
 */
int kms_open_key(struct kms_call *c, const char *key_id, unsigned refuse, struct kms_key *ret);
/* DisabledException or KMSInvalidStateException for a key in that state, else 0. */
int kms_refuse_state(struct kms_call *c, enum kms_key_state state, unsigned refuse);

/* ---- managed.c: the managed key alias/envol/ebs ---- */

#define KMS_MANAGED_ALIAS "alias/envol/ebs"

/* Creates the managed key, its key policy and its alias (store locked).  0 or -errno. */
int kms_managed_create(struct kms *k, char id[KMS_KEY_ID_SIZE]);
/* Gives a managed key created without a key policy (before envol had them) its policy (store
 * locked; kms_open()).  Returns 0 (also when there is nothing to do) or -errno. */
int kms_managed_upgrade(struct kms *k);
/* Whether c->key_arn names the managed key (store locked). */
bool kms_managed_arn(struct kms_call *c);
/* AccessDeniedException for a change to the managed key, as AWS's key policy gives; else 0. */
int kms_refuse_managed(struct kms_call *c, const struct kms_key *key);

/* ---- response.c: the pages of the List* answers ---- */

/* The request's Limit (dflt when absent), or -1 with ValidationException when over max. */
int64_t kms_page_limit(struct kms_call *c, int64_t dflt, int64_t max);
/* The request's Marker, "" when absent. */
const char *kms_page_after(const struct kms_call *c);
/* Sets NextMarker (when the page is truncated) to a copy of marker.  0, or -1 (error set). */
int kms_page_marker(struct kms_call *c, const char *marker);

/* ---- key_policy.c ---- */

int kms_op_get_key_policy(struct kms_call *c);
int kms_op_list_key_policies(struct kms_call *c);
int kms_op_put_key_policy(struct kms_call *c);

/* ---- keys.c ---- */

/* After a key's state or material changed: drop it from the cache, reschedule the sweeper. */
void kms_key_changed(struct kms *k, const struct kms_key *key);
int kms_op_create_key(struct kms_call *c);
int kms_op_describe_key(struct kms_call *c);
int kms_op_list_keys(struct kms_call *c);
int kms_op_update_key_description(struct kms_call *c);
int kms_op_enable_disable_key(struct kms_call *c);
int kms_op_schedule_key_deletion(struct kms_call *c);
int kms_op_cancel_key_deletion(struct kms_call *c);

/* ---- aliases.c ---- */

int kms_op_create_update_alias(struct kms_call *c);
int kms_op_delete_alias(struct kms_call *c);
int kms_op_list_aliases(struct kms_call *c);

/* ---- rotation.c ---- */

int kms_op_enable_key_rotation(struct kms_call *c);
int kms_op_disable_key_rotation(struct kms_call *c);
int kms_op_get_key_rotation_status(struct kms_call *c);
int kms_op_rotate_key_on_demand(struct kms_call *c);
int kms_op_list_key_rotations(struct kms_call *c);

/* ---- tags.c ---- */

/* TagException for reserved tag keys in the request, else 0. */
int kms_check_tags(struct kms_call *c);
int kms_op_tag_untag(struct kms_call *c);
int kms_op_list_resource_tags(struct kms_call *c);

/* ---- grants.c ---- */

/* Derives the grant-token MAC key from the root key (store open): 0 or -errno. */
int kms_grants_init(struct kms *k);
void kms_grants_done(struct kms *k);
int kms_op_create_grant(struct kms_call *c);
int kms_op_list_grants(struct kms_call *c);
int kms_op_list_retirable_grants(struct kms_call *c);
int kms_op_retire_grant(struct kms_call *c);
int kms_op_revoke_grant(struct kms_call *c);
/*
 * The request's GrantTokens (at most 10) for an operation on key key_id: each must be a token
 * of this KMS that names this key (ReEncrypt: either of its keys).  0, or -1 with
 * InvalidGrantTokenException set.
 */
int kms_grant_tokens_check(struct kms_call *c, const char *key_id);
/*
 * Authorization by a grant (authz.c asks when no policy allowed and none denied): 1 when a
 * grant of key_id for principal carries the call's operation with its constraints met (for
 * CreateGrant: and the new grant derives from it; for RetireGrant: principal may retire the
 * grant the request names), c->grant_id set to it; 0 when none does; -errno.  One indexed
 * lookup by (key, grantee); takes the store's mutex.
 */
int kms_grant_authorize(struct kms_call *c, const char *key_id, const char *principal);

/* ---- crypto.c (run without the store's mutex) ---- */

int kms_op_encrypt(struct kms_call *c);
int kms_op_decrypt(struct kms_call *c);
int kms_op_re_encrypt(struct kms_call *c);
int kms_op_generate_data_key(struct kms_call *c);
int kms_op_generate_random(struct kms_call *c);

/* ---- sweeper.c: rotation due, deletion window over ---- */

/*
 * Destroys keys whose deletion date has passed (without force, only when the earliest known
 * deletion date has come).  Returns the number destroyed or -errno.
 */
int kms_sweep_deletions(struct kms *k, bool force);
/* Re-reads the earliest deletion date (store locked). */
void kms_sweeper_refresh(struct kms *k);

/* ---- audit.c ---- */

/* The audit record of one request (its operation name sanitized by the caller). */
int kms_audit_call(struct kms_audit *a, const struct kms_call *c, const char *operation,
		   const char *request_id);
/* A record's "decision": "denied" for AccessDeniedException, else "allowed" once a decision
 * allowed the request, else NULL (refused before any decision, e.g. ValidationException). */
const char *kms_audit_decision(bool authorized, int error);
/* A record of something envol-kmsd did by itself (rotation, destruction). */
int kms_audit_system(struct kms_audit *a, const char *operation, const char *key_arn);

#endif
