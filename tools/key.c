/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * key.c — "envolctl key …": KMS key commands (create, list, show, alias, enable, disable,
 * rotate, rotation, schedule-delete, cancel-delete, encrypt, decrypt, policy) over kms_client.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/encoding.h"
#include "envolctl.h"
#include "aws/kms_client.h"
#include "parse.h"
#include "util/secure_mem.h"
#include "table.h"

#define KMS_MAX_PLAINTEXT 4096
#define KMS_MAX_CIPHERTEXT 6144

/* A date for display: "-" when absent, "(invalid)" when not a timestamp. */
static void jdate(json_t *o, const char *name, char *buf, size_t len)
{
	time_t t;
	int r = ctl_json_time(o, name, &t);

	if (r == 0)
		ctl_format_time(t, buf, len);
	else
		snprintf(buf, len, "%s", r == -ENOENT ? "-" : "(invalid)");
}

/* DescribeKey with the members every answer has (KeyId, Arn, KeyState) checked.  Prints
 * errors. */
static int describe(struct ctl *c, const char *key, json_t **ret_md)
{
	json_t *md = NULL;
	int r;

	r = ctl_describe_key(c, key, &md);
	if (r < 0)
		return r;
	if (!ctl_need_str(md, "DescribeKey", "KeyMetadata.", "KeyId") ||
	    !ctl_need_str(md, "DescribeKey", "KeyMetadata.", "Arn") ||
	    !ctl_need_str(md, "DescribeKey", "KeyMetadata.", "KeyState")) {
		json_decref(md);
		return -EPROTO;
	}
	*ret_md = md;
	return 0;
}

int ctl_key_resolve(struct ctl *c, const char *key, char **ret_id, json_t **ret_md)
{
	json_t *md = NULL;
	char *id;
	int r;

	c->key_hint = key;
	if (ctl_key_classify(key) == CTL_KEY_INVALID)
		return ctl_usage("\"%s\" is not a key id, key ARN, alias name (alias/NAME) or "
				 "alias ARN",
				 key);
	r = describe(c, key, &md);
	if (r < 0)
		return r;
	id = strdup(ctl_json_string(md, "KeyId"));
	if (!id) {
		json_decref(md);
		return -ENOMEM;
	}
	*ret_id = id;
	if (ret_md)
		*ret_md = md;
	else
		json_decref(md);
	return 0;
}

/* Aliases of every key (or of key_id): the array of alias objects. */
static int list_aliases(struct ctl *c, const char *key_id, json_t **ret)
{
	_cleanup_json_ json_t *req = key_id ? json_pack("{s:s}", "KeyId", key_id) : json_object();

	if (!req)
		return -ENOMEM;
	return ctl_kms_list_all(c, "ListAliases", req, "Aliases", "AliasName", 100, ret, NULL);
}

/* "alias/a, alias/b" of key_id into a malloc'd string (NULL when none); also a JSON array. */
static char *aliases_of(json_t *aliases, const char *key_id, json_t *ret_names)
{
	char *s = NULL;
	size_t i;
	json_t *a;

	json_array_foreach(aliases, i, a)
	{
		const char *target = ctl_json_string(a, "TargetKeyId");
		const char *name = ctl_json_string(a, "AliasName");
		char *n;

		if (!target || !name || strcmp(target, key_id) != 0)
			continue;
		if (ret_names)
			json_array_append_new(ret_names, json_string(name));
		if (asprintf(&n, "%s%s%s", s ? s : "", s ? ", " : "", name) < 0)
			n = NULL;
		free(s);
		s = n;
	}
	return s;
}

/* GetKeyRotationStatus, quietly: "on (365 days)", "off" or "-". */
static void rotation_of(struct ctl *c, const char *key_id, json_t *md, char *buf, size_t len)
{
	_cleanup_json_ json_t *req = json_pack("{s:s}", "KeyId", key_id);
	_cleanup_json_ json_t *resp = NULL;
	struct ctl_kms_error e;
	json_t *days;

	snprintf(buf, len, "-");
	if (!req || ctl_kms_call(c, "GetKeyRotationStatus", req, &resp, &e) < 0)
		return;
	days = json_object_get(resp, "RotationPeriodInDays");
	if (json_is_true(json_object_get(resp, "KeyRotationEnabled"))) {
		if (json_is_integer(days))
			snprintf(buf, len, "on (%lld days)", (long long)json_integer_value(days));
		else
			snprintf(buf, len, "on");
	} else {
		snprintf(buf, len, "off");
	}
	if (md) {
		json_object_set(md, "KeyRotationEnabled",
				json_object_get(resp, "KeyRotationEnabled"));
		if (days)
			json_object_set(md, "RotationPeriodInDays", days);
		if (json_object_get(resp, "NextRotationDate"))
			json_object_set(md, "NextRotationDate",
					json_object_get(resp, "NextRotationDate"));
	}
}

static int key_create(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"description", required_argument, NULL, 'd'},
					     {"alias", required_argument, NULL, 'a'},
					     {"tag", required_argument, NULL, 't'},
					     {}};
	_cleanup_json_ json_t *req =
	    json_pack("{s:s,s:s}", "KeySpec", "SYMMETRIC_DEFAULT", "KeyUsage", "ENCRYPT_DECRYPT");
	_cleanup_json_ json_t *tags = json_array(), *resp = NULL;
	_cleanup_free_ char *alias = NULL;
	json_t *md;
	const char *id, *arn;
	int o, r;

	if (!req || !tags)
		return EXIT_ERROR;
	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		_cleanup_free_ char *k = NULL, *v = NULL;

		switch (o) {
		case 'd':
			json_object_set_new(req, "Description", json_string(optarg));
			break;
		case 'a':
			free(alias);
			if (strncmp(optarg, "alias/", 6) == 0)
				alias = strdup(optarg);
			else if (asprintf(&alias, "alias/%s", optarg) < 0)
				alias = NULL;
			if (!alias)
				return EXIT_ERROR;
			if (!ctl_alias_name_valid(alias))
				return ctl_usage("--alias %s: an alias is alias/NAME with letters, "
						 "digits, '/', '_' and '-', not alias/aws/…",
						 optarg);
			break;
		case 't':
			if (ctl_parse_pair(optarg, &k, &v) < 0)
				return ctl_usage("--tag \"%s\": expected KEY=VALUE", optarg);
			json_array_append_new(tags,
					      json_pack("{s:s,s:s}", "TagKey", k, "TagValue", v));
			break;
		default:
			return ctl_bad_option("key", "create", argv);
		}
	}
	if (optind != argc)
		return ctl_usage("key create: unexpected argument \"%s\"", argv[optind]);
	if (json_array_size(tags))
		json_object_set(req, "Tags", tags);

	r = ctl_kms_call(c, "CreateKey", req, &resp, NULL);
	if (r < 0)
		return EXIT_ERROR;
	md = json_object_get(resp, "KeyMetadata");
	id = ctl_need_str(md, "CreateKey", "KeyMetadata.", "KeyId");
	arn = id ? ctl_need_str(md, "CreateKey", "KeyMetadata.", "Arn") : NULL;
	if (!arn)
		return EXIT_ERROR;
	if (alias) {
		_cleanup_json_ json_t *areq =
		    json_pack("{s:s,s:s}", "AliasName", alias, "TargetKeyId", id);
		_cleanup_json_ json_t *aresp = NULL;
		struct ctl_kms_error e;

		if (!areq)
			return EXIT_ERROR;
		r = ctl_kms_call(c, "CreateAlias", areq, &aresp, &e);
		if (r < 0) {
			ctl_kms_report(c, &e);
			ctl_error("key %s was created, but alias %s was not; retry with: envolctl "
				  "key alias %s %s",
				  id, alias, id, alias);
			return EXIT_ERROR;
		}
	}
	if (c->json) {
		ctl_print_json(resp);
		return EXIT_OK;
	}
	printf("KeyId: %s\nArn:   %s\n", id, arn);
	if (alias)
		printf("Alias: %s\n", alias);
	return EXIT_OK;
}

static int key_list(struct ctl *c, int argc, char **argv)
{
	static const char *const headers[] = {"KEY ID",	 "ALIAS",    "STATE",
					      "MANAGER", "ROTATION", "DESCRIPTION"};
	_cleanup_json_ json_t *aliases = NULL, *out = json_array(), *keys = NULL,
			      *req = json_object();
	struct table *t = NULL;
	size_t i;
	json_t *k;
	int ret = EXIT_ERROR;

	if (argc > 1)
		return ctl_usage("key list: unexpected argument \"%s\"", argv[1]);
	if (!out)
		return EXIT_ERROR;
	if (!req || ctl_kms_list_all(c, "ListKeys", req, "Keys", "KeyId", 1000, &keys, NULL) < 0)
		return EXIT_ERROR;
	if (list_aliases(c, NULL, &aliases) < 0)
		return EXIT_ERROR;

	t = table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return EXIT_ERROR;
	json_array_foreach(keys, i, k)
	{
		_cleanup_json_ json_t *md = NULL;
		_cleanup_free_ char *al = NULL;
		json_t *names = json_array();
		const char *id = ctl_json_string(k, "KeyId"); /* checked by ctl_kms_list_all */
		const char *desc;
		char rot[64];

		if (!names)
			goto out;
		if (describe(c, id, &md) < 0) {
			json_decref(names);
			goto out;
		}
		al = aliases_of(aliases, id, names);
		json_object_set_new(md, "Aliases", names);
		rotation_of(c, id, md, rot, sizeof rot);
		desc = ctl_json_string(md, "Description");
		const char *cells[] = {id,
				       al ? al : "-",
				       ctl_json_string(md, "KeyState"),
				       ctl_json_string(md, "KeyManager"),
				       rot,
				       desc && *desc ? desc : "-"};
		if (table_add_row(t, cells) < 0)
			goto out;
		json_array_append(out, md);
	}
	ctl_print_listing(c, t, out);
	ret = EXIT_OK;
out:
	table_free(t);
	return ret;
}

static int key_show(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *md = NULL, *aliases = NULL, *names = json_array();
	_cleanup_free_ char *al = NULL, *kid = NULL;
	const char *id;
	char rot[64], created[40], deletion[40];
	int r;

	if (argc != 2)
		return ctl_usage("usage: envolctl key show KEY");
	if (!names)
		return EXIT_ERROR;
	r = ctl_key_resolve(c, argv[1], &kid, &md);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	id = ctl_json_string(md, "KeyId");
	if (list_aliases(c, id, &aliases) < 0)
		return EXIT_ERROR;
	al = aliases_of(aliases, id, names);
	if (c->json) {
		_cleanup_json_ json_t *o = json_pack("{s:O}", "KeyMetadata", md);

		ctl_print_json(o);
		return EXIT_OK;
	}
	rotation_of(c, id, NULL, rot, sizeof rot);
	jdate(md, "CreationDate", created, sizeof created);
	table_print_field(stdout, 12, "KeyId", id);
	table_print_field(stdout, 12, "Arn", ctl_json_string(md, "Arn"));
	table_print_field(stdout, 12, "Aliases", al);
	table_print_field(stdout, 12, "State", ctl_json_string(md, "KeyState"));
	table_print_field(stdout, 12, "Manager", ctl_json_string(md, "KeyManager"));
	table_print_field(stdout, 12, "Description", ctl_json_string(md, "Description"));
	table_print_field(stdout, 12, "Created", created);
	table_print_field(stdout, 12, "KeySpec", ctl_json_string(md, "KeySpec"));
	table_print_field(stdout, 12, "KeyUsage", ctl_json_string(md, "KeyUsage"));
	table_print_field(stdout, 12, "Origin", ctl_json_string(md, "Origin"));
	table_print_field(stdout, 12, "Rotation", rot);
	if (json_object_get(md, "DeletionDate")) {
		jdate(md, "DeletionDate", deletion, sizeof deletion);
		table_print_field(stdout, 12, "Deletion", deletion);
	}
	return EXIT_OK;
}

static int key_alias(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL, *alias = NULL;
	struct ctl_kms_error e;
	int r;

	if (argc != 3)
		return ctl_usage("usage: envolctl key alias KEY alias/NAME");
	if (strncmp(argv[2], "alias/", 6) == 0)
		alias = strdup(argv[2]);
	else if (asprintf(&alias, "alias/%s", argv[2]) < 0)
		alias = NULL;
	if (!alias)
		return EXIT_ERROR;
	if (!ctl_alias_name_valid(alias))
		return ctl_usage(
		    "\"%s\": an alias is alias/NAME with letters, digits, '/', '_' and "
		    "'-', not alias/aws/…",
		    argv[2]);
	r = ctl_key_resolve(c, argv[1], &id, NULL);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	req = json_pack("{s:s,s:s}", "AliasName", alias, "TargetKeyId", id);
	if (!req)
		return EXIT_ERROR;
	r = ctl_kms_call(c, "CreateAlias", req, &resp, &e);
	if (r < 0 && strcmp(e.type, "AlreadyExistsException") == 0)
		r = ctl_kms_call(c, "UpdateAlias", req, &resp, &e); /* point it at this key */
	if (r < 0) {
		ctl_kms_report(c, &e);
		return EXIT_ERROR;
	}
	if (c->json)
		ctl_print_json(req);
	else
		printf("%s -> %s\n", alias, id);
	return EXIT_OK;
}

/* enable, disable, rotate, cancel-delete: one call with {KeyId}. */
static int key_simple(struct ctl *c, int argc, char **argv, const char *op, const char *done)
{
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL;
	int r;

	if (argc != 2)
		return ctl_usage("usage: envolctl key %s KEY", argv[0]);
	r = ctl_key_resolve(c, argv[1], &id, NULL);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	req = json_pack("{s:s}", "KeyId", id);
	if (!req || ctl_kms_call(c, op, req, &resp, NULL) < 0)
		return EXIT_ERROR;
	if (c->json)
		ctl_print_json(resp);
	else
		printf("key %s %s\n", id, done);
	return EXIT_OK;
}

static int key_rotation(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"days", required_argument, NULL, 'd'}, {}};
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL;
	long days = 0;
	bool on;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'd')
			return ctl_bad_option("key", "rotation", argv);
		if (ctl_parse_int(optarg, 90, 2560, &days) < 0)
			return ctl_usage("--days %s: the rotation period is 90 to 2560 days",
					 optarg);
	}
	if (argc - optind != 2 ||
	    (strcmp(argv[optind + 1], "on") && strcmp(argv[optind + 1], "off")))
		return ctl_usage("usage: envolctl key rotation KEY on [--days N] | "
				 "envolctl key rotation KEY off");
	on = strcmp(argv[optind + 1], "on") == 0;
	if (!on && days)
		return ctl_usage("--days only goes with \"on\"");
	r = ctl_key_resolve(c, argv[optind], &id, NULL);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	req = json_pack("{s:s}", "KeyId", id);
	if (!req)
		return EXIT_ERROR;
	if (days)
		json_object_set_new(req, "RotationPeriodInDays", json_integer(days));
	if (ctl_kms_call(c, on ? "EnableKeyRotation" : "DisableKeyRotation", req, &resp, NULL) < 0)
		return EXIT_ERROR;
	if (c->json)
		ctl_print_json(resp);
	else if (on)
		printf("key %s: automatic rotation on, every %ld days\n", id, days ? days : 365);
	else
		printf("key %s: automatic rotation off\n", id);
	return EXIT_OK;
}

static int key_schedule_delete(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"days", required_argument, NULL, 'd'}, {}};
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL;
	char when[40];
	long days = 30;
	time_t t;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'd')
			return ctl_bad_option("key", "schedule-delete", argv);
		if (ctl_parse_int(optarg, 7, 30, &days) < 0)
			return ctl_usage("--days %s: the waiting period is 7 to 30 days", optarg);
	}
	if (argc - optind != 1)
		return ctl_usage("usage: envolctl key schedule-delete KEY [--days 7-30]");
	r = ctl_key_resolve(c, argv[optind], &id, NULL);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	req = json_pack("{s:s,s:i}", "KeyId", id, "PendingWindowInDays", (int)days);
	if (!req || ctl_kms_call(c, "ScheduleKeyDeletion", req, &resp, NULL) < 0)
		return EXIT_ERROR;
	if (ctl_json_time(resp, "DeletionDate", &t) < 0) {
		ctl_error("KMS ScheduleKeyDeletion answer lacks a valid DeletionDate; check the "
			  "key with: envolctl key show %s",
			  id);
		return EXIT_ERROR;
	}
	if (c->json) {
		ctl_print_json(resp);
		return EXIT_OK;
	}
	ctl_format_time(t, when, sizeof when);
	printf("key %s is pending deletion; its material will be destroyed on %s (in %ld days)\n"
	       "undo with: envolctl key cancel-delete %s\n",
	       id, when, days, id);
	return EXIT_OK;
}

/* Adds the --context pairs; returns 0, or EXIT_USAGE. */
/*
 * The options of "key CMD": --context K=V into ctx, then exactly n_operands operands (from
 * argv[optind]).  Returns 0 or an exit code (usage errors printed).
 */
static int parse_context_opts(int argc, char **argv, const char *cmd, json_t *ctx,
			      int n_operands, const char *usage)
{
	static const struct option opts[] = {{"context", required_argument, NULL, 'C'}, {}};
	int o;

	if (!ctx)
		return EXIT_ERROR;
	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'C')
			return ctl_bad_option("key", cmd, argv);
		if (ctl_context_add(ctx, optarg) < 0)
			return EXIT_USAGE;
	}
	if (argc - optind != n_operands)
		return ctl_usage("%s", usage);
	return 0;
}

static int key_encrypt(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *ctx = json_object(), *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL, *b64 = NULL;
	_cleanup_free_ uint8_t *blob = NULL;
	uint8_t *plain = NULL;
	size_t plain_len = 0, blob_len = 0;
	const char *cb;
	int r;

	r = parse_context_opts(argc, argv, "encrypt", ctx, 3,
			       "usage: envolctl key encrypt KEY IN OUT [--context K=V]...");
	if (r)
		return r;
	c->key_hint = argv[optind];
	id = ctl_key_normalize(argv[optind]);
	if (!id)
		return ctl_usage("\"%s\" is not a key id, key ARN, alias name or alias ARN",
				 argv[optind]);
	r = ctl_read_file(argv[optind + 1], KMS_MAX_PLAINTEXT, &plain, &plain_len);
	if (r == -EFBIG) {
		ctl_error(
		    "%s: larger than %d bytes, the most KMS Encrypt takes; encrypt large data "
		    "with a data key (GenerateDataKey) instead",
		    argv[optind + 1], KMS_MAX_PLAINTEXT);
		return EXIT_ERROR;
	}
	if (r < 0) {
		ctl_error("cannot read %s: %s", argv[optind + 1], strerror(-r));
		return EXIT_ERROR;
	}
	if (plain_len == 0) {
		free(plain);
		ctl_error("%s is empty; KMS Encrypt needs 1 to %d bytes", argv[optind + 1],
			  KMS_MAX_PLAINTEXT);
		return EXIT_ERROR;
	}
	b64 = envol_base64_encode(plain, plain_len);
	envol_wipe(plain, plain_len);
	free(plain);
	if (!b64)
		return EXIT_ERROR;
	req = json_pack("{s:s,s:s}", "KeyId", id, "Plaintext", b64);
	envol_wipe(b64, strlen(b64));
	if (!req)
		return EXIT_ERROR;
	if (json_object_size(ctx))
		json_object_set(req, "EncryptionContext", ctx);
	r = ctl_kms_call(c, "Encrypt", req, &resp, NULL);
	/* the request object holds the plaintext: wipe its copy */
	if (json_is_string(json_object_get(req, "Plaintext"))) {
		json_t *p = json_object_get(req, "Plaintext");

		envol_wipe((char *)json_string_value(p), json_string_length(p));
	}
	if (r < 0)
		return EXIT_ERROR;
	cb = ctl_json_string(resp, "CiphertextBlob");
	if (!cb || envol_base64_decode(cb, strlen(cb), &blob, &blob_len) < 0 || blob_len == 0) {
		ctl_error("KMS Encrypt answer has no valid CiphertextBlob");
		return EXIT_ERROR;
	}
	if (!ctl_need_str(resp, "Encrypt", "", "KeyId"))
		return EXIT_ERROR;
	r = ctl_write_file(argv[optind + 2], blob, blob_len, 0644);
	if (r < 0) {
		ctl_error("cannot write %s: %s", argv[optind + 2], strerror(-r));
		return EXIT_ERROR;
	}
	if (c->json)
		ctl_print_json(resp);
	else if (strcmp(argv[optind + 2], "-") != 0)
		printf("%s: %zu bytes of ciphertext under %s\n", argv[optind + 2], blob_len,
		       ctl_json_string(resp, "KeyId"));
	return EXIT_OK;
}

static int key_decrypt(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *ctx = json_object(), *req = NULL;
	_cleanup_free_ char *b64 = NULL;
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secure_ uint8_t *plain = NULL;
	char *body = NULL, key_id[2048] = "";
	uint8_t *decoded = NULL;
	const char *p64, *kid;
	size_t blob_len = 0, p64_len, decoded_len = 0, kid_len;
	int r;

	r = parse_context_opts(argc, argv, "decrypt", ctx, 2,
			       "usage: envolctl key decrypt IN OUT [--context K=V]...");
	if (r)
		return r;
	r = ctl_read_file(argv[optind], KMS_MAX_CIPHERTEXT, &blob, &blob_len);
	if (r < 0) {
		ctl_error("cannot read %s: %s", argv[optind],
			  r == -EFBIG ? "too large for a KMS ciphertext" : strerror(-r));
		return EXIT_ERROR;
	}
	b64 = envol_base64_encode(blob, blob_len);
	if (!b64)
		return EXIT_ERROR;
	req = json_pack("{s:s}", "CiphertextBlob", b64);
	if (!req)
		return EXIT_ERROR;
	if (json_object_size(ctx))
		json_object_set(req, "EncryptionContext", ctx);
	if (ctl_kms_call_raw(c, "Decrypt", req, &body, NULL) < 0)
		return EXIT_ERROR;
	/* The answer holds the plaintext: read it in place, never through a parser. */
	if (envol_kms_client_json_find_string(body, "Plaintext", &p64, &p64_len) < 0 ||
	    envol_base64_decode(p64, p64_len, &decoded, &decoded_len) < 0) {
		ctl_free_wiped(body);
		ctl_error("KMS Decrypt answer has no valid Plaintext");
		return EXIT_ERROR;
	}
	if (envol_kms_client_json_find_string(body, "KeyId", &kid, &kid_len) < 0 || kid_len == 0 ||
	    kid_len >= sizeof key_id) {
		ctl_free_wiped(body);
		envol_wipe(decoded, decoded_len);
		free(decoded);
		ctl_error("KMS Decrypt answer lacks KeyId; is client.kms_socket or client.endpoint "
			  "an AWS KMS?");
		return EXIT_ERROR;
	}
	memcpy(key_id, kid, kid_len);
	ctl_free_wiped(body);
	plain = envol_secure_alloc(decoded_len ? decoded_len : 1);
	if (plain)
		memcpy(plain, decoded, decoded_len);
	envol_wipe(decoded, decoded_len);
	free(decoded);
	if (!plain) {
		ctl_error("cannot allocate locked memory: %s", strerror(errno));
		return EXIT_ERROR;
	}
	r = ctl_write_file(argv[optind + 1], plain, decoded_len, 0600);
	if (r < 0) {
		ctl_error("cannot write %s: %s", argv[optind + 1], strerror(-r));
		return EXIT_ERROR;
	}
	if (c->json) {
		_cleanup_json_ json_t *o =
		    json_pack("{s:s,s:s,s:I}", "KeyId", key_id, "File", argv[optind + 1], "Bytes",
			      (json_int_t)decoded_len);
		ctl_print_json(o);
	} else if (strcmp(argv[optind + 1], "-") != 0) {
		printf("%s: %zu bytes of plaintext (mode 0600), key %s\n", argv[optind + 1],
		       decoded_len, key_id);
	}
	return EXIT_OK;
}

/* The most PutKeyPolicy takes (botocore's PolicyType); the KMS judges the document's own
 * limit (32 KiB in AWS and envol-kmsd) and says so. */
#define KMS_MAX_POLICY 131072

/* Prints a policy document indented (as the KMS stored it when it is not JSON). */
static void print_policy(const char *text)
{
	_cleanup_json_ json_t *doc = json_loads(text, JSON_DECODE_ANY, NULL);

	if (doc)
		ctl_print_json(doc);
	else
		printf("%s\n", text);
}

/* PutKeyPolicy of the document in path (read here; the KMS judges it). */
static int key_policy_put(struct ctl *c, const char *id, const char *path, bool bypass)
{
	_cleanup_json_ json_t *req = NULL, *resp = NULL, *text = NULL;
	_cleanup_free_ uint8_t *doc = NULL;
	size_t len = 0;
	int r;

	r = ctl_read_file(path, KMS_MAX_POLICY, &doc, &len);
	if (r < 0) {
		ctl_error("cannot read %s: %s", path,
			  r == -EFBIG ? "larger than 131072 bytes, the most PutKeyPolicy takes"
				      : strerror(-r));
		return EXIT_ERROR;
	}
	if (len == 0) {
		ctl_error("%s is empty; a key policy is a JSON document", path);
		return EXIT_ERROR;
	}
	text = json_stringn((const char *)doc, len);
	if (!text) {
		ctl_error("%s is not UTF-8 text; a key policy is a JSON document", path);
		return EXIT_ERROR;
	}
	req = json_pack("{s:s,s:s,s:O}", "KeyId", id, "PolicyName", "default", "Policy", text);
	if (!req)
		return EXIT_ERROR;
	if (bypass)
		json_object_set_new(req, "BypassPolicyLockoutSafetyCheck", json_true());
	if (ctl_kms_call(c, "PutKeyPolicy", req, &resp, NULL) < 0)
		return EXIT_ERROR;
	if (c->json)
		ctl_print_json(resp);
	else
		printf("key %s: policy replaced by %s\n", id, path);
	return EXIT_OK;
}

static int key_policy(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"put", required_argument, NULL, 'p'},
	    {"bypass-policy-lockout-safety-check", no_argument, NULL, 'b'},
	    {}};
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *id = NULL;
	const char *put = NULL, *policy;
	bool bypass = false;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			put = optarg;
			break;
		case 'b':
			bypass = true;
			break;
		default:
			return ctl_bad_option("key", "policy", argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("usage: envolctl key policy KEY [--put FILE "
				 "[--bypass-policy-lockout-safety-check]]");
	if (bypass && !put)
		return ctl_usage("--bypass-policy-lockout-safety-check only goes with --put FILE");
	r = ctl_key_resolve(c, argv[optind], &id, NULL);
	if (r)
		return r < 0 ? EXIT_ERROR : r;
	if (put)
		return key_policy_put(c, id, put, bypass);
	req = json_pack("{s:s,s:s}", "KeyId", id, "PolicyName", "default");
	if (!req || ctl_kms_call(c, "GetKeyPolicy", req, &resp, NULL) < 0)
		return EXIT_ERROR;
	policy = ctl_need_str(resp, "GetKeyPolicy", "", "Policy");
	if (!policy)
		return EXIT_ERROR;
	if (c->json)
		ctl_print_json(resp);
	else
		print_policy(policy);
	return EXIT_OK;
}

int ctl_key_main(struct ctl *c, int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return ctl_usage("key: which command? (create, list, show, alias, enable, disable, "
				 "rotate, rotation, schedule-delete, cancel-delete, encrypt, "
				 "decrypt, policy)");
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "create") == 0)
		return key_create(c, argc, argv);
	if (strcmp(cmd, "list") == 0)
		return key_list(c, argc, argv);
	if (strcmp(cmd, "show") == 0 || strcmp(cmd, "describe") == 0)
		return key_show(c, argc, argv);
	if (strcmp(cmd, "alias") == 0)
		return key_alias(c, argc, argv);
	if (strcmp(cmd, "enable") == 0)
		return key_simple(c, argc, argv, "EnableKey", "enabled");
	if (strcmp(cmd, "disable") == 0)
		return key_simple(c, argc, argv, "DisableKey",
				  "disabled (volumes under it can no longer be attached)");
	if (strcmp(cmd, "rotate") == 0)
		return key_simple(c, argc, argv, "RotateKeyOnDemand",
				  "rotated: new encryptions use new key material, older "
				  "ciphertexts still decrypt");
	if (strcmp(cmd, "cancel-delete") == 0)
		return key_simple(c, argc, argv, "CancelKeyDeletion",
				  "is no longer pending deletion; it is Disabled until "
				  "envolctl key enable");
	if (strcmp(cmd, "rotation") == 0)
		return key_rotation(c, argc, argv);
	if (strcmp(cmd, "schedule-delete") == 0)
		return key_schedule_delete(c, argc, argv);
	if (strcmp(cmd, "encrypt") == 0)
		return key_encrypt(c, argc, argv);
	if (strcmp(cmd, "decrypt") == 0)
		return key_decrypt(c, argc, argv);
	if (strcmp(cmd, "policy") == 0)
		return key_policy(c, argc, argv);
	return ctl_usage("key: unknown command \"%s\"", cmd);
}
