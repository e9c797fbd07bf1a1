/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* blob.c — the CiphertextBlob v1 codec (blob.h).  Pure. */
#include <string.h>

#include "crypto/seal.h"
#include "kms/blob.h"
#include "kms/request.h"
#include "util/macros.h"

static const uint8_t blob_magic[3] = {'E', 'V', 'K'};
static const uint8_t empty_context[4] = {0, 0, 0, 0};

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int kms_blob_parse(const uint8_t *data, size_t len, struct kms_blob *ret)
{
	struct kms_blob b;

	if (!data || len < KMS_BLOB_OVERHEAD + 1 || len > KMS_MAX_CIPHERTEXT)
		return -EBADMSG;
	if (memcmp(data, blob_magic, sizeof blob_magic) != 0 || data[3] != KMS_BLOB_VERSION)
		return -EBADMSG;
	memcpy(b.key_id, data + 4, 16);
	b.key_version = get_u32(data + 20);
	if (b.key_version == 0)
		return -EBADMSG;
	b.header = data;
	b.nonce = data + 24;
	b.ciphertext = data + KMS_BLOB_HEADER_LEN;
	b.ciphertext_len = len - KMS_BLOB_OVERHEAD;
	b.tag = data + len - ENVOL_SEAL_TAG_SIZE;
	*ret = b;
	return 0;
}

int kms_blob_seal(const uint8_t *key, const uint8_t key_id[16], uint32_t key_version,
		  const uint8_t *canon, size_t canon_len, const uint8_t *pt, size_t pt_len,
		  uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t len;
	int r;

	if (pt_len == 0 || key_version == 0 || pt_len > KMS_MAX_CIPHERTEXT - KMS_BLOB_OVERHEAD)
		return -EINVAL;
	len = pt_len + KMS_BLOB_OVERHEAD;
	b = malloc(len);
	if (!b)
		return -ENOMEM;
	memcpy(b, blob_magic, 3);
	b[3] = KMS_BLOB_VERSION;
	memcpy(b + 4, key_id, 16);
	b[20] = (uint8_t)(key_version >> 24);
	b[21] = (uint8_t)(key_version >> 16);
	b[22] = (uint8_t)(key_version >> 8);
	b[23] = (uint8_t)key_version;
	r = envol_seal_nonce(b + 24);
	if (r < 0)
		return r;
	if (!canon) {
		canon = empty_context;
		canon_len = sizeof empty_context;
	}
	r = envol_seal(key, b + 24,
		       (struct envol_seal_aad[]){{b, KMS_BLOB_HEADER_LEN}, {canon, canon_len}}, 2,
		       pt, pt_len, b + KMS_BLOB_HEADER_LEN, b + len - ENVOL_SEAL_TAG_SIZE);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(b);
	*ret_len = len;
	return 0;
}

int kms_blob_open(const uint8_t *key, const struct kms_blob *b, const uint8_t *canon,
		  size_t canon_len, uint8_t *out)
{
	if (!canon) {
		canon = empty_context;
		canon_len = sizeof empty_context;
	}
	return envol_seal_open(
	    key, b->nonce,
	    (struct envol_seal_aad[]){{b->header, KMS_BLOB_HEADER_LEN}, {canon, canon_len}}, 2,
	    b->ciphertext, b->ciphertext_len, b->tag, out);
}
