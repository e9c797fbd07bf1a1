/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_kms_request.c — the KMS request decoder (lib/kms/request.c): input is "Operation\n" then
 * a JSON body; without a known operation name the whole input is decoded for every operation.
 * Pure: no SQLite, no keys.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kms/kms.h"
#include "kms/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(int op, const char *body, size_t len)
{
	struct kms_request r = {0};
	char err[512];
	int q = kms_request_decode((enum kms_op)op, body, len, &r, err, sizeof err);

	if (q) {
		if (q < 0 || q >= KMS_ERR_MAX || !kms_error_map(q, NULL))
			abort();
		if (memchr(err, 0, sizeof err) == NULL)
			abort();
		return;
	}
	if (r.context.present) {
		json_t *j = kms_context_json(&r.context);

		if (!j || json_object_size(j) != r.context.n || !r.context.canon)
			abort();
		json_decref(j);
	}
	if (r.plaintext && (r.plaintext_len < 1 || r.plaintext_len > KMS_MAX_PLAINTEXT))
		abort();
	if (r.ciphertext_blob &&
	    (r.ciphertext_blob_len < 1 || r.ciphertext_blob_len > KMS_MAX_CIPHERTEXT))
		abort();
	kms_request_done(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
	char name[65];
	int op = -1;

	if (size > 128 * 1024)
		return 0;
	if (nl) {
		size_t n = (size_t)(nl - data);

		memcpy(name, data, n);
		name[n] = 0;
		op = kms_op_from_name(name);
	}
	if (op >= 0) {
		decode(op, (const char *)nl + 1, size - (size_t)(nl - data) - 1);
		return 0;
	}
	for (int i = 0; i < KMS_OP_MAX; i++)
		decode(i, (const char *)data, size);
	return 0;
}
