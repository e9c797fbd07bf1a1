/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* encoding.h — strict base64 (RFC 4648, padded, no whitespace), hex, and UUID text forms. */
#ifndef ENVOL_ENCODING_H
#define ENVOL_ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* Returns a malloc'd NUL-terminated string, or NULL (ENOMEM). */
char *envol_base64_encode(const uint8_t *data, size_t len);
/* Strict decode into a malloc'd buffer. Returns 0, -EINVAL (not canonical base64), -ENOMEM. */
int envol_base64_decode(const char *text, size_t text_len, uint8_t **ret, size_t *ret_len);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void envol_hex_encode(const uint8_t *data, size_t len, char *out);
/*
 * Decodes exactly 2*len hex digits (either case) from text[0..text_len) into out[len].
 * Returns 0, or -EINVAL (text_len != 2*len or a non-hex character; out is then untouched).
 */
int envol_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t len);

/* Random version-4 UUID. Returns 0 or -EIO. */
int envol_uuid_generate(uint8_t out[16]);
void envol_uuid_format(const uint8_t uuid[16], char out[37]);
/* Accepts the canonical 36-character form only. Returns 0 or -EINVAL. */
int envol_uuid_parse(const char *text, uint8_t out[16]);

#endif
