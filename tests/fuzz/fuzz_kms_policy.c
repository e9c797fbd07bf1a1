/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_kms_policy.c — the policy language (lib/kms/policy.c): parse every input as a key
 * policy and as an identity policy; evaluate what parses against a fixed set of requests
 * (principals of the account, of another account, a service; actions; encryption context,
 * multi-valued keys, dates, numbers, addresses) and check the decision's invariants.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kms/policy.h"
#include "util/macros.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ACCT "111122223333"
#define KEY_ARN "arn:aws:kms:local:" ACCT ":key/1234abcd-12ab-34cd-56ef-1234567890ab"

/* Principals of the account and services named envold* exist; anything else does not. */
static int exists(void *userdata, enum kms_principal_type type, const char *name)
{
	(void)userdata;
	if (type == KMS_PRINCIPAL_SERVICE)
		return strncmp(name, "envold", 6) == 0;
	return strncmp(name, "arn:aws:iam::" ACCT ":", 13 + 13) == 0;
}

static const char *const principals[] = {
    "arn:aws:iam::" ACCT ":user/alice", "arn:aws:iam::" ACCT ":root",
    "arn:aws:iam::444455556666:user/eve", "arn:aws:sts::" ACCT ":assumed-role/r/s", NULL};
static const char *const actions[] = {"kms:Decrypt", "kms:PutKeyPolicy", "kms:CreateGrant",
				      "kms:GenerateDataKeyWithoutPlaintext", "KMS:encrypt"};

static const char *const vol[] = {"vol-1"};
static const char *const keys2[] = {"envol:volume-id", "team"};
static const char *const via[] = {"envold.local.amazonaws.com"};
static const char *const now[] = {"2024-05-01T10:00:00Z"};
static const char *const yes[] = {"true"};
static const char *const ip[] = {"192.0.2.77"};
static const char *const n64[] = {"64"};
static const char *const ops[] = {"Decrypt", "RetireGrant"};
static const struct kms_policy_key ctx[] = {
    {"kms:EncryptionContext:envol:volume-id", vol, 1},
    {"kms:EncryptionContextKeys", keys2, 2},
    {"kms:ViaService", via, 1},
    {"aws:CurrentTime", now, 1},
    {"aws:SecureTransport", yes, 1},
    {"kms:GrantIsForAWSResource", yes, 1},
    {"aws:SourceIp", ip, 1},
    {"kms:NumberOfBytes", n64, 1},
    {"kms:GrantOperations", ops, 2},
    {"aws:TagKeys", NULL, 0},
};

static void check(const struct kms_policy *key, const struct kms_policy *id)
{
	const struct kms_policy *ids[] = {id};

	for (size_t p = 0; principals[p]; p++)
		for (size_t a = 0; a < ARRAY_SIZE(actions); a++)
			for (size_t k = 0; k <= ARRAY_SIZE(ctx); k += ARRAY_SIZE(ctx) / 2) {
				struct kms_policy_request req = {
				    .principal = principals[p],
				    .service = p == 3 ? "envold.amazonaws.com" : NULL,
				    .action = actions[a],
				    .resource = a == 4 ? NULL : KEY_ARN,
				    .keys = ctx,
				    .n_keys = k};
				struct kms_access_decision d, g;
				size_t si = 0;
				enum kms_policy_result r;
				char msg[1024];
				bool ok, ok2;

				r = kms_policy_evaluate(key, &req, &si);
				if (r > KMS_POLICY_DENY ||
				    (r == KMS_POLICY_NO_MATCH) != (si == (size_t)-1) ||
				    (r != KMS_POLICY_NO_MATCH &&
				     si >= kms_policy_n_statements(key)))
					abort();
				ok = kms_policy_decide(key, ids, id ? 1 : 0, &req, false, &d);
				ok2 = kms_policy_decide(key, ids, id ? 1 : 0, &req, false, &g);
				if (ok != d.allowed || ok != ok2 || d.reason != g.reason ||
				    d.reason >= KMS_ACCESS_REASON_MAX)
					abort();
				/* a grant only adds Allow, and never beats an explicit deny */
				ok2 = kms_policy_decide(key, ids, id ? 1 : 0, &req, true, &g);
				if (ok && !ok2)
					abort();
				if (key && req.resource &&
				    ok2 != (d.reason != KMS_ACCESS_DENY_KEY_POLICY &&
					    d.reason != KMS_ACCESS_DENY_IDENTITY_POLICY))
					abort();
				if (r == KMS_POLICY_DENY && ok2)
					abort();
				if (!ok) {
					kms_policy_denial_message(&req, &d, msg, sizeof msg);
					if (!memchr(msg, 0, sizeof msg) ||
					    strncmp(msg, "User: ", 6))
						abort();
				}
				if (a == 1 &&
				    kms_policy_lockout_safe(key, ids, id ? 1 : 0, &req) != ok)
					abort();
			}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kms_policy *key = NULL, *id = NULL;
	char err[512];
	int r;

	r = kms_policy_parse(KMS_POLICY_KEY, (const char *)data, size, exists, NULL, &key, err,
			     sizeof err);
	if ((r == 0) != (key != NULL) || (r && (r != -EINVAL && r != -E2BIG && r != -ENOMEM)))
		abort();
	if (r && (!memchr(err, 0, sizeof err) || !err[0]))
		abort();
	r = kms_policy_parse(KMS_POLICY_IDENTITY, (const char *)data, size, NULL, NULL, &id, err,
			     sizeof err);
	if ((r == 0) != (id != NULL) || (r && !err[0]))
		abort();
	if (key) {
		const char *w = kms_policy_warning(key);

		for (size_t i = 0; i < kms_policy_n_statements(key); i++) {
			const char *sid = kms_policy_sid(key, i);

			if (sid && strlen(sid) > size)
				abort();
		}
		if (w && !*w)
			abort();
		check(key, id);
	}
	if (id)
		check(NULL, id);
	kms_policy_unref(key);
	kms_policy_unref(id);
	return 0;
}
