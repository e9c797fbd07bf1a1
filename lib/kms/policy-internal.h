/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-internal.h — what the files of the policy language share (policy.h is the interface):
 * the compiled form of a policy, and the functions each file offers the others.
 * policy.c parses and validates into the compiled form and writes envol's own policies;
 * policy-condition.c holds the matching primitives and the condition operators;
 * policy-eval.c evaluates statements and makes the combined decision.
 */
#ifndef ENVOL_KMS_POLICY_INTERNAL_H
#define ENVOL_KMS_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kms/policy.h"

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

struct op_info {
	const char *name;
	enum family family;
	bool negated;	       /* true when the operator is the negation of positive */
	enum cond_op positive; /* the operator whose match is tested (itself unless negated) */
};
/* Every operator: its name, family and how it is matched (policy-condition.c). */
extern const struct op_info kms_policy_op_table[OP_MAX];

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

/* ASCII case folding when ci. */
static inline char fold(char c, bool ci)
{
	return ci && c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* ---- policy-condition.c ---- */

/* Condition value readers: true when s is a valid number, date (ISO 8601 or epoch seconds),
 * bool ("true"/"false") or IP address (with a /prefix when allow_prefix). */
bool kms_policy_parse_number(const char *s, double *ret);
bool kms_policy_parse_date(const char *s, int64_t *ret);
bool kms_policy_parse_bool(const char *s, bool *ret);
bool kms_policy_parse_ip(const char *s, struct cvalue *v, bool allow_prefix);

/* Glob match (* and ?) of s against p, case-insensitively when ci. */
bool kms_policy_glob_str(const char *p, const char *s, bool ci);
/* ARN pattern match as ArnLike does it (per colon-separated part). */
bool kms_policy_arn_match(const char *pat, const char *val);
bool kms_policy_all_digits(const char *s, size_t n);
/* Reads a value of family f (a number, a date, …) from its text. */
bool kms_policy_read_value(enum family f, const char *s, struct cvalue *v);
/* Does condition c hold for the request? */
bool kms_policy_cond_holds(const struct cond *c, const struct kms_policy_request *req);

#endif
