/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * request.h — the KMS request decoder: one AWS KMS JSON 1.1 request body into a typed struct
 * kms_request, checked against the service model (JSON types -> SerializationException,
 * missing members and constraints -> ValidationException).  Pure: no SQLite, no keys, no I/O,
 * so it is fuzzed on its own (tests/fuzz/fuzz_kms_request.c).
 */
#ifndef ENVOL_KMS_REQUEST_H
#define ENVOL_KMS_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kms/context.h"
#include "kms/op.h"

#define KMS_MAX_PLAINTEXT 4096
#define KMS_MAX_CIPHERTEXT 6144
#define KMS_MAX_TAGS 50
/* Longest Policy member decoded; longer than the 32 KiB quota, so that the policy parser
 * (policy.h) says what is wrong with an oversize document. */
#define KMS_POLICY_TEXT_MAX 131072

struct kms_tag {
	const char *key;
	const char *value;
};

/* Every member of every supported request; strings point into the JSON tree (root). */
struct kms_request {
	enum kms_op op;
	json_t *root;

	const char *key_id;
	const char *description; /* NULL: absent */
	const char *key_usage, *key_spec, *customer_master_key_spec, *origin;
	const char *policy, *custom_key_store_id, *xks_key_id;
	const char *policy_name; /* NULL: absent ("default") */
	int bypass_lockout;	  /* BypassPolicyLockoutSafetyCheck: 0 absent or false, 1 true */
	int multi_region; /* -1 absent, 0 false, 1 true */

	int64_t limit; /* 0: absent */
	const char *marker;
	int64_t pending_window_in_days; /* 0: absent */

	const char *alias_name, *target_key_id;

	uint8_t *plaintext; /* malloc'd, wiped on kms_request_done() */
	size_t plaintext_len;
	uint8_t *ciphertext_blob;
	size_t ciphertext_blob_len;

	struct kms_context context;	/* EncryptionContext or SourceEncryptionContext */
	struct kms_context dst_context; /* DestinationEncryptionContext */
	const char *source_key_id, *destination_key_id;
	const char *encryption_algorithm; /* or SourceEncryptionAlgorithm */
	const char *destination_encryption_algorithm;

	int64_t number_of_bytes; /* 0: absent */
	const char *data_key_spec;
	int64_t rotation_period_in_days; /* 0: absent */
	const char *include_key_material;

	struct kms_tag *tags;
	size_t n_tags;
	const char **tag_keys;
	size_t n_tag_keys;

	/* grants */
	const char **grant_tokens; /* GrantTokens (at most KMS_GRANT_MAX_TOKENS) */
	size_t n_grant_tokens;
	const char **grant_operations; /* CreateGrant's Operations */
	size_t n_grant_operations;
	const char *grantee_principal, *retiring_principal;
	const char *grant_name; /* Name */
	const char *grant_id;	/* GrantId (RetireGrant, RevokeGrant, ListGrants' filter) */
	const char *grant_token; /* RetireGrant's GrantToken */
	struct kms_context grant_equals; /* Constraints.EncryptionContextEquals */
	struct kms_context grant_subset; /* Constraints.EncryptionContextSubset */
	int dry_run;			 /* DryRun: 0 absent or false, 1 true */
};

/*
 * Decodes body (body_len bytes, not NUL-terminated; empty means {}) for op.  Returns 0 and
 * fills *ret, or a positive enum kms_error (KMS_ERR_SERIALIZATION or KMS_ERR_VALIDATION, or
 * KMS_ERR_INTERNAL on ENOMEM) with an AWS-style message in err; *ret is then left empty.
 */
int kms_request_decode(enum kms_op op, const char *body, size_t body_len, struct kms_request *ret,
		       char *err, size_t errlen);
/* Frees what kms_request_decode() allocated (wipes plaintext); safe on a zeroed struct. */
void kms_request_done(struct kms_request *r);

#endif
