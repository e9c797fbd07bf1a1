/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy-eval.c — the cost of authorization alone: kms_policy_decide() for a Decrypt request
 * against bench/policy-10.json, the 10-statement key policy with conditions (encryption
 * context, ViaService, CallerAccount, dates, set operators, a NotPrincipal Deny) that
 * scripts/bench also puts on the key of its KMS Decrypt row (kms-load --policy), plus one
 * identity policy, on one core, ~SECONDS per case.  Issue 10 asks for >= 20,000 Decrypt/s
 * through the whole KMS; this measures how much of that budget the policy language takes.
 * Prints one line per case:
 *   <case> <decisions per second> <ns per decision>
 *
 *   policy-eval [SECONDS [POLICY-FILE]]   (default: bench/policy-10.json of the source tree)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kms/policy.h"
#include "util/macros.h"

#define ACCT "000000000000"
#define KEY_ARN "arn:aws:kms:local:" ACCT ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
#define VIA "envold.envol.internal"

static const char identity_policy[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
    "[\"kms:Decrypt\",\"kms:GenerateDataKeyWithoutPlaintext\"],\"Resource\":"
    "\"arn:aws:kms:local:" ACCT ":key/*\"}]}";

/* The key policy document (at most KMS_POLICY_MAX_SIZE bytes) into a malloc'd string. */
static char *read_policy(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *buf = malloc(KMS_POLICY_MAX_SIZE + 1);
	size_t n = 0;

	if (f && buf)
		n = fread(buf, 1, KMS_POLICY_MAX_SIZE, f);
	if (!f || !buf || ferror(f) || n == 0) {
		fprintf(stderr, "policy-eval: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	buf[n] = 0;
	*ret_len = n;
	return buf;
}

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
	const char *path = argc > 2 ? argv[2] : ENVOL_BENCH_DIR "/policy-10.json";
	struct kms_policy *key = NULL, *id = NULL;
	size_t key_len = 0;
	char *key_policy = read_policy(path, &key_len);
	char err[512];
	const char *vol[] = {"vol-0042"}, *keys[] = {"envol:volume-id"};
	const char *via[] = {VIA}, *t[] = {"2024-05-01T10:00:00Z"};
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
	if (kms_policy_parse(KMS_POLICY_KEY, key_policy, key_len, NULL, NULL, &key, err,
			     sizeof err) < 0 ||
	    kms_policy_parse(KMS_POLICY_IDENTITY, identity_policy, strlen(identity_policy), NULL,
			     NULL, &id, err, sizeof err) < 0) {
		fprintf(stderr, "policy-eval: %s: %s\n", path, err);
		return 1;
	}
	printf("# policy-eval: %s, %zu statements, 1 identity policy, %.1f s per case\n", path,
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
	free(key_policy);
	return 0;
}
