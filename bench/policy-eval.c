/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-eval.c — the cost of authorization alone: kms_policy_decide() for a Decrypt request
 * against a 10-statement key policy with conditions (encryption context, ViaService,
 * CallerAccount, dates, set operators, a NotPrincipal Deny) plus one identity policy, on one
 * core, ~SECONDS per case.  Issue 10 asks for >= 20,000 Decrypt/s through the whole KMS; this
 * measures how much of that budget the policy language takes.  Prints one line per case:
 *   <case> <decisions per second> <ns per decision>
 *
 *   policy-eval [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kms/policy.h"
#include "util/macros.h"

#define ACCT "111122223333"
#define KEY_ARN "arn:aws:kms:local:" ACCT ":key/1234abcd-12ab-34cd-56ef-1234567890ab"

static const char key_policy[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Sid\":\"root\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT
    ":root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"},"
    "{\"Sid\":\"admins\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam::" ACCT
    ":role/KeyAdmin\",\"arn:aws:iam::" ACCT ":user/unix/root\"]},\"Action\":[\"kms:Create*\","
    "\"kms:Describe*\",\"kms:Enable*\",\"kms:List*\",\"kms:Put*\",\"kms:Update*\","
    "\"kms:Revoke*\",\"kms:Disable*\",\"kms:Get*\",\"kms:Delete*\",\"kms:ScheduleKeyDeletion\","
    "\"kms:CancelKeyDeletion\"],\"Resource\":\"*\"},"
    "{\"Sid\":\"users\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam::" ACCT
    ":user/bob\",\"arn:aws:iam::" ACCT ":role/app\"]},\"Action\":[\"kms:Encrypt\","
    "\"kms:ReEncrypt*\",\"kms:GenerateDataKey*\",\"kms:DescribeKey\"],\"Resource\":\"*\"},"
    "{\"Sid\":\"grants\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT
    ":user/bob\"},\"Action\":[\"kms:CreateGrant\",\"kms:ListGrants\",\"kms:RevokeGrant\"],"
    "\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"kms:GrantIsForAWSResource\":\"true\"}}},"
    "{\"Sid\":\"via\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[\"kms:Encrypt\","
    "\"kms:GenerateDataKey*\",\"kms:CreateGrant\"],\"Resource\":\"*\",\"Condition\":"
    "{\"StringEquals\":{\"kms:CallerAccount\":\"" ACCT "\",\"kms:ViaService\":"
    "\"envold.local.amazonaws.com\"}}},"
    "{\"Sid\":\"time\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:*\","
    "\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{\"aws:CurrentTime\":\"2001-01-01\"}}},"
    "{\"Sid\":\"tls\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":"
    "\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}},"
    "{\"Sid\":\"keys\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":[\"kms:Decrypt\","
    "\"kms:Encrypt\"],\"Resource\":\"*\",\"Condition\":{\"ForAnyValue:StringLike\":"
    "{\"kms:EncryptionContextKeys\":[\"secret*\",\"private*\"]}}},"
    "{\"Sid\":\"strangers\",\"Effect\":\"Deny\",\"NotPrincipal\":{\"AWS\":[\"arn:aws:iam::" ACCT
    ":root\",\"arn:aws:iam::" ACCT ":user/alice\",\"arn:aws:iam::" ACCT ":user/bob\"]},"
    "\"Action\":\"kms:Decrypt\",\"Resource\":\"*\",\"Condition\":{\"StringNotEqualsIfExists\":"
    "{\"kms:ViaService\":\"envold.local.amazonaws.com\"}}},"
    "{\"Sid\":\"alice\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT
    ":user/alice\"},\"Action\":[\"kms:Decrypt\",\"kms:DescribeKey\"],\"Resource\":\"*\","
    "\"Condition\":{\"StringLike\":{\"kms:EncryptionContext:envol:volume-id\":\"vol-*\"},"
    "\"ForAllValues:StringEquals\":{\"kms:EncryptionContextKeys\":[\"envol:volume-id\","
    "\"team\"]}}}]}";

static const char identity_policy[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
    "[\"kms:Decrypt\",\"kms:GenerateDataKeyWithoutPlaintext\"],\"Resource\":"
    "\"arn:aws:kms:local:" ACCT ":key/*\"}]}";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *name, const struct kms_policy *key, const struct kms_policy *id,
		const struct kms_policy_request *req, bool want, double seconds)
{
	const struct kms_policy *ids[] = {id};
	struct kms_access_decision d;
	double start = now(), elapsed;
	unsigned long n = 0;

	do {
		for (int i = 0; i < 1000; i++) {
			if (kms_policy_decide(key, ids, id ? 1 : 0, req, false, &d) != want) {
				fprintf(stderr, "%s: unexpected decision (reason %d)\n", name,
					d.reason);
				exit(1);
			}
		}
		n += 1000;
		elapsed = now() - start;
	} while (elapsed < seconds);
	printf("%-28s %12.0f %8.0f\n", name, (double)n / elapsed, elapsed / (double)n * 1e9);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	struct kms_policy *key = NULL, *id = NULL;
	char err[512];
	const char *vol[] = {"vol-0042"}, *keys[] = {"envol:volume-id"};
	const char *via[] = {"envold.local.amazonaws.com"}, *t[] = {"2024-05-01T10:00:00Z"};
	const char *yes[] = {"true"};
	struct kms_policy_key ctx[] = {
	    {"kms:EncryptionContext:envol:volume-id", vol, 1},
	    {"kms:EncryptionContextKeys", keys, 1},
	    {"kms:ViaService", via, 1},
	    {"aws:CurrentTime", t, 1},
	    {"aws:SecureTransport", yes, 1},
	};
	struct kms_policy_request req = {.principal = "arn:aws:iam::" ACCT ":user/alice",
					 .action = "kms:Decrypt",
					 .resource = KEY_ARN,
					 .keys = ctx,
					 .n_keys = ARRAY_SIZE(ctx)};

	if (seconds <= 0)
		seconds = 1.0;
	if (kms_policy_parse(KMS_POLICY_KEY, key_policy, strlen(key_policy), NULL, NULL, &key, err,
			     sizeof err) < 0 ||
	    kms_policy_parse(KMS_POLICY_IDENTITY, identity_policy, strlen(identity_policy), NULL,
			     NULL, &id, err, sizeof err) < 0) {
		fprintf(stderr, "policy-eval: %s\n", err);
		return 1;
	}
	printf("# policy-eval: %zu-statement key policy, 1 identity policy, %.1f s per case\n",
	       kms_policy_n_statements(key), seconds);
	printf("%-28s %12s %8s\n", "# case", "decisions/s", "ns");
	run("decrypt-key-policy", key, id, &req, true, seconds);
	req.principal = "arn:aws:iam::" ACCT ":user/carol"; /* root statement + identity policy */
	req.n_keys = 3;
	run("decrypt-account+identity", key, id, &req, true, seconds);
	req.principal = "arn:aws:iam::444455556666:user/eve";
	run("decrypt-denied", key, id, &req, false, seconds);
	kms_policy_unref(key);
	kms_policy_unref(id);
	return 0;
}
