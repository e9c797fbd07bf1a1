/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms_client.h — how envold and envolctl talk to envol-kmsd: AWS KMS JSON 1.1 over HTTP,
 * on the Unix socket client.kms_socket (libcurl CURLOPT_UNIX_SOCKET_PATH), or on the TCP
 * endpoint client.endpoint with SigV4 (CURLOPT_AWS_SIGV4).  One client per thread.
 */
#ifndef ENVOL_KMS_CLIENT_H
#define ENVOL_KMS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "volume/volume.h"

struct kms_client;

int kms_client_new(const struct envol_config *cfg, struct kms_client **ret, char *err,
		   size_t errlen);
struct kms_client *kms_client_free(struct kms_client *c);

/*
 * POST one operation ("Decrypt", …) with a JSON request body.  Returns 0 with the HTTP status
 * and the response body (malloc'd), or a negative errno when no HTTP answer came
 * (-ECONNREFUSED, -ENOENT for a missing socket, -ETIMEDOUT), err saying what happened.
 */
int kms_client_call(struct kms_client *c, const char *operation, const char *request_json,
		    long *ret_status, char **ret_body, char *err, size_t errlen);

/*
 * Decrypt a volume's CiphertextBlob with its encryption context into a secure buffer
 * (envol_secure_free it).  On an AWS error returns a negative errno (-EACCES for
 * AccessDeniedException, -EKEYREVOKED for DisabledException / KMSInvalidStateException,
 * -EBADMSG for InvalidCiphertextException, -EHOSTDOWN when the KMS is unreachable) and err
 * reads like "DisabledException: arn:aws:kms:local:000000000000:key/… is disabled".
 */
int kms_client_decrypt_dek(struct kms_client *c, const uint8_t *blob, size_t blob_len,
			   const struct envol_context_pair *context, size_t n_context,
			   uint8_t **ret_dek, size_t *ret_len, char *err, size_t errlen);

/* The Unix socket path or the endpoint URL this client talks to (for messages). */
const char *kms_client_target(const struct kms_client *c);

/*
 * Reads an AWS error body {"__type": "...", "message": "..."}: type without any
 * "namespace#" prefix, and message ("" when absent).  Returns 0, or -EINVAL when body is not
 * an AWS error body.
 */
int kms_client_parse_error(const char *body, char *type, size_t typelen, char *message,
			   size_t messagelen);

/* The negative errno for an AWS error type (kms_client_decrypt_dek's map; -EIO if unknown). */
int kms_client_error_errno(const char *type);

/*
 * Finds the string value of top-level member name of a JSON object in place (no copy, so a
 * Plaintext never passes through a parser's buffers).  The value must be free of escapes.
 * Returns 0 with *ret_value and *ret_len pointing into json, -ENOENT when absent, -EINVAL on
 * malformed JSON.
 */
int kms_client_json_find_string(const char *json, const char *name, const char **ret_value,
				size_t *ret_len);

#endif
