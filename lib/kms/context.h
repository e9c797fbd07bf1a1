/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * context.h — an encryption context: the request's pairs sorted bytewise by key, their
 * canonical byte form (the AAD of a CiphertextBlob, blob.h) and their JSON form (audit).  Pure.
 */
#ifndef ENVOL_KMS_CONTEXT_H
#define ENVOL_KMS_CONTEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kms_context {
	bool present; /* the member was in the request (even if {}) */
	size_t n;
	const char **keys; /* sorted bytewise; point into the request's JSON tree */
	const char **values;
	uint8_t *canon; /* canonical form, see kms_context_canonical() */
	size_t canon_len;
};

/*
 * Canonical context bytes: u32 BE pair count, then for each pair in bytewise key order
 * u32 BE key length, key, u32 BE value length, value.  An absent context and {} are both
 * the 4 bytes 00 00 00 00.  Returns 0, -EINVAL (more than 2^32 pairs) or -ENOMEM.
 */
int kms_context_canonical(const char *const *keys, const char *const *values, size_t n,
			  uint8_t **ret, size_t *ret_len);
/* The context as a new JSON object ({} when absent); NULL on ENOMEM. */
json_t *kms_context_json(const struct kms_context *c);
/* Whether the context has a pair with this key (exact bytes). */
bool kms_context_has_key(const struct kms_context *c, const char *key);
/* Frees the arrays and the canonical form (not the strings), and zeroes c. */
void kms_context_done(struct kms_context *c);

#endif
