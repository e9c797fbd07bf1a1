/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envol/kms_client.h — talking to envol-kmsd (or any AWS KMS endpoint) from a third-party
 * tool: AWS KMS JSON 1.1 over HTTP, on the Unix socket client.kms_socket (the caller is
 * identified by its uid), or on the TCP endpoint client.endpoint signed with SigV4.  Where the
 * KMS is and which credentials to use come from the envol configuration file, the same one
 * envolctl and envold read.
 *
 *	struct envol_config *cfg;
 *	struct envol_kms_client *kc;
 *	char err[512];
 *
 *	if (envol_config_load(NULL, &cfg, err, sizeof err) < 0 ||
 *	    envol_kms_client_new(cfg, &kc, err, sizeof err) < 0)
 *		... err says why ...
 *	envol_kms_client_call(kc, "ListKeys", "{}", &status, &body, err, sizeof err);
 *
 * Every function returns 0 or a negative errno; a message for humans, when there is one, is
 * written into err (errlen bytes, always NUL-terminated).  A client is not thread-safe: use one
 * per thread.  Request and response bodies are never logged (they can hold plaintext).
 */
#ifndef ENVOL_PUBLIC_KMS_CLIENT_H
#define ENVOL_PUBLIC_KMS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The parsed envol configuration file (opaque here). */
struct envol_config;
/* An encryption context pair {key, value}; defined in <envol/volume.h>. */
struct envol_context_pair;
struct envol_kms_client;

/*
 * Reads the envol configuration file: path NULL means /etc/envol/envol.conf, and a missing
 * default file means built-in defaults; an explicitly named file must exist.  On error returns
 * -EINVAL (or -errno) with a message like "envol.conf:12: kms.region: must be a string".
 */
int envol_config_load(const char *path, struct envol_config **ret, char *err, size_t errlen);
/* Frees a configuration (wiping its secrets); NULL is fine.  Returns NULL. */
struct envol_config *envol_config_free(struct envol_config *c);

/* A client for the KMS that cfg's client.* settings name.  cfg may be freed afterwards. */
int envol_kms_client_new(const struct envol_config *cfg, struct envol_kms_client **ret, char *err,
			 size_t errlen);
/* NULL is fine.  Returns NULL. */
struct envol_kms_client *envol_kms_client_free(struct envol_kms_client *c);

/*
 * POST one operation ("Decrypt", …) with a JSON request body.  Returns 0 with the HTTP status
 * and the response body (malloc'd, NUL-terminated: free it, after explicit_bzero() if it may hold
 * plaintext), or a negative errno when no HTTP answer came (-ECONNREFUSED, -ENOENT for a
 * missing socket, -ETIMEDOUT, -EMSGSIZE for an answer over 4 MiB), err saying what happened.
 */
int envol_kms_client_call(struct envol_kms_client *c, const char *operation,
			  const char *request_json, long *ret_status, char **ret_body, char *err,
			  size_t errlen);

/*
 * Decrypts a volume's CiphertextBlob with its encryption context into locked memory: release
 * *ret_dek with envol_secure_free().  On an AWS error returns a negative errno (-EACCES for
 * AccessDeniedException, -EKEYREVOKED for DisabledException / KMSInvalidStateException,
 * -EBADMSG for InvalidCiphertextException, -EHOSTDOWN when the KMS is unreachable) and err
 * reads like "DisabledException: arn:aws:kms:local:000000000000:key/… is disabled".
 */
int envol_kms_client_decrypt_dek(struct envol_kms_client *c, const uint8_t *blob, size_t blob_len,
				 const struct envol_context_pair *context, size_t n_context,
				 uint8_t **ret_dek, size_t *ret_len, char *err, size_t errlen);

/*
 * The same, with GrantTokens: grant_tokens[0..n_grant_tokens) from CreateGrant (none when
 * n_grant_tokens is 0), for a caller that may decrypt only through a grant.
 */
int envol_kms_client_decrypt_dek_with_grants(struct envol_kms_client *c, const uint8_t *blob,
					     size_t blob_len,
					     const struct envol_context_pair *context,
					     size_t n_context, const char *const *grant_tokens,
					     size_t n_grant_tokens, uint8_t **ret_dek,
					     size_t *ret_len, char *err, size_t errlen);

/*
 * The HTTP header a service listed in kms.services sends to make a CreateGrant on behalf of
 * the user it serves (the request is then authorized and audited as that user, with
 * kms:ViaService the service's name).
 */
#define ENVOL_KMS_ON_BEHALF_OF_HEADER "X-Envol-On-Behalf-Of"

/*
 * CreateGrant on key_id (id, ARN or alias) for grantee_principal: operations[0..n_operations)
 * ("Decrypt", …), constrained to exactly the encryption context context_equals[0..n_context)
 * when n_context > 0 (EncryptionContextEquals), with retiring_principal and name when not NULL.
 * on_behalf_of, when not NULL, is the principal the request is made for (sent in
 * ENVOL_KMS_ON_BEHALF_OF_HEADER; only a kms.services caller may).  Returns 0 with the new
 * grant's *ret_grant_id and *ret_grant_token (malloc'd; either pointer may be NULL), or -errno:
 * -EACCES for AccessDeniedException, see envol_kms_client_error_errno().  With dry_run, nothing
 * is created: 0 means the request would have been allowed (AWS's DryRunOperationException), and
 * the ret_* are left untouched.
 */
int envol_kms_client_create_grant(struct envol_kms_client *c, const char *key_id,
				  const char *grantee_principal, const char *retiring_principal,
				  const char *const *operations, size_t n_operations,
				  const struct envol_context_pair *context_equals,
				  size_t n_context, const char *name, const char *on_behalf_of,
				  bool dry_run, char **ret_grant_id, char **ret_grant_token,
				  char *err, size_t errlen);

/*
 * RetireGrant, by grant_token or by key_id (the key ARN) and grant_id (the others NULL).
 * Returns 0, -ENOENT when no such grant is left (InvalidGrantIdException), or -errno.
 */
int envol_kms_client_retire_grant(struct envol_kms_client *c, const char *key_id,
				  const char *grant_id, const char *grant_token, char *err,
				  size_t errlen);

/* Called once per grant: the key ARN, the grant id, its name ("" when none); < 0 stops. */
typedef int (*envol_kms_grant_fn)(void *opaque, const char *key_id, const char *grant_id,
				  const char *name);

/*
 * ListRetirableGrants for retiring_principal, every page: fn(opaque, …) per grant.  Returns 0,
 * fn's negative return, or -errno.
 */
int envol_kms_client_list_retirable_grants(struct envol_kms_client *c,
					   const char *retiring_principal, envol_kms_grant_fn fn,
					   void *opaque, char *err, size_t errlen);

/* Wipes and releases a key from envol_kms_client_decrypt_dek(); NULL is fine.  Returns NULL. */
void *envol_secure_free(void *p);

/* The Unix socket path or the endpoint URL this client talks to (for messages). */
const char *envol_kms_client_target(const struct envol_kms_client *c);

/*
 * Reads an AWS error body {"__type": "...", "message": "..."}: type without any
 * "namespace#" prefix, and message ("" when absent).  Returns 0, or -EINVAL when body is not
 * an AWS error body.
 */
int envol_kms_client_parse_error(const char *body, char *type, size_t typelen, char *message,
				 size_t messagelen);

/* The negative errno for an AWS error type (decrypt_dek's map; -EIO if unknown). */
int envol_kms_client_error_errno(const char *type);

/*
 * Finds the string value of top-level member name of a JSON object in place (no copy, so a
 * Plaintext never passes through a parser's buffers).  The value must be free of escapes
 * (base64 is).  Returns 0 with *ret_value and *ret_len pointing into json, -ENOENT when
 * absent, -EINVAL on malformed JSON or an escaped value.
 */
int envol_kms_client_json_find_string(const char *json, const char *name, const char **ret_value,
				      size_t *ret_len);

#ifdef __cplusplus
}
#endif

#endif
