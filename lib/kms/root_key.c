/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* root_key.c — the root key file or credential, and CMK material sealed under it (root_key.h). */
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "crypto/seal.h"
#include "kms/root_key.h"
#include "util/error.h"
#include "util/macros.h"
#include "util/secure_mem.h"

static int read_key_file(int fd, uint8_t *key)
{
	size_t got = 0;
	uint8_t extra;

	while (got < KMS_KEY_LEN) {
		ssize_t n = read(fd, key + got, KMS_KEY_LEN - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EBADMSG;
		got += (size_t)n;
	}
	if (read(fd, &extra, 1) != 0)
		return -EBADMSG;
	return 0;
}

int kms_root_key_load(const char *path, bool create, uint8_t **ret, char *err, size_t errlen)
{
	_cleanup_(envol_secure_freep) uint8_t *key = envol_secure_alloc(KMS_KEY_LEN);
	_cleanup_free_ char *cred = NULL;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	_cleanup_close_ int fd = -1;
	int r;

	if (!key)
		return envol_fail(-ENOMEM, err, errlen,
				  "cannot allocate locked memory for the root key");
	if (dir && *dir) {
		if (asprintf(&cred, "%s/root.key", dir) < 0)
			return -ENOMEM;
		fd = open(cred, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0)
			path = cred;
		else if (errno != ENOENT) {
			r = negative_errno();
			return envol_fail(r, err, errlen, "%s: %s", cred, strerror(-r));
		}
	}
	if (fd < 0) {
		if (!path || !*path)
			return envol_fail(-EINVAL, err, errlen, "no root key file configured");
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0 && errno == ENOENT && !create)
		return envol_fail(-ENOENT, err, errlen, "root key %s is missing", path);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			r = negative_errno();
			return envol_fail(r, err, errlen, "cannot create root key %s: %s", path,
					  strerror(-r));
		}
		if (RAND_priv_bytes(key, KMS_KEY_LEN) != 1) {
			(void)unlink(path);
			return envol_fail(-EIO, err, errlen, "no randomness for the root key");
		}
		if (write(fd, key, KMS_KEY_LEN) != KMS_KEY_LEN || fsync(fd) < 0) {
			r = negative_errno();
			(void)unlink(path);
			return envol_fail(r, err, errlen, "cannot write root key %s: %s", path,
					  strerror(-r));
		}
		*ret = TAKE_PTR(key);
		return 0;
	}
	if (fd < 0) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "cannot open root key %s: %s", path,
				  strerror(-r));
	}
	r = read_key_file(fd, key);
	if (r < 0)
		return envol_fail(r, err, errlen, "root key %s: %s", path,
				  r == -EBADMSG ? "must be exactly 32 bytes" : strerror(-r));
	*ret = TAKE_PTR(key);
	return 0;
}

static void material_aad(const uint8_t key_id[16], uint32_t version, uint8_t aad[20])
{
	memcpy(aad, key_id, 16);
	aad[16] = (uint8_t)(version >> 24);
	aad[17] = (uint8_t)(version >> 16);
	aad[18] = (uint8_t)(version >> 8);
	aad[19] = (uint8_t)version;
}

int kms_root_key_seal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
		      const uint8_t *material, uint8_t sealed[KMS_SEALED_LEN])
{
	uint8_t aad[20];
	int r;

	material_aad(key_id, version, aad);
	r = envol_seal_nonce(sealed);
	if (r < 0)
		return r;
	return envol_seal(root, sealed, &(struct envol_seal_aad){aad, sizeof aad}, 1, material,
			  KMS_KEY_LEN, sealed + ENVOL_SEAL_NONCE_SIZE,
			  sealed + ENVOL_SEAL_NONCE_SIZE + KMS_KEY_LEN);
}

int kms_root_key_unseal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
			const uint8_t *sealed, size_t sealed_len, uint8_t *material)
{
	uint8_t aad[20];

	if (sealed_len != KMS_SEALED_LEN)
		return -EBADMSG;
	material_aad(key_id, version, aad);
	return envol_seal_open(root, sealed, &(struct envol_seal_aad){aad, sizeof aad}, 1,
			       sealed + ENVOL_SEAL_NONCE_SIZE, KMS_KEY_LEN,
			       sealed + ENVOL_SEAL_NONCE_SIZE + KMS_KEY_LEN, material);
}
