/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-condition.c — the condition operators of the policy language: matching primitives
 * (globs, ARNs, numbers, dates, addresses) and whether one condition holds for a request.
 * No allocation.
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

const struct op_info kms_policy_op_table[OP_MAX] = {
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

/* ---- matching primitives (no allocation) ---- */


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

bool kms_policy_glob_str(const char *p, const char *s, bool ci)
{
	return glob_match(p, strlen(p), s, strlen(s), ci);
}

/*
 * ARN match: the six colon-separated parts (arn:partition:service:region:account:resource)
 * are matched one by one, with wildcards inside each part; the resource part is the rest of
 * the ARN, colons included.  A pattern with fewer parts matches the rest of the value with
 * its last part (so "*" matches anything).  Case-sensitive, as AWS.
 */
bool kms_policy_arn_match(const char *pat, const char *val)
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
	return kms_policy_glob_str(pat, val, false);
}

bool kms_policy_all_digits(const char *s, size_t n)
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
	if (!end || end - f != 12 || !kms_policy_all_digits(f, 12))
		return -EINVAL;
	memcpy(out, f, 12);
	out[12] = '\0';
	return 0;
}

/* A strict decimal number (JSON-like, also "+1", "1."): the whole string, finite. */
bool kms_policy_parse_number(const char *s, double *ret)
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
bool kms_policy_parse_date(const char *s, int64_t *ret)
{
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	int64_t t, off = 0;
	size_t n = strlen(s);

	if (n > 0 && n <= 12 && kms_policy_all_digits(s, n)) {
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

bool kms_policy_parse_bool(const char *s, bool *ret)
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
bool kms_policy_parse_ip(const char *s, struct cvalue *v, bool allow_prefix)
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

		if (pn < 1 || pn > 3 || !kms_policy_all_digits(p, pn) || (unsigned)atoi(p) > max)
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
bool kms_policy_read_value(enum family f, const char *s, struct cvalue *v)
{
	v->s = s;
	switch (f) {
	case FAM_NUMERIC:
		return kms_policy_parse_number(s, &v->num);
	case FAM_DATE:
		return kms_policy_parse_date(s, &v->ms);
	case FAM_BOOL:
		return kms_policy_parse_bool(s, &v->b);
	case FAM_IP:
		return kms_policy_parse_ip(s, v, false);
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
		return kms_policy_glob_str(p->s, r->s, false);
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
		return kms_policy_arn_match(p->s, r->s);
	default:
		return false;
	}
}

/* One request value against the condition: positive operators OR over the policy values,
 * negated ones NOR.  A value the operator cannot read satisfies neither. */
static bool value_ok(const struct cond *c, const char *text)
{
	const struct op_info *oi = &kms_policy_op_table[c->op];
	struct cvalue r;
	bool any = false;

	if (!kms_policy_read_value(oi->family, text, &r))
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

bool kms_policy_cond_holds(const struct cond *c, const struct kms_policy_request *req)
{
	const struct op_info *oi = &kms_policy_op_table[c->op];
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

