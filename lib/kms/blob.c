/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kms_blob.c — CiphertextBlob v1 codec and one-shot AES-256-GCM (OpenSSL EVP).  Pure. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "util/macros.h"
#include "kms/blob.h"
#include "kms/json.h"
#include "util/secure_mem.h"

static const uint8_t blob_magic[3] = {'E', 'V', 'K'};
static const uint8_t empty_context[4] = {0, 0, 0, 0};

static void evp_ctx_freep(EVP_CIPHER_CTX **c) { EVP_CIPHER_CTX_free(*c); }

static int gcm_init(EVP_CIPHER_CTX *c, bool enc, const uint8_t *key, const uint8_t *nonce,
		    const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2, size_t aad2_len)
{
	int outl;

	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, KMS_GCM_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc ? 1 : 0) != 1)
		return -EIO;
	if (aad1_len > INT32_MAX || aad2_len > INT32_MAX)
		return -EINVAL;
	if (aad1_len && EVP_CipherUpdate(c, NULL, &outl, aad1, (int)aad1_len) != 1)
		return -EIO;
	if (aad2_len && EVP_CipherUpdate(c, NULL, &outl, aad2, (int)aad2_len) != 1)
		return -EIO;
	return 0;
}

int kms_gcm_seal(const uint8_t *key, const uint8_t nonce[KMS_GCM_NONCE_LEN], const uint8_t *aad1,
		 size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *pt,
		 size_t len, uint8_t *ct, uint8_t tag[KMS_GCM_TAG_LEN])
{
	_cleanup_(evp_ctx_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int outl = 0, fin = 0, r;

	if (!c)
		return -ENOMEM;
	if (len > INT32_MAX)
		return -EINVAL;
	r = gcm_init(c, true, key, nonce, aad1, aad1_len, aad2, aad2_len);
	if (r < 0)
		return r;
	if (len && EVP_EncryptUpdate(c, ct, &outl, pt, (int)len) != 1)
		return -EIO;
	if (EVP_EncryptFinal_ex(c, ct + outl, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, KMS_GCM_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

int kms_gcm_open(const uint8_t *key, const uint8_t nonce[KMS_GCM_NONCE_LEN], const uint8_t *aad1,
		 size_t aad1_len, const uint8_t *aad2, size_t aad2_len, const uint8_t *ct,
		 size_t len, const uint8_t tag[KMS_GCM_TAG_LEN], uint8_t *pt)
{
	_cleanup_(evp_ctx_freep) EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t tagcopy[KMS_GCM_TAG_LEN];
	int outl = 0, fin = 0, r;

	if (!c)
		return -ENOMEM;
	if (len > INT32_MAX)
		return -EINVAL;
	r = gcm_init(c, false, key, nonce, aad1, aad1_len, aad2, aad2_len);
	if (r < 0)
		return r;
	if (len && EVP_DecryptUpdate(c, pt, &outl, ct, (int)len) != 1)
		return -EIO;
	memcpy(tagcopy, tag, sizeof tagcopy);
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, KMS_GCM_TAG_LEN, tagcopy) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(c, pt + outl, &fin) != 1) {
		envol_wipe(pt, len);
		return -EBADMSG;
	}
	return 0;
}

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
	b.tag = data + len - KMS_GCM_TAG_LEN;
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
	if (RAND_bytes(b + 24, KMS_GCM_NONCE_LEN) != 1)
		return -EIO;
	if (!canon) {
		canon = empty_context;
		canon_len = sizeof empty_context;
	}
	r = kms_gcm_seal(key, b + 24, b, KMS_BLOB_HEADER_LEN, canon, canon_len, pt, pt_len,
			 b + KMS_BLOB_HEADER_LEN, b + len - KMS_GCM_TAG_LEN);
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
	return kms_gcm_open(key, b->nonce, b->header, KMS_BLOB_HEADER_LEN, canon, canon_len,
			    b->ciphertext, b->ciphertext_len, b->tag, out);
}
