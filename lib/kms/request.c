/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * request.c — decodes AWS KMS JSON 1.1 request bodies into struct kms_request, member by
 * member from one table per operation (names, JSON types, required, lengths, ranges, enums as
 * in botocore's kms/2014-11-01 model).  Unknown members are ignored, as AWS does.  Pure.
 */
#include <stdio.h>
#include <string.h>

#include "kms/kms.h"
#include "kms/request.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/macros.h"
#include "util/secure_mem.h"

enum mtype {
	M_STR,	   /* string, length min..max, optional enum */
	M_INT,	   /* integer, value min..max */
	M_BOOL,	   /* boolean, stored as int 0/1 (or ignored when off == NOOFF) */
	M_BLOB,	   /* base64 string, decoded length min..max */
	M_CTX,	   /* map string -> string */
	M_TAGS,	   /* list of {TagKey, TagValue} */
	M_STRLIST, /* list of strings, count <= max (pointer array, then its count) */
	M_CONSTRAINTS, /* GrantConstraints: two maps */
	M_UNSUP,   /* any JSON type; present (and not false/null) -> unsupported */
};

#define NOOFF SIZE_MAX

struct member {
	const char *name;
	enum mtype type;
	bool required;
	int64_t min, max;
	size_t off;
	const char *const *enumv;
};

#define OFF(f) offsetof(struct kms_request, f)

/* M_BLOB writes the length right after the pointer. */
_Static_assert(offsetof(struct kms_request, plaintext_len) ==
		   offsetof(struct kms_request, plaintext) + sizeof(uint8_t *),
	       "plaintext_len follows plaintext");
_Static_assert(offsetof(struct kms_request, ciphertext_blob_len) ==
		   offsetof(struct kms_request, ciphertext_blob) + sizeof(uint8_t *),
	       "ciphertext_blob_len follows ciphertext_blob");
/* M_STRLIST writes the count right after the pointer array. */
_Static_assert(offsetof(struct kms_request, n_tag_keys) ==
		   offsetof(struct kms_request, tag_keys) + sizeof(const char **),
	       "n_tag_keys follows tag_keys");
_Static_assert(offsetof(struct kms_request, n_grant_tokens) ==
		   offsetof(struct kms_request, grant_tokens) + sizeof(const char **),
	       "n_grant_tokens follows grant_tokens");
_Static_assert(offsetof(struct kms_request, n_grant_operations) ==
		   offsetof(struct kms_request, grant_operations) + sizeof(const char **),
	       "n_grant_operations follows grant_operations");

static const char *const e_key_usage[] = {"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC",
					  "KEY_AGREEMENT", NULL};
static const char *const e_key_spec[] = {
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    NULL,
};
static const char *const e_origin[] = {"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE",
				       NULL};
static const char *const e_alg[] = {"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256",
				    "SM2PKE", NULL};
static const char *const e_data_key_spec[] = {"AES_256", "AES_128", NULL};
static const char *const e_include[] = {"ALL_KEY_MATERIAL", "ROTATIONS_ONLY", NULL};

#define KEY_ID_REQ                                                                                 \
	{                                                                                          \
		"KeyId", M_STR, true, 1, 2048, OFF(key_id), NULL                                   \
	}
#define KEY_ID_OPT                                                                                 \
	{                                                                                          \
		"KeyId", M_STR, false, 1, 2048, OFF(key_id), NULL                                  \
	}
#define GRANT_TOKENS                                                                               \
	{                                                                                          \
		"GrantTokens", M_STRLIST, false, 0, 10, OFF(grant_tokens), NULL                    \
	}
#define LIMIT                                                                                      \
	{                                                                                          \
		"Limit", M_INT, false, 1, 1000, OFF(limit), NULL                                   \
	}
#define MARKER                                                                                     \
	{                                                                                          \
		"Marker", M_STR, false, 1, 1024, OFF(marker), NULL                                 \
	}
#define CONTEXT                                                                                    \
	{                                                                                          \
		"EncryptionContext", M_CTX, false, 0, 0, OFF(context), NULL                        \
	}
#define ALG                                                                                        \
	{                                                                                          \
		"EncryptionAlgorithm", M_STR, false, 0, 0, OFF(encryption_algorithm), e_alg        \
	}
#define DRY_RUN                                                                                    \
	{                                                                                          \
		"DryRun", M_UNSUP, false, 0, 0, NOOFF, NULL                                        \
	}
#define RECIPIENT                                                                                  \
	{                                                                                          \
		"Recipient", M_UNSUP, false, 0, 0, NOOFF, NULL                                     \
	}
#define POLICY_OPT                                                                                 \
	{                                                                                          \
		"Policy", M_STR, false, 1, KMS_POLICY_TEXT_MAX, OFF(policy), NULL                  \
	}
#define POLICY_NAME                                                                                \
	{                                                                                          \
		"PolicyName", M_STR, false, 1, 128, OFF(policy_name), NULL                         \
	}
#define BYPASS                                                                                     \
	{                                                                                          \
		"BypassPolicyLockoutSafetyCheck", M_BOOL, false, 0, 0, OFF(bypass_lockout), NULL   \
	}
#define END                                                                                        \
	{                                                                                          \
		NULL, 0, false, 0, 0, 0, NULL                                                      \
	}

static const struct member m_key_only[] = {KEY_ID_REQ, END};
static const struct member m_create_alias[] = {
    {"AliasName", M_STR, true, 1, 256, OFF(alias_name), NULL},
    {"TargetKeyId", M_STR, true, 1, 2048, OFF(target_key_id), NULL},
    END,
};
static const struct member m_create_key[] = {
    POLICY_OPT,
    {"Description", M_STR, false, 0, 8192, OFF(description), NULL},
    {"KeyUsage", M_STR, false, 0, 0, OFF(key_usage), e_key_usage},
    {"CustomerMasterKeySpec", M_STR, false, 0, 0, OFF(customer_master_key_spec), e_key_spec},
    {"KeySpec", M_STR, false, 0, 0, OFF(key_spec), e_key_spec},
    {"Origin", M_STR, false, 0, 0, OFF(origin), e_origin},
    {"CustomKeyStoreId", M_UNSUP, false, 0, 0, NOOFF, NULL},
    BYPASS,
    {"Tags", M_TAGS, false, 0, 0, OFF(tags), NULL},
    {"MultiRegion", M_BOOL, false, 0, 0, OFF(multi_region), NULL},
    {"XksKeyId", M_UNSUP, false, 0, 0, NOOFF, NULL},
    END,
};
static const struct member m_decrypt[] = {
    {"CiphertextBlob", M_BLOB, true, 1, KMS_MAX_CIPHERTEXT, OFF(ciphertext_blob), NULL},
    CONTEXT,
    GRANT_TOKENS,
    KEY_ID_OPT,
    ALG,
    RECIPIENT,
    DRY_RUN,
    END,
};
static const struct member m_alias_only[] = {
    {"AliasName", M_STR, true, 1, 256, OFF(alias_name), NULL},
    END,
};
static const struct member m_describe[] = {KEY_ID_REQ, GRANT_TOKENS, END};
static const struct member m_enable_rotation[] = {
    KEY_ID_REQ,
    {"RotationPeriodInDays", M_INT, false, 90, 2560, OFF(rotation_period_in_days), NULL},
    END,
};
static const struct member m_encrypt[] = {
    KEY_ID_REQ, {"Plaintext", M_BLOB, true, 1, KMS_MAX_PLAINTEXT, OFF(plaintext), NULL},
    CONTEXT,	GRANT_TOKENS,
    ALG,	DRY_RUN,
    END,
};
static const struct member m_gdk[] = {
    KEY_ID_REQ,
    CONTEXT,
    {"NumberOfBytes", M_INT, false, 1, 1024, OFF(number_of_bytes), NULL},
    {"KeySpec", M_STR, false, 0, 0, OFF(data_key_spec), e_data_key_spec},
    GRANT_TOKENS,
    RECIPIENT,
    DRY_RUN,
    END,
};
static const struct member m_gdkwp[] = {
    KEY_ID_REQ,
    CONTEXT,
    {"KeySpec", M_STR, false, 0, 0, OFF(data_key_spec), e_data_key_spec},
    {"NumberOfBytes", M_INT, false, 1, 1024, OFF(number_of_bytes), NULL},
    GRANT_TOKENS,
    DRY_RUN,
    END,
};
static const struct member m_random[] = {
    {"NumberOfBytes", M_INT, false, 1, 1024, OFF(number_of_bytes), NULL},
    {"CustomKeyStoreId", M_UNSUP, false, 0, 0, NOOFF, NULL},
    RECIPIENT,
    END,
};
static const struct member m_list_aliases[] = {KEY_ID_OPT, LIMIT, MARKER, END};
static const struct member m_list_rotations[] = {
    KEY_ID_REQ, {"IncludeKeyMaterial", M_STR, false, 0, 0, OFF(include_key_material), e_include},
    LIMIT,	MARKER,
    END,
};
static const struct member m_get_policy[] = {KEY_ID_REQ, POLICY_NAME, END};
static const struct member m_list_policies[] = {KEY_ID_REQ, LIMIT, MARKER, END};
static const struct member m_put_policy[] = {
    KEY_ID_REQ,
    POLICY_NAME,
    {"Policy", M_STR, true, 1, KMS_POLICY_TEXT_MAX, OFF(policy), NULL},
    BYPASS,
    END,
};
static const struct member m_list_keys[] = {LIMIT, MARKER, END};
static const struct member m_list_tags[] = {KEY_ID_REQ, LIMIT, MARKER, END};
static const struct member m_re_encrypt[] = {
    {"CiphertextBlob", M_BLOB, true, 1, KMS_MAX_CIPHERTEXT, OFF(ciphertext_blob), NULL},
    {"SourceEncryptionContext", M_CTX, false, 0, 0, OFF(context), NULL},
    {"SourceKeyId", M_STR, false, 1, 2048, OFF(source_key_id), NULL},
    {"DestinationKeyId", M_STR, true, 1, 2048, OFF(destination_key_id), NULL},
    {"DestinationEncryptionContext", M_CTX, false, 0, 0, OFF(dst_context), NULL},
    {"SourceEncryptionAlgorithm", M_STR, false, 0, 0, OFF(encryption_algorithm), e_alg},
    {"DestinationEncryptionAlgorithm", M_STR, false, 0, 0, OFF(destination_encryption_algorithm),
     e_alg},
    GRANT_TOKENS,
    DRY_RUN,
    END,
};
static const struct member m_schedule[] = {
    KEY_ID_REQ,
    {"PendingWindowInDays", M_INT, false, 1, 365, OFF(pending_window_in_days), NULL},
    END,
};
static const struct member m_tag[] = {
    KEY_ID_REQ,
    {"Tags", M_TAGS, true, 0, 0, OFF(tags), NULL},
    END,
};
static const struct member m_create_grant[] = {
    KEY_ID_REQ,
    {"GranteePrincipal", M_STR, true, 1, 256, OFF(grantee_principal), NULL},
    {"RetiringPrincipal", M_STR, false, 1, 256, OFF(retiring_principal), NULL},
    {"Operations", M_STRLIST, true, 0, 0, OFF(grant_operations), NULL},
    {"Constraints", M_CONSTRAINTS, false, 0, 0, NOOFF, NULL},
    GRANT_TOKENS,
    {"Name", M_STR, false, 1, 256, OFF(grant_name), NULL},
    {"DryRun", M_BOOL, false, 0, 0, OFF(dry_run), NULL},
    END,
};
static const struct member m_list_grants[] = {
    LIMIT,
    MARKER,
    KEY_ID_REQ,
    {"GrantId", M_STR, false, 1, 128, OFF(grant_id), NULL},
    {"GranteePrincipal", M_STR, false, 1, 256, OFF(grantee_principal), NULL},
    END,
};
static const struct member m_list_retirable[] = {
    LIMIT,
    MARKER,
    {"RetiringPrincipal", M_STR, true, 1, 256, OFF(retiring_principal), NULL},
    END,
};
static const struct member m_retire_grant[] = {
    {"GrantToken", M_STR, false, 1, 8192, OFF(grant_token), NULL},
    KEY_ID_OPT,
    {"GrantId", M_STR, false, 1, 128, OFF(grant_id), NULL},
    {"DryRun", M_UNSUP, false, 0, 0, NOOFF, NULL},
    END,
};
static const struct member m_revoke_grant[] = {
    KEY_ID_REQ,
    {"GrantId", M_STR, true, 1, 128, OFF(grant_id), NULL},
    {"DryRun", M_UNSUP, false, 0, 0, NOOFF, NULL},
    END,
};
static const struct member m_untag[] = {
    KEY_ID_REQ,
    {"TagKeys", M_STRLIST, true, 0, KMS_MAX_TAGS, OFF(tag_keys), NULL},
    END,
};
static const struct member m_update_desc[] = {
    KEY_ID_REQ,
    {"Description", M_STR, true, 0, 8192, OFF(description), NULL},
    END,
};

static const struct member *const op_members[KMS_OP_MAX] = {
    [KMS_OP_CANCEL_KEY_DELETION] = m_key_only,
    [KMS_OP_CREATE_ALIAS] = m_create_alias,
    [KMS_OP_CREATE_GRANT] = m_create_grant,
    [KMS_OP_CREATE_KEY] = m_create_key,
    [KMS_OP_DECRYPT] = m_decrypt,
    [KMS_OP_DELETE_ALIAS] = m_alias_only,
    [KMS_OP_DESCRIBE_KEY] = m_describe,
    [KMS_OP_DISABLE_KEY] = m_key_only,
    [KMS_OP_DISABLE_KEY_ROTATION] = m_key_only,
    [KMS_OP_ENABLE_KEY] = m_key_only,
    [KMS_OP_ENABLE_KEY_ROTATION] = m_enable_rotation,
    [KMS_OP_ENCRYPT] = m_encrypt,
    [KMS_OP_GENERATE_DATA_KEY] = m_gdk,
    [KMS_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT] = m_gdkwp,
    [KMS_OP_GENERATE_RANDOM] = m_random,
    [KMS_OP_GET_KEY_POLICY] = m_get_policy,
    [KMS_OP_GET_KEY_ROTATION_STATUS] = m_key_only,
    [KMS_OP_LIST_ALIASES] = m_list_aliases,
    [KMS_OP_LIST_KEY_ROTATIONS] = m_list_rotations,
    [KMS_OP_LIST_GRANTS] = m_list_grants,
    [KMS_OP_LIST_KEYS] = m_list_keys,
    [KMS_OP_LIST_KEY_POLICIES] = m_list_policies,
    [KMS_OP_LIST_RETIRABLE_GRANTS] = m_list_retirable,
    [KMS_OP_PUT_KEY_POLICY] = m_put_policy,
    [KMS_OP_LIST_RESOURCE_TAGS] = m_list_tags,
    [KMS_OP_RE_ENCRYPT] = m_re_encrypt,
    [KMS_OP_RETIRE_GRANT] = m_retire_grant,
    [KMS_OP_REVOKE_GRANT] = m_revoke_grant,
    [KMS_OP_ROTATE_KEY_ON_DEMAND] = m_key_only,
    [KMS_OP_SCHEDULE_KEY_DELETION] = m_schedule,
    [KMS_OP_TAG_RESOURCE] = m_tag,
    [KMS_OP_UNTAG_RESOURCE] = m_untag,
    [KMS_OP_UPDATE_ALIAS] = m_create_alias,
    [KMS_OP_UPDATE_KEY_DESCRIPTION] = m_update_desc,
};

/* "KeyId" -> "keyId", as AWS names members in validation messages. */
static void camel(const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", name);
	if (out[0] >= 'A' && out[0] <= 'Z')
		out[0] = (char)(out[0] - 'A' + 'a');
}

static int fail_constraint(char *err, size_t errlen, const char *member, const char *value,
			   const char *constraint)
{
	char c[64];

	camel(member, c, sizeof c);
	return envol_fail(KMS_ERR_VALIDATION, err, errlen,
			  "1 validation error detected: Value %s%.64s%s at '%s' failed to satisfy "
			  "constraint: Member must %s",
			  value ? "'" : "", value ? value : "null", value ? "'" : "", c,
			  constraint);
}

static int fail_type(char *err, size_t errlen, const char *member, const char *expected)
{
	return envol_fail(
	    KMS_ERR_SERIALIZATION, err, errlen,
	    "Start of structure or map found where not expected, or wrong JSON type for "
	    "member %s (expected %s)",
	    member, expected);
}

static int check_enum(const struct member *m, const char *v, char *err, size_t errlen)
{
	char buf[512];
	size_t used = 0;

	if (!m->enumv)
		return 0;
	for (const char *const *e = m->enumv; *e; e++)
		if (strcmp(*e, v) == 0)
			return 0;
	buf[0] = 0;
	for (const char *const *e = m->enumv; *e && used < sizeof buf - 1; e++)
		used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s",
					 e == m->enumv ? "" : ", ", *e);
	{
		char c[600];

		snprintf(c, sizeof c, "satisfy enum value set: [%s]", buf);
		return fail_constraint(err, errlen, m->name, v, c);
	}
}

static int decode_context(const struct member *m, json_t *v, struct kms_context *c, char *err,
			  size_t errlen)
{
	const char *key;
	json_t *val;
	size_t n = json_object_size(v), i = 0;
	int r;

	if (!json_is_object(v))
		return fail_type(err, errlen, m->name, "a map of strings");
	c->present = true;
	if (n > 0) {
		c->keys = calloc(n, sizeof(*c->keys));
		c->values = calloc(n, sizeof(*c->values));
		if (!c->keys || !c->values)
			return envol_fail(KMS_ERR_INTERNAL, err, errlen, "out of memory");
	}
	json_object_foreach(v, key, val)
	{
		if (!json_is_string(val))
			return fail_type(err, errlen, m->name, "string values");
		/* insertion sort by key bytes: contexts are small */
		size_t j = i;
		while (j > 0 && strcmp(c->keys[j - 1], key) > 0) {
			c->keys[j] = c->keys[j - 1];
			c->values[j] = c->values[j - 1];
			j--;
		}
		c->keys[j] = key;
		c->values[j] = json_string_value(val);
		i++;
	}
	c->n = i;
	r = kms_context_canonical(c->keys, c->values, c->n, &c->canon, &c->canon_len);
	if (r < 0)
		return envol_fail(r == -ENOMEM ? KMS_ERR_INTERNAL : KMS_ERR_VALIDATION, err, errlen,
				  "encryption context too large");
	return 0;
}

static int decode_tags(const struct member *m, json_t *v, struct kms_request *r, char *err,
		       size_t errlen)
{
	size_t idx;
	json_t *t;

	if (!json_is_array(v))
		return fail_type(err, errlen, m->name, "a list");
	if (json_array_size(v) > KMS_MAX_TAGS)
		return envol_fail(KMS_ERR_TAG, err, errlen, "Too many tags: at most %d per request",
				  KMS_MAX_TAGS);
	if (json_array_size(v) > 0) {
		r->tags = calloc(json_array_size(v), sizeof(*r->tags));
		if (!r->tags)
			return envol_fail(KMS_ERR_INTERNAL, err, errlen, "out of memory");
	}
	json_array_foreach(v, idx, t)
	{
		json_t *k, *val;

		if (!json_is_object(t))
			return fail_type(err, errlen, "Tags", "a structure");
		k = json_object_get(t, "TagKey");
		val = json_object_get(t, "TagValue");
		if ((k && !json_is_null(k) && !json_is_string(k)) ||
		    (val && !json_is_null(val) && !json_is_string(val)))
			return fail_type(err, errlen, "TagKey", "a string");
		if (!k || json_is_null(k))
			return fail_constraint(err, errlen, "TagKey", NULL, "not be null");
		if (!val || json_is_null(val))
			return fail_constraint(err, errlen, "TagValue", NULL, "not be null");
		if (json_string_length(k) < 1 || json_string_length(k) > 128)
			return fail_constraint(err, errlen, "TagKey", json_string_value(k),
					       "have length between 1 and 128");
		if (json_string_length(val) > 256)
			return fail_constraint(err, errlen, "TagValue", json_string_value(val),
					       "have length less than or equal to 256");
		r->tags[r->n_tags].key = json_string_value(k);
		r->tags[r->n_tags].value = json_string_value(val);
		r->n_tags++;
	}
	return 0;
}

static int decode_member(const struct member *m, json_t *v, struct kms_request *r, char *err,
			 size_t errlen)
{
	char *base = (char *)r;
	char num[32];
	int q;

	switch (m->type) {
	case M_STR: {
		const char *s;
		size_t len;

		if (!json_is_string(v))
			return fail_type(err, errlen, m->name, "a string");
		s = json_string_value(v);
		len = json_string_length(v);
		if (m->max > 0 && ((int64_t)len < m->min || (int64_t)len > m->max)) {
			char c[80];

			snprintf(c, sizeof c, "have length between %lld and %lld",
				 (long long)m->min, (long long)m->max);
			return fail_constraint(err, errlen, m->name, s, c);
		}
		if (strlen(s) != len)
			return envol_fail(KMS_ERR_SERIALIZATION, err, errlen, "NUL in member %s",
					  m->name);
		q = check_enum(m, s, err, errlen);
		if (q)
			return q;
		*(const char **)(base + m->off) = s;
		return 0;
	}
	case M_INT: {
		json_int_t i;

		if (!json_is_integer(v))
			return fail_type(err, errlen, m->name, "an integer");
		i = json_integer_value(v);
		snprintf(num, sizeof num, "%lld", (long long)i);
		if (i < m->min) {
			char c[80];

			snprintf(c, sizeof c, "have value greater than or equal to %lld",
				 (long long)m->min);
			return fail_constraint(err, errlen, m->name, num, c);
		}
		if (i > m->max) {
			char c[80];

			snprintf(c, sizeof c, "have value less than or equal to %lld",
				 (long long)m->max);
			return fail_constraint(err, errlen, m->name, num, c);
		}
		*(int64_t *)(base + m->off) = i;
		return 0;
	}
	case M_BOOL:
		if (!json_is_boolean(v))
			return fail_type(err, errlen, m->name, "a boolean");
		if (m->off != NOOFF)
			*(int *)(base + m->off) = json_is_true(v) ? 1 : 0;
		return 0;
	case M_BLOB: {
		uint8_t *d = NULL;
		size_t n = 0;
		int e;

		if (!json_is_string(v))
			return fail_type(err, errlen, m->name, "a base64 string");
		e = envol_base64_decode(json_string_value(v), json_string_length(v), &d, &n);
		if (e == -ENOMEM)
			return envol_fail(KMS_ERR_INTERNAL, err, errlen, "out of memory");
		if (e < 0)
			return envol_fail(KMS_ERR_SERIALIZATION, err, errlen,
					  "Member %s is not valid base64 (RFC 4648, padded)",
					  m->name);
		if ((int64_t)n < m->min || (int64_t)n > m->max) {
			char c[80];

			envol_wipe(d, n);
			free(d);
			snprintf(c, sizeof c, "have length between %lld and %lld",
				 (long long)m->min, (long long)m->max);
			return fail_constraint(err, errlen, m->name, "java.nio.HeapByteBuffer", c);
		}
		*(uint8_t **)(base + m->off) = d;
		*(size_t *)(base + m->off + sizeof(uint8_t *)) = n;
		return 0;
	}
	case M_CTX:
		return decode_context(m, v, (struct kms_context *)(base + m->off), err, errlen);
	case M_TAGS:
		return decode_tags(m, v, r, err, errlen);
	case M_STRLIST: {
		size_t idx, n = json_array_size(v);
		json_t *e;

		if (!json_is_array(v))
			return fail_type(err, errlen, m->name, "a list");
		json_array_foreach(v, idx, e) if (!json_is_string(e)) return fail_type(
		    err, errlen, m->name, "a list of strings");
		if (m->max > 0 && n > (size_t)m->max) {
			char c[80];

			snprintf(c, sizeof c, "have length less than or equal to %lld",
				 (long long)m->max);
			return fail_constraint(err, errlen, m->name, "[...]", c);
		}
		if (m->off == NOOFF)
			return 0;
		if (n > 0) {
			const char **l = calloc(n, sizeof(*l));

			if (!l)
				return envol_fail(KMS_ERR_INTERNAL, err, errlen, "out of memory");
			json_array_foreach(v, idx, e) l[idx] = json_string_value(e);
			*(const char ***)(base + m->off) = l;
		}
		*(size_t *)(base + m->off + sizeof(const char **)) = n;
		return 0;
	}
	case M_CONSTRAINTS: {
		static const struct member eq = {"EncryptionContextEquals", M_CTX, false, 0, 0,
						 OFF(grant_equals), NULL};
		static const struct member sub = {"EncryptionContextSubset", M_CTX, false, 0, 0,
						  OFF(grant_subset), NULL};
		json_t *e;

		if (!json_is_object(v))
			return fail_type(err, errlen, m->name, "a structure");
		e = json_object_get(v, eq.name);
		if (e && !json_is_null(e) &&
		    (q = decode_context(&eq, e, &r->grant_equals, err, errlen)))
			return q;
		e = json_object_get(v, sub.name);
		if (e && !json_is_null(e) &&
		    (q = decode_context(&sub, e, &r->grant_subset, err, errlen)))
			return q;
		return 0;
	}
	case M_UNSUP:
		if (json_is_false(v))
			return 0;
		return envol_fail(KMS_ERR_UNSUPPORTED_OPERATION, err, errlen,
				  "%s is not supported by envol-kmsd", m->name);
	}
	return envol_fail(KMS_ERR_INTERNAL, err, errlen, "bad member table");
}

int kms_request_decode(enum kms_op op, const char *body, size_t body_len, struct kms_request *ret,
		       char *err, size_t errlen)
{
	struct kms_request r = {.op = op, .multi_region = -1};
	const struct member *members;
	json_error_t jerr;
	int q = 0;

	if ((unsigned)op >= KMS_OP_MAX)
		return envol_fail(KMS_ERR_UNKNOWN_OPERATION, err, errlen, "unknown operation");
	members = op_members[op];

	if (body_len == 0)
		r.root = json_object();
	else
		r.root = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r.root)
		return envol_fail(KMS_ERR_SERIALIZATION, err, errlen, "Malformed JSON: %s",
				  jerr.text);
	if (!json_is_object(r.root)) {
		q = envol_fail(KMS_ERR_SERIALIZATION, err, errlen,
			       "Request body must be a JSON object");
		goto out;
	}

	/* Types and values first, then missing required members (as AWS: a null counts as
	 * absent). */
	for (const struct member *m = members; m->name; m++) {
		json_t *v = json_object_get(r.root, m->name);

		if (!v || json_is_null(v))
			continue;
		q = decode_member(m, v, &r, err, errlen);
		if (q)
			goto out;
	}
	for (const struct member *m = members; m->name; m++) {
		json_t *v = json_object_get(r.root, m->name);

		if (m->required && (!v || json_is_null(v))) {
			q = fail_constraint(err, errlen, m->name, NULL, "not be null");
			goto out;
		}
	}
	*ret = r;
	return 0;
out:
	kms_request_done(&r);
	return q;
}

void kms_request_done(struct kms_request *r)
{
	if (!r)
		return;
	if (r->plaintext) {
		envol_wipe(r->plaintext, r->plaintext_len);
		free(r->plaintext);
	}
	/* The base64 text of Plaintext sits in the JSON tree: wipe it too. */
	if (r->root && json_is_object(r->root)) {
		json_t *p = json_object_get(r->root, "Plaintext");

		if (json_is_string(p))
			envol_wipe((char *)json_string_value(p), json_string_length(p));
	}
	free(r->ciphertext_blob);
	kms_context_done(&r->context);
	kms_context_done(&r->dst_context);
	free(r->tags);
	free(r->tag_keys);
	free(r->grant_tokens);
	free(r->grant_operations);
	kms_context_done(&r->grant_equals);
	kms_context_done(&r->grant_subset);
	json_decref(r->root);
	memset(r, 0, sizeof(*r));
	r->multi_region = -1;
}
