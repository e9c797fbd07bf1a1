/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * root_key.h — the KMS root key and the sealing of CMK material under it: AES-256-GCM
 * (crypto/seal.h), a random nonce, AAD = key id (16 bytes) || version (u32 BE).  Sealed form:
 * nonce (12) || ciphertext (32) || tag (16).  The root key and unsealed material live only in
 * secure memory (util/secure_mem.h).
 */
#ifndef ENVOL_KMS_ROOT_KEY_H
#define ENVOL_KMS_ROOT_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/seal.h"
#include "kms/blob.h"

#define KMS_SEALED_LEN (ENVOL_SEAL_NONCE_SIZE + KMS_KEY_LEN + ENVOL_SEAL_TAG_SIZE)

/*
 * Loads the root key into a new secure buffer (32 bytes): $CREDENTIALS_DIRECTORY/root.key
 * if it exists, else path.  A missing path is created (O_EXCL, mode 0600, 32 random bytes,
 * fsync'd) if create is true, else it is -ENOENT.  Returns 0 or -errno with err set.
 */
int kms_root_key_load(const char *path, bool create, uint8_t **ret, char *err, size_t errlen);

/* Seals one version of CMK material (KMS_KEY_LEN bytes) under the root key.  0 or -errno. */
int kms_root_key_seal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
		      const uint8_t *material, uint8_t sealed[KMS_SEALED_LEN]);
/*
 * Unseals into material (KMS_KEY_LEN bytes of the caller's secure memory).  Returns 0, -EBADMSG
 * (wrong length, root key, id or version, or changed bytes; material is then wiped) or -errno.
 */
int kms_root_key_unseal(const uint8_t *root, const uint8_t key_id[16], uint32_t version,
			const uint8_t *sealed, size_t sealed_len, uint8_t *material);

#endif
