/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * response.c — typed results into AWS KMS JSON 1.1 response bodies, the error body, and the
 * pages of the List* answers (response.h).  Answers go through jansson, but for the
 * cryptographic ones, which are written by hand into a buffer that is wiped as it grows:
 * jansson would leave copies of the plaintext in freed heap memory (and they are the hot path).
 */
#include <jansson.h>
#include <string.h>

#include "kms/grant.h"
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
	case KMS_RESULT_POLICY:
		free(r->policy);
		break;
	case KMS_RESULT_GRANT:
		free(r->grant.token);
		break;
	case KMS_RESULT_GRANTS:
		kms_grant_rows_free(r->grants, r->page.n);
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

/* A GrantListEntry (botocore's shape); members absent when the grant has none. */
static json_t *grant_entry(const struct kms *k, const struct kms_grant_row *g, bool *ok)
{
	char arn[KMS_ARN_MAX];
	json_t *e = json_object(), *ops = json_array();

	if (!e || !ops) {
		json_decref(e);
		json_decref(ops);
		*ok = false;
		return NULL;
	}
	kms_key_arn(k, g->key_id, arn);
	set(e, "KeyId", json_string(arn), ok);
	set(e, "GrantId", json_string(g->grant_id), ok);
	if (g->name)
		set(e, "Name", json_string(g->name), ok);
	set(e, "CreationDate", json_integer(g->created), ok);
	set(e, "GranteePrincipal", json_string(g->grantee), ok);
	if (g->retiring)
		set(e, "RetiringPrincipal", json_string(g->retiring), ok);
	set(e, "IssuingAccount", json_string(g->issuing), ok);
	for (uint32_t bit = 1; bit && bit < (1u << KMS_GRANT_OP_COUNT); bit <<= 1)
		if (g->ops & bit)
			append(ops, json_string(kms_grant_op_name(bit)), ok);
	set(e, "Operations", ops, ok);
	if (g->constraints)
		set(e, "Constraints", json_loads(g->constraints, 0, NULL), ok);
	return e;
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
		case KMS_RESULT_GRANTS:
			append(l, grant_entry(k, &r->grants[i], ok), ok);
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
	case KMS_RESULT_GRANTS:
		return "Grants";
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
	case KMS_RESULT_GRANTS:
		set(o, list_name(r->type), list(k, r, &ok), &ok);
		set(o, "Truncated", json_boolean(r->page.truncated), &ok);
		if (r->page.truncated && r->page.next_marker)
			set(o, "NextMarker", json_string(r->page.next_marker), &ok);
		break;
	case KMS_RESULT_POLICY:
		set(o, "Policy", json_string(r->policy), &ok);
		set(o, "PolicyName", json_string("default"), &ok);
		break;
	case KMS_RESULT_POLICY_NAMES:
		set(o, "PolicyNames", json_pack("[s]", "default"), &ok);
		set(o, "Truncated", json_false(), &ok);
		break;
	case KMS_RESULT_GRANT:
		set(o, "GrantToken", json_string(r->grant.token), &ok);
		set(o, "GrantId", json_string(r->grant.id), &ok);
		break;
	case KMS_RESULT_CRYPTO: /* encode_crypto() */
		break;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Appends ,"name": (no comma before the first member). */
static void member_name(struct envol_buffer *b, const char *name)
{
	if (b->len > 1)
		(void)envol_buffer_append_char(b, ',');
	(void)envol_buffer_append_char(b, '"');
	(void)envol_buffer_append_str(b, name);
	(void)envol_buffer_append(b, "\":", 2);
}

/* Appends ,"name":"value" with value escaped as JSON requires. */
static void member_string(struct envol_buffer *b, const char *name, const char *value)
{
	const char *p = value, *run = value;

	member_name(b, name);
	(void)envol_buffer_append_char(b, '"');
	for (; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch != '"' && ch != '\\' && ch >= 0x20)
			continue;
		(void)envol_buffer_append(b, run, (size_t)(p - run));
		if (ch < 0x20)
			(void)envol_buffer_printf(b, "\\u%04x", ch);
		else
			(void)envol_buffer_printf(b, "\\%c", ch);
		run = p + 1;
	}
	(void)envol_buffer_append(b, run, (size_t)(p - run));
	(void)envol_buffer_append_char(b, '"');
}

/* Appends ,"name":"<base64>", leaving no unwiped copy of the base64 text behind. */
static int member_base64(struct envol_buffer *b, const char *name, const uint8_t *data, size_t len)
{
	char *text = envol_base64_encode(data, len);
	size_t n;

	if (!text)
		return -ENOMEM;
	n = strlen(text);
	member_name(b, name);
	(void)envol_buffer_append_char(b, '"');
	(void)envol_buffer_append(b, text, n);
	(void)envol_buffer_append_char(b, '"');
	envol_wipe(text, n);
	free(text);
	return 0;
}

/*
 * The cryptographic answers, by hand into a buffer that is wiped as it grows (jansson would
 * leave copies of the plaintext in freed heap memory), members in AWS's order.
 */
static int encode_crypto(const struct kms_result *r, char **ret)
{
	const struct kms_crypto_result *c = &r->crypto;
	_cleanup_buffer_ struct envol_buffer b = {.wipe = true};

	(void)envol_buffer_append_char(&b, '{');
	if (c->ciphertext_blob &&
	    member_base64(&b, "CiphertextBlob", c->ciphertext_blob, c->ciphertext_blob_len) < 0)
		return -ENOMEM;
	if (c->plaintext && member_base64(&b, "Plaintext", c->plaintext, c->plaintext_len) < 0)
		return -ENOMEM;
	if (c->source_key_id[0])
		member_string(&b, "SourceKeyId", c->source_key_id);
	if (r->key_id[0])
		member_string(&b, "KeyId", r->key_id);
	if (c->algorithm)
		member_string(&b, "EncryptionAlgorithm", ALGORITHM);
	if (c->source_destination_algorithms) {
		member_string(&b, "SourceEncryptionAlgorithm", ALGORITHM);
		member_string(&b, "DestinationEncryptionAlgorithm", ALGORITHM);
	}
	(void)envol_buffer_append_char(&b, '}');
	return envol_buffer_take(&b, ret, NULL);
}

int kms_response_encode(const struct kms *k, const struct kms_result *r, char **ret)
{
	json_t *o;
	char *s;

	if (r->type == KMS_RESULT_CRYPTO)
		return encode_crypto(r, ret);
	o = members(k, r);
	if (!o)
		return -ENOMEM;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
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
