/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_kms_response.c — what envold and envolctl do with a KMS response body before trusting
 * it: find a string member in place (the DEK's Plaintext is read this way, never through a
 * JSON parser's buffers) and read an AWS error body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/kms_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1), type[128], message[512];
	const char *value;
	size_t len;

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	if (envol_kms_client_json_find_string(body, "Plaintext", &value, &len) == 0) {
		/* the value must lie inside the body */
		if (value < body || value + len > body + size)
			abort();
	}
	(void)envol_kms_client_json_find_string(body, "KeyId", &value, &len);
	(void)envol_kms_client_parse_error(body, type, sizeof type, message, sizeof message);
	free(body);
	return 0;
}
