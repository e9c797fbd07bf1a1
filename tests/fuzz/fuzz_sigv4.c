/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_sigv4.c — the SigV4 verifier on hostile requests, as envol-kmsd's TCP listener sees
 * them: the input is split at newlines into the path, the query, up to 16 "name:value"
 * headers (Authorization and X-Amz-Date among them, or not), and after an empty line the body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"

#define MAX_HEADERS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sigv4_credential creds[] = {
		{ "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		  "arn:aws:iam::000000000000:user/alice" },
	};
	struct sigv4_header headers[MAX_HEADERS];
	struct sigv4_request r = { .method = "POST", .path = "/", .headers = headers };
	struct sigv4_auth auth;
	struct sigv4_result res;
	char *text = malloc(size + 1), *line, *next;
	size_t n_lines = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = text; line; line = next, n_lines++) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (n_lines == 0) {
			r.path = line;
		} else if (n_lines == 1) {
			r.query = line;
		} else if (line[0] == '\0') {
			r.body = next;
			r.body_len = next ? strlen(next) : 0;
			break;
		} else if (r.n_headers < MAX_HEADERS) {
			char *colon = strchr(line, ':');

			if (!colon)
				continue;
			*colon = '\0';
			headers[r.n_headers].name = line;
			headers[r.n_headers].value = colon + 1;
			if (strcasecmp(line, "authorization") == 0)
				(void)sigv4_parse_authorization(colon + 1, &auth, NULL, 0);
			r.n_headers++;
		}
	}
	/* 2015-08-30T12:36:00Z, the date of AWS's test suite, so valid-looking dates get far. */
	(void)sigv4_verify(&r, creds, 1, "us-east-1", "service", 1440938160, &res);
	free(text);
	return 0;
}
