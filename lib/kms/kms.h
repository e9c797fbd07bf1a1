/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms.h — the KMS core's interface: key store (SQLite), key material sealed under the root key,
 * the CiphertextBlob format, every supported AWS KMS operation at the JSON level, authorization,
 * and the hash-chained audit log.  No HTTP here: daemon/kmsd is a thin transport over
 * kms_handle(), and unit tests call kms_handle() directly.  The files of lib/kms are one concern
 * each; internal.h (private) shows how they fit, docs/kms-api.md lists them.
 *
 * Thread-safe: kms_handle() and kms_tick() may be called from several threads.
 */
#ifndef ENVOL_KMS_H
#define ENVOL_KMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kms;

struct kms_options {
	const char *database;      /* SQLite file, created if missing */
	const char *root_key_file; /* 32 raw bytes, created with mode 0600 if missing while the
				      database holds nothing sealed (else kms_open fails); if
				      $CREDENTIALS_DIRECTORY/root.key exists it is used instead */
	const char *audit_log;     /* append-only JSON lines, chained with a key (audit.h) */
	const char *region;        /* "local" */
	const char *account_id;    /* "000000000000" */
	char *const *admins;       /* principal ARNs with full access */
	size_t n_admins;
	char *const *services; /* service principals (envold): see authz.c */
	size_t n_services;
	/* Identity policies: IAM JSON documents read from file, attached to principal. */
	const struct kms_identity_policy_file {
		const char *principal, *file;
	} *identity_policies;
	size_t n_identity_policies;
	char *const *principals; /* other principals that exist (SigV4 credentials'), for the
				    key policy check of unknown principals */
	size_t n_principals;
};

/*
 * Who is calling: principal ARN (already authenticated by the transport) and where from.
 * A service (envold) acting for one of its clients names the client in on_behalf_of (the
 * X-Envol-On-Behalf-Of header); kms_handle() honours it only for a principal of kms.services
 * and only on CreateGrant (else AccessDeniedException), and then decides and audits the
 * request as the client: principal becomes the client, invoked_by the service's name
 * (kms:ViaService) and service_principal the transport's caller.
 */
struct kms_caller {
	const char *principal;	       /* "arn:aws:iam::000000000000:user/unix/root" */
	const char *source;	       /* "unix:pid=123,uid=0" or "tcp:127.0.0.1:40512" */
	const char *on_behalf_of;      /* the client's principal ARN; NULL: none (transport) */
	const char *invoked_by;	       /* set by lib/kms when on_behalf_of was honoured:
					  "envold.envol.internal"; NULL otherwise */
	const char *service_principal; /* set by lib/kms with invoked_by: the service's own
					  principal (the caller the transport authenticated) */
};

int kms_open(const struct kms_options *o, struct kms **ret, char *err, size_t errlen);
void kms_close(struct kms *k); /* NULL is fine */

/*
 * One AWS KMS JSON 1.1 request. operation is the part of X-Amz-Target after
 * "TrentService.".  Always produces a response (success or an AWS error body
 * {"__type": "...", "message": "..."}) in *ret_status and *ret_body (malloc'd JSON) and one
 * audit record; returns 0, or -errno only if no response could be built at all (ENOMEM).
 */
int kms_handle(struct kms *k, const struct kms_caller *caller, const char *operation,
	       const char *body, size_t body_len, const char *request_id, int *ret_status,
	       char **ret_body);

/*
 * A request the transport refused before kms_handle (bad signature, body too large, …):
 * builds the AWS error body and audits it.  error_type like "InvalidSignatureException".
 */
int kms_reject(struct kms *k, const struct kms_caller *caller, const char *operation,
	       const char *request_id, const char *error_type, int http_status,
	       const char *message, char **ret_body);

/*
 * Re-reads the access settings of o (admins, services, identity policies, principals) and
 * swaps them in atomically (SIGHUP); requests in flight finish under the old ones.  Returns 0,
 * or -errno with err set and nothing changed.
 */
int kms_reload_access(struct kms *k, const struct kms_options *o, char *err, size_t errlen);

/* Rotates keys whose rotation is due and destroys keys whose deletion window is over, by
 * envol_clock_now().  Returns the number of keys changed, or -errno. */
int kms_tick(struct kms *k);

/*
 * Checks the keyed chain of an audit log file (path, or o->audit_log if NULL) with the chain
 * key derived from o->root_key_file (read, never created) and the anchor in o->database (opened
 * read-only).  Returns 0 and the number of lines, or -EBADMSG with err naming the first bad
 * line ("line 17: prev hash does not match line 16") or the anchor's complaint (records removed
 * from the end), or -errno.
 */
int kms_audit_verify(const struct kms_options *o, const char *path, uint64_t *ret_lines,
		     char *err, size_t errlen);

/*
 * The error kinds of the KMS core (positive numbers; 0 is success).  kms_error_map() is the
 * one place that turns a kind, or a negative errno, into the AWS "__type" and HTTP status.
 */
enum kms_error {
	KMS_OK = 0,
	KMS_ERR_VALIDATION,            /* ValidationException, 400 */
	KMS_ERR_SERIALIZATION,         /* SerializationException, 400 */
	KMS_ERR_NOT_FOUND,             /* NotFoundException, 400 */
	KMS_ERR_DISABLED,              /* DisabledException, 400 */
	KMS_ERR_INVALID_STATE,         /* KMSInvalidStateException, 400 */
	KMS_ERR_INVALID_CIPHERTEXT,    /* InvalidCiphertextException, 400 */
	KMS_ERR_INCORRECT_KEY,         /* IncorrectKeyException, 400 */
	KMS_ERR_ACCESS_DENIED,         /* AccessDeniedException, 400 */
	KMS_ERR_ALREADY_EXISTS,        /* AlreadyExistsException, 400 */
	KMS_ERR_INVALID_ALIAS_NAME,    /* InvalidAliasNameException, 400 */
	KMS_ERR_INVALID_ARN,           /* InvalidArnException, 400 */
	KMS_ERR_INVALID_MARKER,        /* InvalidMarkerException, 400 */
	KMS_ERR_UNSUPPORTED_OPERATION, /* UnsupportedOperationException, 400 */
	KMS_ERR_UNKNOWN_OPERATION,     /* UnknownOperationException, 400 */
	KMS_ERR_TAG,                   /* TagException, 400 */
	KMS_ERR_LIMIT_EXCEEDED,        /* LimitExceededException, 400 */
	KMS_ERR_INVALID_KEY_USAGE,     /* InvalidKeyUsageException, 400 */
	KMS_ERR_MALFORMED_POLICY,      /* MalformedPolicyDocumentException, 400 */
	KMS_ERR_NOT_AUTHORIZED,        /* NotAuthorizedException, 400 */
	KMS_ERR_INVALID_GRANT_ID,      /* InvalidGrantIdException, 400 */
	KMS_ERR_INVALID_GRANT_TOKEN,   /* InvalidGrantTokenException, 400 */
	KMS_ERR_DRY_RUN,               /* DryRunOperationException, 412 */
	KMS_ERR_INTERNAL,              /* KMSInternalException, 500 */
	KMS_ERR_MAX,
};

/*
 * Maps an error to its AWS __type and HTTP status: error > 0 is an enum kms_error kind,
 * error < 0 a negative errno (ENOENT: NotFound, EACCES/EPERM: AccessDenied, EEXIST:
 * AlreadyExists, EINVAL: Validation, EBADMSG: InvalidCiphertext, EOPNOTSUPP: Unsupported,
 * anything else: KMSInternalException 500).  Never returns NULL.
 */
const char *kms_error_map(int error, int *ret_status);

#endif
