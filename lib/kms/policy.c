/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy.c — the IAM / KMS policy language (policy.h): parser and validator (JSON through
 * jansson into a compiled form held in one arena), evaluator (no allocation), the combined
 * decision, and the default and managed-key policy texts.
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

#include "kms/policy.h"
#include "util/error.h"
#include "util/macros.h"

/* ---- compiled form ---- */

enum cond_op {
	OP_STRING_EQUALS,
	OP_STRING_NOT_EQUALS,
	OP_STRING_EQUALS_IC,
	OP_STRING_NOT_EQUALS_IC,
	OP_STRING_LIKE,
	OP_STRING_NOT_LIKE,
	OP_NUMERIC_EQ,
	OP_NUMERIC_NE,
	OP_NUMERIC_LT,
	OP_NUMERIC_LE,
	OP_NUMERIC_GT,
	OP_NUMERIC_GE,
	OP_DATE_EQ,
	OP_DATE_NE,
	OP_DATE_LT,
	OP_DATE_LE,
	OP_DATE_GT,
	OP_DATE_GE,
	OP_BOOL,
	OP_BINARY_EQUALS,
	OP_IP_ADDRESS,
	OP_NOT_IP_ADDRESS,
	OP_ARN_EQUALS,
	OP_ARN_LIKE,
	OP_ARN_NOT_EQUALS,
	OP_ARN_NOT_LIKE,
	OP_NULL,
	OP_MAX,
};

enum family { FAM_STRING, FAM_NUMERIC, FAM_DATE, FAM_BOOL, FAM_BINARY, FAM_IP, FAM_ARN };

static const struct op_info {
	const char *name;
	enum family family;
	bool negated;	       /* true when the operator is the negation of positive */
	enum cond_op positive; /* the operator whose match is tested (itself unless negated) */
} op_table[OP_MAX] = {
    [OP_STRING_EQUALS] = {"StringEquals", FAM_STRING, false, OP_STRING_EQUALS},
    [OP_STRING_NOT_EQUALS] = {"StringNotEquals", FAM_STRING, true, OP_STRING_EQUALS},
    [OP_STRING_EQUALS_IC] = {"StringEqualsIgnoreCase", FAM_STRING, false, OP_STRING_EQUALS_IC},
    [OP_STRING_NOT_EQUALS_IC] = {"StringNotEqualsIgnoreCase", FAM_STRING, true,
				 OP_STRING_EQUALS_IC},
    [OP_STRING_LIKE] = {"StringLike", FAM_STRING, false, OP_STRING_LIKE},
    [OP_STRING_NOT_LIKE] = {"StringNotLike", FAM_STRING, true, OP_STRING_LIKE},
    [OP_NUMERIC_EQ] = {"NumericEquals", FAM_NUMERIC, false, OP_NUMERIC_EQ},
    [OP_NUMERIC_NE] = {"NumericNotEquals", FAM_NUMERIC, true, OP_NUMERIC_EQ},
    [OP_NUMERIC_LT] = {"NumericLessThan", FAM_NUMERIC, false, OP_NUMERIC_LT},
    [OP_NUMERIC_LE] = {"NumericLessThanEquals", FAM_NUMERIC, false, OP_NUMERIC_LE},
    [OP_NUMERIC_GT] = {"NumericGreaterThan", FAM_NUMERIC, false, OP_NUMERIC_GT},
    [OP_NUMERIC_GE] = {"NumericGreaterThanEquals", FAM_NUMERIC, false, OP_NUMERIC_GE},
    [OP_DATE_EQ] = {"DateEquals", FAM_DATE, false, OP_DATE_EQ},
    [OP_DATE_NE] = {"DateNotEquals", FAM_DATE, true, OP_DATE_EQ},
    [OP_DATE_LT] = {"DateLessThan", FAM_DATE, false, OP_DATE_LT},
    [OP_DATE_LE] = {"DateLessThanEquals", FAM_DATE, false, OP_DATE_LE},
    [OP_DATE_GT] = {"DateGreaterThan", FAM_DATE, false, OP_DATE_GT},
    [OP_DATE_GE] = {"DateGreaterThanEquals", FAM_DATE, false, OP_DATE_GE},
    [OP_BOOL] = {"Bool", FAM_BOOL, false, OP_BOOL},
    [OP_BINARY_EQUALS] = {"BinaryEquals", FAM_BINARY, false, OP_BINARY_EQUALS},
    [OP_IP_ADDRESS] = {"IpAddress", FAM_IP, false, OP_IP_ADDRESS},
    [OP_NOT_IP_ADDRESS] = {"NotIpAddress", FAM_IP, true, OP_IP_ADDRESS},
    [OP_ARN_EQUALS] = {"ArnEquals", FAM_ARN, false, OP_ARN_EQUALS},
    [OP_ARN_LIKE] = {"ArnLike", FAM_ARN, false, OP_ARN_LIKE},
    [OP_ARN_NOT_EQUALS] = {"ArnNotEquals", FAM_ARN, true, OP_ARN_EQUALS},
    [OP_ARN_NOT_LIKE] = {"ArnNotLike", FAM_ARN, true, OP_ARN_LIKE},
    [OP_NULL] = {"Null", FAM_BOOL, false, OP_NULL},
};

enum set_qualifier { SET_NONE, SET_ANY, SET_ALL };

/* One value of a condition, read once at parse time according to the operator's family. */
struct cvalue {
	const char *s; /* the text (strings, ARNs, base64) */
	double num;
	int64_t ms; /* dates: milliseconds since the epoch */
	bool b;
	int af; /* addresses: AF_INET or AF_INET6 */
	unsigned prefix;
	uint8_t addr[16];
};

struct cond {
	enum cond_op op;
	enum set_qualifier set;
	bool if_exists;
	const char *key;
	struct cvalue *values;
	size_t n_values;
};

/* An Action or Resource pattern: actions are stored lower-case (they match case-insensitively). */
struct pattern {
	const char *s;
	size_t prefix; /* length of the literal part before the first '*' or '?' */
	bool any;      /* exactly "*" */
	bool wild;     /* holds '*' or '?' */
};

struct aws_principal {
	const char *arn;
	char account[13]; /* set when arn is an account root: any principal of it matches */
};

struct stmt {
	const char *sid;
	bool deny;
	bool inert;	    /* key policy statement without Action or Resource: never applies */
	bool has_principal; /* Principal or NotPrincipal given (key policies) */
	bool not_principal;
	bool principal_any;
	struct aws_principal *aws;
	size_t n_aws;
	const char **services;
	size_t n_services;
	bool not_action;
	struct pattern *actions;
	size_t n_actions;
	bool not_resource;
	struct pattern *resources;
	size_t n_resources;
	struct cond *conds;
	size_t n_conds;
};

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct kms_policy {
	unsigned n_ref;
	enum kms_policy_kind kind;
	struct stmt *stmts;
	size_t n_stmts;
	const char *warning;
	struct arena_block *arena;
};

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

/* ---- matching primitives (no allocation) ---- */

static inline char fold(char c, bool ci)
{
	return ci && c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/*
 * Glob match of p[0..pn) against s[0..sn): '*' any run (also empty), '?' one character (a
 * whole UTF-8 sequence).  Iterative with one backtrack point: O(pn * sn) at worst.
 */
static bool glob_match(const char *p, size_t pn, const char *s, size_t sn, bool ci)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			if (pi + 1 == pn)
				return true; /* a trailing '*' takes the rest */
			star = pi++;
			mark = si;
		} else if (pi < pn && p[pi] == '?') {
			pi++;
			si++;
			while (si < sn && ((unsigned char)s[si] & 0xC0) == 0x80)
				si++;
		} else if (pi < pn && fold(p[pi], ci) == fold(s[si], ci)) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

static bool glob_str(const char *p, const char *s, bool ci)
{
	return glob_match(p, strlen(p), s, strlen(s), ci);
}

/*
 * ARN match: the six colon-separated parts (arn:partition:service:region:account:resource)
 * are matched one by one, with wildcards inside each part; the resource part is the rest of
 * the ARN, colons included.  A pattern with fewer parts matches the rest of the value with
 * its last part (so "*" matches anything).  Case-sensitive, as AWS.
 */
static bool arn_match(const char *pat, const char *val)
{
	for (int i = 0; i < 5; i++) {
		const char *pc = strchr(pat, ':'), *vc;

		if (!pc)
			break;
		vc = strchr(val, ':');
		if (!vc || !glob_match(pat, (size_t)(pc - pat), val, (size_t)(vc - val), false))
			return false;
		pat = pc + 1;
		val = vc + 1;
	}
	return glob_str(pat, val, false);
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

int kms_arn_account(const char *arn, char out[13])
{
	const char *f = arn, *end;

	if (!arn || strncmp(arn, "arn:", 4) != 0)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		f = strchr(f, ':');
		if (!f)
			return -EINVAL;
		f++;
	}
	end = strchr(f, ':');
	if (!end || end - f != 12 || !all_digits(f, 12))
		return -EINVAL;
	memcpy(out, f, 12);
	out[12] = '\0';
	return 0;
}

/* A strict decimal number (JSON-like, also "+1", "1."): the whole string, finite. */
static bool parse_number(const char *s, double *ret)
{
	char *end;
	double v;

	if (!*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(v))
		return false;
	/* strtod also reads hex floats, "inf" and "nan"; policies mean decimal numbers */
	for (const char *c = s; *c; c++)
		if (!(isdigit((unsigned char)*c) || *c == '.' || *c == '-' || *c == '+' ||
		      *c == 'e' || *c == 'E'))
			return false;
	*ret = v;
	return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

static bool read_digits(const char **s, unsigned n, unsigned *ret)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		if ((*s)[i] < '0' || (*s)[i] > '9')
			return false;
		v = v * 10 + (unsigned)((*s)[i] - '0');
	}
	*s += n;
	*ret = v;
	return true;
}

/*
 * A date as AWS reads it: ISO 8601 ("2024-05-01", "2024-05-01T10:00Z",
 * "2024-05-01T10:00:00.123+02:00"; no zone means UTC) or seconds since the epoch
 * ("1714557600").  Into milliseconds since the epoch.
 */
static bool parse_date(const char *s, int64_t *ret)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	int64_t t, off = 0;
	size_t n = strlen(s);

	if (n > 0 && n <= 12 && all_digits(s, n)) {
		*ret = (int64_t)strtoll(s, NULL, 10) * 1000;
		return true;
	}
	if (!read_digits(&s, 4, &y) || *s++ != '-' || !read_digits(&s, 2, &mo) || *s++ != '-' ||
	    !read_digits(&s, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return false;
	if (*s == 'T' || *s == 't') {
		s++;
		if (!read_digits(&s, 2, &h) || *s++ != ':' || !read_digits(&s, 2, &mi))
			return false;
		if (*s == ':') {
			s++;
			if (!read_digits(&s, 2, &sec))
				return false;
			if (*s == '.') {
				unsigned scale = 100;

				s++;
				if (!isdigit((unsigned char)*s))
					return false;
				for (; isdigit((unsigned char)*s); s++, scale /= 10)
					ms += (unsigned)(*s - '0') * scale;
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			return false;
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			int sign = *s++ == '-' ? -1 : 1;
			unsigned oh, om;

			if (!read_digits(&s, 2, &oh))
				return false;
			if (*s == ':')
				s++;
			if (!read_digits(&s, 2, &om) || oh > 23 || om > 59)
				return false;
			off = sign * (int64_t)(oh * 3600 + om * 60);
		}
	}
	if (*s)
		return false;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	*ret = t * 1000 + ms;
	return true;
}

static bool parse_bool(const char *s, bool *ret)
{
	if (strcasecmp(s, "true") == 0)
		*ret = true;
	else if (strcasecmp(s, "false") == 0)
		*ret = false;
	else
		return false;
	return true;
}

/* "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128). */
static bool parse_ip(const char *s, struct cvalue *v, bool allow_prefix)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;

	if (n >= sizeof(buf) || (slash && !allow_prefix))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(v->addr, 0, sizeof(v->addr));
	if (inet_pton(AF_INET, buf, v->addr) == 1) {
		v->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, v->addr) == 1) {
		v->af = AF_INET6;
		max = 128;
	} else {
		return false;
	}
	v->prefix = max;
	if (slash) {
		const char *p = slash + 1;
		size_t pn = strlen(p);

		if (pn < 1 || pn > 3 || !all_digits(p, pn) || (unsigned)atoi(p) > max)
			return false;
		v->prefix = (unsigned)atoi(p);
	}
	return true;
}

static bool ip_in(const struct cvalue *net, const struct cvalue *a)
{
	unsigned bytes = net->prefix / 8, bits = net->prefix % 8;

	if (net->af != a->af)
		return false;
	if (memcmp(net->addr, a->addr, bytes) != 0)
		return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xFF << (8 - bits));

		return (net->addr[bytes] & mask) == (a->addr[bytes] & mask);
	}
	return true;
}

/* A request value read for family f; false when it cannot be (it then satisfies nothing). */
static bool read_request_value(enum family f, const char *s, struct cvalue *v)
{
	v->s = s;
	switch (f) {
	case FAM_NUMERIC:
		return parse_number(s, &v->num);
	case FAM_DATE:
		return parse_date(s, &v->ms);
	case FAM_BOOL:
		return parse_bool(s, &v->b);
	case FAM_IP:
		return parse_ip(s, v, false);
	case FAM_STRING:
	case FAM_BINARY:
	case FAM_ARN:
		return true;
	}
	return false;
}

/* Does request value r satisfy the positive operator op against policy value p? */
static bool positive_match(enum cond_op op, const struct cvalue *r, const struct cvalue *p)
{
	switch (op) {
	case OP_STRING_EQUALS:
	case OP_BINARY_EQUALS:
		return strcmp(r->s, p->s) == 0;
	case OP_STRING_EQUALS_IC:
		return strcasecmp(r->s, p->s) == 0;
	case OP_STRING_LIKE:
		return glob_str(p->s, r->s, false);
	case OP_NUMERIC_EQ:
		return r->num == p->num;
	case OP_NUMERIC_LT:
		return r->num < p->num;
	case OP_NUMERIC_LE:
		return r->num <= p->num;
	case OP_NUMERIC_GT:
		return r->num > p->num;
	case OP_NUMERIC_GE:
		return r->num >= p->num;
	case OP_DATE_EQ:
		return r->ms == p->ms;
	case OP_DATE_LT:
		return r->ms < p->ms;
	case OP_DATE_LE:
		return r->ms <= p->ms;
	case OP_DATE_GT:
		return r->ms > p->ms;
	case OP_DATE_GE:
		return r->ms >= p->ms;
	case OP_BOOL:
		return r->b == p->b;
	case OP_IP_ADDRESS:
		return ip_in(p, r);
	case OP_ARN_EQUALS:
	case OP_ARN_LIKE:
		return arn_match(p->s, r->s);
	default:
		return false;
	}
}

/* One request value against the condition: positive operators OR over the policy values,
 * negated ones NOR.  A value the operator cannot read satisfies neither. */
static bool value_ok(const struct cond *c, const char *text)
{
	const struct op_info *oi = &op_table[c->op];
	struct cvalue r;
	bool any = false;

	if (!read_request_value(oi->family, text, &r))
		return false;
	for (size_t i = 0; i < c->n_values && !any; i++)
		any = positive_match(oi->positive, &r, &c->values[i]);
	return oi->negated ? !any : any;
}

/* ---- evaluation ---- */

struct key_scan {
	size_t count;
	bool any_ok, all_ok;
};

static void scan_value(const struct cond *c, const char *v, struct key_scan *ks)
{
	bool ok = c->op == OP_NULL ? true : value_ok(c, v);

	ks->count++;
	ks->any_ok |= ok;
	ks->all_ok &= ok;
}

/* The built-in keys: aws:PrincipalArn, aws:PrincipalAccount, kms:CallerAccount. */
static const char *builtin_key(const char *key, const struct kms_policy_request *req, char acct[13])
{
	if (strcasecmp(key, "aws:PrincipalArn") == 0)
		return req->principal;
	if (strcasecmp(key, "aws:PrincipalAccount") == 0 ||
	    strcasecmp(key, "kms:CallerAccount") == 0) {
		if (req->account)
			return req->account;
		if (kms_arn_account(req->principal, acct) == 0)
			return acct;
	}
	return NULL;
}

static bool cond_holds(const struct cond *c, const struct kms_policy_request *req)
{
	const struct op_info *oi = &op_table[c->op];
	struct key_scan ks = {.all_ok = true};
	bool found = false;

	for (size_t k = 0; k < req->n_keys; k++) {
		const struct kms_policy_key *e = &req->keys[k];

		if (!e->name || strcasecmp(e->name, c->key) != 0)
			continue;
		found = true;
		for (size_t v = 0; v < e->n_values; v++)
			if (e->values[v])
				scan_value(c, e->values[v], &ks);
	}
	if (!found) {
		char acct[13];
		const char *b = builtin_key(c->key, req, acct);

		if (b)
			scan_value(c, b, &ks);
	}

	if (c->op == OP_NULL) {
		bool is_null = ks.count == 0;

		for (size_t i = 0; i < c->n_values; i++)
			if (c->values[i].b == is_null)
				return true;
		return false;
	}
	if (ks.count == 0) {
		if (c->if_exists || c->set == SET_ALL)
			return true;
		if (c->set == SET_ANY)
			return false;
		return oi->negated; /* a negated operator holds when the key is absent */
	}
	switch (c->set) {
	case SET_ALL:
		return ks.all_ok;
	case SET_ANY:
		return ks.any_ok;
	case SET_NONE:
		break;
	}
	return oi->negated ? ks.all_ok : ks.any_ok;
}

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
			if (glob_str(p->s, sub->action, true))
				return true;
		} else if (!p->wild) {
			if (strcmp(p->s, sub->action) == 0)
				return true;
		} else if (strncmp(p->s, sub->action, p->prefix) == 0 &&
			   glob_str(p->s + p->prefix, sub->action + p->prefix, false)) {
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
		    (p->wild ? arn_match(p->s, sub->resource) : strcmp(p->s, sub->resource) == 0))
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
		if (!cond_holds(&s->conds[i], req))
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
		if (strlen(x) == 12 && all_digits(x, 12)) {
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
		if (strlen(op_table[op].name) == n &&
		    strncasecmp(op_table[op].name, name, n) == 0) {
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
	enum family f = op_table[c->op].family;
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
		ok = parse_number(t, &out->num);
		want = "a number";
		break;
	case FAM_DATE:
		ok = parse_date(t, &out->ms);
		want = "a date (ISO 8601 such as 2024-05-01T10:00:00Z, or epoch seconds)";
		break;
	case FAM_BOOL:
		ok = parse_bool(t, &out->b);
		want = "true or false";
		break;
	case FAM_BINARY:
		ok = valid_base64(t);
		want = "base64";
		break;
	case FAM_IP:
		ok = parse_ip(t, out, true);
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

static bool valid_account(const char *a) { return a && strlen(a) == 12 && all_digits(a, 12); }

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
