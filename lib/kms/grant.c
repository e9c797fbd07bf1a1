/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* grant.c — KMS grants as data (grant.h): operations, constraints, derivation, ids, tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/hkdf.h"
#include "kms/grant.h"
#include "util/buffer.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/macros.h"
#include "util/secure_mem.h"

static const char *const op_names[KMS_GRANT_OP_COUNT] = {
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
};

#define OPS_WITH_CONTEXT                                                                           \
	(KMS_GRANT_DECRYPT | KMS_GRANT_ENCRYPT | KMS_GRANT_GENERATE_DATA_KEY |                     \
	 KMS_GRANT_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT | KMS_GRANT_RE_ENCRYPT_FROM |               \
	 KMS_GRANT_RE_ENCRYPT_TO | KMS_GRANT_GENERATE_DATA_KEY_PAIR |                              \
	 KMS_GRANT_GENERATE_DATA_KEY_PAIR_WITHOUT_PLAINTEXT)
/* Cryptographic operations of asymmetric and HMAC keys: no encryption context, so no
 * constraint may go with them. */
#define OPS_NO_CONSTRAINTS                                                                         \
	(KMS_GRANT_SIGN | KMS_GRANT_VERIFY | KMS_GRANT_GET_PUBLIC_KEY | KMS_GRANT_GENERATE_MAC |   \
	 KMS_GRANT_VERIFY_MAC | KMS_GRANT_DERIVE_SHARED_SECRET)

static bool one_bit(uint32_t op)
{
	return op && !(op & (op - 1)) && op < (1u << KMS_GRANT_OP_COUNT);
}

const char *kms_grant_op_name(uint32_t op)
{
	if (!one_bit(op))
		return NULL;
	return op_names[__builtin_ctz(op)];
}

int kms_grant_op_from_name(const char *name)
{
	for (int i = 0; name && i < KMS_GRANT_OP_COUNT; i++)
		if (strcmp(op_names[i], name) == 0)
			return (int)(1u << i);
	return -EINVAL;
}

bool kms_grant_op_uses_context(uint32_t op) { return one_bit(op) && (op & OPS_WITH_CONTEXT); }

static void append_op_names(struct envol_buffer *b, uint32_t ops)
{
	bool first = true;

	for (int i = 0; i < KMS_GRANT_OP_COUNT; i++) {
		if (!(ops & (1u << i)))
			continue;
		envol_buffer_printf(b, "%s%s", first ? "" : ", ", op_names[i]);
		first = false;
	}
}

int kms_grant_ops_parse(const char *const *names, size_t n, uint32_t allowed, uint32_t *ret,
			char *err, size_t errlen)
{
	_cleanup_buffer_ struct envol_buffer b = ENVOL_BUFFER_INIT;
	uint32_t ops = 0;

	if (n == 0 || !names)
		return envol_fail(-EINVAL, err, errlen,
				  "1 validation error detected: Value '[]' at 'operations' failed "
				  "to satisfy constraint: Member must have length greater than or "
				  "equal to 1");
	for (size_t i = 0; i < n; i++) {
		int bit = kms_grant_op_from_name(names[i]);

		if (bit < 0) {
			append_op_names(&b, (1u << KMS_GRANT_OP_COUNT) - 1);
			return envol_fail(
			    -EINVAL, err, errlen,
			    "1 validation error detected: Value '[%s]' at "
			    "'operations' failed to satisfy constraint: Member must "
			    "satisfy constraint: [Member must satisfy enum value set: "
			    "[%s]]",
			    names[i] ? names[i] : "null", b.data ? b.data : "");
		}
		ops |= (uint32_t)bit;
	}
	if (ops & ~allowed) {
		_cleanup_buffer_ struct envol_buffer sup = ENVOL_BUFFER_INIT;

		append_op_names(&b, ops & ~allowed);
		append_op_names(&sup, allowed);
		return envol_fail(-EINVAL, err, errlen,
				  "Grant operations [%s] are not valid for this KMS key, which "
				  "supports [%s]",
				  b.data ? b.data : "", sup.data ? sup.data : "");
	}
	*ret = ops;
	return 0;
}

/* ---- constraints ---- */

static int validate_pairs(const struct kms_pairs *p, const char *what, char *err, size_t errlen)
{
	if (p->n && (!p->keys || !p->values))
		return envol_fail(-EINVAL, err, errlen, "%s: bad pairs", what);
	if (p->n > KMS_GRANT_CONSTRAINT_MAX_PAIRS)
		return envol_fail(-EINVAL, err, errlen,
				  "%s holds %zu encryption context pairs; the limit is %d", what,
				  p->n, KMS_GRANT_CONSTRAINT_MAX_PAIRS);
	for (size_t i = 0; i < p->n; i++) {
		if (!p->keys[i] || !p->values[i] || !p->keys[i][0])
			return envol_fail(-EINVAL, err, errlen,
					  "%s: encryption context keys must not be empty", what);
		if (strlen(p->values[i]) > KMS_GRANT_CONSTRAINT_MAX_VALUE)
			return envol_fail(-EINVAL, err, errlen,
					  "%s: the value of %s is longer than %d characters", what,
					  p->keys[i], KMS_GRANT_CONSTRAINT_MAX_VALUE);
	}
	return 0;
}

int kms_grant_constraints_validate(const struct kms_grant_constraints *c, uint32_t ops, char *err,
				   size_t errlen)
{
	int r;

	if (!c || (!c->has_equals && !c->has_subset))
		return 0;
	if (c->has_equals) {
		r = validate_pairs(&c->equals, "EncryptionContextEquals", err, errlen);
		if (r < 0)
			return r;
	}
	if (c->has_subset) {
		r = validate_pairs(&c->subset, "EncryptionContextSubset", err, errlen);
		if (r < 0)
			return r;
	}
	if (ops & OPS_NO_CONSTRAINTS) {
		_cleanup_buffer_ struct envol_buffer b = ENVOL_BUFFER_INIT;

		append_op_names(&b, ops & OPS_NO_CONSTRAINTS);
		return envol_fail(-EINVAL, err, errlen,
				  "Grant constraints cannot be used with operations that take no "
				  "encryption context: %s",
				  b.data ? b.data : "");
	}
	return 0;
}

/* Is (key, value) one of the pairs of p?  Key case-insensitive, value exact. */
static bool has_pair(const struct kms_pairs *p, const char *key, const char *value)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (strcasecmp(p->keys[i], key) == 0 && strcmp(p->values[i], value) == 0)
			return true;
	return false;
}

/* Every pair of a is in b. */
static bool pairs_within(const struct kms_pairs *a, const struct kms_pairs *b)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (!has_pair(b, a->keys[i], a->values[i]))
			return false;
	return true;
}

static bool pairs_equal(const struct kms_pairs *a, const struct kms_pairs *b)
{
	size_t an = a ? a->n : 0, bn = b ? b->n : 0;

	return an == bn && pairs_within(a, b) && pairs_within(b, a);
}

bool kms_grant_context_ok(const struct kms_grant_constraints *c, const struct kms_pairs *ctx)
{
	if (!c)
		return true;
	if (c->has_equals && !pairs_equal(&c->equals, ctx))
		return false;
	if (c->has_subset && !pairs_within(&c->subset, ctx))
		return false;
	return true;
}

bool kms_grant_allows(const struct kms_grant *g, const char *principal, uint32_t op,
		      const struct kms_pairs *ctx)
{
	if (!g || !g->grantee || !principal || strcmp(g->grantee, principal) != 0)
		return false;
	if (!one_bit(op) || !(g->ops & op))
		return false;
	if (kms_grant_op_uses_context(op))
		return kms_grant_context_ok(&g->constraints, ctx);
	return true;
}

int kms_grant_derive_check(const struct kms_grant *parent, uint32_t ops,
			   const struct kms_grant_constraints *child, char *err, size_t errlen)
{
	const struct kms_grant_constraints *pc = &parent->constraints;
	bool ce = child && child->has_equals, cs = child && child->has_subset;

	if (!(parent->ops & KMS_GRANT_CREATE_GRANT))
		return envol_fail(-EACCES, err, errlen, "The grant does not allow CreateGrant");
	if (ops & ~parent->ops) {
		_cleanup_buffer_ struct envol_buffer b = ENVOL_BUFFER_INIT;

		append_op_names(&b, ops & ~parent->ops);
		return envol_fail(-EACCES, err, errlen,
				  "A grant can only create grants for its own operations; it does "
				  "not allow %s",
				  b.data ? b.data : "");
	}
	if (pc->has_equals && !(ce && pairs_equal(&child->equals, &pc->equals)))
		return envol_fail(-EACCES, err, errlen,
				  "The grant allows CreateGrant only for grants with the same "
				  "EncryptionContextEquals constraint");
	if (pc->has_subset && !((ce && pairs_within(&pc->subset, &child->equals)) ||
				(cs && pairs_within(&pc->subset, &child->subset))))
		return envol_fail(-EACCES, err, errlen,
				  "The grant allows CreateGrant only for grants whose constraint "
				  "holds every pair of its EncryptionContextSubset");
	return 0;
}

static bool str_eq(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

bool kms_grant_equal(const struct kms_grant *a, const struct kms_grant *b)
{
	const struct kms_grant_constraints *x = &a->constraints, *y = &b->constraints;

	return str_eq(a->grantee, b->grantee) && str_eq(a->retiring, b->retiring) &&
	       str_eq(a->name, b->name) && a->ops == b->ops && x->has_equals == y->has_equals &&
	       x->has_subset == y->has_subset &&
	       (!x->has_equals || pairs_equal(&x->equals, &y->equals)) &&
	       (!x->has_subset || pairs_equal(&x->subset, &y->subset));
}

bool kms_grant_may_retire(const struct kms_grant *g, const char *principal, const char *account)
{
	char root[40];

	if (!g || !principal)
		return false;
	if (g->retiring && strcmp(g->retiring, principal) == 0)
		return true;
	if ((g->ops & KMS_GRANT_RETIRE_GRANT) && g->grantee && strcmp(g->grantee, principal) == 0)
		return true;
	if (account && strlen(account) == 12) {
		snprintf(root, sizeof(root), "arn:aws:iam::%s:root", account);
		return strcmp(root, principal) == 0;
	}
	return false;
}

bool kms_grant_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > KMS_GRANT_NAME_MAX)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == ':' || *c == '/' || *c == '_' || *c == '-'))
			return false;
	return true;
}

/* ---- ids and tokens ---- */

void kms_grant_id_format(const uint8_t id[KMS_GRANT_ID_LEN], char out[2 * KMS_GRANT_ID_LEN + 1])
{
	envol_hex_encode(id, KMS_GRANT_ID_LEN, out);
}

int kms_grant_id_parse(const char *text, uint8_t out[KMS_GRANT_ID_LEN])
{
	if (!text)
		return -EINVAL;
	return envol_hex_decode(text, strlen(text), out, KMS_GRANT_ID_LEN);
}

int kms_grant_token_key(const uint8_t *root_key, size_t root_key_len,
			uint8_t out[KMS_GRANT_TOKEN_KEY_LEN])
{
	static const char info[] = "envol grant token v1";

	return envol_hkdf_sha256(NULL, 0, root_key, root_key_len, (const uint8_t *)info,
				 sizeof(info) - 1, out, KMS_GRANT_TOKEN_KEY_LEN);
}

#define TOKEN_VERSION 1
#define TOKEN_BODY_LEN (1 + 16 + KMS_GRANT_ID_LEN + KMS_GRANT_NONCE_LEN)
#define TOKEN_TAG_LEN 16
#define TOKEN_LEN (TOKEN_BODY_LEN + TOKEN_TAG_LEN)

int kms_grant_token_make(const uint8_t key[KMS_GRANT_TOKEN_KEY_LEN], const uint8_t key_id[16],
			 const uint8_t grant_id[KMS_GRANT_ID_LEN],
			 const uint8_t nonce[KMS_GRANT_NONCE_LEN], char **ret)
{
	uint8_t t[TOKEN_LEN], mac[32];
	char *s;
	int r;

	t[0] = TOKEN_VERSION;
	memcpy(t + 1, key_id, 16);
	memcpy(t + 17, grant_id, KMS_GRANT_ID_LEN);
	memcpy(t + 17 + KMS_GRANT_ID_LEN, nonce, KMS_GRANT_NONCE_LEN);
	r = envol_hmac_sha256(key, KMS_GRANT_TOKEN_KEY_LEN, t, TOKEN_BODY_LEN, mac);
	if (r < 0)
		return r;
	memcpy(t + TOKEN_BODY_LEN, mac, TOKEN_TAG_LEN);
	s = envol_base64_encode(t, sizeof(t));
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int kms_grant_token_check(const uint8_t key[KMS_GRANT_TOKEN_KEY_LEN], const char *token,
			  uint8_t ret_key_id[16], uint8_t ret_grant_id[KMS_GRANT_ID_LEN])
{
	_cleanup_free_ uint8_t *t = NULL;
	uint8_t mac[32];
	size_t n = token ? strlen(token) : 0, tn = 0;
	int r;

	if (n == 0 || n > KMS_GRANT_TOKEN_MAX_LEN)
		return -EBADMSG;
	r = envol_base64_decode(token, n, &t, &tn);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || tn != TOKEN_LEN || t[0] != TOKEN_VERSION)
		return -EBADMSG;
	r = envol_hmac_sha256(key, KMS_GRANT_TOKEN_KEY_LEN, t, TOKEN_BODY_LEN, mac);
	if (r < 0)
		return r;
	bool same = envol_memequal_consttime(mac, t + TOKEN_BODY_LEN, TOKEN_TAG_LEN);
	envol_wipe(mac, sizeof(mac));
	if (!same)
		return -EBADMSG;
	memcpy(ret_key_id, t + 1, 16);
	memcpy(ret_grant_id, t + 17, KMS_GRANT_ID_LEN);
	return 0;
}
