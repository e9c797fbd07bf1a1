/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.c — the IAM / KMS policy language (policy.h): parser and validator (JSON through
 * jansson into a compiled form held in one arena, policy-internal.h) and the default and
 * managed-key policy texts.  Evaluation is in policy-eval.c, the operators in
 * policy-condition.c.
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

static void *arena_alloc(struct kms_policy *p, size_t n)
{
	struct arena_block *b = p->arena;
	size_t align = sizeof(max_align_t);
	void *r;

	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 4096 ? n : 4096;

		b = calloc(1, sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->next = p->arena;
		p->arena = b;
	}
	r = (char *)b->data + b->used;
	b->used += n;
	return r;
}

static void *arena_array(struct kms_policy *p, size_t n, size_t size)
{
	size_t total;

	if (MUL_OVERFLOW(n, size, &total))
		return NULL;
	return arena_alloc(p, total);
}

static char *arena_strdup(struct kms_policy *p, const char *s)
{
	size_t n = strlen(s) + 1;
	char *r = arena_alloc(p, n);

	if (r)
		memcpy(r, s, n);
	return r;
}


/* ---- parsing ---- */

struct parser {
	struct kms_policy *p;
	kms_principal_exists_fn exists;
	void *userdata;
	char *err;
	size_t errlen;
	char path[48]; /* "Statement[12]" or "Statement" */
};

static int pfail(struct parser *ps, int r, const char *fmt, ...) _printf_(3, 4);
static int pfail(struct parser *ps, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	envol_set_errorv(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return r;
}

static const char *kind_name(enum kms_policy_kind k)
{
	return k == KMS_POLICY_KEY ? "key policy" : "identity policy";
}

/*
 * AWS's character rule for key policies: tab, line feed, carriage return and U+0020 through
 * U+00FF, in UTF-8.
 */
static int check_charset(struct parser *ps, const char *t, size_t n)
{
	unsigned line = 1, col = 1;

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)t[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			cp = c;
			k = 1;
		} else if ((c & 0xE0) == 0xC0) {
			cp = c & 0x1F;
			k = 2;
		} else if ((c & 0xF0) == 0xE0) {
			cp = c & 0x0F;
			k = 3;
		} else if ((c & 0xF8) == 0xF0) {
			cp = c & 0x07;
			k = 4;
		} else {
			goto bad_utf8;
		}
		if (k > n - i)
			goto bad_utf8;
		for (size_t j = 1; j < k; j++) {
			if (((unsigned char)t[i + j] & 0xC0) != 0x80)
				goto bad_utf8;
			cp = cp << 6 | ((unsigned char)t[i + j] & 0x3F);
		}
		if (k == 2 && cp < 0x80)
			goto bad_utf8;
		if (!(cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0xFF)))
			return pfail(
			    ps, -EINVAL,
			    "The key policy contains the character U+%04X at line %u, column "
			    "%u; a key policy may hold only tab, line feed, carriage return "
			    "and U+0020 to U+00FF",
			    (unsigned)cp, line, col);
		if (cp == 0x0A) {
			line++;
			col = 1;
		} else {
			col++;
		}
		i += k;
	}
	return 0;
bad_utf8:
	return pfail(ps, -EINVAL, "The key policy is not valid UTF-8 at line %u, column %u", line,
		     col);
}

/* A JSON string, number or boolean as text in the arena (condition values may be any of the
 * three); NULL for other types or on ENOMEM. */
static const char *scalar_text(struct parser *ps, json_t *v)
{
	char buf[64];

	if (json_is_string(v))
		return arena_strdup(ps->p, json_string_value(v));
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
	else if (json_is_true(v))
		return "true";
	else if (json_is_false(v))
		return "false";
	else
		return NULL;
	return arena_strdup(ps->p, buf);
}

/*
 * A string or a non-empty array of strings into an arena array of string pointers (pointing
 * into the JSON tree until copied by the caller).  what names the element in messages.
 */
static int string_list(struct parser *ps, json_t *v, const char *what, const char ***ret,
		       size_t *ret_n)
{
	const char **l;
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if (!json_is_string(v) && !json_is_array(v))
		return pfail(ps, -EINVAL, "%s.%s must be a string or an array of strings", ps->path,
			     what);
	if (n == 0)
		return pfail(ps, -EINVAL, "%s.%s must not be an empty array", ps->path, what);
	l = arena_array(ps->p, n, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_is_array(v) ? json_array_get(v, i) : v;

		if (!json_is_string(e))
			return pfail(ps, -EINVAL, "%s.%s[%zu] must be a string", ps->path, what, i);
		l[i] = arena_strdup(ps->p, json_string_value(e));
		if (!l[i])
			return -ENOMEM;
	}
	*ret = l;
	*ret_n = n;
	return 0;
}

static bool valid_vendor_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static int patterns(struct parser *ps, const char **l, size_t n, bool lower, struct pattern **ret)
{
	struct pattern *p = arena_array(ps->p, n, sizeof(*p));

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (lower)
			for (char *c = (char *)l[i]; *c; c++)
				*c = fold(*c, true);
		p[i] = (struct pattern){.s = l[i],
					.prefix = strcspn(l[i], "*?"),
					.any = strcmp(l[i], "*") == 0,
					.wild = strpbrk(l[i], "*?") != NULL};
	}
	*ret = p;
	return 0;
}

static int parse_actions(struct parser *ps, struct stmt *s, json_t *v, const char *what)
{
	const char **l;
	int r = string_list(ps, v, what, &l, &s->n_actions);

	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n_actions; i++) {
		const char *a = l[i], *colon = strchr(a, ':');
		bool ok = colon && colon > a && colon[1];

		if (strcmp(a, "*") == 0)
			continue;
		for (const char *c = a; ok && c < colon; c++)
			ok = valid_vendor_char(*c);
		for (const char *c = colon ? colon + 1 : a; ok && *c; c++)
			ok = valid_vendor_char(*c) || *c == '*' || *c == '?';
		if (!ok)
			return pfail(ps, -EINVAL,
				     "%s.%s \"%s\" is not an action: write service:Action, for "
				     "example kms:Decrypt (* and ? may stand for letters of the "
				     "action)",
				     ps->path, what, a);
	}
	return patterns(ps, l, s->n_actions, true, &s->actions);
}

static int parse_resources(struct parser *ps, struct stmt *s, json_t *v, const char *what)
{
	const char **l;
	int r = string_list(ps, v, what, &l, &s->n_resources);

	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n_resources; i++) {
		const char *x = l[i];

		if (strcmp(x, "*") != 0 && strncmp(x, "arn:", 4) != 0)
			return pfail(ps, -EINVAL,
				     "%s.%s \"%s\" must be \"*\" (in a key policy: this key) or an "
				     "ARN",
				     ps->path, what, x);
	}
	return patterns(ps, l, s->n_resources, false, &s->resources);
}

/* arn:PARTITION:iam::ACCOUNT:root|user/…|role/…|group/… or arn:PARTITION:sts::ACCOUNT:…/… */
static bool valid_principal_arn(const char *a)
{
	const char *part = a + 4, *svc, *rest;
	char acct[13];

	if (strncmp(a, "arn:", 4) != 0 || strpbrk(a, "*?"))
		return false;
	svc = strchr(part, ':');
	if (!svc || svc == part)
		return false;
	for (const char *c = part; c < svc; c++)
		if (!((*c >= 'a' && *c <= 'z') || *c == '-'))
			return false;
	svc++;
	if (strncmp(svc, "iam::", 5) != 0 && strncmp(svc, "sts::", 5) != 0)
		return false;
	if (kms_arn_account(a, acct) < 0)
		return false;
	rest = svc + 5 + 13;
	if (strncmp(svc, "iam::", 5) == 0)
		return strcmp(rest, "root") == 0 ||
		       ((strncmp(rest, "user/", 5) == 0 || strncmp(rest, "role/", 5) == 0) &&
			rest[5] && rest[strlen(rest) - 1] != '/');
	return strncmp(rest, "assumed-role/", 13) == 0 && rest[13];
}

static int check_exists(struct parser *ps, enum kms_principal_type t, const char *name,
			const char *what)
{
	int r;

	if (!ps->exists)
		return 0;
	r = ps->exists(ps->userdata, t, name);
	if (r < 0)
		return pfail(ps, r, "%s.%s: cannot look up principal %s", ps->path, what, name);
	if (r == 0)
		return pfail(ps, -EINVAL, "%s.%s names %s, which is not a principal envol knows",
			     ps->path, what, name);
	return 0;
}

static int parse_aws_principals(struct parser *ps, struct stmt *s, json_t *v, const char *what)
{
	const char **l;
	size_t n;
	char sub[40];
	int r;

	snprintf(sub, sizeof(sub), "%s.AWS", what);
	r = string_list(ps, v, sub, &l, &n);
	if (r < 0)
		return r;
	s->aws = arena_array(ps->p, n, sizeof(*s->aws));
	if (!s->aws)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct aws_principal *a = &s->aws[s->n_aws];
		const char *x = l[i];

		if (strcmp(x, "*") == 0) {
			s->principal_any = true;
			continue;
		}
		if (strlen(x) == 12 && kms_policy_all_digits(x, 12)) {
			char root[40];

			snprintf(root, sizeof(root), "arn:aws:iam::%s:root", x);
			x = arena_strdup(ps->p, root);
			if (!x)
				return -ENOMEM;
		} else if (!valid_principal_arn(x)) {
			return pfail(ps, -EINVAL,
				     "%s.%s \"%s\" is not a principal: write \"*\", an account id, "
				     "or an IAM ARN such as arn:aws:iam::111122223333:user/NAME "
				     "(wildcards are not allowed; use a Condition on "
				     "aws:PrincipalArn)",
				     ps->path, sub, x);
		}
		a->arn = x;
		{
			size_t len = strlen(x);

			if (len > 5 && strcmp(x + len - 5, ":root") == 0 &&
			    strncmp(strchr(x + 4, ':') + 1, "iam::", 5) == 0)
				(void)kms_arn_account(x, a->account);
		}
		r = check_exists(ps, KMS_PRINCIPAL_AWS, x, sub);
		if (r < 0)
			return r;
		s->n_aws++;
	}
	return 0;
}

static int parse_service_principals(struct parser *ps, struct stmt *s, json_t *v, const char *what)
{
	char sub[40];
	int r;

	snprintf(sub, sizeof(sub), "%s.Service", what);
	r = string_list(ps, v, sub, &s->services, &s->n_services);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n_services; i++) {
		const char *x = s->services[i];

		if (!*x || strpbrk(x, "*? :/"))
			return pfail(ps, -EINVAL,
				     "%s.%s \"%s\" is not a service principal name (such as "
				     "ec2.amazonaws.com; no wildcards)",
				     ps->path, sub, x);
		r = check_exists(ps, KMS_PRINCIPAL_SERVICE, x, sub);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_principal(struct parser *ps, struct stmt *s, json_t *v, const char *what)
{
	const char *k;
	json_t *e;
	int r;

	if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "*") != 0)
			return pfail(ps, -EINVAL,
				     "%s.%s must be \"*\" or an object such as {\"AWS\": "
				     "\"arn:aws:iam::111122223333:root\"}",
				     ps->path, what);
		s->principal_any = true;
		return 0;
	}
	if (!json_is_object(v) || json_object_size(v) == 0)
		return pfail(ps, -EINVAL,
			     "%s.%s must be \"*\" or an object with AWS and/or Service principals",
			     ps->path, what);
	json_object_foreach(v, k, e)
	{
		if (strcmp(k, "AWS") == 0)
			r = parse_aws_principals(ps, s, e, what);
		else if (strcmp(k, "Service") == 0)
			r = parse_service_principals(ps, s, e, what);
		else if (strcmp(k, "Federated") == 0 || strcmp(k, "CanonicalUser") == 0)
			r = pfail(ps, -EINVAL,
				  "%s.%s.%s principals are not supported by envol (AWS and Service "
				  "are)",
				  ps->path, what, k);
		else
			r = pfail(ps, -EINVAL,
				  "%s.%s has an unknown principal type \"%s\" (AWS or Service)",
				  ps->path, what, k);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "ForAnyValue:StringLikeIfExists" into its parts; false for an unknown operator. */
static bool parse_operator(const char *name, struct cond *c)
{
	size_t n;

	c->set = SET_NONE;
	if (strncasecmp(name, "ForAnyValue:", 12) == 0) {
		c->set = SET_ANY;
		name += 12;
	} else if (strncasecmp(name, "ForAllValues:", 13) == 0) {
		c->set = SET_ALL;
		name += 13;
	}
	n = strlen(name);
	c->if_exists = n > 8 && strcasecmp(name + n - 8, "IfExists") == 0;
	if (c->if_exists)
		n -= 8;
	for (int op = 0; op < OP_MAX; op++)
		if (strlen(kms_policy_op_table[op].name) == n &&
		    strncasecmp(kms_policy_op_table[op].name, name, n) == 0) {
			c->op = (enum cond_op)op;
			return true;
		}
	return false;
}

static bool valid_base64(const char *s)
{
	size_t n = strlen(s), pad = 0;

	if (n == 0 || n % 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !(isalnum((unsigned char)c) || c == '+' || c == '/'))
			return false;
	}
	return pad <= 2;
}

static int compile_value(struct parser *ps, const struct cond *c, const char *opname, json_t *v,
			 struct cvalue *out)
{
	const char *t = scalar_text(ps, v);
	enum family f = kms_policy_op_table[c->op].family;
	bool ok = true;
	const char *want = "";

	if (!t)
		return json_is_string(v) || json_is_number(v) || json_is_boolean(v)
			   ? -ENOMEM
			   : pfail(
				 ps, -EINVAL,
				 "%s.Condition.%s.%s: values must be strings, numbers or booleans",
				 ps->path, opname, c->key);
	memset(out, 0, sizeof(*out));
	out->s = t;
	switch (f) {
	case FAM_NUMERIC:
		ok = kms_policy_parse_number(t, &out->num);
		want = "a number";
		break;
	case FAM_DATE:
		ok = kms_policy_parse_date(t, &out->ms);
		want = "a date (ISO 8601 such as 2024-05-01T10:00:00Z, or epoch seconds)";
		break;
	case FAM_BOOL:
		ok = kms_policy_parse_bool(t, &out->b);
		want = "true or false";
		break;
	case FAM_BINARY:
		ok = valid_base64(t);
		want = "base64";
		break;
	case FAM_IP:
		ok = kms_policy_parse_ip(t, out, true);
		want = "an IP address or CIDR block";
		break;
	case FAM_STRING:
	case FAM_ARN:
		break;
	}
	if (!ok)
		return pfail(ps, -EINVAL, "%s.Condition.%s.%s: \"%s\" is not %s", ps->path, opname,
			     c->key, t, want);
	return 0;
}

static bool valid_condition_key(const char *k)
{
	const char *colon = strchr(k, ':');

	if (!colon || colon == k || !colon[1])
		return false;
	for (const char *c = k; c < colon; c++)
		if (!valid_vendor_char(*c))
			return false;
	return true;
}

static int parse_condition(struct parser *ps, struct stmt *s, json_t *v)
{
	const char *opname, *key;
	json_t *block, *vals;
	size_t n = 0;

	if (!json_is_object(v))
		return pfail(ps, -EINVAL,
			     "%s.Condition must be an object such as {\"StringEquals\": "
			     "{\"kms:CallerAccount\": \"111122223333\"}}",
			     ps->path);
	json_object_foreach(v, opname, block)
	{
		if (!json_is_object(block))
			return pfail(ps, -EINVAL,
				     "%s.Condition.%s must be an object of condition keys and "
				     "values",
				     ps->path, opname);
		n += json_object_size(block);
	}
	s->conds = arena_array(ps->p, n, sizeof(*s->conds));
	if (!s->conds)
		return -ENOMEM;
	json_object_foreach(v, opname, block)
	{
		struct cond proto = {0};

		if (!parse_operator(opname, &proto))
			return pfail(
			    ps, -EINVAL,
			    "%s.Condition: unknown condition operator \"%s\" (String*, "
			    "Numeric*, Date*, Bool, BinaryEquals, IpAddress, NotIpAddress, "
			    "Arn*, Null, with ...IfExists and ForAnyValue:/ForAllValues:)",
			    ps->path, opname);
		if (proto.op == OP_NULL && (proto.if_exists || proto.set != SET_NONE))
			return pfail(ps, -EINVAL,
				     "%s.Condition: \"%s\": Null takes neither IfExists nor a "
				     "ForAnyValue:/ForAllValues: qualifier",
				     ps->path, opname);
		json_object_foreach(block, key, vals)
		{
			struct cond *c = &s->conds[s->n_conds];
			size_t nv = json_is_array(vals) ? json_array_size(vals) : 1;
			int r;

			*c = proto;
			if (!valid_condition_key(key))
				return pfail(ps, -EINVAL,
					     "%s.Condition.%s: \"%s\" is not a condition key (such "
					     "as kms:EncryptionContext:NAME or aws:PrincipalArn)",
					     ps->path, opname, key);
			c->key = arena_strdup(ps->p, key);
			if (!c->key)
				return -ENOMEM;
			if (nv == 0)
				return pfail(ps, -EINVAL, "%s.Condition.%s.%s has no values",
					     ps->path, opname, key);
			c->values = arena_array(ps->p, nv, sizeof(*c->values));
			if (!c->values)
				return -ENOMEM;
			for (size_t i = 0; i < nv; i++) {
				json_t *e = json_is_array(vals) ? json_array_get(vals, i) : vals;

				r = compile_value(ps, c, opname, e, &c->values[i]);
				if (r < 0)
					return r;
			}
			c->n_values = nv;
			s->n_conds++;
		}
	}
	return 0;
}

static const char *const stmt_elements[] = {
    "Sid",	 "Effect",   "Principal",   "NotPrincipal", "Action",
    "NotAction", "Resource", "NotResource", "Condition",    NULL,
};

static bool known(const char *const *names, const char *k)
{
	for (; *names; names++)
		if (strcmp(*names, k) == 0)
			return true;
	return false;
}

static int parse_statement(struct parser *ps, struct stmt *s, json_t *o, size_t index)
{
	enum kms_policy_kind kind = ps->p->kind;
	const char *k;
	json_t *v, *effect, *sid;
	json_t *pr = json_object_get(o, "Principal"), *npr = json_object_get(o, "NotPrincipal");
	json_t *ac = json_object_get(o, "Action"), *nac = json_object_get(o, "NotAction");
	json_t *rs = json_object_get(o, "Resource"), *nrs = json_object_get(o, "NotResource");
	int r;

	if (!json_is_object(o))
		return pfail(ps, -EINVAL, "%s must be an object", ps->path);
	json_object_foreach(o, k, v)
	{
		if (!known(stmt_elements, k))
			return pfail(
			    ps, -EINVAL,
			    "%s has an unknown element \"%s\" (a statement has Sid, "
			    "Effect, Principal, NotPrincipal, Action, NotAction, Resource, "
			    "NotResource and Condition)",
			    ps->path, k);
	}
	sid = json_object_get(o, "Sid");
	if (sid) {
		if (!json_is_string(sid))
			return pfail(ps, -EINVAL, "%s.Sid must be a string", ps->path);
		s->sid = arena_strdup(ps->p, json_string_value(sid));
		if (!s->sid)
			return -ENOMEM;
		for (size_t i = 0; i < index; i++)
			if (ps->p->stmts[i].sid && s->sid[0] &&
			    strcmp(ps->p->stmts[i].sid, s->sid) == 0)
				return pfail(ps, -EINVAL,
					     "%s.Sid \"%s\" is already the Sid of Statement[%zu]; "
					     "Sids must be unique",
					     ps->path, s->sid, i);
	}
	effect = json_object_get(o, "Effect");
	if (!effect)
		return pfail(ps, -EINVAL, "%s has no Effect (Allow or Deny)", ps->path);
	if (json_is_string(effect) && strcmp(json_string_value(effect), "Allow") == 0)
		s->deny = false;
	else if (json_is_string(effect) && strcmp(json_string_value(effect), "Deny") == 0)
		s->deny = true;
	else
		return pfail(ps, -EINVAL, "%s.Effect must be Allow or Deny", ps->path);

	if (pr && npr)
		return pfail(ps, -EINVAL, "%s has both Principal and NotPrincipal; use one",
			     ps->path);
	if (ac && nac)
		return pfail(ps, -EINVAL, "%s has both Action and NotAction; use one", ps->path);
	if (rs && nrs)
		return pfail(ps, -EINVAL, "%s has both Resource and NotResource; use one",
			     ps->path);

	if (kind == KMS_POLICY_IDENTITY) {
		if (pr || npr)
			return pfail(
			    ps, -EINVAL,
			    "%s.%s is not allowed in an identity policy (it applies to the "
			    "principal it is attached to)",
			    ps->path, pr ? "Principal" : "NotPrincipal");
		if (!ac && !nac)
			return pfail(ps, -EINVAL, "%s has no Action or NotAction", ps->path);
		if (!rs && !nrs)
			return pfail(ps, -EINVAL, "%s has no Resource or NotResource", ps->path);
	} else {
		if (!pr && !npr)
			return pfail(ps, -EINVAL,
				     "%s has no Principal: every key policy statement names one "
				     "(for example {\"AWS\": \"arn:aws:iam::111122223333:root\"})",
				     ps->path);
		s->has_principal = true;
		s->not_principal = npr != NULL;
		r = parse_principal(ps, s, pr ? pr : npr, pr ? "Principal" : "NotPrincipal");
		if (r < 0)
			return r;
	}
	if (ac || nac) {
		s->not_action = nac != NULL;
		r = parse_actions(ps, s, ac ? ac : nac, ac ? "Action" : "NotAction");
		if (r < 0)
			return r;
	}
	if (rs || nrs) {
		s->not_resource = nrs != NULL;
		r = parse_resources(ps, s, rs ? rs : nrs, rs ? "Resource" : "NotResource");
		if (r < 0)
			return r;
	}
	v = json_object_get(o, "Condition");
	if (v) {
		r = parse_condition(ps, s, v);
		if (r < 0)
			return r;
	}
	if ((!ac && !nac) || (!rs && !nrs)) {
		char w[160];

		s->inert = true;
		if (!ps->p->warning) {
			snprintf(w, sizeof(w), "%s has no %s, so it has no effect (as in AWS KMS)",
				 ps->path, !ac && !nac ? "Action" : "Resource");
			ps->p->warning = arena_strdup(ps->p, w);
			if (!ps->p->warning)
				return -ENOMEM;
		}
	}
	return 0;
}

static void free_policy(struct kms_policy *p)
{
	while (p->arena) {
		struct arena_block *b = p->arena;

		p->arena = b->next;
		free(b);
	}
	free(p);
}

int kms_policy_parse(enum kms_policy_kind kind, const char *text, size_t text_len,
		     kms_principal_exists_fn exists, void *userdata, struct kms_policy **ret,
		     char *err, size_t errlen)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	struct parser ps = {.exists = exists, .userdata = userdata, .err = err, .errlen = errlen};
	const char *k;
	json_t *v, *st;
	json_error_t jerr;
	size_t n;
	int r;

	if ((unsigned)kind >= KMS_POLICY_KIND_MAX || (!text && text_len))
		return pfail(&ps, -EINVAL, "bad arguments");
	if (text_len > KMS_POLICY_MAX_SIZE)
		return pfail(&ps, -E2BIG, "The %s is %zu bytes; the limit is %d bytes",
			     kind_name(kind), text_len, KMS_POLICY_MAX_SIZE);
	if (kind == KMS_POLICY_KEY) {
		r = check_charset(&ps, text, text_len);
		if (r < 0)
			return r;
	}
	root = json_loadb(text ? text : "", text_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return pfail(&ps, -EINVAL, "The %s is not valid JSON: %s at line %d, column %d",
			     kind_name(kind), jerr.text, jerr.line, jerr.column);
	if (!json_is_object(root))
		return pfail(&ps, -EINVAL, "The %s must be a JSON object", kind_name(kind));
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 &&
		    strcmp(k, "Statement") != 0)
			return pfail(&ps, -EINVAL,
				     "The %s has an unknown element \"%s\" (a policy has Version, "
				     "Id and Statement)",
				     kind_name(kind), k);
	}
	v = json_object_get(root, "Version");
	if (v && !(json_is_string(v) && (strcmp(json_string_value(v), "2012-10-17") == 0 ||
					 strcmp(json_string_value(v), "2008-10-17") == 0)))
		return pfail(&ps, -EINVAL, "Version must be \"2012-10-17\" (or \"2008-10-17\")");
	v = json_object_get(root, "Id");
	if (v && !json_is_string(v))
		return pfail(&ps, -EINVAL, "Id must be a string");
	st = json_object_get(root, "Statement");
	if (!st)
		return pfail(&ps, -EINVAL, "The %s has no Statement", kind_name(kind));
	if (!json_is_object(st) && !json_is_array(st))
		return pfail(&ps, -EINVAL, "Statement must be an object or an array of objects");
	n = json_is_array(st) ? json_array_size(st) : 1;
	if (n == 0)
		return pfail(&ps, -EINVAL, "Statement must hold at least one statement");

	ps.p = calloc(1, sizeof(*ps.p));
	if (!ps.p)
		return -ENOMEM;
	ps.p->n_ref = 1;
	ps.p->kind = kind;
	ps.p->stmts = arena_array(ps.p, n, sizeof(*ps.p->stmts));
	if (!ps.p->stmts) {
		r = -ENOMEM;
		goto fail;
	}
	memset(ps.p->stmts, 0, n * sizeof(*ps.p->stmts));
	for (size_t i = 0; i < n; i++) {
		if (json_is_array(st))
			snprintf(ps.path, sizeof(ps.path), "Statement[%zu]", i);
		else
			snprintf(ps.path, sizeof(ps.path), "Statement");
		r = parse_statement(&ps, &ps.p->stmts[i],
				    json_is_array(st) ? json_array_get(st, i) : st, i);
		if (r < 0)
			goto fail;
		ps.p->n_stmts++;
	}
	*ret = ps.p;
	return 0;
fail:
	if (r == -ENOMEM)
		envol_set_error(err, errlen, "out of memory");
	free_policy(ps.p);
	return r;
}

struct kms_policy *kms_policy_ref(struct kms_policy *p)
{
	if (p)
		__atomic_add_fetch(&p->n_ref, 1, __ATOMIC_RELAXED);
	return p;
}

struct kms_policy *kms_policy_unref(struct kms_policy *p)
{
	if (p && __atomic_sub_fetch(&p->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
		free_policy(p);
	return NULL;
}

enum kms_policy_kind kms_policy_get_kind(const struct kms_policy *p) { return p->kind; }

size_t kms_policy_n_statements(const struct kms_policy *p) { return p ? p->n_stmts : 0; }

const char *kms_policy_sid(const struct kms_policy *p, size_t i)
{
	return p && i < p->n_stmts ? p->stmts[i].sid : NULL;
}

const char *kms_policy_warning(const struct kms_policy *p) { return p ? p->warning : NULL; }

/* ---- the policies envol writes ---- */

static int dump(json_t *doc, char **ret)
{
	char *s;

	if (!doc)
		return -ENOMEM;
	s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static bool valid_account(const char *a) { return a && strlen(a) == 12 && kms_policy_all_digits(a, 12); }

int kms_policy_default_json(const char *account, char **ret)
{
	char root[40];

	if (!valid_account(account))
		return -EINVAL;
	snprintf(root, sizeof(root), "arn:aws:iam::%s:root", account);
	return dump(json_pack("{s:s, s:s, s:[{s:s, s:s, s:{s:s}, s:s, s:s}]}", "Version",
			      "2012-10-17", "Id", "key-default-1", "Statement", "Sid",
			      "Enable IAM User Permissions", "Effect", "Allow", "Principal", "AWS",
			      root, "Action", "kms:*", "Resource", "*"),
		    ret);
}

int kms_policy_managed_json(const char *account, const char *via_service, char **ret)
{
	char root[40];

	if (!valid_account(account) || !via_service || !*via_service)
		return -EINVAL;
	snprintf(root, sizeof(root), "arn:aws:iam::%s:root", account);
	return dump(
	    json_pack("{s:s, s:s, s:[{s:s, s:s, s:{s:s}, s:[s,s,s,s,s,s], s:s, s:{s:{s:s, s:s}}},"
		      " {s:s, s:s, s:{s:s}, s:[s,s,s,s], s:s}]}",
		      "Version", "2012-10-17", "Id", "auto-envol-ebs-1", "Statement", "Sid",
		      "Allow access through the service for all principals in the account that "
		      "are authorized to use it",
		      "Effect", "Allow", "Principal", "AWS", "*", "Action", "kms:Encrypt",
		      "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
		      "kms:DescribeKey", "Resource", "*", "Condition", "StringEquals",
		      "kms:CallerAccount", account, "kms:ViaService", via_service, "Sid",
		      "Allow direct access to key metadata to the account", "Effect", "Allow",
		      "Principal", "AWS", root, "Action", "kms:Describe*", "kms:Get*", "kms:List*",
		      "kms:RevokeGrant", "Resource", "*"),
	    ret);
}
