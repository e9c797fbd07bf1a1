/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms_json.h — the KMS request decoder: operation names, and one AWS KMS JSON 1.1 request
 * body into a struct kms_request, checked against the service model (JSON types ->
 * SerializationException, missing members and constraints -> ValidationException).  Pure:
 * no SQLite, no keys, no I/O, so it is fuzzed on its own (tests/fuzz/fuzz_kms_request.c).
 */
#ifndef ENVOL_KMS_JSON_H
#define ENVOL_KMS_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KMS_MAX_PLAINTEXT 4096
#define KMS_MAX_CIPHERTEXT 6144
#define KMS_MAX_TAGS 50

enum kms_op {
	KMS_OP_CANCEL_KEY_DELETION,
	KMS_OP_CREATE_ALIAS,
	KMS_OP_CREATE_KEY,
	KMS_OP_DECRYPT,
	KMS_OP_DELETE_ALIAS,
	KMS_OP_DESCRIBE_KEY,
	KMS_OP_DISABLE_KEY,
	KMS_OP_DISABLE_KEY_ROTATION,
	KMS_OP_ENABLE_KEY,
	KMS_OP_ENABLE_KEY_ROTATION,
	KMS_OP_ENCRYPT,
	KMS_OP_GENERATE_DATA_KEY,
	KMS_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT,
	KMS_OP_GENERATE_RANDOM,
	KMS_OP_GET_KEY_ROTATION_STATUS,
	KMS_OP_LIST_ALIASES,
	KMS_OP_LIST_KEY_ROTATIONS,
	KMS_OP_LIST_KEYS,
	KMS_OP_LIST_RESOURCE_TAGS,
	KMS_OP_RE_ENCRYPT,
	KMS_OP_ROTATE_KEY_ON_DEMAND,
	KMS_OP_SCHEDULE_KEY_DELETION,
	KMS_OP_TAG_RESOURCE,
	KMS_OP_UNTAG_RESOURCE,
	KMS_OP_UPDATE_ALIAS,
	KMS_OP_UPDATE_KEY_DESCRIPTION,
	KMS_OP_MAX,
};

/*
 * Returns the operation for an X-Amz-Target operation name, -EOPNOTSUPP for an AWS KMS
 * operation envol does not implement, -ENOENT for a name that is no AWS KMS operation.
 */
int kms_op_from_name(const char *name);
const char *kms_op_name(enum kms_op op);

/* An encryption context: pairs sorted bytewise by key, and its canonical byte form (AAD). */
struct kms_context {
	bool present; /* the member was in the request (even if {}) */
	size_t n;
	const char **keys; /* point into the request's JSON tree */
	const char **values;
	uint8_t *canon; /* canonical form, see kms_context_canonical() */
	size_t canon_len;
};

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

/*
 * Canonical context bytes: u32 BE pair count, then for each pair in bytewise key order
 * u32 BE key length, key, u32 BE value length, value.  An absent context and {} are both
 * the 4 bytes 00 00 00 00.  Returns 0, -EINVAL (more than 2^32 pairs) or -ENOMEM.
 */
int kms_context_canonical(const char *const *keys, const char *const *values, size_t n,
			  uint8_t **ret, size_t *ret_len);
/* The context as a new JSON object ({} when absent); NULL on ENOMEM. */
json_t *kms_context_json(const struct kms_context *c);

#endif
