/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * response.h — what an operation answers, as typed results, and their encoding into AWS KMS
 * JSON 1.1 response bodies.  Operations fill a struct kms_result and never build JSON;
 * response.c is the one place that knows the wire shape of every answer and of the error body.
 */
#ifndef ENVOL_KMS_RESPONSE_H
#define ENVOL_KMS_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kms/store.h"

#define KMS_ARN_MAX 512

struct kms;

enum kms_result_type {
	KMS_RESULT_EMPTY,	    /* {} */
	KMS_RESULT_KEY_METADATA,    /* {"KeyMetadata": …}: CreateKey, DescribeKey */
	KMS_RESULT_KEY_ID,	    /* {"KeyId": …}: CancelKeyDeletion, RotateKeyOnDemand */
	KMS_RESULT_KEY_DELETION,    /* ScheduleKeyDeletion */
	KMS_RESULT_ROTATION_STATUS, /* GetKeyRotationStatus */
	KMS_RESULT_KEYS,	    /* ListKeys */
	KMS_RESULT_ALIASES,	    /* ListAliases */
	KMS_RESULT_ROTATIONS,	    /* ListKeyRotations */
	KMS_RESULT_TAGS,	    /* ListResourceTags */
	KMS_RESULT_CRYPTO, /* Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom */
	KMS_RESULT_POLICY,	   /* GetKeyPolicy */
	KMS_RESULT_POLICY_NAMES,   /* ListKeyPolicies: always ["default"] */
	KMS_RESULT_GRANT,	   /* CreateGrant: GrantToken, GrantId */
	KMS_RESULT_GRANTS,	   /* ListGrants, ListRetirableGrants */
};

/* The members of the cryptographic operations' answers; each is present when set. */
struct kms_crypto_result {
	uint8_t *ciphertext_blob; /* malloc'd: CiphertextBlob */
	size_t ciphertext_blob_len;
	uint8_t *plaintext; /* Plaintext: this thread's scratch buffer (crypto.c), wiped by
			       kms_result_done(); the body holding it is built in wiped memory */
	size_t plaintext_len;
	char source_key_id[KMS_ARN_MAX];    /* SourceKeyId (ReEncrypt) */
	bool algorithm;			    /* EncryptionAlgorithm SYMMETRIC_DEFAULT */
	bool source_destination_algorithms; /* Source/DestinationEncryptionAlgorithm (ReEncrypt) */
};

/* A page of a List* answer. */
struct kms_page {
	size_t n; /* items in the result */
	bool truncated;
	char *next_marker; /* malloc'd; NextMarker when truncated */
};

struct kms_result {
	enum kms_result_type type;
	char key_id[KMS_ARN_MAX]; /* the KeyId member ("": none): a key ARN, or a key id where
				     AWS answers one (RotateKeyOnDemand, ListKeyRotations) */
	union {
		struct kms_key key; /* KEY_METADATA, ROTATION_STATUS */
		struct {
			int64_t date, days;
		} deletion;			 /* KEY_DELETION */
		struct kms_key_ids keys;	 /* KEYS */
		struct kms_alias *aliases;	 /* ALIASES */
		struct kms_rotation *rotations;	 /* ROTATIONS */
		struct kms_tag_row *tags;	 /* TAGS */
		struct kms_crypto_result crypto; /* CRYPTO */
		char *policy;			 /* POLICY (malloc'd) */
		struct {
			char id[KMS_GRANT_ID_SIZE];
			char *token;	      /* malloc'd */
		} grant;		      /* GRANT */
		struct kms_grant_row *grants; /* GRANTS */
	};
	struct kms_page page; /* KEYS, ALIASES, ROTATIONS, TAGS, GRANTS */
};

/* Frees what a result holds (wipes its plaintext) and empties it. */
void kms_result_done(struct kms_result *r);

/*
 * Encodes a result into a new NUL-terminated body in *ret.  Bodies that hold plaintext are
 * built in memory that is wiped as it grows; the caller wipes the body it gets.  Returns 0 or
 * -ENOMEM.
 */
int kms_response_encode(const struct kms *k, const struct kms_result *r, char **ret);

/* {"__type": type, "message": message}; NULL on ENOMEM. */
char *kms_response_error(const char *type, const char *message);

#endif
