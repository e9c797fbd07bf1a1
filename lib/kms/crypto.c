/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypto.c — the cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
 * GenerateDataKeyWithoutPlaintext, GenerateRandom.  They run without the store's mutex and
 * make no SQLite writes (the one exception: the first use of alias/envol/ebs creates the
 * managed key): key state and material come from the cache (cache.h).
 */
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "kms/blob.h"
#include "kms/internal.h"
#include "util/encoding.h"
#include "util/secure_mem.h"

#define INVALID_CIPHERTEXT_MSG                                                                     \
	"The ciphertext is invalid: it was not produced by this KMS, was changed, its key no "     \
	"longer exists, or the encryption context does not match"

/*
 * A per-thread secure buffer for plaintext and data keys: mapping and locking a buffer per
 * request (mmap, mlock, munmap with its TLB shootdown) would cost more than the crypto.
 * Whatever is written there is wiped before the request returns (kms_result_done() for a
 * result's Plaintext); the buffer is freed when the thread exits.
 */
#define SCRATCH_LEN 8192
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static __thread uint8_t *scratch;

_Static_assert(KMS_MAX_CIPHERTEXT <= SCRATCH_LEN, "scratch holds any plaintext");
_Static_assert(1024 <= SCRATCH_LEN, "scratch holds any data key or random bytes");

static void scratch_free(void *p) { envol_secure_free(p); }

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

static uint8_t *scratch_get(void)
{
	if (!scratch) {
		(void)pthread_once(&scratch_once, scratch_init);
		scratch = envol_secure_alloc(SCRATCH_LEN);
		if (scratch)
			(void)pthread_setspecific(scratch_key, scratch);
	}
	return scratch;
}

static int check_algorithm(struct kms_call *c, const char *alg)
{
	if (alg && strcmp(alg, "SYMMETRIC_DEFAULT") != 0)
		return kms_fail(
		    c, KMS_ERR_INVALID_KEY_USAGE,
		    "%s is not a valid encryption algorithm for a SYMMETRIC_DEFAULT key", alg);
	return 0;
}

/* Encrypts pt under key_id (any KeyId form) into a new blob; sets c->key_arn. */
static int encrypt_with(struct kms_call *c, const char *key_id, const struct kms_context *ctx,
			const uint8_t *pt, size_t len, uint8_t **ret, size_t *ret_len)
{
	struct kms *k = c->k;
	const struct kms_cache_entry *e;
	char id[KMS_KEY_ID_SIZE];
	uint8_t u[16];
	int r;

	if (kms_resolve_id(c, key_id, true, id) < 0)
		return -1;
	(void)envol_uuid_parse(id, u);
	r = kms_cache_acquire(k->cache, k->store, u, &e);
	if (r == -ENOENT)
		return kms_fail(c, KMS_ERR_NOT_FOUND, "Key '%s' does not exist", c->key_arn);
	if (r < 0)
		return kms_fail_internal(c, r, "key material");
	if (kms_refuse_state(c, e->state, KMS_REFUSE_DISABLED | KMS_REFUSE_PENDING) < 0) {
		kms_cache_release(k->cache);
		return -1;
	}
	r = kms_blob_seal(kms_cache_material(e, e->n_versions), u, e->n_versions, ctx->canon,
			  ctx->canon_len, pt, len, ret, ret_len);
	kms_cache_release(k->cache);
	if (r < 0)
		return kms_fail_internal(c, r, "encrypt");
	return 0;
}

/*
 * Decrypts a CiphertextBlob; key_id (may be NULL) must name the blob's key.  On success
 * *ret is this thread's scratch buffer holding the plaintext (the caller wipes it) and
 * c->key_arn the blob's key.
 */
static int decrypt_blob(struct kms_call *c, const char *key_id, const uint8_t *data, size_t len,
			const struct kms_context *ctx, uint8_t **ret, size_t *ret_len)
{
	struct kms *k = c->k;
	const struct kms_cache_entry *e;
	struct kms_blob b;
	char id[KMS_KEY_ID_SIZE];
	uint8_t *pt;
	int r;

	if (key_id) {
		uint8_t want[16];

		if (kms_resolve_id(c, key_id, true, id) < 0)
			return -1;
		(void)envol_uuid_parse(id, want);
		if (kms_blob_parse(data, len, &b) < 0)
			return kms_fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
		if (memcmp(want, b.key_id, 16) != 0)
			return kms_fail(c, KMS_ERR_INCORRECT_KEY,
					"The key ID in the request does not identify the KMS key "
					"that encrypted the ciphertext.");
	} else if (kms_blob_parse(data, len, &b) < 0) {
		return kms_fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
	}
	envol_uuid_format(b.key_id, id);
	kms_key_arn(k, id, c->key_arn);
	if (!key_id) {
		r = kms_authorize_key(c, id);
		if (r == -ENOENT)
			return kms_fail(c, KMS_ERR_INVALID_CIPHERTEXT,
					"The ciphertext is invalid: the KMS key that encrypted it "
					"no longer exists (deleted, or never created in this KMS)");
		if (r < 0)
			return -1;
	}
	r = kms_cache_acquire(k->cache, k->store, b.key_id, &e);
	if (r == -ENOENT)
		return kms_fail(
		    c, KMS_ERR_INVALID_CIPHERTEXT,
		    "The ciphertext is invalid: the KMS key that encrypted it no longer "
		    "exists (deleted, or never created in this KMS)");
	if (r < 0)
		return kms_fail_internal(c, r, "key material");
	if (kms_refuse_state(c, e->state, KMS_REFUSE_DISABLED | KMS_REFUSE_PENDING) < 0) {
		kms_cache_release(k->cache);
		return -1;
	}
	if (b.key_version > e->n_versions) {
		kms_cache_release(k->cache);
		return kms_fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
	}
	pt = scratch_get();
	if (!pt) {
		kms_cache_release(k->cache);
		return kms_fail_internal(c, -ENOMEM, "secure memory");
	}
	r = kms_blob_open(kms_cache_material(e, b.key_version), &b, ctx->canon, ctx->canon_len, pt);
	kms_cache_release(k->cache);
	if (r < 0)
		envol_wipe(pt, b.ciphertext_len);
	if (r == -EBADMSG)
		return kms_fail(c, KMS_ERR_INVALID_CIPHERTEXT, INVALID_CIPHERTEXT_MSG);
	if (r < 0)
		return kms_fail_internal(c, r, "decrypt");
	*ret = pt;
	*ret_len = b.ciphertext_len;
	return 0;
}

int kms_op_encrypt(struct kms_call *c)
{
	struct kms_crypto_result *res = &c->result.crypto;

	if (check_algorithm(c, c->req.encryption_algorithm) < 0)
		return -1;
	c->result.type = KMS_RESULT_CRYPTO;
	if (encrypt_with(c, c->req.key_id, &c->req.context, c->req.plaintext, c->req.plaintext_len,
			 &res->ciphertext_blob, &res->ciphertext_blob_len) < 0)
		return -1;
	memcpy(c->result.key_id, c->key_arn, sizeof c->result.key_id);
	res->algorithm = true;
	return 0;
}

int kms_op_decrypt(struct kms_call *c)
{
	struct kms_crypto_result *res = &c->result.crypto;

	if (check_algorithm(c, c->req.encryption_algorithm) < 0)
		return -1;
	c->result.type = KMS_RESULT_CRYPTO;
	if (decrypt_blob(c, c->req.key_id, c->req.ciphertext_blob, c->req.ciphertext_blob_len,
			 &c->req.context, &res->plaintext, &res->plaintext_len) < 0)
		return -1;
	memcpy(c->result.key_id, c->key_arn, sizeof c->result.key_id);
	res->algorithm = true;
	return 0;
}

int kms_op_re_encrypt(struct kms_call *c)
{
	struct kms_crypto_result *res = &c->result.crypto;
	uint8_t *pt = NULL;
	size_t len;
	int r;

	if (check_algorithm(c, c->req.encryption_algorithm) < 0 ||
	    check_algorithm(c, c->req.destination_encryption_algorithm) < 0)
		return -1;
	c->result.type = KMS_RESULT_CRYPTO;
	c->action = "ReEncryptFrom";
	if (decrypt_blob(c, c->req.source_key_id, c->req.ciphertext_blob,
			 c->req.ciphertext_blob_len, &c->req.context, &pt, &len) < 0)
		return -1;
	memcpy(res->source_key_id, c->key_arn, sizeof res->source_key_id);
	c->action = "ReEncryptTo";
	c->authz_ctx = &c->req.dst_context;
	c->authorized = false;
	r = encrypt_with(c, c->req.destination_key_id, &c->req.dst_context, pt, len,
			 &res->ciphertext_blob, &res->ciphertext_blob_len);
	envol_wipe(pt, len);
	if (r < 0)
		return -1;
	memcpy(c->result.key_id, c->key_arn, sizeof c->result.key_id);
	res->source_destination_algorithms = true;
	return 0;
}

int kms_op_generate_data_key(struct kms_call *c)
{
	bool with_plaintext = c->req.op == KMS_OP_GENERATE_DATA_KEY;
	struct kms_crypto_result *res = &c->result.crypto;
	uint8_t *dk;
	size_t n;
	int r;

	if (c->req.number_of_bytes && c->req.data_key_spec)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"Please specify either number of bytes or key spec, not both.");
	if (!c->req.number_of_bytes && !c->req.data_key_spec)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"Please specify either number of bytes or key spec.");
	n = c->req.number_of_bytes			   ? (size_t)c->req.number_of_bytes
	    : strcmp(c->req.data_key_spec, "AES_128") == 0 ? 16
							   : 32;
	dk = scratch_get();
	if (!dk)
		return kms_fail_internal(c, -ENOMEM, "secure memory");
	if (RAND_priv_bytes(dk, (int)n) != 1) {
		envol_wipe(dk, n);
		return kms_fail_internal(c, -EIO, "random");
	}
	c->result.type = KMS_RESULT_CRYPTO;
	r = encrypt_with(c, c->req.key_id, &c->req.context, dk, n, &res->ciphertext_blob,
			 &res->ciphertext_blob_len);
	if (r == 0 && with_plaintext) {
		res->plaintext = dk; /* wiped by kms_result_done() */
		res->plaintext_len = n;
	} else {
		envol_wipe(dk, n);
	}
	if (r < 0)
		return -1;
	memcpy(c->result.key_id, c->key_arn, sizeof c->result.key_id);
	return 0;
}

int kms_op_generate_random(struct kms_call *c)
{
	struct kms_crypto_result *res = &c->result.crypto;
	size_t n = (size_t)c->req.number_of_bytes;
	uint8_t *rnd;

	if (n == 0)
		return kms_fail(c, KMS_ERR_VALIDATION,
				"1 validation error detected: Value null at 'numberOfBytes' failed "
				"to satisfy constraint: Member must not be null");
	rnd = scratch_get();
	if (!rnd)
		return kms_fail_internal(c, -ENOMEM, "secure memory");
	if (RAND_bytes(rnd, (int)n) != 1) {
		envol_wipe(rnd, n);
		return kms_fail_internal(c, -EIO, "random");
	}
	c->result.type = KMS_RESULT_CRYPTO;
	res->plaintext = rnd; /* wiped by kms_result_done() */
	res->plaintext_len = n;
	return 0;
}
