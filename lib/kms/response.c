/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * response.c — typed results into AWS KMS JSON 1.1 response bodies, and the error body
 * (response.h).  Non-secret members go through jansson; the base64 members of the
 * cryptographic answers are written by hand into a buffer that is wiped as it grows, because
 * jansson would leave copies of the plaintext in freed heap memory.
 */
#include <jansson.h>
#include <string.h>

#include "kms/internal.h"
#include "util/buffer.h"
#include "util/encoding.h"
#include "util/secure_mem.h"

#define ALGORITHM "SYMMETRIC_DEFAULT"

void kms_result_done(struct kms_result *r)
{
	switch (r->type) {
	case KMS_RESULT_KEY_METADATA:
	case KMS_RESULT_ROTATION_STATUS:
		kms_key_done(&r->key);
		break;
	case KMS_RESULT_KEYS:
		kms_key_ids_done(&r->keys);
		break;
	case KMS_RESULT_ALIASES:
		kms_aliases_free(r->aliases, r->page.n);
		break;
	case KMS_RESULT_ROTATIONS:
		free(r->rotations);
		break;
	case KMS_RESULT_TAGS:
		kms_tag_rows_free(r->tags, r->page.n);
		break;
	case KMS_RESULT_CRYPTO:
		free(r->crypto.ciphertext_blob);
		if (r->crypto.plaintext)
			envol_wipe(r->crypto.plaintext, r->crypto.plaintext_len);
		break;
	default:
		break;
	}
	free(r->page.next_marker);
	memset(r, 0, sizeof(*r));
}

/* Sets a member, taking v; remembers a failure (v NULL or no memory) in *ok. */
static void set(json_t *o, const char *name, json_t *v, bool *ok)
{
	if (json_object_set_new(o, name, v) < 0)
		*ok = false;
}

static void append(json_t *list, json_t *v, bool *ok)
{
	if (json_array_append_new(list, v) < 0)
		*ok = false;
}

static json_t *key_metadata(const struct kms *k, const struct kms_key *key, bool *ok)
{
	char arn[KMS_ARN_MAX];
	json_t *m = json_object();

	if (!m) {
		*ok = false;
		return NULL;
	}
	kms_key_arn(k, key->id, arn);
	set(m, "AWSAccountId", json_string(k->account_id), ok);
	set(m, "KeyId", json_string(key->id), ok);
	set(m, "Arn", json_string(arn), ok);
	set(m, "CreationDate", json_integer(key->created), ok);
	set(m, "Enabled", json_boolean(key->state == KMS_KEY_ENABLED), ok);
	set(m, "Description", json_string(key->description ? key->description : ""), ok);
	set(m, "KeyUsage", json_string("ENCRYPT_DECRYPT"), ok);
	set(m, "KeyState", json_string(kms_key_state_name(key->state)), ok);
	if (key->state == KMS_KEY_PENDING_DELETION)
		set(m, "DeletionDate", json_integer(key->deletion_date), ok);
	set(m, "Origin", json_string("AWS_KMS"), ok);
	set(m, "KeyManager", json_string(key->managed ? "AWS" : "CUSTOMER"), ok);
	set(m, "CustomerMasterKeySpec", json_string(ALGORITHM), ok);
	set(m, "KeySpec", json_string(ALGORITHM), ok);
	set(m, "EncryptionAlgorithms", json_pack("[s]", ALGORITHM), ok);
	set(m, "MultiRegion", json_false(), ok);
	return m;
}

/* The list of a List* answer. */
static json_t *list(const struct kms *k, const struct kms_result *r, bool *ok)
{
	json_t *l = json_array();
	char arn[KMS_ARN_MAX];

	for (size_t i = 0; l && i < r->page.n; i++) {
		switch (r->type) {
		case KMS_RESULT_KEYS:
			kms_key_arn(k, r->keys.id[i], arn);
			append(l, json_pack("{s:s,s:s}", "KeyId", r->keys.id[i], "KeyArn", arn),
			       ok);
			break;
		case KMS_RESULT_ALIASES: {
			const struct kms_alias *a = &r->aliases[i];

			kms_alias_arn(k, a->name, arn);
			append(l,
			       json_pack("{s:s,s:s,s:s,s:I,s:I}", "AliasName", a->name, "AliasArn",
					 arn, "TargetKeyId", a->key_id, "CreationDate",
					 (json_int_t)a->created, "LastUpdatedDate",
					 (json_int_t)a->updated),
			       ok);
			break;
		}
		case KMS_RESULT_ROTATIONS:
			append(l,
			       json_pack("{s:s,s:I,s:s}", "KeyId", r->key_id, "RotationDate",
					 (json_int_t)r->rotations[i].date, "RotationType",
					 r->rotations[i].on_demand ? "ON_DEMAND" : "AUTOMATIC"),
			       ok);
			break;
		case KMS_RESULT_TAGS:
			append(l,
			       json_pack("{s:s,s:s}", "TagKey", r->tags[i].key, "TagValue",
					 r->tags[i].value),
			       ok);
			break;
		default:
			break;
		}
	}
	if (!l)
		*ok = false;
	return l;
}

static const char *list_name(enum kms_result_type t)
{
	switch (t) {
	case KMS_RESULT_KEYS:
		return "Keys";
	case KMS_RESULT_ALIASES:
		return "Aliases";
	case KMS_RESULT_ROTATIONS:
		return "Rotations";
	default:
		return "Tags";
	}
}

/* Every answer but the cryptographic ones' base64 members, as a JSON object. */
static json_t *members(const struct kms *k, const struct kms_result *r)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	if (!o)
		return NULL;
	switch (r->type) {
	case KMS_RESULT_EMPTY:
		break;
	case KMS_RESULT_KEY_METADATA:
		set(o, "KeyMetadata", key_metadata(k, &r->key, &ok), &ok);
		break;
	case KMS_RESULT_KEY_ID:
		set(o, "KeyId", json_string(r->key_id), &ok);
		break;
	case KMS_RESULT_KEY_DELETION:
		set(o, "KeyId", json_string(r->key_id), &ok);
		set(o, "DeletionDate", json_integer(r->deletion.date), &ok);
		set(o, "KeyState", json_string(kms_key_state_name(KMS_KEY_PENDING_DELETION)), &ok);
		set(o, "PendingWindowInDays", json_integer(r->deletion.days), &ok);
		break;
	case KMS_RESULT_ROTATION_STATUS:
		set(o, "KeyRotationEnabled", json_boolean(r->key.rotation_enabled), &ok);
		set(o, "KeyId", json_string(r->key_id), &ok);
		if (r->key.rotation_enabled) {
			set(o, "RotationPeriodInDays", json_integer(r->key.rotation_period), &ok);
			set(o, "NextRotationDate", json_integer(r->key.next_rotation), &ok);
		}
		break;
	case KMS_RESULT_KEYS:
	case KMS_RESULT_ALIASES:
	case KMS_RESULT_ROTATIONS:
	case KMS_RESULT_TAGS:
		set(o, list_name(r->type), list(k, r, &ok), &ok);
		set(o, "Truncated", json_boolean(r->page.truncated), &ok);
		if (r->page.truncated && r->page.next_marker)
			set(o, "NextMarker", json_string(r->page.next_marker), &ok);
		break;
	case KMS_RESULT_CRYPTO:
		if (r->crypto.source_key_id[0])
			set(o, "SourceKeyId", json_string(r->crypto.source_key_id), &ok);
		if (r->key_id[0])
			set(o, "KeyId", json_string(r->key_id), &ok);
		if (r->crypto.algorithm)
			set(o, "EncryptionAlgorithm", json_string(ALGORITHM), &ok);
		if (r->crypto.source_destination_algorithms) {
			set(o, "SourceEncryptionAlgorithm", json_string(ALGORITHM), &ok);
			set(o, "DestinationEncryptionAlgorithm", json_string(ALGORITHM), &ok);
		}
		break;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * Appends ,"name":"<base64>" (without the comma for the first member), leaving no unwiped copy
 * of the base64 text behind.
 */
static int append_base64(struct envol_buffer *b, const char *name, const uint8_t *data, size_t len)
{
	char *text = envol_base64_encode(data, len);
	int r;

	if (!text)
		return -ENOMEM;
	r = envol_buffer_printf(b, "%s\"%s\":\"%s\"", b->len > 1 ? "," : "", name, text);
	envol_wipe(text, strlen(text));
	free(text);
	return r;
}

int kms_response_encode(const struct kms *k, const struct kms_result *r, char **ret)
{
	_cleanup_buffer_ struct envol_buffer b = {.wipe = true};
	_cleanup_free_ char *rest = NULL;
	json_t *o = members(k, r);

	if (!o)
		return -ENOMEM;
	rest = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!rest || rest[0] != '{')
		return -ENOMEM;
	if (r->type != KMS_RESULT_CRYPTO) {
		*ret = TAKE_PTR(rest);
		return 0;
	}
	/* {"CiphertextBlob":"…","Plaintext":"…", then the members of rest */
	(void)envol_buffer_append_char(&b, '{');
	if (r->crypto.ciphertext_blob &&
	    append_base64(&b, "CiphertextBlob", r->crypto.ciphertext_blob,
			  r->crypto.ciphertext_blob_len) < 0)
		return -ENOMEM;
	if (r->crypto.plaintext &&
	    append_base64(&b, "Plaintext", r->crypto.plaintext, r->crypto.plaintext_len) < 0)
		return -ENOMEM;
	if (strcmp(rest, "{}") != 0 && b.len > 1)
		(void)envol_buffer_append_char(&b, ',');
	(void)envol_buffer_append_str(&b, rest + 1);
	return envol_buffer_take(&b, ret, NULL);
}

int64_t kms_page_limit(struct kms_call *c, int64_t dflt, int64_t max)
{
	int64_t limit = c->req.limit > 0 ? c->req.limit : dflt;

	if (limit > max)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"1 validation error detected: Value '%lld' at 'limit' failed to "
				"satisfy constraint: Member must have value less than or equal to "
				"%lld",
				(long long)limit, (long long)max);
	return limit;
}

const char *kms_page_after(const struct kms_call *c) { return c->req.marker ? c->req.marker : ""; }

int kms_page_marker(struct kms_call *c, const char *marker)
{
	if (!c->result.page.truncated)
		return 0;
	c->result.page.next_marker = strdup(marker);
	return c->result.page.next_marker ? 0 : kms_fail_internal(c, -ENOMEM, "next marker");
}

char *kms_response_error(const char *type, const char *message)
{
	json_t *o = json_pack("{s:s,s:s}", "__type", type, "message", message ? message : "");
	char *s;

	if (!o) /* message was not valid UTF-8: fall back to the bare type */
		o = json_pack("{s:s,s:s}", "__type", type, "message", "");
	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}
