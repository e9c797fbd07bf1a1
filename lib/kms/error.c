/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * error.c — the KMS's errors: the table of AWS "__type" names and HTTP statuses,
 * kms_error_map() (the one place that turns an error kind or a -errno into them), and how an
 * operation sets its call's error.
 */
#include <stdarg.h>

#include "kms/internal.h"
#include "util/error.h"
#include "util/log.h"

static const struct {
	const char *type;
	int status;
} error_table[KMS_ERR_MAX] = {
    [KMS_OK] = {"", 200},
    [KMS_ERR_VALIDATION] = {"ValidationException", 400},
    [KMS_ERR_SERIALIZATION] = {"SerializationException", 400},
    [KMS_ERR_NOT_FOUND] = {"NotFoundException", 400},
    [KMS_ERR_DISABLED] = {"DisabledException", 400},
    [KMS_ERR_INVALID_STATE] = {"KMSInvalidStateException", 400},
    [KMS_ERR_INVALID_CIPHERTEXT] = {"InvalidCiphertextException", 400},
    [KMS_ERR_INCORRECT_KEY] = {"IncorrectKeyException", 400},
    [KMS_ERR_ACCESS_DENIED] = {"AccessDeniedException", 400},
    [KMS_ERR_ALREADY_EXISTS] = {"AlreadyExistsException", 400},
    [KMS_ERR_INVALID_ALIAS_NAME] = {"InvalidAliasNameException", 400},
    [KMS_ERR_INVALID_ARN] = {"InvalidArnException", 400},
    [KMS_ERR_INVALID_MARKER] = {"InvalidMarkerException", 400},
    [KMS_ERR_UNSUPPORTED_OPERATION] = {"UnsupportedOperationException", 400},
    [KMS_ERR_UNKNOWN_OPERATION] = {"UnknownOperationException", 400},
    [KMS_ERR_TAG] = {"TagException", 400},
    [KMS_ERR_LIMIT_EXCEEDED] = {"LimitExceededException", 400},
    [KMS_ERR_INVALID_KEY_USAGE] = {"InvalidKeyUsageException", 400},
    [KMS_ERR_MALFORMED_POLICY] = {"MalformedPolicyDocumentException", 400},
    [KMS_ERR_NOT_AUTHORIZED] = {"NotAuthorizedException", 400},
    [KMS_ERR_INVALID_GRANT_ID] = {"InvalidGrantIdException", 400},
    [KMS_ERR_INVALID_GRANT_TOKEN] = {"InvalidGrantTokenException", 400},
    [KMS_ERR_DRY_RUN] = {"DryRunOperationException", 412},
    [KMS_ERR_INTERNAL] = {"KMSInternalException", 500},
};

const char *kms_error_map(int error, int *ret_status)
{
	int kind;

	if (error > 0 && error < KMS_ERR_MAX)
		kind = error;
	else
		switch (error) {
		case -ENOENT:
			kind = KMS_ERR_NOT_FOUND;
			break;
		case -EACCES:
		case -EPERM:
			kind = KMS_ERR_ACCESS_DENIED;
			break;
		case -EEXIST:
			kind = KMS_ERR_ALREADY_EXISTS;
			break;
		case -EINVAL:
		case -E2BIG:
			kind = KMS_ERR_VALIDATION;
			break;
		case -EBADMSG:
			kind = KMS_ERR_INVALID_CIPHERTEXT;
			break;
		case -EOPNOTSUPP:
			kind = KMS_ERR_UNSUPPORTED_OPERATION;
			break;
		default:
			kind = KMS_ERR_INTERNAL;
		}
	if (ret_status)
		*ret_status = error_table[kind].status;
	return error_table[kind].type;
}

int kms_fail(struct kms_call *c, int kind, const char *fmt, ...)
{
	va_list ap;

	c->error = kind;
	va_start(ap, fmt);
	envol_set_errorv(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int kms_fail_internal(struct kms_call *c, int r, const char *what)
{
	log_debug_errno(r, "kms: %s: %m", what);
	return kms_fail(c, KMS_ERR_INTERNAL, "Internal error (%s)", what);
}
