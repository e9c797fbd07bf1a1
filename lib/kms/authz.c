/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * authz.c — authorization, the one decision point every operation goes through
 * (kms_authorize(), called by the dispatcher after decoding and before any key is looked up).
 * Today: kms.admins may do everything; kms.services may DescribeKey, and
 * GenerateDataKeyWithoutPlaintext, Decrypt and ReEncrypt (both contexts) only with
 * "envol:volume-id" in the encryption context, envol's stand-in for kms:ViaService.  Key
 * policies, identity policies and grants are to be evaluated here.
 */
#include <stdlib.h>
#include <string.h>

#include "kms/internal.h"

#define VOLUME_ID_KEY "envol:volume-id"

struct kms_authz {
	char **admins, **services; /* principal ARNs */
	size_t n_admins, n_services;
};

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static char **strv_copy(char *const *v, size_t n)
{
	char **c = calloc(n + 1, sizeof(char *));

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		c[i] = strdup(v[i] ? v[i] : "");
		if (!c[i]) {
			strv_free(c, i);
			return NULL;
		}
	}
	return c;
}

int kms_authz_new(const struct kms_options *o, struct kms_authz **ret)
{
	struct kms_authz *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->admins = strv_copy(o->admins, o->n_admins);
	a->services = strv_copy(o->services, o->n_services);
	if (!a->admins || !a->services) {
		kms_authz_free(a);
		return -ENOMEM;
	}
	a->n_admins = o->n_admins;
	a->n_services = o->n_services;
	*ret = a;
	return 0;
}

void kms_authz_free(struct kms_authz *a)
{
	if (!a)
		return;
	strv_free(a->admins, a->n_admins);
	strv_free(a->services, a->n_services);
	free(a);
}

static bool principal_in(const char *p, char *const *list, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		if (strcmp(p, list[i]) == 0)
			return true;
	return false;
}

/* What a service principal may do: 1 allowed, 0 not, -1 not because of the context. */
static int service_allows(const struct kms_request *req)
{
	switch (req->op) {
	case KMS_OP_DESCRIBE_KEY:
		return 1;
	case KMS_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT:
	case KMS_OP_DECRYPT:
		return kms_context_has_key(&req->context, VOLUME_ID_KEY) ? 1 : -1;
	case KMS_OP_RE_ENCRYPT:
		return kms_context_has_key(&req->context, VOLUME_ID_KEY) &&
			       kms_context_has_key(&req->dst_context, VOLUME_ID_KEY)
			   ? 1
			   : -1;
	default:
		return 0;
	}
}

int kms_authorize(const struct kms_authz *a, struct kms_call *c)
{
	const char *p = c->caller ? c->caller->principal : NULL;
	const char *op = kms_op_name(c->req.op);
	int allowed = 0;

	if (principal_in(p, a->admins, a->n_admins))
		return 0;
	if (principal_in(p, a->services, a->n_services))
		allowed = service_allows(&c->req);
	if (allowed > 0)
		return 0;
	if (allowed < 0)
		return kms_fail(c, KMS_ERR_ACCESS_DENIED,
				"User: %s is not authorized to perform: kms:%s because the "
				"encryption context does not contain " VOLUME_ID_KEY,
				kms_call_principal(c), op);
	return kms_fail(c, KMS_ERR_ACCESS_DENIED,
			"User: %s is not authorized to perform: kms:%s because no identity-based "
			"policy allows the kms:%s action",
			kms_call_principal(c), op, op);
}
