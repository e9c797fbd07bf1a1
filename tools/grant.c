/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * grant.c — "envolctl grant …": KMS grants (create, list, list-retirable, retire, revoke) with
 * AWS's request and response shapes, and the grant table that volume show reuses.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envolctl.h"
#include "kms/grant.h"
#include "parse.h"
#include "table.h"

/* ListGrants and ListRetirableGrants pages: AWS takes 1 to 100. */
#define GRANT_PAGE 100

/*
 * KEY for a grant operation: a key id or key ARN is sent as it is (these operations take no
 * alias, and a grantee or a retiring principal may not be allowed DescribeKey); an alias is
 * resolved with DescribeKey.  Returns 0, EXIT_USAGE (printed), or -errno (printed).
 */
static int grant_key(struct ctl *c, const char *key, char **ret)
{
	char *id;

	c->key_hint = key;
	switch (ctl_key_classify(key)) {
	case CTL_KEY_ID:
	case CTL_KEY_ARN:
		id = strdup(key);
		if (!id)
			return -ENOMEM;
		*ret = id;
		return 0;
	default:
		return ctl_key_resolve(c, key, ret, NULL);
	}
}

/* Appends text to the malloc'd *s after sep (none when *s is NULL).  Returns 0 or -ENOMEM. */
static int append(char **s, const char *sep, const char *text)
{
	char *n;

	if (asprintf(&n, "%s%s%s", *s ? *s : "", *s ? sep : "", text) < 0)
		return -ENOMEM;
	free(*s);
	*s = n;
	return 0;
}

/* The grant operation named name regardless of case (the names of botocore's GrantOperation,
 * as the KMS library knows them), as AWS spells it; NULL if none. */
static const char *operation_name(const char *name)
{
	for (int i = 0; i < KMS_GRANT_OP_COUNT; i++) {
		const char *n = kms_grant_op_name(1u << i);

		if (n && strcasecmp(name, n) == 0)
			return n;
	}
	return NULL;
}

/* An unknown operation: a usage error that lists the known ones. */
static int unknown_operation(const char *name)
{
	_cleanup_free_ char *known = NULL;

	for (int i = 0; i < KMS_GRANT_OP_COUNT; i++)
		if (kms_grant_op_name(1u << i) &&
		    append(&known, ", ", kms_grant_op_name(1u << i)) < 0)
			return EXIT_ERROR;
	return ctl_usage("--operations: unknown grant operation \"%s\" (one of %s)", name,
			 known ? known : "none");
}

/* "Decrypt,Encrypt" appended to the array ops (names matched without regard to case, sent as
 * AWS spells them, each once).  Returns 0 or EXIT_USAGE (printed). */
static int parse_operations(const char *text, json_t *ops)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL, *p;

	if (!copy)
		return EXIT_ERROR;
	if (!*text || text[0] == ',' || text[strlen(text) - 1] == ',' || strstr(text, ",,"))
		return ctl_usage("--operations \"%s\": an empty operation name", text);
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		const char *name = operation_name(p);
		size_t i;
		json_t *v;

		if (!name)
			return unknown_operation(p);
		json_array_foreach(ops, i, v)
		{
			if (strcmp(json_string_value(v), name) == 0)
				break;
		}
		if (i == json_array_size(ops) && json_array_append_new(ops, json_string(name)) < 0)
			return EXIT_ERROR;
	}
	return 0;
}

/* "K=V" of --constraint-equals or --constraint-subset into ctx. */
static int constraint_add(json_t *ctx, const char *opt, const char *pair)
{
	_cleanup_free_ char *k = NULL, *v = NULL;

	if (ctl_parse_pair(pair, &k, &v) < 0)
		return ctl_usage("%s \"%s\": expected KEY=VALUE", opt, pair);
	if (json_object_set_new(ctx, k, json_string(v)) < 0)
		return ctl_usage("%s \"%s\": not valid UTF-8", opt, pair);
	return 0;
}

/* "equals a=b, c=d" / "subset a=b" / "-" of a grant's Constraints, malloc'd. */
static char *constraints_text(json_t *g)
{
	static const char *const kinds[][2] = {{"EncryptionContextEquals", "equals "},
					       {"EncryptionContextSubset", "subset "}};
	json_t *cons = json_object_get(g, "Constraints");
	char *s = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		json_t *ctx = json_object_get(cons, kinds[i][0]), *v;
		_cleanup_free_ char *pairs = NULL;
		const char *k;

		if (!json_is_object(ctx))
			continue;
		json_object_foreach(ctx, k, v)
		{
			_cleanup_free_ char *pair = NULL;

			if (asprintf(&pair, "%s=%s", k,
				     json_is_string(v) ? json_string_value(v) : "?") < 0 ||
			    append(&pairs, ", ", pair) < 0)
				goto fail;
		}
		if (append(&s, "; ", kinds[i][1]) < 0 || (pairs && append(&s, "", pairs) < 0))
			goto fail;
	}
	return s ? s : strdup("-");
fail:
	free(s);
	return NULL;
}

/* "Decrypt,Encrypt" of a grant's Operations, malloc'd. */
static char *operations_text(json_t *g)
{
	json_t *ops = json_object_get(g, "Operations"), *v;
	char *s = NULL;
	size_t i;

	json_array_foreach(ops, i, v)
	{
		if (append(&s, ",", json_is_string(v) ? json_string_value(v) : "?") < 0) {
			free(s);
			return NULL;
		}
	}
	return s ? s : strdup("-");
}

struct table *ctl_grant_table_new(bool with_key)
{
	static const char *const headers[] = {"KEY",	  "GRANT ID",	"NAME",	       "GRANTEE",
					      "RETIRING", "OPERATIONS", "CONSTRAINTS", "CREATED"};

	return with_key ? table_new(ARRAY_SIZE(headers), headers)
			: table_new(ARRAY_SIZE(headers) - 1, headers + 1);
}

int ctl_grant_table_add(struct table *t, json_t *g, bool with_key)
{
	_cleanup_free_ char *ops = operations_text(g), *cons = constraints_text(g);
	const char *key = ctl_json_string(g, "KeyId"), *slash;
	char created[40];
	time_t when;
	int r;

	if (!ops || !cons)
		return -ENOMEM;
	r = ctl_json_time(g, "CreationDate", &when);
	if (r == 0)
		ctl_format_time(when, created, sizeof created);
	else
		snprintf(created, sizeof created, "%s", r == -ENOENT ? "-" : "(invalid)");
	slash = key ? strstr(key, ":key/") : NULL;
	const char *cells[] = {slash ? slash + 5 : key,
			       ctl_json_string(g, "GrantId"),
			       ctl_json_string(g, "Name"),
			       ctl_json_string(g, "GranteePrincipal"),
			       ctl_json_string(g, "RetiringPrincipal"),
			       ops,
			       cons,
			       created};
	return table_add_row(t, with_key ? cells : cells + 1);
}

int ctl_grant_list(struct ctl *c, const char *key_id, const char *grantee, const char *grant_id,
		   json_t **ret, struct ctl_kms_error *e)
{
	_cleanup_json_ json_t *req = json_pack("{s:s}", "KeyId", key_id);

	if (!req ||
	    (grantee && json_object_set_new(req, "GranteePrincipal", json_string(grantee)) < 0) ||
	    (grant_id && json_object_set_new(req, "GrantId", json_string(grant_id)) < 0))
		return -ENOMEM;
	return ctl_kms_list_all(c, "ListGrants", req, "Grants", "GrantId", GRANT_PAGE, ret, e);
}

/* A listing of grants: {"Grants": [...], "Truncated": false} with --json (every page in one
 * ListGrants response), else the table. */
static int print_grants(struct ctl *c, json_t *grants, bool with_key)
{
	_cleanup_json_ json_t *o = NULL;
	struct table *t;
	size_t i;
	json_t *g;

	if (c->json) {
		o = json_pack("{s:O,s:b}", "Grants", grants, "Truncated", 0);
		if (!o)
			return EXIT_ERROR;
		ctl_print_json(o);
		return EXIT_OK;
	}
	t = ctl_grant_table_new(with_key);
	if (!t)
		return EXIT_ERROR;
	json_array_foreach(grants, i, g)
	{
		if (ctl_grant_table_add(t, g, with_key) < 0) {
			table_free(t);
			return EXIT_ERROR;
		}
	}
	table_print(t, stdout);
	table_free(t);
	return EXIT_OK;
}

static int grant_create(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"grantee", required_argument, NULL, 'g'},
					     {"operations", required_argument, NULL, 'o'},
					     {"retiring", required_argument, NULL, 'r'},
					     {"constraint-equals", required_argument, NULL, 'E'},
					     {"constraint-subset", required_argument, NULL, 'S'},
					     {"name", required_argument, NULL, 'n'},
					     {"dry-run", no_argument, NULL, 'd'},
					     {}};
	static const char usage[] =
	    "usage: envolctl grant create KEY --grantee ARN --operations OP[,OP]... "
	    "[--retiring ARN] [--constraint-equals K=V ...|--constraint-subset K=V ...] "
	    "[--name NAME] [--dry-run]";
	_cleanup_json_ json_t *ops = json_array(), *equals = json_object(), *subset = json_object(),
			      *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL;
	const char *grantee = NULL, *retiring = NULL, *name = NULL, *gid, *token;
	struct ctl_kms_error e;
	bool dry_run = false;
	int o, r;

	if (!ops || !equals || !subset)
		return EXIT_ERROR;
	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'g':
			grantee = optarg;
			break;
		case 'o':
			r = parse_operations(optarg, ops);
			if (r)
				return r;
			break;
		case 'r':
			retiring = optarg;
			break;
		case 'E':
			r = constraint_add(equals, "--constraint-equals", optarg);
			if (r)
				return r;
			break;
		case 'S':
			r = constraint_add(subset, "--constraint-subset", optarg);
			if (r)
				return r;
			break;
		case 'n':
			name = optarg;
			break;
		case 'd':
			dry_run = true;
			break;
		default:
			return ctl_bad_option("grant", "create", argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("%s", usage);
	if (!grantee)
		return ctl_usage("grant create: --grantee ARN is required (the principal the grant "
				 "is for)");
	if (json_array_size(ops) == 0)
		return ctl_usage("grant create: --operations is required (e.g. --operations "
				 "Decrypt)");
	if (json_object_size(equals) && json_object_size(subset))
		return ctl_usage("grant create: --constraint-equals and --constraint-subset do not "
				 "go together");
	r = grant_key(c, argv[optind], &id);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	req =
	    json_pack("{s:s,s:s,s:O}", "KeyId", id, "GranteePrincipal", grantee, "Operations", ops);
	if (!req ||
	    (retiring &&
	     json_object_set_new(req, "RetiringPrincipal", json_string(retiring)) < 0) ||
	    (name && json_object_set_new(req, "Name", json_string(name)) < 0))
		return EXIT_ERROR;
	if (json_object_size(equals) &&
	    json_object_set_new(req, "Constraints",
				json_pack("{s:O}", "EncryptionContextEquals", equals)) < 0)
		return EXIT_ERROR;
	if (json_object_size(subset) &&
	    json_object_set_new(req, "Constraints",
				json_pack("{s:O}", "EncryptionContextSubset", subset)) < 0)
		return EXIT_ERROR;
	if (dry_run)
		json_object_set_new(req, "DryRun", json_true());
	r = ctl_kms_call(c, "CreateGrant", req, &resp, &e);
	if (r < 0 && dry_run && strcmp(e.type, "DryRunOperationException") == 0) {
		/* AWS's answer to a DryRun that would have succeeded */
		if (c->json) {
			_cleanup_json_ json_t *out =
			    json_pack("{s:s,s:s}", "__type", e.type, "message", e.message);

			if (!out)
				return EXIT_ERROR;
			ctl_print_json(out);
		} else {
			printf("dry run: the grant would be created (%s: %s)\n", e.type, e.message);
		}
		return EXIT_OK;
	}
	if (r < 0) {
		ctl_kms_report(c, &e);
		return EXIT_ERROR;
	}
	gid = ctl_need_str(resp, "CreateGrant", "", "GrantId");
	token = gid ? ctl_need_str(resp, "CreateGrant", "", "GrantToken") : NULL;
	if (!token)
		return EXIT_ERROR;
	if (dry_run) {
		ctl_error("the KMS ignored DryRun and created grant %s; revoke it with: envolctl "
			  "grant revoke %s %s",
			  gid, id, gid);
		return EXIT_ERROR;
	}
	if (c->json)
		ctl_print_json(resp);
	else
		printf("GrantId:    %s\nGrantToken: %s\n", gid, token);
	return EXIT_OK;
}

static int grant_list(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"grantee", required_argument, NULL, 'g'},
					     {"grant-id", required_argument, NULL, 'i'},
					     {}};
	_cleanup_json_ json_t *grants = NULL;
	_cleanup_free_ char *id = NULL;
	const char *grantee = NULL, *grant_id = NULL;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'g':
			grantee = optarg;
			break;
		case 'i':
			grant_id = optarg;
			break;
		default:
			return ctl_bad_option("grant", "list", argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("usage: envolctl grant list KEY [--grantee ARN] [--grant-id ID]");
	r = grant_key(c, argv[optind], &id);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	if (ctl_grant_list(c, id, grantee, grant_id, &grants, NULL) < 0)
		return EXIT_ERROR;
	return print_grants(c, grants, false);
}

static int grant_list_retirable(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *req = NULL, *grants = NULL;

	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage("usage: envolctl grant list-retirable ARN");
	req = json_pack("{s:s}", "RetiringPrincipal", argv[1]);
	if (!req || ctl_kms_list_all(c, "ListRetirableGrants", req, "Grants", "GrantId", GRANT_PAGE,
				     &grants, NULL) < 0)
		return EXIT_ERROR;
	return print_grants(c, grants, true);
}

static int grant_retire(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"token", required_argument, NULL, 't'}, {}};
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL;
	const char *token = NULL;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 't')
			return ctl_bad_option("grant", "retire", argv);
		token = optarg;
	}
	if (token ? argc - optind != 0 : argc - optind != 2)
		return ctl_usage("usage: envolctl grant retire --token TOKEN | envolctl grant "
				 "retire KEY GRANT_ID");
	if (token) {
		req = json_pack("{s:s}", "GrantToken", token);
	} else {
		r = grant_key(c, argv[optind], &id);
		if (r)
			return r < 0 ? EXIT_ERROR : r;
		req = json_pack("{s:s,s:s}", "KeyId", id, "GrantId", argv[optind + 1]);
	}
	if (!req || ctl_kms_call(c, "RetireGrant", req, &resp, NULL) < 0)
		return EXIT_ERROR;
	if (c->json)
		ctl_print_json(resp);
	else if (token)
		printf("grant retired\n");
	else
		printf("grant %s of key %s retired\n", argv[optind + 1], id);
	return EXIT_OK;
}

static int grant_revoke(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL;
	int r;

	if (argc != 3)
		return ctl_usage("usage: envolctl grant revoke KEY GRANT_ID");
	r = grant_key(c, argv[1], &id);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	req = json_pack("{s:s,s:s}", "KeyId", id, "GrantId", argv[2]);
	if (!req || ctl_kms_call(c, "RevokeGrant", req, &resp, NULL) < 0)
		return EXIT_ERROR;
	if (c->json)
		ctl_print_json(resp);
	else
		printf("grant %s of key %s revoked\n", argv[2], id);
	return EXIT_OK;
}

int ctl_grant_main(struct ctl *c, int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return ctl_usage("grant: which command? (create, list, list-retirable, retire, "
				 "revoke)");
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "create") == 0)
		return grant_create(c, argc, argv);
	if (strcmp(cmd, "list") == 0)
		return grant_list(c, argc, argv);
	if (strcmp(cmd, "list-retirable") == 0)
		return grant_list_retirable(c, argc, argv);
	if (strcmp(cmd, "retire") == 0)
		return grant_retire(c, argc, argv);
	if (strcmp(cmd, "revoke") == 0)
		return grant_revoke(c, argc, argv);
	return ctl_usage("grant: unknown command \"%s\"", cmd);
}
