/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* encoding.c — base64, hex and UUID text conversions (pure, no I/O). */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macros.h"
#include "util/encoding.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *envol_base64_encode(const uint8_t *data, size_t len)
{
	size_t out_len = (len + 2) / 3 * 4, i, o = 0;
	char *out = malloc(out_len + 1);

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int envol_base64_decode(const char *text, size_t text_len, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *out = NULL;
	size_t o = 0, pad = 0;

	if (text_len % 4 != 0)
		return -EINVAL;
	if (text_len >= 1 && text[text_len - 1] == '=')
		pad++;
	if (text_len >= 2 && text[text_len - 2] == '=')
		pad++;
	out = malloc(text_len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < text_len; i += 4) {
		int v[4];
		bool last = i + 4 == text_len;

		for (int j = 0; j < 4; j++) {
			bool is_pad = last && (size_t)j >= 4 - pad;
			v[j] = is_pad ? 0 : b64_value(text[i + j]);
			if (v[j] < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
		out[o++] = w >> 16;
		if (!(last && pad == 2))
			out[o++] = (w >> 8) & 0xff;
		else if (w & 0xffff)
			return -EINVAL; /* non-canonical: bits set under the padding */
		if (!(last && pad >= 1))
			out[o++] = w & 0xff;
		else if (pad == 1 && (w & 0xff))
			return -EINVAL;
	}
	*ret = TAKE_PTR(out);
	*ret_len = o;
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void envol_hex_encode(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

int envol_hex_decode(const char *text, size_t text_len, uint8_t *out, size_t len)
{
	if (text_len / 2 != len || text_len % 2 != 0)
		return -EINVAL;
	for (size_t i = 0; i < text_len; i++)
		if (hex_value(text[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(hex_value(text[2 * i]) << 4 | hex_value(text[2 * i + 1]));
	return 0;
}

int envol_uuid_generate(uint8_t out[16])
{
	if (RAND_bytes(out, 16) != 1)
		return -EIO;
	out[6] = (out[6] & 0x0f) | 0x40; /* version 4 */
	out[8] = (out[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	return 0;
}

void envol_uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

int envol_uuid_parse(const char *text, uint8_t out[16])
{
	uint8_t u[16];
	size_t n = 0;

	if (!text || strlen(text) != 36)
		return -EINVAL;
	for (size_t i = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i++] != '-')
				return -EINVAL;
			continue;
		}
		if (envol_hex_decode(text + i, 2, &u[n++], 1) < 0)
			return -EINVAL;
		i += 2;
	}
	memcpy(out, u, 16);
	return 0;
}
