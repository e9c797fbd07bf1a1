/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tags.c — the tag operations: TagResource, UntagResource, ListResourceTags, and the tag rules. */
#include <string.h>

#include "kms/internal.h"

#define MAX_TAGS_PAGE 50

int kms_check_tags(struct kms_call *c)
{
	for (size_t i = 0; i < c->req.n_tags; i++)
		if (strncmp(c->req.tags[i].key, "aws:", 4) == 0)
			return kms_fail(c, KMS_ERR_TAG,
					"Tag keys beginning with aws: are reserved");
	return 0;
}

int kms_op_tag_untag(struct kms_call *c)
{
	bool tag = c->req.op == KMS_OP_TAG_RESOURCE;
	struct kms_store *s = c->k->store;
	_cleanup_key_ struct kms_key key = {0};
	int r;

	if (kms_open_key(c, c->req.key_id, KMS_REFUSE_MANAGED | KMS_REFUSE_PENDING, &key) < 0)
		return -1;
	if (tag && kms_check_tags(c) < 0)
		return -1;
	if (tag)
		r = kms_store_tags_put(s, key.id, c->req.tags, c->req.n_tags, KMS_MAX_TAGS);
	else
		r = kms_store_tags_delete(s, key.id, c->req.tag_keys, c->req.n_tag_keys);
	if (r == -E2BIG)
		return kms_fail(c, KMS_ERR_LIMIT_EXCEEDED, "A key can have at most %d tags",
				KMS_MAX_TAGS);
	if (r < 0)
		return kms_fail_internal(c, r, "tags");
	return 0;
}

int kms_op_list_resource_tags(struct kms_call *c)
{
	struct kms_result *res = &c->result;
	int64_t limit = kms_page_limit(c, 50, MAX_TAGS_PAGE);
	_cleanup_key_ struct kms_key key = {0};
	int r;

	if (limit < 0 || kms_resolve_key(c, c->req.key_id, false, &key) < 0)
		return -1;
	res->type = KMS_RESULT_TAGS;
	r = kms_store_tags_list(c->k->store, key.id, kms_page_after(c), limit, &res->tags,
				&res->page.n, &res->page.truncated);
	if (r < 0)
		return kms_fail_internal(c, r, "list tags");
	return res->page.n ? kms_page_marker(c, res->tags[res->page.n - 1].key) : 0;
}
