/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * authz.c — authorization, the one decision point every operation goes through, as AWS KMS
 * decides (docs/kms-access.md, policy.h): an explicit Deny in the key policy or in the caller's
 * identity policies wins; otherwise the key policy allows the caller, or allows the account
 * and an identity policy allows the caller, or a grant does (grants.c: looked up only when
 * neither policy allowed and none denied).  Operations that name no key
 * (CreateKey, ListKeys, ListAliases, GenerateRandom, ListRetirableGrants) are decided by
 * identity policies alone, in kms_authorize() before the handler runs; every other operation
 * is decided by kms_authorize_key() once its key is resolved (resolve.c, crypto.c,
 * aliases.c), so the key's own policy applies.
 *
 * Identity policies: the documents of kms.identity_policies, plus kms.admins as shorthand for
 * kms:* and, for kms.services, SERVICE_POLICY below.  They are one snapshot (struct access),
 * swapped whole by kms_reload_access().
 *
 * Key policies are compiled once and cached per key (PutKeyPolicy drops the entry); a key
 * without a stored policy has the AWS default policy.
 *
 * Locking: one rwlock over the snapshot and the policy cache; read-locked while a request is
 * decided.  It is never held while taking the store's mutex (lock order: store, then authz).
 */
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kms/internal.h"
#include "kms/policy.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define CACHE_BUCKETS 4096

/* kms.admins: everything. */
static const char ADMIN_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"kms.admins\",\"Effect\":\"Allow\","
    "\"Action\":\"kms:*\",\"Resource\":\"*\"}]}";

/*
 * kms.services (envold): describe keys and find the grants it may retire; nothing else.  It
 * decrypts a volume's key only through the grant it creates on its client's behalf (the
 * client's own permissions decide: docs/operations.md "Who may attach which volume"), and
 * retires that grant as its retiring principal, which needs no policy.
 */
static const char SERVICE_POLICY[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Sid\":\"DescribeVolumeKeys\",\"Effect\":\"Allow\",\"Action\":\"kms:DescribeKey\","
    "\"Resource\":\"*\"},"
    "{\"Sid\":\"FindOwnGrants\",\"Effect\":\"Allow\",\"Action\":\"kms:ListRetirableGrants\","
    "\"Resource\":\"*\"}]}";

struct identity {
	char *principal;
	struct kms_policy *policy;
};

/* The access settings of one configuration. */
struct access {
	struct identity *ids;
	size_t n_ids;
	char **principals; /* every principal the configuration names */
	size_t n_principals;
	char **services; /* kms.services: may act on behalf of their clients */
	size_t n_services;
};

struct cached_policy {
	struct cached_policy *next;
	char id[KMS_KEY_ID_SIZE];
	struct kms_policy *policy;
};

struct kms_authz {
	pthread_rwlock_t lock;
	struct access *access;
	char account[16];
	struct kms_policy *default_policy;
	struct cached_policy *cache[CACHE_BUCKETS];
};

/* ---- the access snapshot ---- */

static void access_free(struct access *acc)
{
	if (!acc)
		return;
	for (size_t i = 0; i < acc->n_ids; i++) {
		free(acc->ids[i].principal);
		kms_policy_unref(acc->ids[i].policy);
	}
	free(acc->ids);
	for (size_t i = 0; i < acc->n_principals; i++)
		free(acc->principals[i]);
	free(acc->principals);
	for (size_t i = 0; i < acc->n_services; i++)
		free(acc->services[i]);
	free(acc->services);
	free(acc);
}

/* Appends a copy of p to the string list *v of *n entries (unless unique and present). */
static int add_string(char ***v, size_t *n, const char *p, bool unique)
{
	char **nv;

	for (size_t i = 0; unique && i < *n; i++)
		if (strcmp((*v)[i], p) == 0)
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(p);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int add_principal(struct access *acc, const char *p)
{
	return add_string(&acc->principals, &acc->n_principals, p, true);
}

static int add_service(struct access *acc, const char *p)
{
	return add_string(&acc->services, &acc->n_services, p, true);
}

static int add_identity(struct access *acc, const char *principal, struct kms_policy *p)
{
	struct identity *n = realloc(acc->ids, (acc->n_ids + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	acc->ids = n;
	n[acc->n_ids].principal = strdup(principal);
	if (!n[acc->n_ids].principal)
		return -ENOMEM;
	n[acc->n_ids].policy = kms_policy_ref(p);
	acc->n_ids++;
	return add_principal(acc, principal);
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	bool bad;

	if (!f)
		return -errno;
	buf = malloc(KMS_POLICY_MAX_SIZE + 2);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, KMS_POLICY_MAX_SIZE + 1, f);
	bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return -EIO;
	}
	buf[n] = 0;
	*ret = buf;
	*ret_len = n;
	return 0;
}

static int access_new(const struct kms_options *o, struct access **ret, char *err, size_t errlen)
{
	struct access *acc = calloc(1, sizeof(*acc));
	_cleanup_policy_ struct kms_policy *admin = NULL, *service = NULL;
	char perr[512];
	int r = 0;

	if (!acc)
		return -ENOMEM;
	if (kms_policy_parse(KMS_POLICY_IDENTITY, ADMIN_POLICY, strlen(ADMIN_POLICY), NULL, NULL,
			     &admin, perr, sizeof perr) < 0 ||
	    kms_policy_parse(KMS_POLICY_IDENTITY, SERVICE_POLICY, strlen(SERVICE_POLICY), NULL,
			     NULL, &service, perr, sizeof perr) < 0) {
		access_free(acc);
		return envol_fail(-EINVAL, err, errlen, "built-in policy: %s", perr);
	}
	for (size_t i = 0; r == 0 && i < o->n_admins; i++)
		r = add_identity(acc, o->admins[i], admin);
	for (size_t i = 0; r == 0 && i < o->n_services; i++) {
		r = add_identity(acc, o->services[i], service);
		if (r == 0)
			r = add_service(acc, o->services[i]);
	}
	for (size_t i = 0; r == 0 && i < o->n_principals; i++)
		r = add_principal(acc, o->principals[i]);
	for (size_t i = 0; r == 0 && i < o->n_identity_policies; i++) {
		const struct kms_identity_policy_file *f = &o->identity_policies[i];
		_cleanup_policy_ struct kms_policy *p = NULL;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;

		r = read_file(f->file, &text, &len);
		if (r < 0) {
			envol_set_error(err, errlen, "identity policy %s: %s", f->file,
					strerror(-r));
			break;
		}
		r = kms_policy_parse(KMS_POLICY_IDENTITY, text, len, NULL, NULL, &p, perr,
				     sizeof perr);
		if (r < 0) {
			envol_set_error(err, errlen, "identity policy %s: %s", f->file,
					r == -E2BIG ? "larger than 32 KiB" : perr);
			break;
		}
		r = add_identity(acc, f->principal, p);
	}
	if (r < 0) {
		access_free(acc);
		return r;
	}
	*ret = acc;
	return 0;
}

/* ---- the object ---- */

int kms_authz_new(const struct kms_options *o, struct kms_authz **ret, char *err, size_t errlen)
{
	struct kms_authz *a = calloc(1, sizeof(*a));
	_cleanup_free_ char *dflt = NULL;
	char perr[256];
	int r;

	if (!a)
		return -ENOMEM;
	pthread_rwlock_init(&a->lock, NULL);
	snprintf(a->account, sizeof a->account, "%s", o->account_id);
	r = kms_policy_default_json(o->account_id, &dflt);
	if (r == 0)
		r = kms_policy_parse(KMS_POLICY_KEY, dflt, strlen(dflt), NULL, NULL,
				     &a->default_policy, perr, sizeof perr);
	if (r == 0)
		r = access_new(o, &a->access, err, errlen);
	if (r < 0) {
		kms_authz_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

static void cache_clear(struct kms_authz *a)
{
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		while (a->cache[i]) {
			struct cached_policy *e = a->cache[i];

			a->cache[i] = e->next;
			kms_policy_unref(e->policy);
			free(e);
		}
	}
}

void kms_authz_free(struct kms_authz *a)
{
	if (!a)
		return;
	cache_clear(a);
	access_free(a->access);
	kms_policy_unref(a->default_policy);
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

int kms_reload_access(struct kms *k, const struct kms_options *o, char *err, size_t errlen)
{
	struct access *acc, *old;
	int r;

	if (!k || !o)
		return -EINVAL;
	r = access_new(o, &acc, err, errlen);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&k->authz->lock);
	old = k->authz->access;
	k->authz->access = acc;
	pthread_rwlock_unlock(&k->authz->lock);
	access_free(old);
	return 0;
}

/* ---- key policies ---- */

static size_t bucket(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h % CACHE_BUCKETS;
}

void kms_authz_policy_changed(struct kms_authz *a, const char *id)
{
	struct cached_policy **pp;

	pthread_rwlock_wrlock(&a->lock);
	for (pp = &a->cache[bucket(id)]; *pp; pp = &(*pp)->next) {
		struct cached_policy *e = *pp;

		if (strcmp(e->id, id) == 0) {
			*pp = e->next;
			kms_policy_unref(e->policy);
			free(e);
			break;
		}
	}
	pthread_rwlock_unlock(&a->lock);
}

static struct kms_policy *cache_find(struct kms_authz *a, const char *id)
{
	for (struct cached_policy *e = a->cache[bucket(id)]; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return kms_policy_ref(e->policy);
	return NULL;
}

/* The compiled key policy of key id (a new reference): 0, -ENOENT (no such key) or -errno. */
static int key_policy(struct kms *k, const char *id, struct kms_policy **ret)
{
	struct kms_authz *a = k->authz;
	_cleanup_free_ char *text = NULL;
	struct kms_policy *p;
	struct cached_policy *e;
	char perr[256];
	int r;

	pthread_rwlock_rdlock(&a->lock);
	p = cache_find(a, id);
	pthread_rwlock_unlock(&a->lock);
	if (p) {
		*ret = p;
		return 0;
	}
	kms_store_lock(k->store);
	r = kms_store_key_policy_get(k->store, id, &text);
	kms_store_unlock(k->store);
	if (r < 0)
		return r;
	if (!text)
		p = kms_policy_ref(a->default_policy);
	else if (kms_policy_parse(KMS_POLICY_KEY, text, strlen(text), NULL, NULL, &p, perr,
				  sizeof perr) < 0) {
		log_debug("kms: the stored policy of key %s does not parse: %s", id, perr);
		return -EBADMSG;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		kms_policy_unref(p);
		return -ENOMEM;
	}
	snprintf(e->id, sizeof e->id, "%s", id);
	e->policy = kms_policy_ref(p);
	pthread_rwlock_wrlock(&a->lock);
	{
		struct kms_policy *other = cache_find(a, id);

		if (other) { /* another thread was faster */
			kms_policy_unref(e->policy);
			free(e);
			kms_policy_unref(p);
			p = other;
		} else {
			e->next = a->cache[bucket(id)];
			a->cache[bucket(id)] = e;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	*ret = p;
	return 0;
}

/* Does a principal named in a key policy exist? (kms-access.md) */
static int principal_exists(void *userdata, enum kms_principal_type type, const char *name)
{
	const struct kms_authz *a = userdata;
	char root[64], unix_prefix[64];
	size_t n;

	if (type == KMS_PRINCIPAL_SERVICE)
		return strcmp(name, KMS_ENVOLD_SERVICE) == 0;
	snprintf(root, sizeof root, "arn:aws:iam::%s:root", a->account);
	if (strcmp(name, root) == 0)
		return 1;
	for (size_t i = 0; i < a->access->n_principals; i++)
		if (strcmp(name, a->access->principals[i]) == 0)
			return 1;
	n = (size_t)snprintf(unix_prefix, sizeof unix_prefix, "arn:aws:iam::%s:user/unix/",
			     a->account);
	if (strncmp(name, unix_prefix, n) == 0 && name[n] && !strchr(name + n, '/')) {
		struct passwd pw, *res = NULL;
		char buf[1024];

		return getpwnam_r(name + n, &pw, buf, sizeof buf, &res) == 0 && res;
	}
	return 0;
}

int kms_authz_parse_key_policy(struct kms_call *c, const char *text, struct kms_policy **ret)
{
	struct kms_authz *a = c->k->authz;
	char perr[512];
	int r;

	pthread_rwlock_rdlock(&a->lock);
	r = kms_policy_parse(KMS_POLICY_KEY, text, strlen(text), principal_exists, a, ret, perr,
			     sizeof perr);
	pthread_rwlock_unlock(&a->lock);
	if (r == -E2BIG)
		return kms_fail(c, KMS_ERR_MALFORMED_POLICY,
				"The new key policy is %zu bytes, over the quota of %d bytes",
				strlen(text), KMS_POLICY_MAX_SIZE);
	if (r == -EINVAL)
		return kms_fail(c, KMS_ERR_MALFORMED_POLICY, "%s", perr);
	if (r < 0)
		return kms_fail_internal(c, r, "policy");
	return 0;
}

/* ---- the request's condition keys ---- */

#define EC_PREFIX "kms:EncryptionContext:"

struct ckeys {
	struct kms_policy_key *k;
	const char **v; /* the values of single-valued keys */
	size_t n, cap;
	char *names; /* kms:EncryptionContext:<key> and aws:RequestTag/<key> names */
	const char **tag_keys;
	char now[32];
	char bypass[8];
	const char *constraint_types[2];
};

static void ckeys_done(struct ckeys *ck)
{
	free(ck->k);
	free(ck->v);
	free(ck->names);
	free(ck->tag_keys);
}

static void add1(struct ckeys *ck, const char *name, const char *value)
{
	if (!value || ck->n >= ck->cap)
		return;
	ck->v[ck->n] = value;
	ck->k[ck->n] = (struct kms_policy_key){name, &ck->v[ck->n], 1};
	ck->n++;
}

static void addn(struct ckeys *ck, const char *name, const char *const *values, size_t n)
{
	if (ck->n >= ck->cap)
		return;
	ck->k[ck->n++] = (struct kms_policy_key){name, values, n};
}

static const char *request_alias(const struct kms_call *c)
{
	const char *id = c->req.op == KMS_OP_CREATE_ALIAS || c->req.op == KMS_OP_UPDATE_ALIAS
			     ? c->req.target_key_id
			     : c->req.key_id;
	const char *p;

	if (!id)
		return NULL;
	if (strncmp(id, "alias/", 6) == 0)
		return id;
	if (strncmp(id, "arn:", 4) == 0 && (p = strstr(id, ":alias/")))
		return p + 1;
	return NULL;
}

/* kms:GrantIsForAWSResource is a key of CreateGrant, ListGrants and RevokeGrant only. */
static bool grant_is_for_resource_applies(const struct kms_call *c)
{
	const char *name = c->action ? c->action : kms_op_name(c->req.op);

	return strcmp(name, "CreateGrant") == 0 || strcmp(name, "ListGrants") == 0 ||
	       strcmp(name, "RevokeGrant") == 0;
}

/* The grant condition keys of CreateGrant: the grant it asks for. */
static void grant_keys(const struct kms_call *c, struct ckeys *ck)
{
	const struct kms_request *q = &c->req;
	size_t n = 0;

	addn(ck, "kms:GrantOperations", q->grant_operations, q->n_grant_operations);
	add1(ck, "kms:GranteePrincipal", q->grantee_principal);
	add1(ck, "kms:RetiringPrincipal", q->retiring_principal);
	if (q->grant_equals.present)
		ck->constraint_types[n++] = "EncryptionContextEquals";
	if (q->grant_subset.present)
		ck->constraint_types[n++] = "EncryptionContextSubset";
	if (n)
		addn(ck, "kms:GrantConstraintType", ck->constraint_types, n);
}

static int ckeys_build(const struct kms_call *c, const struct kms_context *ctx, bool names_key,
		       struct ckeys *ck)
{
	const struct kms_request *q = &c->req;
	size_t n_ctx = ctx ? ctx->n : 0, names_len = 0;
	struct tm tm;
	time_t now = (time_t)envol_clock_now();

	ck->cap = 28 + n_ctx + q->n_tags;
	ck->k = calloc(ck->cap, sizeof(*ck->k));
	ck->v = calloc(ck->cap, sizeof(*ck->v));
	if (!ck->k || !ck->v)
		return -ENOMEM;
	for (size_t i = 0; i < n_ctx; i++)
		names_len += sizeof EC_PREFIX + strlen(ctx->keys[i]);
	for (size_t i = 0; i < q->n_tags; i++)
		names_len += sizeof "aws:RequestTag/" + strlen(q->tags[i].key);
	if (names_len) {
		char *p = ck->names = malloc(names_len);

		if (!p)
			return -ENOMEM;
		for (size_t i = 0; i < n_ctx; i++) {
			int w = sprintf(p, EC_PREFIX "%s", ctx->keys[i]);

			add1(ck, p, ctx->values[i]);
			p += w + 1;
		}
		for (size_t i = 0; i < q->n_tags; i++) {
			int w = sprintf(p, "aws:RequestTag/%s", q->tags[i].key);

			add1(ck, p, q->tags[i].value);
			p += w + 1;
		}
	}
	addn(ck, "kms:EncryptionContextKeys", ctx ? ctx->keys : NULL, n_ctx);
	add1(ck, "aws:SecureTransport",
	     c->caller && c->caller->source && strncmp(c->caller->source, "tcp:", 4) == 0
		 ? "false"
		 : "true");
	gmtime_r(&now, &tm);
	strftime(ck->now, sizeof ck->now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	add1(ck, "aws:CurrentTime", ck->now);
	if (names_key || q->op == KMS_OP_CREATE_KEY) {
		add1(ck, "kms:KeySpec", "SYMMETRIC_DEFAULT");
		add1(ck, "kms:KeyUsage", "ENCRYPT_DECRYPT");
		add1(ck, "kms:KeyOrigin", "AWS_KMS");
	}
	add1(ck, "kms:RequestAlias", request_alias(c));
	/* A service acting for its client (kms_authz_on_behalf()): the client is the caller. */
	if (c->caller && c->caller->invoked_by) {
		add1(ck, "kms:ViaService", c->caller->invoked_by);
		add1(ck, "kms:GrantIsForAWSResource", "true");
	} else if (grant_is_for_resource_applies(c)) {
		add1(ck, "kms:GrantIsForAWSResource", "false");
	}
	if (q->op == KMS_OP_CREATE_KEY || q->op == KMS_OP_PUT_KEY_POLICY) {
		snprintf(ck->bypass, sizeof ck->bypass, "%s", q->bypass_lockout ? "true" : "false");
		add1(ck, "kms:BypassPolicyLockoutSafetyCheck", ck->bypass);
	}
	if (q->n_tags) {
		ck->tag_keys = calloc(q->n_tags, sizeof(*ck->tag_keys));
		if (!ck->tag_keys)
			return -ENOMEM;
		for (size_t i = 0; i < q->n_tags; i++)
			ck->tag_keys[i] = q->tags[i].key;
		addn(ck, "aws:TagKeys", ck->tag_keys, q->n_tags);
	}
	if (q->op == KMS_OP_UNTAG_RESOURCE)
		addn(ck, "aws:TagKeys", q->tag_keys, q->n_tag_keys);
	if (q->op == KMS_OP_CREATE_GRANT)
		grant_keys(c, ck);
	return 0;
}

/* ---- decisions ---- */

static bool names_key(enum kms_op op)
{
	switch (op) {
	case KMS_OP_CREATE_KEY:
	case KMS_OP_LIST_KEYS:
	case KMS_OP_LIST_ALIASES:
	case KMS_OP_GENERATE_RANDOM:
	case KMS_OP_LIST_RETIRABLE_GRANTS:
		return false;
	default:
		return true;
	}
}

bool kms_authz_names_key(enum kms_op op) { return names_key(op); }

/* The identity policies of principal (up to max), from the snapshot (read-locked). */
static size_t identity_of(const struct access *acc, const char *principal,
			  const struct kms_policy **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < acc->n_ids && n < max; i++)
		if (strcmp(acc->ids[i].principal, principal) == 0)
			out[n++] = acc->ids[i].policy;
	return n;
}

#define MAX_IDENTITY 32

/* The request as the policy language sees it; ck is filled and must be released. */
static int policy_request(struct kms_call *c, const char *resource, const char *action_name,
			  struct ckeys *ck, char action[64], struct kms_policy_request *ret)
{
	const struct kms_context *ctx = c->authz_ctx ? c->authz_ctx : &c->req.context;
	int r;

	snprintf(action, 64, "kms:%s", action_name);
	r = ckeys_build(c, ctx, resource != NULL, ck);
	if (r < 0)
		return kms_fail_internal(c, r, "condition keys");
	*ret = (struct kms_policy_request){
	    .principal = c->caller->principal,
	    .action = action,
	    .resource = resource,
	    .keys = ck->k,
	    .n_keys = ck->n,
	};
	return 0;
}

static const char *action_name(const struct kms_call *c)
{
	return c->action ? c->action : kms_op_name(c->req.op);
}

static bool anonymous(const struct kms_call *c)
{
	return !c->caller || !c->caller->principal || !c->caller->principal[0];
}

static bool explicit_deny(const struct kms_access_decision *d)
{
	return d->reason == KMS_ACCESS_DENY_KEY_POLICY ||
	       d->reason == KMS_ACCESS_DENY_IDENTITY_POLICY;
}

/* Decides the call for key id (resource its ARN) under key_policy (all NULL: no key): 0, or
 * -1 with AccessDeniedException set. */
static int decide(struct kms_call *c, const struct kms_policy *key_policy, const char *id,
		  const char *resource)
{
	struct kms_authz *a = c->k->authz;
	const struct kms_policy *ids[MAX_IDENTITY];
	struct kms_access_decision d = {0};
	struct kms_policy_request req;
	struct ckeys ck = {0};
	char action[64], msg[1024];
	bool allowed;

	if (anonymous(c))
		return kms_fail(c, KMS_ERR_ACCESS_DENIED,
				"An anonymous caller is not authorized to perform: kms:%s",
				action_name(c));
	if (policy_request(c, resource, action_name(c), &ck, action, &req) < 0) {
		ckeys_done(&ck);
		return -1;
	}
	pthread_rwlock_rdlock(&a->lock);
	allowed = kms_policy_decide(key_policy, ids,
				    identity_of(a->access, req.principal, ids, MAX_IDENTITY), &req,
				    false, &d);
	pthread_rwlock_unlock(&a->lock);
	/* Grants never deny, and cost a lookup only when no policy allowed. */
	if (!allowed && id && !explicit_deny(&d)) {
		int r = kms_grant_authorize(c, id, req.principal);

		if (r < 0) {
			ckeys_done(&ck);
			return kms_fail_internal(c, r, "grants");
		}
		if (r > 0) {
			allowed = d.allowed = true;
			d.reason = KMS_ACCESS_GRANT;
			d.policy = NULL;
		}
	}
	c->decision = d.reason;
	if (!allowed)
		kms_policy_denial_message(&req, &d, msg, sizeof msg);
	ckeys_done(&ck);
	if (!allowed)
		return kms_fail(c, KMS_ERR_ACCESS_DENIED, "%s", msg);
	c->authorized = true;
	return 0;
}

int kms_authorize(struct kms_call *c)
{
	if (names_key(c->req.op))
		return 0; /* decided when the key is resolved: kms_authorize_key() */
	return decide(c, NULL, NULL, NULL);
}

int kms_authorize_key(struct kms_call *c, const char *id)
{
	_cleanup_policy_ struct kms_policy *kp = NULL;
	char arn[KMS_ARN_MAX];
	int r;

	if (!names_key(c->req.op))
		return 0;
	r = key_policy(c->k, id, &kp);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return kms_fail_internal(c, r, "key policy");
	kms_key_arn(c->k, id, arn);
	if (kms_grant_tokens_check(c, id) < 0)
		return -1;
	return decide(c, kp, id, arn);
}

int kms_authz_lockout_check(struct kms_call *c, const char *id, const struct kms_policy *policy)
{
	struct kms_authz *a = c->k->authz;
	const struct kms_policy *ids[MAX_IDENTITY];
	struct kms_policy_request req;
	struct ckeys ck = {0};
	char arn[KMS_ARN_MAX], action[64];
	bool safe;

	if (c->req.bypass_lockout)
		return 0;
	if (anonymous(c))
		return kms_fail(c, KMS_ERR_ACCESS_DENIED, "An anonymous caller cannot set a policy");
	kms_key_arn(c->k, id, arn);
	if (policy_request(c, arn, "PutKeyPolicy", &ck, action, &req) < 0) {
		ckeys_done(&ck);
		return -1;
	}
	pthread_rwlock_rdlock(&a->lock);
	safe = kms_policy_lockout_safe(
	    policy, ids, identity_of(a->access, req.principal, ids, MAX_IDENTITY), &req);
	pthread_rwlock_unlock(&a->lock);
	ckeys_done(&ck);
	if (!safe)
		return kms_fail(c, KMS_ERR_MALFORMED_POLICY,
				"The new key policy will not allow you to update the key policy in "
				"the future (%s would not be allowed kms:PutKeyPolicy on %s).",
				kms_call_principal(c), arn);
	return 0;
}

/* ---- a service acting on behalf of its client ---- */

int kms_authz_on_behalf(struct kms_call *c, struct kms_caller *as, const char *operation)
{
	struct kms_authz *a = c->k->authz;
	const char *service = as->principal, *client = as->on_behalf_of;
	bool is_service = false;
	char account[13];
	int exists = 0;

	if (anonymous(c))
		return kms_fail(c, KMS_ERR_ACCESS_DENIED,
				"An anonymous caller cannot act on behalf of %s "
				"(X-Envol-On-Behalf-Of)",
				client);
	pthread_rwlock_rdlock(&a->lock);
	for (size_t i = 0; i < a->access->n_services && !is_service; i++)
		is_service = strcmp(a->access->services[i], service) == 0;
	if (is_service && kms_arn_account(client, account) == 0)
		exists = principal_exists(a, KMS_PRINCIPAL_AWS, client);
	pthread_rwlock_unlock(&a->lock);
	if (!is_service)
		return kms_fail(c, KMS_ERR_ACCESS_DENIED,
				"User: %s is not authorized to act on behalf of %s "
				"(X-Envol-On-Behalf-Of): it is not a service principal of kms.services",
				service, client);
	if (!operation || strcmp(operation, "CreateGrant") != 0)
		return kms_fail(c, KMS_ERR_ACCESS_DENIED,
				"User: %s may act on behalf of %s (X-Envol-On-Behalf-Of) only to "
				"perform kms:CreateGrant, not kms:%s",
				service, client, operation ? operation : "?");
	if (exists <= 0)
		return kms_fail(c, KMS_ERR_ACCESS_DENIED,
				"User: %s cannot act on behalf of %s (X-Envol-On-Behalf-Of): no such "
				"principal (the account root, a principal of the configuration, or "
				"arn:aws:iam::%s:user/unix/NAME for a user of this host)",
				service, client, a->account);
	as->service_principal = service;
	as->principal = client;
	as->invoked_by = KMS_ENVOLD_SERVICE;
	return 0;
}
