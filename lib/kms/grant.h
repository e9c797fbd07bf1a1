/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grant.h — KMS grants as data: the Operations a grant may carry, its encryption-context
 * constraints and how a request's context meets them, what a grant that carries CreateGrant
 * may create, who may retire a grant, grant ids, and grant tokens (opaque, self-validating:
 * base64 of key id, grant id, a nonce and an HMAC).  Pure: no SQL, no I/O; the store and the
 * wiring into the KMS decide when these are called.
 */
#ifndef ENVOL_KMS_GRANT_H
#define ENVOL_KMS_GRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KMS_GRANT_MAX_PER_KEY 50000	   /* LimitExceededException beyond */
#define KMS_GRANT_MAX_TOKENS 10		   /* GrantTokens list */
#define KMS_GRANT_TOKEN_MAX_LEN 8192	   /* characters of one token */
#define KMS_GRANT_CONSTRAINT_MAX_PAIRS 8   /* pairs in one constraint */
#define KMS_GRANT_CONSTRAINT_MAX_VALUE 384 /* characters of one constraint value */
#define KMS_GRANT_NAME_MAX 256
#define KMS_GRANT_ID_LEN 32	   /* bytes; the text form is 64 lower-case hex digits */
#define KMS_GRANT_TOKEN_KEY_LEN 32 /* the MAC key of grant tokens */
#define KMS_GRANT_NONCE_LEN 16

/* The operations a grant may carry (botocore's GrantOperation), one bit each. */
enum kms_grant_op {
	KMS_GRANT_DECRYPT = 1u << 0,
	KMS_GRANT_ENCRYPT = 1u << 1,
	KMS_GRANT_GENERATE_DATA_KEY = 1u << 2,
	KMS_GRANT_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT = 1u << 3,
	KMS_GRANT_RE_ENCRYPT_FROM = 1u << 4,
	KMS_GRANT_RE_ENCRYPT_TO = 1u << 5,
	KMS_GRANT_SIGN = 1u << 6,
	KMS_GRANT_VERIFY = 1u << 7,
	KMS_GRANT_GET_PUBLIC_KEY = 1u << 8,
	KMS_GRANT_CREATE_GRANT = 1u << 9,
	KMS_GRANT_RETIRE_GRANT = 1u << 10,
	KMS_GRANT_DESCRIBE_KEY = 1u << 11,
	KMS_GRANT_GENERATE_DATA_KEY_PAIR = 1u << 12,
	KMS_GRANT_GENERATE_DATA_KEY_PAIR_WITHOUT_PLAINTEXT = 1u << 13,
	KMS_GRANT_GENERATE_MAC = 1u << 14,
	KMS_GRANT_VERIFY_MAC = 1u << 15,
	KMS_GRANT_DERIVE_SHARED_SECRET = 1u << 16,
	KMS_GRANT_OP_COUNT = 17,
};

/* The operations a grant on a symmetric encryption key (SYMMETRIC_DEFAULT) may carry. */
#define KMS_GRANT_OPS_SYMMETRIC                                                                    \
	(KMS_GRANT_DECRYPT | KMS_GRANT_ENCRYPT | KMS_GRANT_GENERATE_DATA_KEY |                     \
	 KMS_GRANT_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT | KMS_GRANT_RE_ENCRYPT_FROM |               \
	 KMS_GRANT_RE_ENCRYPT_TO | KMS_GRANT_CREATE_GRANT | KMS_GRANT_RETIRE_GRANT |               \
	 KMS_GRANT_DESCRIBE_KEY | KMS_GRANT_GENERATE_DATA_KEY_PAIR |                               \
	 KMS_GRANT_GENERATE_DATA_KEY_PAIR_WITHOUT_PLAINTEXT)

/* "Decrypt" for KMS_GRANT_DECRYPT; NULL unless op is exactly one known bit. */
const char *kms_grant_op_name(uint32_t op);
/* The bit of an operation name (case-sensitive, as AWS); -EINVAL for anything else. */
int kms_grant_op_from_name(const char *name);
/* True for the operations that take an encryption context (constraints apply to them). */
bool kms_grant_op_uses_context(uint32_t op);

/*
 * CreateGrant's Operations: names (n >= 1) into a bit set.  allowed is what the key supports
 * (KMS_GRANT_OPS_SYMMETRIC).  Returns 0, or -EINVAL with a ValidationException message in err
 * (an unknown name, an empty list, an operation the key does not support).
 */
int kms_grant_ops_parse(const char *const *names, size_t n, uint32_t allowed, uint32_t *ret,
			char *err, size_t errlen);

/* Key/value pairs: an encryption context or a constraint. */
struct kms_pairs {
	const char *const *keys;
	const char *const *values;
	size_t n;
};

/*
 * Grant constraints.  As AWS: the key of each pair is matched case-insensitively, the value
 * exactly.  Both may be present; then both must hold.
 */
struct kms_grant_constraints {
	bool has_equals, has_subset;
	struct kms_pairs
	    equals; /* EncryptionContextEquals: the request's context is exactly this */
	struct kms_pairs subset; /* EncryptionContextSubset: the request's context holds these */
};

/*
 * Checks constraints given with CreateGrant for a grant carrying ops: at most 8 pairs each,
 * values up to 384 characters, and none with operations that take no encryption context
 * (Sign, Verify, GenerateMac, …).  Returns 0 or -EINVAL with a ValidationException message.
 */
int kms_grant_constraints_validate(const struct kms_grant_constraints *c, uint32_t ops, char *err,
				   size_t errlen);

/* Does the request's encryption context ctx (NULL: none) meet the constraints? */
bool kms_grant_context_ok(const struct kms_grant_constraints *c, const struct kms_pairs *ctx);

/* A grant as the store keeps it (strings owned by the caller). */
struct kms_grant {
	const char *grantee;  /* GranteePrincipal ARN */
	const char *retiring; /* RetiringPrincipal, or NULL */
	const char *name;     /* Name, or NULL */
	uint32_t ops;
	struct kms_grant_constraints constraints;
};

/*
 * Does grant g let principal run op (one bit) with encryption context ctx (NULL: none)?
 * The grantee must be principal; constraints apply only to operations that take an
 * encryption context (ReEncrypt: ask for RE_ENCRYPT_FROM with the source context and for
 * RE_ENCRYPT_TO with the destination context).
 */
bool kms_grant_allows(const struct kms_grant *g, const char *principal, uint32_t op,
		      const struct kms_pairs *ctx);

/*
 * A grant that carries CreateGrant can only create grants at least as constrained: the new
 * grant's operations are a subset of the parent's; under a parent's EncryptionContextEquals
 * the new grant has the same EncryptionContextEquals; under a parent's
 * EncryptionContextSubset the new grant's Equals or Subset holds every pair of it.
 * Returns 0 or -EACCES with a message (AccessDeniedException).
 */
int kms_grant_derive_check(const struct kms_grant *parent, uint32_t ops,
			   const struct kms_grant_constraints *child, char *err, size_t errlen);

/* Same properties (for CreateGrant's Name idempotency): grantee, retiring principal, name,
 * operations and constraints (pairs in any order). */
bool kms_grant_equal(const struct kms_grant *a, const struct kms_grant *b);

/*
 * RetireGrant without a policy: the retiring principal, the grantee when the grant carries
 * RetireGrant, or the root of account (the key's account) may retire.
 */
bool kms_grant_may_retire(const struct kms_grant *g, const char *principal, const char *account);

/* Name: 1..256 characters of [a-zA-Z0-9:/_-]. */
bool kms_grant_name_valid(const char *name);

/* Grant ids: 32 random bytes, written as 64 lower-case hex digits. */
void kms_grant_id_format(const uint8_t id[KMS_GRANT_ID_LEN], char out[2 * KMS_GRANT_ID_LEN + 1]);
/* Returns 0 or -EINVAL (not 64 hex digits: InvalidGrantIdException). */
int kms_grant_id_parse(const char *text, uint8_t out[KMS_GRANT_ID_LEN]);

/*
 * The grant-token MAC key, derived from the KMS root key with HKDF-SHA256 (info "envol grant
 * token v1") into out (the caller's secure memory).  Returns 0 or -errno.
 */
int kms_grant_token_key(const uint8_t *root_key, size_t root_key_len,
			uint8_t out[KMS_GRANT_TOKEN_KEY_LEN]);

/*
 * A grant token: base64 of version 1 (1 byte) || key id (16) || grant id (32) || nonce (16,
 * random, so every CreateGrant returns a new token) || HMAC-SHA256 of all that under key,
 * first 16 bytes.  Returns 0 and a malloc'd string, or -errno.
 */
int kms_grant_token_make(const uint8_t key[KMS_GRANT_TOKEN_KEY_LEN], const uint8_t key_id[16],
			 const uint8_t grant_id[KMS_GRANT_ID_LEN],
			 const uint8_t nonce[KMS_GRANT_NONCE_LEN], char **ret);

/*
 * Validates a token (constant-time MAC check) and returns what it names.  Returns 0, or
 * -EBADMSG for anything that is not a token made under key (InvalidGrantTokenException),
 * or -ENOMEM / -EIO.  The outputs are untouched on failure.
 */
int kms_grant_token_check(const uint8_t key[KMS_GRANT_TOKEN_KEY_LEN], const char *token,
			  uint8_t ret_key_id[16], uint8_t ret_grant_id[KMS_GRANT_ID_LEN]);

#endif
