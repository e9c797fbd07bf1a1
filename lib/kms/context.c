/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* context.c — encryption contexts: canonical bytes, JSON form, lookup (context.h).  Pure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kms/context.h"
#include "util/macros.h"

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int kms_context_canonical(const char *const *keys, const char *const *values, size_t n,
			  uint8_t **ret, size_t *ret_len)
{
	size_t len = 4, pos = 0;
	uint8_t *b;

	if (n > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(keys[i]), vl = strlen(values[i]);

		if (kl > UINT32_MAX || vl > UINT32_MAX || ADD_OVERFLOW(len, 8, &len) ||
		    ADD_OVERFLOW(len, kl, &len) || ADD_OVERFLOW(len, vl, &len))
			return -EINVAL;
	}
	b = malloc(len);
	if (!b)
		return -ENOMEM;
	put_u32(b, (uint32_t)n);
	pos = 4;
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(keys[i]), vl = strlen(values[i]);

		put_u32(b + pos, (uint32_t)kl);
		memcpy(b + pos + 4, keys[i], kl);
		pos += 4 + kl;
		put_u32(b + pos, (uint32_t)vl);
		memcpy(b + pos + 4, values[i], vl);
		pos += 4 + vl;
	}
	*ret = b;
	*ret_len = len;
	return 0;
}

json_t *kms_context_json(const struct kms_context *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (size_t i = 0; c && i < c->n; i++)
		if (json_object_set_new(o, c->keys[i], json_string(c->values[i])) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

bool kms_context_has_key(const struct kms_context *c, const char *key)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->keys[i], key) == 0)
			return true;
	return false;
}

void kms_context_done(struct kms_context *c)
{
	free(c->keys);
	free(c->values);
	free(c->canon);
	memset(c, 0, sizeof(*c));
}
