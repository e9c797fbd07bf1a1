/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.h — the IAM / KMS policy language: a key policy or an identity policy (JSON) is
 * parsed and validated once into an immutable compiled form, which is then evaluated against
 * request contexts without allocating.  Also the combined decision of kms-access.md (explicit
 * Deny wins; key policy; account principal + identity policy; grants), the lockout safety
 * check, and the JSON text of the default and the managed-key policies.
 *
 * Pure: no I/O, no SQLite, no logging.  A compiled policy is immutable and reference counted,
 * so any number of threads may evaluate it while another swaps in a new one.
 *
 * Language supported (docs/kms-policy-language.md has the whole list):
 *   Version ("2012-10-17" or "2008-10-17"), Id, Statement (an object or an array) with Sid,
 *   Effect, Principal / NotPrincipal ("*", {"AWS": …}, {"Service": …}), Action / NotAction,
 *   Resource / NotResource, Condition with every String*, Numeric*, Date*, Bool, BinaryEquals,
 *   IpAddress / NotIpAddress, Arn*, Null operator, the …IfExists suffix and the ForAnyValue: /
 *   ForAllValues: qualifiers.  Policy variables (${aws:username}) are not expanded: they are
 *   matched as the literal text they are.
 */
#ifndef ENVOL_KMS_POLICY_H
#define ENVOL_KMS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "util/macros.h"

/* The key policy size quota of AWS KMS, in bytes of policy text. */
#define KMS_POLICY_MAX_SIZE 32768

enum kms_policy_kind {
	KMS_POLICY_KEY,	     /* a key policy: every statement names a Principal or NotPrincipal */
	KMS_POLICY_IDENTITY, /* an IAM identity policy: no Principal, Action and Resource required
			      */
	KMS_POLICY_KIND_MAX,
};

enum kms_principal_type {
	KMS_PRINCIPAL_AWS,     /* an IAM ARN, already normalized (a bare account id becomes
				  arn:aws:iam::ACCOUNT:root) */
	KMS_PRINCIPAL_SERVICE, /* a service principal name */
};

/*
 * Tells the parser whether a principal named in a key policy exists: returns 1 (exists),
 * 0 (does not: MalformedPolicyDocumentException) or a negative errno (parsing fails with it).
 * Called once per principal named, never for "*".
 */
typedef int (*kms_principal_exists_fn)(void *userdata, enum kms_principal_type type,
				       const char *name);

struct kms_policy;

/*
 * Parses and validates a policy of text_len bytes (not NUL-terminated).  exists may be NULL
 * (every principal exists).  Returns 0 and a new policy (one reference) in *ret, or:
 *   -EINVAL  the document is malformed (MalformedPolicyDocumentException); err says what and
 *            where ("Statement[2].Effect must be Allow or Deny"; statements count from 0);
 *   -E2BIG   the text is over KMS_POLICY_MAX_SIZE bytes (AWS answers LimitExceededException
 *            on PutKeyPolicy);
 *   -ENOMEM, or the negative errno the exists callback returned.
 * A key policy statement without Action or Resource is accepted and has no effect, as in AWS;
 * kms_policy_warning() then says so.
 */
int kms_policy_parse(enum kms_policy_kind kind, const char *text, size_t text_len,
		     kms_principal_exists_fn exists, void *userdata, struct kms_policy **ret,
		     char *err, size_t errlen);

/* Reference counting (atomic).  ref returns p; unref returns NULL and frees on the last. */
struct kms_policy *kms_policy_ref(struct kms_policy *p);
struct kms_policy *kms_policy_unref(struct kms_policy *p);
static inline void kms_policy_unrefp(struct kms_policy **p) { kms_policy_unref(*p); }
#define _cleanup_policy_ _cleanup_(kms_policy_unrefp)

enum kms_policy_kind kms_policy_get_kind(const struct kms_policy *p);
size_t kms_policy_n_statements(const struct kms_policy *p);
/* The Sid of statement i, or NULL when it has none (or i is out of range). */
const char *kms_policy_sid(const struct kms_policy *p, size_t i);
/* A note about an accepted but suspicious document (a statement that can never apply), or
 * NULL.  Points into p. */
const char *kms_policy_warning(const struct kms_policy *p);

/*
 * One condition key of a request: its name (matched case-insensitively, so
 * "kms:EncryptionContext:Volume" and "kms:encryptioncontext:volume" are the same key, as in
 * AWS) and its values as text; the operator decides how the text is read (number, date, bool,
 * ARN, address).  A single-valued key has one value; a multi-valued key (kms:GrantOperations,
 * kms:EncryptionContextKeys, aws:TagKeys, kms:ResourceAliases) any number, including none
 * (an empty set, which Null treats as absent).  Several entries with the same name count as
 * one key holding all their values.
 */
struct kms_policy_key {
	const char *name;
	const char *const *values;
	size_t n_values;
};

/*
 * What is asked.  Built-in keys: aws:PrincipalArn (principal), aws:PrincipalAccount and
 * kms:CallerAccount (account, or else the account field of the principal ARN) are supplied
 * unless keys[] holds them.
 */
struct kms_policy_request {
	const char *principal; /* caller ARN: "arn:aws:iam::000000000000:user/unix/alice" */
	const char *service;   /* the caller's service principal name when the caller is a
				  service (matched by Principal {"Service": …}), else NULL */
	const char *account;   /* the caller's account; NULL: from the principal ARN */
	const char *action;    /* "kms:Decrypt" (matched case-insensitively) */
	const char *resource;  /* the key ARN; NULL for operations that name no key (then only
				  Resource "*" matches) */
	const struct kms_policy_key *keys;
	size_t n_keys;
};

enum kms_policy_result {
	KMS_POLICY_NO_MATCH,	  /* no statement applies (an implicit deny) */
	KMS_POLICY_ALLOW,	  /* an Allow statement names the caller (or "*") */
	KMS_POLICY_ALLOW_ACCOUNT, /* key policy only: an Allow statement applies only because it
				     names the caller's account (arn:aws:iam::ACCOUNT:root), which
				     delegates the decision to the caller's identity policies */
	KMS_POLICY_DENY,	  /* an explicit Deny applies */
};

/*
 * Evaluates one document.  Deny wins over Allow inside it; ALLOW wins over ALLOW_ACCOUNT.
 * *ret_statement (may be NULL) is set to the index of the deciding statement, or to
 * (size_t)-1 for NO_MATCH.  Allocates nothing; p may be shared between threads.
 */
enum kms_policy_result kms_policy_evaluate(const struct kms_policy *p,
					   const struct kms_policy_request *req,
					   size_t *ret_statement);

enum kms_access_reason {
	KMS_ACCESS_KEY_POLICY,		 /* allowed: the key policy allows the caller */
	KMS_ACCESS_IDENTITY_POLICY,	 /* allowed: an identity policy allows it, and the key
					    policy allows the account (or no key is named) */
	KMS_ACCESS_GRANT,		 /* allowed: a grant does (checked by the caller) */
	KMS_ACCESS_DENY_KEY_POLICY,	 /* denied: explicit Deny in the key policy */
	KMS_ACCESS_DENY_IDENTITY_POLICY, /* denied: explicit Deny in an identity policy */
	KMS_ACCESS_DENY_NO_KEY_POLICY,	 /* denied: the key policy allows neither the caller nor
					    its account */
	KMS_ACCESS_DENY_NO_IDENTITY,	 /* denied: no identity policy allows it (the key policy
					    delegates to the account, or no key is named) */
	KMS_ACCESS_REASON_MAX,
};

struct kms_access_decision {
	bool allowed;
	enum kms_access_reason reason;
	const struct kms_policy *policy; /* the deciding document (NULL for grants and implicit
					    denials); not a new reference */
	size_t statement;		 /* index of the deciding statement in policy */
};

/*
 * The combined decision of kms-access.md: an explicit Deny in the key policy or in any
 * identity policy wins (grants never deny); otherwise allowed when the key policy allows the
 * caller, or allows the caller's account and an identity policy allows the caller, or
 * grant_allows (the caller found a grant that allows the request, constraints met).
 * key_policy NULL means the operation names no key: identity policies decide alone.
 * Returns d->allowed.  Allocates nothing.
 */
bool kms_policy_decide(const struct kms_policy *key_policy,
		       const struct kms_policy *const *identity, size_t n_identity,
		       const struct kms_policy_request *req, bool grant_allows,
		       struct kms_access_decision *d);

/*
 * AccessDeniedException's message, as AWS words it:
 * "User: P is not authorized to perform: kms:Decrypt on resource: ARN because no
 * resource-based policy allows the kms:Decrypt action" (or "with an explicit deny in a
 * resource-based policy", "… in an identity-based policy", "because no identity-based policy
 * allows …"; without "on resource: …" when no key is named).
 */
void kms_policy_denial_message(const struct kms_policy_request *req,
			       const struct kms_access_decision *d, char *buf, size_t len);

/*
 * The lockout safety check of CreateKey (with Policy) and PutKeyPolicy: would the caller of
 * req (principal, account, resource, condition keys) be allowed kms:PutKeyPolicy by
 * new_key_policy together with its identity policies?  (req->action is ignored.)
 */
bool kms_policy_lockout_safe(const struct kms_policy *new_key_policy,
			     const struct kms_policy *const *identity, size_t n_identity,
			     const struct kms_policy_request *req);

/*
 * The AWS default key policy for account: Sid "Enable IAM User Permissions", Principal the
 * account root, kms:* on "*".  Returns 0 and malloc'd JSON text in *ret, -EINVAL (account not
 * 12 digits) or -ENOMEM.
 */
int kms_policy_default_json(const char *account, char **ret);

/*
 * The policy of a managed key shaped like AWS's aws/ebs: any principal of account may use the
 * key (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, CreateGrant, DescribeKey) but only
 * through the service (kms:CallerAccount = account, kms:ViaService = via_service, e.g.
 * "ec2.us-east-1.amazonaws.com" in AWS); the account root may Describe*, Get*, List* and
 * RevokeGrant directly.  Returns 0 and malloc'd JSON text, -EINVAL or -ENOMEM.
 */
int kms_policy_managed_json(const char *account, const char *via_service, char **ret);

/* The account id (12 digits) in an IAM or STS ARN, copied into out[13].  Returns 0 or
 * -EINVAL. */
int kms_arn_account(const char *arn, char out[13]);

#endif
