/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-eval.c — evaluation of a compiled policy (which statements apply: principal, action,
 * resource, conditions), the combined decision of kms-access.md, the denial message and the
 * lockout safety check.  No allocation.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kms/policy-internal.h"
#include "util/error.h"
#include "util/macros.h"

enum pmatch { PM_NONE, PM_ACCOUNT, PM_DIRECT };

static enum pmatch principal_match(const struct stmt *s, const struct kms_policy_request *req)
{
	enum pmatch m = PM_NONE;
	char acct[13];
	bool have_acct = false, acct_ok = false;

	if (s->principal_any)
		return s->not_principal ? PM_NONE : PM_DIRECT;
	for (size_t i = 0; i < s->n_aws && m != PM_DIRECT; i++) {
		const struct aws_principal *a = &s->aws[i];

		if (req->principal && strcmp(a->arn, req->principal) == 0) {
			m = PM_DIRECT;
		} else if (a->account[0] && !s->not_principal && req->principal) {
			if (!have_acct) {
				acct_ok = kms_arn_account(req->principal, acct) == 0;
				have_acct = true;
			}
			if (acct_ok && strcmp(acct, a->account) == 0)
				m = PM_ACCOUNT;
		}
	}
	for (size_t i = 0; i < s->n_services && m != PM_DIRECT; i++)
		if (req->service && strcasecmp(s->services[i], req->service) == 0)
			m = PM_DIRECT;
	if (s->not_principal)
		return m == PM_NONE ? PM_DIRECT : PM_NONE;
	return m;
}

/* What every statement is matched against, prepared once per evaluation. */
struct subject {
	const char *action; /* lower-cased into buf when it fits, else as given (then ci) */
	bool ci;
	const char *resource;
	char buf[128];
};

static void subject_init(struct subject *sub, const struct kms_policy_request *req)
{
	size_t n = req->action ? strlen(req->action) : 0;

	sub->resource = req->resource ? req->resource : "*";
	sub->action = req->action;
	sub->ci = true;
	if (req->action && n < sizeof(sub->buf)) {
		for (size_t i = 0; i <= n; i++)
			sub->buf[i] = fold(req->action[i], true);
		sub->action = sub->buf;
		sub->ci = false;
	}
}

static bool actions_match(const struct stmt *s, const struct subject *sub)
{
	for (size_t i = 0; i < s->n_actions; i++) {
		const struct pattern *p = &s->actions[i];

		if (p->any)
			return true;
		if (sub->ci) { /* an action name too long to fold once: fold per character */
			if (kms_policy_glob_str(p->s, sub->action, true))
				return true;
		} else if (!p->wild) {
			if (strcmp(p->s, sub->action) == 0)
				return true;
		} else if (strncmp(p->s, sub->action, p->prefix) == 0 &&
			   kms_policy_glob_str(p->s + p->prefix, sub->action + p->prefix, false)) {
			return true;
		}
	}
	return false;
}

static bool resources_match(const struct stmt *s, const struct subject *sub)
{
	for (size_t i = 0; i < s->n_resources; i++) {
		const struct pattern *p = &s->resources[i];

		if (p->any ||
		    (p->wild ? kms_policy_arn_match(p->s, sub->resource) : strcmp(p->s, sub->resource) == 0))
			return true;
	}
	return false;
}

/* PM_NONE: the statement does not apply; else how its principal matched. */
static enum pmatch stmt_applies(const struct stmt *s, enum kms_policy_kind kind,
				const struct kms_policy_request *req, const struct subject *sub)
{
	enum pmatch m = PM_DIRECT;

	if (s->inert || !sub->action)
		return PM_NONE;
	if (actions_match(s, sub) == s->not_action)
		return PM_NONE;
	if (kind == KMS_POLICY_KEY) {
		m = principal_match(s, req);
		if (m == PM_NONE)
			return PM_NONE;
	}
	if (resources_match(s, sub) == s->not_resource)
		return PM_NONE;
	for (size_t i = 0; i < s->n_conds; i++)
		if (!kms_policy_cond_holds(&s->conds[i], req))
			return PM_NONE;
	return m;
}

enum kms_policy_result kms_policy_evaluate(const struct kms_policy *p,
					   const struct kms_policy_request *req,
					   size_t *ret_statement)
{
	enum kms_policy_result best = KMS_POLICY_NO_MATCH;
	size_t best_i = (size_t)-1;
	struct subject sub;

	subject_init(&sub, req);
	for (size_t i = 0; p && i < p->n_stmts; i++) {
		const struct stmt *s = &p->stmts[i];
		enum pmatch m = stmt_applies(s, p->kind, req, &sub);

		if (m == PM_NONE)
			continue;
		if (s->deny) {
			best = KMS_POLICY_DENY;
			best_i = i;
			break;
		}
		if (m == PM_DIRECT && best != KMS_POLICY_ALLOW) {
			best = KMS_POLICY_ALLOW;
			best_i = i;
		} else if (m == PM_ACCOUNT && best == KMS_POLICY_NO_MATCH) {
			best = KMS_POLICY_ALLOW_ACCOUNT;
			best_i = i;
		}
	}
	if (ret_statement)
		*ret_statement = best_i;
	return best;
}

static bool decided(struct kms_access_decision *d, bool allowed, enum kms_access_reason reason,
		    const struct kms_policy *p, size_t statement)
{
	*d = (struct kms_access_decision){
	    .allowed = allowed, .reason = reason, .policy = p, .statement = statement};
	return allowed;
}

bool kms_policy_decide(const struct kms_policy *key_policy,
		       const struct kms_policy *const *identity, size_t n_identity,
		       const struct kms_policy_request *req, bool grant_allows,
		       struct kms_access_decision *d)
{
	enum kms_policy_result kr = KMS_POLICY_NO_MATCH;
	const struct kms_policy *id_allow = NULL;
	size_t ki = (size_t)-1, id_i = (size_t)-1;

	if (key_policy) {
		kr = kms_policy_evaluate(key_policy, req, &ki);
		if (kr == KMS_POLICY_DENY)
			return decided(d, false, KMS_ACCESS_DENY_KEY_POLICY, key_policy, ki);
	}
	for (size_t i = 0; i < n_identity; i++) {
		size_t si;
		enum kms_policy_result r;

		if (!identity[i])
			continue;
		r = kms_policy_evaluate(identity[i], req, &si);
		if (r == KMS_POLICY_DENY)
			return decided(d, false, KMS_ACCESS_DENY_IDENTITY_POLICY, identity[i], si);
		if (r == KMS_POLICY_ALLOW && !id_allow) {
			id_allow = identity[i];
			id_i = si;
		}
	}
	if (!key_policy) {
		if (id_allow)
			return decided(d, true, KMS_ACCESS_IDENTITY_POLICY, id_allow, id_i);
		return decided(d, false, KMS_ACCESS_DENY_NO_IDENTITY, NULL, (size_t)-1);
	}
	if (kr == KMS_POLICY_ALLOW)
		return decided(d, true, KMS_ACCESS_KEY_POLICY, key_policy, ki);
	if (kr == KMS_POLICY_ALLOW_ACCOUNT && id_allow)
		return decided(d, true, KMS_ACCESS_IDENTITY_POLICY, id_allow, id_i);
	if (grant_allows)
		return decided(d, true, KMS_ACCESS_GRANT, NULL, (size_t)-1);
	if (kr == KMS_POLICY_ALLOW_ACCOUNT)
		return decided(d, false, KMS_ACCESS_DENY_NO_IDENTITY, NULL, (size_t)-1);
	return decided(d, false, KMS_ACCESS_DENY_NO_KEY_POLICY, NULL, (size_t)-1);
}

void kms_policy_denial_message(const struct kms_policy_request *req,
			       const struct kms_access_decision *d, char *buf, size_t len)
{
	const char *who = req->principal ? req->principal : "anonymous";
	const char *act = req->action ? req->action : "kms:*";
	char on[600] = "";

	if (req->resource)
		snprintf(on, sizeof(on), " on resource: %s", req->resource);
	switch (d->reason) {
	case KMS_ACCESS_DENY_KEY_POLICY:
		envol_set_error(buf, len,
				"User: %s is not authorized to perform: %s%s with an explicit deny "
				"in a resource-based policy",
				who, act, on);
		break;
	case KMS_ACCESS_DENY_IDENTITY_POLICY:
		envol_set_error(buf, len,
				"User: %s is not authorized to perform: %s%s with an explicit deny "
				"in an identity-based policy",
				who, act, on);
		break;
	case KMS_ACCESS_DENY_NO_IDENTITY:
		envol_set_error(buf, len,
				"User: %s is not authorized to perform: %s%s because no "
				"identity-based policy allows the %s action",
				who, act, on, act);
		break;
	default:
		envol_set_error(buf, len,
				"User: %s is not authorized to perform: %s%s because no "
				"resource-based policy allows the %s action",
				who, act, on, act);
		break;
	}
}

bool kms_policy_lockout_safe(const struct kms_policy *new_key_policy,
			     const struct kms_policy *const *identity, size_t n_identity,
			     const struct kms_policy_request *req)
{
	struct kms_policy_request q = *req;
	struct kms_access_decision d;

	q.action = "kms:PutKeyPolicy";
	return kms_policy_decide(new_key_policy, identity, n_identity, &q, false, &d);
}

