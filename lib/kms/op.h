/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * op.h — the AWS KMS operations envol implements.  Their wire names and handlers are one table
 * in kms.c (the dispatcher); their request members are one table each in request.c.
 */
#ifndef ENVOL_KMS_OP_H
#define ENVOL_KMS_OP_H

enum kms_op {
	KMS_OP_CANCEL_KEY_DELETION,
	KMS_OP_CREATE_ALIAS,
	KMS_OP_CREATE_GRANT,
	KMS_OP_CREATE_KEY,
	KMS_OP_DECRYPT,
	KMS_OP_DELETE_ALIAS,
	KMS_OP_DESCRIBE_KEY,
	KMS_OP_DISABLE_KEY,
	KMS_OP_DISABLE_KEY_ROTATION,
	KMS_OP_ENABLE_KEY,
	KMS_OP_ENABLE_KEY_ROTATION,
	KMS_OP_ENCRYPT,
	KMS_OP_GENERATE_DATA_KEY,
	KMS_OP_GENERATE_DATA_KEY_WITHOUT_PLAINTEXT,
	KMS_OP_GENERATE_RANDOM,
	KMS_OP_GET_KEY_POLICY,
	KMS_OP_GET_KEY_ROTATION_STATUS,
	KMS_OP_LIST_ALIASES,
	KMS_OP_LIST_GRANTS,
	KMS_OP_LIST_KEY_ROTATIONS,
	KMS_OP_LIST_KEYS,
	KMS_OP_LIST_KEY_POLICIES,
	KMS_OP_LIST_RESOURCE_TAGS,
	KMS_OP_LIST_RETIRABLE_GRANTS,
	KMS_OP_PUT_KEY_POLICY,
	KMS_OP_RE_ENCRYPT,
	KMS_OP_RETIRE_GRANT,
	KMS_OP_REVOKE_GRANT,
	KMS_OP_ROTATE_KEY_ON_DEMAND,
	KMS_OP_SCHEDULE_KEY_DELETION,
	KMS_OP_TAG_RESOURCE,
	KMS_OP_UNTAG_RESOURCE,
	KMS_OP_UPDATE_ALIAS,
	KMS_OP_UPDATE_KEY_DESCRIPTION,
	KMS_OP_MAX,
};

/*
 * Returns the operation for an X-Amz-Target operation name, -EOPNOTSUPP for an AWS KMS
 * operation envol does not implement, -ENOENT for a name that is no AWS KMS operation.
 */
int kms_op_from_name(const char *name);
/* The wire name ("Decrypt"); "Unknown" for a value out of range. */
const char *kms_op_name(enum kms_op op);

#endif
