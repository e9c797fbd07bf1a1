/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_kms_via.c — a service acting on behalf of its client (X-Envol-On-Behalf-Of,
 * kms_caller.on_behalf_of): honoured only for a principal of kms.services, only on
 * CreateGrant, only for a client principal that exists; then the request is decided as the
 * client with kms:ViaService, kms:CallerAccount and kms:GrantIsForAWSResource set, under the
 * aws/ebs-shaped policy and under policies that test those keys.  And the audit records
 * CloudTrail-like: userIdentity, invokedBy and the service's own principal, grantId, decision;
 * records written before these fields still verify.  The managed key alias/envol/ebs with
 * that policy, given at creation and at open to a managed key that had none.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crypto/hkdf.h"
#include "kms/internal.h"
#include "kms/policy.h"
#include "kms_unit.h"
#include "util/macros.h"

#define ACCT "000000000000"
#define IAM "arn:aws:iam::" ACCT ":"
#define ROOT_ARN IAM "user/unix/root"
#define SERVICE_ARN IAM "user/unix/daemon"
#define NOBODY_ARN IAM "user/unix/nobody"

static const struct kms_caller ADMIN = {.principal = ROOT_ARN, .source = "unix:pid=1,uid=0"};
static const struct kms_caller SERVICE = {.principal = SERVICE_ARN, .source = "unix:pid=2,uid=1"};
static const struct kms_caller NOBODY = {.principal = NOBODY_ARN, .source = "unix:pid=3,uid=9"};
/* envold acting for nobody */
static const struct kms_caller VIA_NOBODY = {
    .principal = SERVICE_ARN, .source = "unix:pid=2,uid=1", .on_behalf_of = NOBODY_ARN};

static struct kms_unit_dir D;
static struct kms *K;

/* (Re)opens K on the state directory: root administers, daemon is the service. */
static void open_kms(void)
{
	static char *admins[] = {ROOT_ARN}, *services[] = {SERVICE_ARN};
	struct kms_options o = {.database = D.db,
				.root_key_file = D.root,
				.audit_log = D.audit,
				.region = "local",
				.account_id = ACCT,
				.admins = admins,
				.n_admins = 1,
				.services = services,
				.n_services = 1};
	char err[256] = "";

	kms_close(K);
	K = NULL;
	CU_ASSERT_EQUAL_FATAL(kms_open(&o, &K, err, sizeof err), 0);
}

static void setup(void)
{
	kms_unit_dir_make(&D, "via");
	open_kms();
}

static void teardown(void)
{
	kms_unit_dir_remove(&D, K);
	K = NULL;
}

/* One request on K as who, checked (kms_unit.h): want_type NULL means success. */
#define run(who, want_type, op, ...) kms_unit_run(K, who, want_type, op, __VA_ARGS__)

static const char *message(json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "message"));

	return m ? m : "";
}

/* A new key (as admin) with policy text (NULL: the default policy), bypassing the lockout
 * check (the aws/ebs shape does not let anyone change it); returns its id. */
static char *new_key(const char *policy)
{
	json_t *req =
	    policy ? json_pack("{s:s,s:b}", "Policy", policy, "BypassPolicyLockoutSafetyCheck", 1)
		   : json_object();
	_cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
	json_t *j = run(&ADMIN, NULL, "CreateKey", "%s", body);
	const char *id =
	    json_string_value(json_object_get(json_object_get(j, "KeyMetadata"), "KeyId"));
	char *r = id ? strdup(id) : NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	json_decref(req);
	json_decref(j);
	return r;
}

/*
 * The decision on action (an operation name, "CreateGrant" included) on key id as who, the
 * way the dispatcher takes it: kms_authz_on_behalf() when who names a client, then
 * kms_authorize_key().  Returns 0 (allowed) or -1 with the message in msg.
 */
static int decide(const struct kms_caller *who, const char *action, const char *id, char *msg,
		  size_t msglen)
{
	struct kms_call c = {.k = K, .caller = who};
	struct kms_caller as;
	int op = kms_op_from_name(action), r;

	msg[0] = 0;
	if (who->on_behalf_of) {
		as = *who;
		c.caller = &as;
		if (kms_authz_on_behalf(&c, &as, action) < 0) {
			snprintf(msg, msglen, "%s", c.msg);
			return -1;
		}
		CU_ASSERT_STRING_EQUAL(as.principal, who->on_behalf_of);
		CU_ASSERT_STRING_EQUAL(as.invoked_by, KMS_ENVOLD_SERVICE);
		CU_ASSERT_STRING_EQUAL(as.service_principal, who->principal);
	}
	c.req.op = op >= 0 ? (enum kms_op)op : KMS_OP_DESCRIBE_KEY;
	c.action = action;
	kms_key_arn(K, id, c.key_arn);
	r = kms_authorize_key(&c, id);
	CU_ASSERT(r == 0 || c.error == KMS_ERR_ACCESS_DENIED);
	CU_ASSERT_EQUAL(r == 0, c.authorized);
	if (r < 0)
		snprintf(msg, msglen, "%s", c.msg);
	return r < 0 ? -1 : 0;
}

static void test_refusals(void)
{
	json_t *j;

	setup();
	/* not a service */
	{
		struct kms_caller admin_for = ADMIN;

		admin_for.on_behalf_of = NOBODY_ARN;
		j = run(&admin_for, "AccessDeniedException", "CreateGrant", "{}");
		CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "User: " ROOT_ARN " is not authorized"));
		CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "not a service principal"));
		json_decref(j);
	}
	/* a service, but not on CreateGrant */
	j = run(&VIA_NOBODY, "AccessDeniedException", "Decrypt", "{\"CiphertextBlob\":\"AAAA\"}");
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "User: " SERVICE_ARN " may act on behalf of"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(message(j), "only to perform kms:CreateGrant, not kms:Decrypt"));
	json_decref(j);
	j = run(&VIA_NOBODY, "AccessDeniedException", "ListKeys", "{}");
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "not kms:ListKeys"));
	json_decref(j);
	/* clients that do not exist: no such user, another account, not an IAM ARN */
	{
		static const char *const ghosts[] = {
		    IAM "user/unix/envol-no-such-user-4711", "arn:aws:iam::111122223333:root",
		    IAM "user/unix/a/b", "arn:aws:kms:local:" ACCT ":key/x", "arn:"};

		for (size_t i = 0; i < ARRAY_SIZE(ghosts); i++) {
			struct kms_caller ghost = VIA_NOBODY;

			ghost.on_behalf_of = ghosts[i];
			j = run(&ghost, "AccessDeniedException", "CreateGrant", "{}");
			CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "no such principal"));
			CU_ASSERT_PTR_NOT_NULL(strstr(message(j), ghosts[i]));
			json_decref(j);
		}
	}
	/* honoured: the request reaches CreateGrant's own validation */
	j = run(&VIA_NOBODY, "ValidationException", "CreateGrant", "{}");
	CU_ASSERT_PTR_NULL(strstr(message(j), "X-Envol-On-Behalf-Of"));
	json_decref(j);
	teardown();
}

/* ViaService, CallerAccount, GrantIsForAWSResource, as the policies see them */
static void test_conditions(void)
{
	_cleanup_free_ char *managed = NULL, *ebs = NULL, *flag = NULL, *other = NULL,
			    *plain = NULL;
	char msg[1024];

	setup();
	CU_ASSERT_EQUAL_FATAL(kms_policy_managed_json(ACCT, KMS_ENVOLD_SERVICE, &managed), 0);
	ebs = new_key(managed);
	/* the aws/ebs shape: the account's principals through envold only */
	CU_ASSERT_EQUAL(decide(&VIA_NOBODY, "CreateGrant", ebs, msg, sizeof msg), 0);
	CU_ASSERT_EQUAL(decide(&NOBODY, "CreateGrant", ebs, msg, sizeof msg), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "User: " NOBODY_ARN " is not authorized to perform: "
					   "kms:CreateGrant on resource: arn:aws:kms:local:" ACCT
					   ":key/"));
	CU_ASSERT_EQUAL(decide(&NOBODY, "Decrypt", ebs, msg, sizeof msg), -1);
	CU_ASSERT_EQUAL(decide(&ADMIN, "Decrypt", ebs, msg, sizeof msg), -1);
	/* the service as itself is no client of the service */
	CU_ASSERT_EQUAL(decide(&SERVICE, "CreateGrant", ebs, msg, sizeof msg), -1);
	/* a non-existing client is refused before any policy is looked at */
	{
		struct kms_caller ghost = VIA_NOBODY;

		ghost.on_behalf_of = IAM "user/unix/envol-no-such-user-4711";
		CU_ASSERT_EQUAL(decide(&ghost, "CreateGrant", ebs, msg, sizeof msg), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no such principal"));
	}

	/* kms:GrantIsForAWSResource true and kms:ViaService: only via envold, for nobody only */
	flag = new_key("{\"Version\":\"2012-10-17\",\"Statement\":["
		       "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ROOT_ARN "\"},"
		       "\"Action\":\"kms:*\",\"Resource\":\"*\"},"
		       "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" NOBODY_ARN "\"},"
		       "\"Action\":\"kms:CreateGrant\",\"Resource\":\"*\",\"Condition\":{"
		       "\"Bool\":{\"kms:GrantIsForAWSResource\":\"true\"},"
		       "\"StringEquals\":{\"kms:ViaService\":\"" KMS_ENVOLD_SERVICE "\"}}}]}");
	CU_ASSERT_EQUAL(decide(&VIA_NOBODY, "CreateGrant", flag, msg, sizeof msg), 0);
	CU_ASSERT_EQUAL(decide(&NOBODY, "CreateGrant", flag, msg, sizeof msg), -1);

	/* a Deny on requests not through envold (StringNotEqualsIfExists) */
	other = new_key("{\"Version\":\"2012-10-17\",\"Statement\":["
			"{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},"
			"\"Action\":\"kms:*\",\"Resource\":\"*\"},"
			"{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"*\"},"
			"\"Action\":\"kms:CreateGrant\",\"Resource\":\"*\",\"Condition\":{"
			"\"Bool\":{\"kms:GrantIsForAWSResource\":\"false\"}}},"
			"{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"*\"},"
			"\"Action\":\"kms:CreateGrant\",\"Resource\":\"*\",\"Condition\":{"
			"\"StringNotEquals\":{\"kms:CallerAccount\":\"" ACCT "\"}}}]}");
	CU_ASSERT_EQUAL(decide(&VIA_NOBODY, "CreateGrant", other, msg, sizeof msg), 0);
	CU_ASSERT_EQUAL(decide(&NOBODY, "CreateGrant", other, msg, sizeof msg), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "with an explicit deny in a resource-based policy"));
	CU_ASSERT_EQUAL(decide(&ADMIN, "DescribeKey", other, msg, sizeof msg), 0);

	/* the default policy: the client's identity policies decide (nobody has none) */
	plain = new_key(NULL);
	CU_ASSERT_EQUAL(decide(&VIA_NOBODY, "CreateGrant", plain, msg, sizeof msg), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "User: " NOBODY_ARN " is not authorized"));
	{
		struct kms_caller root_for = VIA_NOBODY;

		root_for.on_behalf_of = ROOT_ARN; /* kms.admins: kms:* by identity policy */
		CU_ASSERT_EQUAL(decide(&root_for, "CreateGrant", plain, msg, sizeof msg), 0);
	}
	teardown();
}

/* The records of the audit log, parsed (a JSON array). */
static json_t *audit_records(void)
{
	json_t *all = json_array();
	FILE *f = fopen(D.audit, "re");
	char *line = NULL;
	size_t cap = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while (getline(&line, &cap, f) > 0)
		json_array_append_new(all, json_loads(line, 0, NULL));
	free(line);
	fclose(f);
	return all;
}

/* The last record of the log whose operation is op. */
static json_t *last_record(json_t *all, const char *op)
{
	json_t *found = NULL, *r;
	size_t i;

	json_array_foreach(all, i, r)
	{
		const char *o = json_string_value(json_object_get(r, "operation"));

		if (o && strcmp(o, op) == 0)
			found = r;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(found);
	return found;
}

static const char *sfield(json_t *r, const char *name)
{
	return json_string_value(json_object_get(r, name));
}

static void test_audit_fields(void)
{
	_cleanup_free_ char *key = NULL;
	json_t *all, *r, *j;

	setup();
	key = new_key(NULL);
	json_decref(run(&ADMIN, NULL, "DescribeKey", "{\"KeyId\":\"%s\"}", key));
	json_decref(
	    run(&NOBODY, "AccessDeniedException", "DescribeKey", "{\"KeyId\":\"%s\"}", key));
	json_decref(run(&ADMIN, "ValidationException", "Encrypt", "{}"));
	json_decref(
	    run(&VIA_NOBODY, "ValidationException", "CreateGrant", "{\"KeyId\":\"%s\"}", key));
	json_decref(run(&VIA_NOBODY, "AccessDeniedException", "Decrypt", "{}"));
	all = audit_records();

	r = last_record(all, "DescribeKey");
	CU_ASSERT_STRING_EQUAL(sfield(r, "principal"), NOBODY_ARN);
	CU_ASSERT_STRING_EQUAL(sfield(r, "decision"), "denied");
	CU_ASSERT_STRING_EQUAL(sfield(r, "error_code"), "AccessDeniedException");
	r = json_array_get(all, json_array_size(all) - 5); /* the allowed DescribeKey */
	CU_ASSERT_STRING_EQUAL(sfield(r, "operation"), "DescribeKey");
	CU_ASSERT_STRING_EQUAL(sfield(r, "decision"), "allowed");
	CU_ASSERT(json_is_null(json_object_get(r, "invokedBy")));
	CU_ASSERT(json_is_null(json_object_get(r, "grantId")));
	CU_ASSERT_PTR_NULL(json_object_get(r, "invokedByPrincipal"));
	j = json_object_get(r, "userIdentity");
	CU_ASSERT_STRING_EQUAL(sfield(j, "type"), "IAMUser");
	CU_ASSERT_STRING_EQUAL(sfield(j, "arn"), ROOT_ARN);
	CU_ASSERT_STRING_EQUAL(sfield(j, "accountId"), ACCT);
	/* refused before any decision */
	r = last_record(all, "Encrypt");
	CU_ASSERT(json_is_null(json_object_get(r, "decision")));
	CU_ASSERT_STRING_EQUAL(sfield(r, "error_code"), "ValidationException");
	/* on behalf: the client is the principal, the service is named twice */
	r = last_record(all, "CreateGrant");
	CU_ASSERT_STRING_EQUAL(sfield(r, "principal"), NOBODY_ARN);
	CU_ASSERT_STRING_EQUAL(sfield(json_object_get(r, "userIdentity"), "arn"), NOBODY_ARN);
	CU_ASSERT_STRING_EQUAL(sfield(r, "invokedBy"), KMS_ENVOLD_SERVICE);
	CU_ASSERT_STRING_EQUAL(sfield(r, "invokedByPrincipal"), SERVICE_ARN);
	/* a refused X-Envol-On-Behalf-Of: the service is the principal, nobody acted for */
	r = last_record(all, "Decrypt");
	CU_ASSERT_STRING_EQUAL(sfield(r, "principal"), SERVICE_ARN);
	CU_ASSERT(json_is_null(json_object_get(r, "invokedBy")));
	CU_ASSERT_STRING_EQUAL(sfield(r, "decision"), "denied");
	json_decref(all);
	teardown();
}

/* Appends a record line (no chain fields yet) to the log, chained as envol-kmsd chains. */
static void append_chained(const char *head)
{
	uint8_t root[32], key[32], mac[32];
	char prev[65], *line = NULL, *last = NULL;
	size_t cap = 0, lastcap = 0;
	long long seq = 0;
	ssize_t n, lastlen = 0;
	FILE *f = fopen(D.root, "re");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL_FATAL(fread(root, 1, sizeof root, f), sizeof root);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(envol_hkdf_sha256(NULL, 0, root, sizeof root,
						(const uint8_t *)"envol-kmsd audit chain v1", 25,
						key, sizeof key),
			      0);
	f = fopen(D.audit, "re");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	while ((n = getline(&line, &cap, f)) > 0) {
		free(last);
		last = strdup(line);
		lastcap = cap;
		lastlen = n - 1; /* without its newline */
		seq++;
	}
	(void)lastcap;
	fclose(f);
	free(line);
	CU_ASSERT_PTR_NOT_NULL_FATAL(last);
	CU_ASSERT_EQUAL_FATAL(
	    envol_hmac_sha256(key, sizeof key, (const uint8_t *)last, (size_t)lastlen, mac), 0);
	for (int i = 0; i < 32; i++)
		snprintf(prev + 2 * i, 3, "%02x", mac[i]);
	free(last);
	f = fopen(D.audit, "ae");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "%.*s,\"seq\":%lld,\"prev\":\"%s\"}\n", (int)strlen(head) - 1, head, seq + 1,
		prev);
	fclose(f);
}

static void test_audit_old_records(void)
{
	struct kms_options o = {.database = D.db, .root_key_file = D.root, .audit_log = D.audit};
	char err[512] = "";
	uint64_t lines = 0, before;
	json_t *all;

	setup();
	json_decref(run(&ADMIN, NULL, "ListKeys", "{}"));
	kms_close(K);
	K = NULL;
	CU_ASSERT_EQUAL_FATAL(kms_audit_verify(&o, NULL, &before, err, sizeof err), 0);
	/* records as envol-kmsd wrote them before userIdentity, invokedBy, grantId, decision */
	append_chained("{\"time\":\"2026-11-01T00:00:00.000Z\",\"operation\":\"Decrypt\","
		       "\"principal\":\"" SERVICE_ARN "\",\"source\":\"unix:pid=2,uid=1\","
		       "\"key_arn\":null,\"encryption_context\":null,\"request_id\":\"r1\","
		       "\"error_code\":null}");
	append_chained("{\"time\":\"2026-11-01T00:00:01.000Z\",\"operation\":\"ListKeys\","
		       "\"principal\":\"" ROOT_ARN "\",\"source\":\"unix:pid=1,uid=0\","
		       "\"key_arn\":null,\"encryption_context\":null,\"request_id\":\"r2\","
		       "\"error_code\":null}");
	CU_ASSERT_EQUAL(kms_audit_verify(&o, NULL, &lines, err, sizeof err), 0);
	CU_ASSERT_EQUAL(lines, before + 2);
	/* envol-kmsd resumes the chain after them, with the new fields */
	open_kms();
	json_decref(run(&ADMIN, NULL, "ListKeys", "{}"));
	kms_close(K);
	K = NULL;
	CU_ASSERT_EQUAL(kms_audit_verify(&o, NULL, &lines, err, sizeof err), 0);
	CU_ASSERT_EQUAL(lines, before + 3);
	all = audit_records();
	CU_ASSERT_STRING_EQUAL(sfield(json_array_get(all, before), "request_id"), "r1");
	CU_ASSERT_STRING_EQUAL(sfield(json_array_get(all, before + 2), "decision"), "allowed");
	json_decref(all);
	/* and a changed old record is still found */
	{
		char cmd[700];

		snprintf(cmd, sizeof cmd,
			 "sed -i 's/\"request_id\":\"r1\"/\"request_id\":\"r9\"/' '%s'", D.audit);
		CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
		CU_ASSERT_EQUAL(kms_audit_verify(&o, NULL, &lines, err, sizeof err), -EBADMSG);
	}
	teardown();
}

/* The stored policy text of key id ("" when it has none), straight from kms.db. */
static char *stored_policy(const char *id)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *r = NULL;

	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(D.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(
	    sqlite3_prepare_v2(db, "SELECT policy FROM keys WHERE id = ?", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		r = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
						      : "");
	sqlite3_finalize(st);
	sqlite3_close(db);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

static void test_managed_key(void)
{
	_cleanup_free_ char *id = NULL, *blob = NULL, *pol = NULL, *pol2 = NULL;
	char msg[1024];
	json_t *j;

	setup();
	/* nobody creates a volume key under it directly (no plaintext comes back) ... */
	j = run(&NOBODY, NULL, "GenerateDataKeyWithoutPlaintext",
		"{\"KeyId\":\"alias/envol/ebs\",\"NumberOfBytes\":64,"
		"\"EncryptionContext\":{\"envol:volume-id\":\"vol-7\"}}");
	blob = strdup(json_string_value(json_object_get(j, "CiphertextBlob")));
	id = strdup(strrchr(json_string_value(json_object_get(j, "KeyId")), '/') + 1);
	json_decref(j);
	/* ... but not without a volume, nor GenerateDataKey (plaintext), nor Decrypt */
	json_decref(run(&NOBODY, "AccessDeniedException", "GenerateDataKeyWithoutPlaintext",
			"{\"KeyId\":\"alias/envol/ebs\",\"NumberOfBytes\":64}"));
	json_decref(run(&NOBODY, "AccessDeniedException", "GenerateDataKey",
			"{\"KeyId\":\"alias/envol/ebs\",\"NumberOfBytes\":64,"
			"\"EncryptionContext\":{\"envol:volume-id\":\"vol-7\"}}"));
	j = run(&NOBODY, "AccessDeniedException", "Decrypt",
		"{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"envol:volume-id\":\"vol-7\"}}",
		blob);
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "User: " NOBODY_ARN " is not authorized to "
						  "perform: kms:Decrypt"));
	json_decref(j);
	/* through envold, nobody may create a grant; envold as itself may not */
	CU_ASSERT_EQUAL(decide(&VIA_NOBODY, "CreateGrant", id, msg, sizeof msg), 0);
	CU_ASSERT_EQUAL(decide(&SERVICE, "CreateGrant", id, msg, sizeof msg), -1);
	CU_ASSERT_EQUAL(decide(&SERVICE, "Decrypt", id, msg, sizeof msg), -1);
	/* the policy is stored and shown; nobody may change it (the policy allows no one) */
	pol = stored_policy(id);
	CU_ASSERT_PTR_NOT_NULL(strstr(pol, "\"kms:ViaService\": \"" KMS_ENVOLD_SERVICE "\""));
	j = run(&ADMIN, NULL, "GetKeyPolicy", "{\"KeyId\":\"%s\"}", id);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "Policy")), pol);
	json_decref(j);
	j = run(&ADMIN, "AccessDeniedException", "PutKeyPolicy",
		"{\"KeyId\":\"%s\",\"Policy\":\"{}\",\"BypassPolicyLockoutSafetyCheck\":true}", id);
	CU_ASSERT_PTR_NOT_NULL(strstr(message(j), "kms:PutKeyPolicy"));
	json_decref(j);

	/* a managed key made before it had a policy gets it when kms.db is opened */
	kms_close(K);
	K = NULL;
	{
		sqlite3 *db = NULL;
		char sql[200];

		snprintf(sql, sizeof sql, "UPDATE keys SET policy = NULL WHERE id = '%s'", id);
		CU_ASSERT_EQUAL_FATAL(sqlite3_open(D.db, &db), SQLITE_OK);
		CU_ASSERT_EQUAL_FATAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		free(pol2);
		pol2 = stored_policy(id);
		CU_ASSERT_STRING_EQUAL(pol2, "");
		free(pol2);
		pol2 = NULL;
	}
	open_kms();
	pol2 = stored_policy(id);
	CU_ASSERT_STRING_EQUAL(pol2, pol);
	json_decref(run(&NOBODY, "AccessDeniedException", "Decrypt",
			"{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":{\"envol:volume-id\":"
			"\"vol-7\"}}",
			blob));
	CU_ASSERT_EQUAL(decide(&VIA_NOBODY, "CreateGrant", id, msg, sizeof msg), 0);
	teardown();
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"on behalf: who may, on what, for whom", test_refusals},
	    {"on behalf: ViaService, CallerAccount, GrantIsForAWSResource", test_conditions},
	    {"audit: userIdentity, invokedBy, grantId, decision", test_audit_fields},
	    {"managed key: the aws/ebs-shaped policy, at creation and at open", test_managed_key},
	    {"audit: records without the new fields still verify", test_audit_old_records},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"kms via", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
