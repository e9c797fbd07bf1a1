/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grants.c — the grant operations (CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
 * RevokeGrant), GrantTokens, and the grant half of authorization that authz.c asks for when
 * no policy allowed a request: does a grant of this key for this caller carry the operation,
 * its constraints met?  The logic of a grant is grant.h's; its rows are the store's
 * (store_grants.c).  The operations run with the store locked (kms.c); the authorization
 * helpers lock it themselves (the mutex is recursive).
 */
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "kms/grant.h"
#include "kms/internal.h"
#include "kms/policy.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/secure_mem.h"

#define DRY_RUN_MSG "The request would have succeeded, but the DryRun option is set."

int kms_grants_init(struct kms *k)
{
	int r;

	k->grant_token_key = envol_secure_alloc(KMS_GRANT_TOKEN_KEY_LEN);
	if (!k->grant_token_key)
		return -ENOMEM;
	r = kms_grant_token_key(kms_store_root_key(k->store), 32, k->grant_token_key);
	if (r < 0)
		k->grant_token_key = envol_secure_free(k->grant_token_key);
	return r;
}

void kms_grants_done(struct kms *k) { k->grant_token_key = envol_secure_free(k->grant_token_key); }

/* ---- a grant row as grant.h sees it ---- */

struct grant_view {
	struct kms_grant g;
	json_t *root; /* the constraints JSON the pairs point into */
	const char *keys[2][KMS_GRANT_CONSTRAINT_MAX_PAIRS];
	const char *values[2][KMS_GRANT_CONSTRAINT_MAX_PAIRS];
};

static void grant_view_done(struct grant_view *v) { json_decref(v->root); }

/* One constraint member of the stored JSON into pairs: true if present. */
static bool view_pairs(struct grant_view *v, int i, const char *name, struct kms_pairs *p)
{
	json_t *o = json_object_get(v->root, name), *val;
	const char *key;
	size_t n = 0;

	if (!json_is_object(o))
		return false;
	json_object_foreach(o, key, val)
	{
		if (n == KMS_GRANT_CONSTRAINT_MAX_PAIRS || !json_is_string(val))
			break;
		v->keys[i][n] = key;
		v->values[i][n] = json_string_value(val);
		n++;
	}
	*p = (struct kms_pairs){v->keys[i], v->values[i], n};
	return true;
}

/* Fills v from row (which must outlive v): 0 or -EBADMSG. */
static int grant_view(const struct kms_grant_row *row, struct grant_view *v)
{
	struct kms_grant_constraints *c = &v->g.constraints;

	memset(v, 0, sizeof(*v));
	v->g = (struct kms_grant){
	    .grantee = row->grantee, .retiring = row->retiring, .name = row->name, .ops = row->ops};
	if (!row->constraints)
		return 0;
	v->root = json_loads(row->constraints, 0, NULL);
	if (!json_is_object(v->root)) {
		json_decref(v->root);
		v->root = NULL;
		return -EBADMSG;
	}
	c->has_equals = view_pairs(v, 0, "EncryptionContextEquals", &c->equals);
	c->has_subset = view_pairs(v, 1, "EncryptionContextSubset", &c->subset);
	return 0;
}

static bool same_grant(const struct kms_grant_row *a, const struct kms_grant_row *b)
{
	struct grant_view x, y;
	bool same = false;

	if (grant_view(a, &x) < 0)
		return false;
	if (grant_view(b, &y) == 0) {
		same = kms_grant_equal(&x.g, &y.g);
		grant_view_done(&y);
	}
	grant_view_done(&x);
	return same;
}

static struct kms_pairs context_pairs(const struct kms_context *ctx)
{
	return (struct kms_pairs){ctx->keys, ctx->values, ctx->n};
}

/* The constraints of a CreateGrant request (pointing into it). */
static struct kms_grant_constraints request_constraints(const struct kms_request *q)
{
	return (struct kms_grant_constraints){
	    .has_equals = q->grant_equals.present,
	    .has_subset = q->grant_subset.present,
	    .equals = context_pairs(&q->grant_equals),
	    .subset = context_pairs(&q->grant_subset),
	};
}

/* The Constraints member as stored: compact JSON, NULL in *ret when there is none. */
static int constraints_json(const struct kms_request *q, char **ret)
{
	json_t *o;
	bool ok = true;

	*ret = NULL;
	if (!q->grant_equals.present && !q->grant_subset.present)
		return 0;
	o = json_object();
	if (!o)
		return -ENOMEM;
	if (q->grant_equals.present && json_object_set_new(o, "EncryptionContextEquals",
							   kms_context_json(&q->grant_equals)) < 0)
		ok = false;
	if (q->grant_subset.present && json_object_set_new(o, "EncryptionContextSubset",
							   kms_context_json(&q->grant_subset)) < 0)
		ok = false;
	if (ok)
		*ret = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return *ret ? 0 : -ENOMEM;
}

/* ---- GrantTokens ---- */

static int fail_token(struct kms_call *c)
{
	return kms_fail(c, KMS_ERR_INVALID_GRANT_TOKEN,
			"Invalid grant token: it was not issued by this KMS for key %s",
			c->key_arn);
}

int kms_grant_tokens_check(struct kms_call *c, const char *key_id)
{
	uint8_t want[16], kid[16], gid[KMS_GRANT_ID_LEN];

	if (c->req.n_grant_tokens == 0)
		return 0;
	if (envol_uuid_parse(key_id, want) < 0)
		return fail_token(c);
	for (size_t i = 0; i < c->req.n_grant_tokens; i++) {
		int r =
		    kms_grant_token_check(c->k->grant_token_key, c->req.grant_tokens[i], kid, gid);

		if (r == -EBADMSG)
			return fail_token(c);
		if (r < 0)
			return kms_fail_internal(c, r, "grant token");
		if (memcmp(kid, want, 16) == 0)
			continue;
		/* ReEncrypt names two keys: a token may be for either. */
		if (c->req.op == KMS_OP_RE_ENCRYPT) {
			char id[KMS_KEY_ID_SIZE], arn[KMS_ARN_MAX];

			if (c->action && strcmp(c->action, "ReEncryptFrom") == 0)
				continue; /* checked against both keys at ReEncryptTo */
			envol_uuid_format(kid, id);
			kms_key_arn(c->k, id, arn);
			if (strcmp(arn, c->result.crypto.source_key_id) == 0)
				continue;
		}
		return fail_token(c);
	}
	return 0;
}

/* ---- authorization by a grant ---- */

struct match {
	struct kms_call *c;
	const char *principal;
	uint32_t op;
	struct kms_pairs ctx;
	uint32_t child_ops; /* CreateGrant: what the new grant asks */
	struct kms_grant_constraints child;
};

static int match_grant(const struct kms_grant_row *row, void *userdata)
{
	struct match *m = userdata;
	struct grant_view v;
	char err[256];
	bool ok;

	if (grant_view(row, &v) < 0)
		return 0; /* a row that cannot be right allows nothing */
	if (m->op == KMS_GRANT_CREATE_GRANT)
		ok = kms_grant_allows(&v.g, m->principal, m->op, NULL) &&
		     kms_grant_derive_check(&v.g, m->child_ops, &m->child, err, sizeof err) == 0;
	else
		ok = kms_grant_allows(&v.g, m->principal, m->op, &m->ctx);
	grant_view_done(&v);
	if (!ok)
		return 0;
	snprintf(m->c->grant_id, sizeof m->c->grant_id, "%s", row->grant_id);
	return 1;
}

/* RetireGrant: may principal retire the grant the request names (kms_grant_may_retire)? */
static int may_retire(struct kms_call *c, const char *key_id, const char *principal)
{
	_cleanup_grant_row_ struct kms_grant_row row = {0};
	struct grant_view v;
	bool ok;
	int r;

	if (!c->req.grant_id)
		return 0;
	kms_store_lock(c->k->store);
	r = kms_store_grant_get(c->k->store, c->req.grant_id, &row);
	kms_store_unlock(c->k->store);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (strcmp(row.key_id, key_id) != 0 || grant_view(&row, &v) < 0)
		return 0;
	ok = kms_grant_may_retire(&v.g, principal, c->k->account_id);
	grant_view_done(&v);
	if (ok)
		snprintf(c->grant_id, sizeof c->grant_id, "%s", row.grant_id);
	return ok;
}

int kms_grant_authorize(struct kms_call *c, const char *key_id, const char *principal)
{
	const struct kms_context *ctx = c->authz_ctx ? c->authz_ctx : &c->req.context;
	struct match m = {.c = c, .principal = principal, .ctx = context_pairs(ctx)};
	int op = kms_grant_op_from_name(c->action ? c->action : kms_op_name(c->req.op)), r;

	if (op < 0 || !((uint32_t)op & KMS_GRANT_OPS_SYMMETRIC))
		return 0; /* no grant carries this operation */
	m.op = (uint32_t)op;
	if (m.op == KMS_GRANT_RETIRE_GRANT)
		return may_retire(c, key_id, principal);
	if (m.op == KMS_GRANT_CREATE_GRANT) {
		char err[256];

		if (kms_grant_ops_parse(c->req.grant_operations, c->req.n_grant_operations,
					KMS_GRANT_OPS_SYMMETRIC, &m.child_ops, err, sizeof err) < 0)
			return 0;
		m.child = request_constraints(&c->req);
	}
	kms_store_lock(c->k->store);
	r = kms_store_grants_match(c->k->store, key_id, principal, match_grant, &m);
	kms_store_unlock(c->k->store);
	return r;
}

/* ---- the operations ---- */

/* PrincipalIdType: [\w+=,.@:/-]+ */
static bool principal_valid(const char *p)
{
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_+=,.@:/-", *p)))
			return false;
	return true;
}

static int check_principal(struct kms_call *c, const char *member, const char *p)
{
	if (!p || principal_valid(p))
		return 0;
	return kms_fail(c, KMS_ERR_VALIDATION,
			"1 validation error detected: Value '%.256s' at '%s' failed to satisfy "
			"constraint: Member must satisfy regular expression pattern: "
			"^[\\w+=,.@:/-]+$",
			p, member);
}

/* CreateGrant's members that need no key: Operations, Constraints, Name, principals. */
static int check_create(struct kms_call *c, uint32_t *ret_ops)
{
	const struct kms_request *q = &c->req;
	struct kms_grant_constraints cons = request_constraints(q);
	char err[512];

	if (kms_grant_ops_parse(q->grant_operations, q->n_grant_operations, KMS_GRANT_OPS_SYMMETRIC,
				ret_ops, err, sizeof err) < 0 ||
	    kms_grant_constraints_validate(&cons, *ret_ops, err, sizeof err) < 0)
		return kms_fail(c, KMS_ERR_VALIDATION, "%s", err);
	if (q->grant_name && !kms_grant_name_valid(q->grant_name))
		return kms_fail(
		    c, KMS_ERR_VALIDATION,
		    "1 validation error detected: Value '%s' at 'name' failed to "
		    "satisfy constraint: Member must satisfy regular expression pattern: "
		    "^[a-zA-Z0-9:/_-]+$",
		    q->grant_name);
	if (check_principal(c, "granteePrincipal", q->grantee_principal) < 0 ||
	    check_principal(c, "retiringPrincipal", q->retiring_principal) < 0)
		return -1;
	return 0;
}

int kms_op_create_grant(struct kms_call *c)
{
	const struct kms_request *q = &c->req;
	struct kms *k = c->k;
	_cleanup_key_ struct kms_key key = {0};
	_cleanup_free_ char *constraints = NULL, *issuing = NULL;
	struct kms_grant_row row = {0};
	uint8_t id[KMS_GRANT_ID_LEN], nonce[KMS_GRANT_NONCE_LEN];
	char acct[13];
	uint32_t ops;
	int r;

	if (check_create(c, &ops) < 0)
		return -1;
	/*
	 * As AWS: on CreateGrant the condition keys kms:EncryptionContext:<k> and
	 * kms:EncryptionContextKeys are the pairs of the grant's constraint (Equals, else Subset),
	 * so a policy can allow grants for one volume only.  No constraint: no pairs.
	 */
	c->authz_ctx = q->grant_equals.present ? &q->grant_equals :
		       q->grant_subset.present ? &q->grant_subset :
						 &q->context;
	if (kms_open_key(c, q->key_id, KMS_REFUSE_DISABLED | KMS_REFUSE_PENDING, &key) < 0)
		return -1;
	if (q->dry_run)
		return kms_fail(c, KMS_ERR_DRY_RUN, DRY_RUN_MSG);
	r = constraints_json(q, &constraints);
	if (r < 0)
		return kms_fail_internal(c, r, "constraints");
	if (kms_arn_account(c->caller->principal, acct) < 0)
		snprintf(acct, sizeof acct, "%s", k->account_id);
	if (asprintf(&issuing, "arn:aws:iam::%s:root", acct) < 0) {
		issuing = NULL;
		return kms_fail_internal(c, -ENOMEM, "issuing account");
	}
	if (RAND_bytes(id, sizeof id) != 1 || RAND_bytes(nonce, sizeof nonce) != 1)
		return kms_fail_internal(c, -EIO, "random");
	kms_grant_id_format(id, row.grant_id);
	memcpy(row.key_id, key.id, sizeof row.key_id);
	row.name = (char *)q->grant_name;
	row.grantee = (char *)q->grantee_principal;
	row.retiring = (char *)q->retiring_principal;
	row.constraints = constraints;
	row.issuing = issuing;
	row.ops = ops;
	row.created = envol_clock_now();
	r = kms_store_grant_create(k->store, &row, KMS_GRANT_MAX_PER_KEY, same_grant);
	if (r == -E2BIG)
		return kms_fail(c, KMS_ERR_LIMIT_EXCEEDED,
				"Key %s already has %d grants, the most a key may have; retire or "
				"revoke grants first",
				c->key_arn, KMS_GRANT_MAX_PER_KEY);
	if (r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Key '%s' does not exist", c->key_arn);
	if (r < 0)
		return kms_fail_internal(c, r, "create grant");
	if (r == 1 && kms_grant_id_parse(row.grant_id, id) < 0) /* the existing grant's id */
		return kms_fail_internal(c, -EBADMSG, "grant id");
	c->result.type = KMS_RESULT_GRANT;
	memcpy(c->result.grant.id, row.grant_id, sizeof c->result.grant.id);
	r = kms_grant_token_make(k->grant_token_key, key.uuid, id, nonce, &c->result.grant.token);
	if (r < 0)
		return kms_fail_internal(c, r, "grant token");
	return 0;
}

static int check_grant_id(struct kms_call *c, const char *grant_id)
{
	uint8_t id[KMS_GRANT_ID_LEN];

	if (!grant_id || kms_grant_id_parse(grant_id, id) == 0)
		return 0;
	return kms_fail(c, KMS_ERR_INVALID_GRANT_ID, "Invalid grant id %.128s", grant_id);
}

/* Marker: the last grant id of the previous page. */
static int check_marker(struct kms_call *c)
{
	uint8_t id[KMS_GRANT_ID_LEN];

	if (c->req.marker && kms_grant_id_parse(c->req.marker, id) < 0)
		return kms_fail(c, KMS_ERR_INVALID_MARKER, "Invalid marker");
	return 0;
}

static int answer_page(struct kms_call *c)
{
	struct kms_result *res = &c->result;

	return res->page.n ? kms_page_marker(c, res->grants[res->page.n - 1].grant_id) : 0;
}

int kms_op_list_grants(struct kms_call *c)
{
	struct kms_result *res = &c->result;
	_cleanup_key_ struct kms_key key = {0};
	int64_t limit = kms_page_limit(c, 50, 100);
	int r;

	if (limit < 0 || check_marker(c) < 0 || check_grant_id(c, c->req.grant_id) < 0)
		return -1;
	if (kms_resolve_key(c, c->req.key_id, false, &key) < 0)
		return -1;
	res->type = KMS_RESULT_GRANTS;
	r = kms_store_grants_list(c->k->store, key.id, c->req.grant_id, c->req.grantee_principal,
				  kms_page_after(c), limit, &res->grants, &res->page.n,
				  &res->page.truncated);
	if (r < 0)
		return kms_fail_internal(c, r, "list grants");
	return answer_page(c);
}

int kms_op_list_retirable_grants(struct kms_call *c)
{
	struct kms_result *res = &c->result;
	int64_t limit = kms_page_limit(c, 50, 100);
	int r;

	if (limit < 0 || check_marker(c) < 0 ||
	    check_principal(c, "retiringPrincipal", c->req.retiring_principal) < 0)
		return -1;
	res->type = KMS_RESULT_GRANTS;
	r = kms_store_grants_retirable(c->k->store, c->req.retiring_principal, kms_page_after(c),
				       limit, &res->grants, &res->page.n, &res->page.truncated);
	if (r < 0)
		return kms_fail_internal(c, r, "list retirable grants");
	return answer_page(c);
}

/* Deletes the grant the request names, of the key it resolved to (RetireGrant, RevokeGrant). */
static int delete_grant(struct kms_call *c, const char *key_id, const char *grant_id)
{
	_cleanup_grant_row_ struct kms_grant_row row = {0};
	int r = kms_store_grant_get(c->k->store, grant_id, &row);

	if (r == 0 && strcmp(row.key_id, key_id) != 0)
		r = -ENOENT;
	if (r == 0)
		r = kms_store_grant_delete(c->k->store, grant_id);
	if (r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Grant %s of key %s does not exist", grant_id,
				c->key_arn);
	if (r < 0)
		return kms_fail_internal(c, r, "delete grant");
	return 0;
}

/* RetireGrant, with gid and kid the buffers for what a GrantToken names. */
static int retire(struct kms_call *c, char gid[KMS_GRANT_ID_SIZE], char kid[KMS_KEY_ID_SIZE])
{
	struct kms_request *q = &c->req;
	_cleanup_key_ struct kms_key key = {0};

	if (q->grant_token) {
		uint8_t u[16], id[KMS_GRANT_ID_LEN];
		int r = kms_grant_token_check(c->k->grant_token_key, q->grant_token, u, id);

		if (r == -EBADMSG)
			return kms_fail(c, KMS_ERR_INVALID_GRANT_TOKEN,
					"Invalid grant token: it was not issued by this KMS");
		if (r < 0)
			return kms_fail_internal(c, r, "grant token");
		kms_grant_id_format(id, gid);
		envol_uuid_format(u, kid);
		if (check_grant_id(c, q->grant_id) < 0)
			return -1;
		if (q->grant_id && strcmp(q->grant_id, gid) != 0)
			return kms_fail(c, KMS_ERR_VALIDATION,
					"The GrantId does not match the grant of the GrantToken");
		/* the grant and key the token names (authz.c reads grant_id), until
		 * kms_op_retire_grant() returns */
		q->grant_id = gid;
		if (!q->key_id)
			q->key_id = kid;
	} else if (!q->key_id || !q->grant_id) {
		return kms_fail(c, KMS_ERR_VALIDATION,
				"RetireGrant needs a GrantToken, or a KeyId and a GrantId");
	} else if (check_grant_id(c, q->grant_id) < 0) {
		return -1;
	}
	if (kms_resolve_key(c, q->key_id, false, &key) < 0)
		return -1;
	if (q->grant_token && strcmp(key.id, kid) != 0)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"The KeyId does not name the key of the GrantToken");
	return delete_grant(c, key.id, q->grant_id);
}

int kms_op_retire_grant(struct kms_call *c)
{
	const char *grant_id = c->req.grant_id, *key_id = c->req.key_id;
	char gid[KMS_GRANT_ID_SIZE], kid[KMS_KEY_ID_SIZE];
	int r = retire(c, gid, kid);

	c->req.grant_id = grant_id;
	c->req.key_id = key_id;
	return r;
}

int kms_op_revoke_grant(struct kms_call *c)
{
	_cleanup_key_ struct kms_key key = {0};

	if (check_grant_id(c, c->req.grant_id) < 0)
		return -1;
	if (kms_resolve_key(c, c->req.key_id, false, &key) < 0)
		return -1;
	return delete_grant(c, key.id, c->req.grant_id);
}
