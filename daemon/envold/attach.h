/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * attach.h — the KMS side of an attach, as EBS does it (docs/operations.md "Who may attach
 * which volume"): who the NBD client is, who envold is, the grant envold creates for itself on
 * the client's behalf (Decrypt only, under exactly the volume's encryption context), the
 * Decrypt through it, its retirement at detach, and at start the retirement of the grants a
 * crashed envold left behind.  The registry (exports.c) decides when; this file talks to the KMS.
 */
#ifndef ENVOLD_ATTACH_H
#define ENVOLD_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "volume/volume.h"

/* Every grant envold creates is named this prefix and the volume's UUID (36 characters). */
#define ATTACH_GRANT_PREFIX "envol-attach/"
#define ATTACH_PRINCIPAL_MAX 512

/* The grant of one attached volume (owned by its export). */
struct attach_grant {
	char *key_arn;
	char *grant_id;
	char *token;
};

/*
 * Derives envold's own principal from cfg (kept, with cfg, until exit): on the Unix socket
 * client.kms_socket arn:aws:iam::ACCT:user/unix/<envold's user>; with client.endpoint (SigV4)
 * the principal kms.credentials gives client.access_key_id, else client.principal.  Returns 0,
 * or -EINVAL with err filled when no principal can be known.
 */
int attach_init(const struct envol_config *cfg, char *err, size_t errlen);
const char *attach_own_principal(void);

/*
 * The principal of the peer of the Unix socket fd (SO_PEERCRED):
 * arn:aws:iam::ACCT:user/unix/<user name, or uid when it has none>.  Returns 0 or -errno.
 */
int attach_peer_principal(int fd, char *buf, size_t len);

/*
 * The first connection of a volume: CreateGrant on behalf of client (for envold, Decrypt,
 * EncryptionContextEquals the volume's context, named ATTACH_GRANT_PREFIX<uuid>), then Decrypt
 * through it.  Returns 0 with the grant in *ret_grant and the DEK in secure memory, or -errno
 * with the client's message in err (-EACCES: the client may not attach, NBD_REP_ERR_POLICY);
 * on failure no grant is left behind.
 */
int attach_unwrap(const char *name, const struct envol_volume_info *info, const char *client,
		  struct attach_grant *ret_grant, uint8_t **ret_dek, size_t *ret_len, char *err,
		  size_t errlen);

/*
 * A further connection to an attached volume: the same CreateGrant with DryRun on behalf of
 * client (is it allowed?), then a Decrypt through grant g, its answer wiped at once (is the key
 * still usable: a disabled key refuses new clients).  Returns 0 or -errno with err filled.
 */
int attach_authorize(const char *name, const struct envol_volume_info *info, const char *client,
		     const struct attach_grant *g, char *err, size_t errlen);

/* RetireGrant of g (failures are logged), then frees its strings.  NULL fields are fine. */
void attach_retire(const char *name, struct attach_grant *g);

/*
 * Start: ListRetirableGrants for envold's principal, and RetireGrant of every grant named
 * ATTACH_GRANT_PREFIX<uuid> for which claim(uuid, opaque) says true (the registry: not being
 * attached), calling done(uuid, opaque) after each retirement.  Returns the number retired or
 * -errno (logged).
 */
int attach_retire_stale(bool (*claim)(const char *uuid, void *opaque),
			void (*done)(const char *uuid, void *opaque), void *opaque);

#endif
