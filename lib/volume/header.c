/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * header.c — encode/decode/validate one volume header slot (format v1); see header.h and
 * docs/format.md for the byte layout.  Pure functions: no I/O.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/macros.h"
#include "util/encoding.h"
#include "crypto/hkdf.h"
#include "util/error.h"
#include "volume/header.h"

/* Field offsets inside a slot (docs/format.md, "Header slot"). */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 8,
	OFF_SLOT_LEN = 12,
	OFF_SEQUENCE = 16,
	OFF_FLAGS = 24,
	OFF_SECTOR_SIZE = 28,
	OFF_UUID = 32,
	OFF_SIZE = 48,
	OFF_DATA_OFFSET = 56,
	OFF_CREATED = 64,
	OFF_CIPHER = 72,
	OFF_KEY_ARN_LEN = 104,
	OFF_BLOB_LEN = 106,
	OFF_N_CONTEXT = 108,
	OFF_RESERVED = 110, /* 18 bytes, zero */
	OFF_MAC = ENVOL_HEADER_MAC_OFFSET,
	OFF_VARIABLE = ENVOL_HEADER_FIXED_SIZE,
};

_Static_assert(OFF_MAC - OFF_RESERVED == 18, "reserved field size");
_Static_assert(OFF_MAC + ENVOL_HEADER_MAC_SIZE == OFF_VARIABLE, "fixed part layout");

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}


static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without NUL or C0/DEL controls. */
static bool text_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* An ARN is printable ASCII without spaces. */
static bool arn_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

const char *envol_header_context_get(const struct envol_volume_header *h, const char *key)
{
	for (size_t i = 0; i < h->n_context && i < ENVOL_VOLUME_MAX_CONTEXT; i++)
		if (strcmp(h->context[i].key, key) == 0)
			return h->context[i].value;
	return NULL;
}

static const struct {
	const char *key;
	const char *field; /* as messages name it */
} bound_params[ENVOL_HEADER_BOUND_PARAMS] = {
	{ ENVOL_VOLUME_CONTEXT_FORMAT, "format version" },
	{ ENVOL_VOLUME_CONTEXT_SIZE, "size" },
	{ ENVOL_VOLUME_CONTEXT_SECTOR_SIZE, "sector_size" },
	{ ENVOL_VOLUME_CONTEXT_DATA_OFFSET, "data_offset" },
	{ ENVOL_VOLUME_CONTEXT_CIPHER, "cipher" },
	{ ENVOL_VOLUME_CONTEXT_READ_ONLY, "read-only flag" },
};

void envol_header_bound_param(const struct envol_volume_header *h, size_t i,
			      const char **ret_key, char *buf, size_t len)
{
	*ret_key = bound_params[i].key;
	switch (i) {
	case 0:
		snprintf(buf, len, "%d", ENVOL_HEADER_VERSION);
		break;
	case 1:
		snprintf(buf, len, "%llu", (unsigned long long)h->size);
		break;
	case 2:
		snprintf(buf, len, "%u", h->sector_size);
		break;
	case 3:
		snprintf(buf, len, "%llu", (unsigned long long)h->data_offset);
		break;
	case 4:
		snprintf(buf, len, "%.*s", (int)sizeof h->cipher, h->cipher);
		break;
	default:
		snprintf(buf, len, "%s", h->flags & ENVOL_HEADER_FLAG_READ_ONLY ? "true" : "false");
		break;
	}
}

int envol_header_check_binding(const struct envol_volume_header *h, char *err, size_t errlen)
{
	const char *missing = NULL;
	size_t found = 0;

	for (size_t i = 0; i < ENVOL_HEADER_BOUND_PARAMS; i++) {
		const char *key, *bound;
		char have[ENVOL_HEADER_CIPHER_SIZE + 8];

		envol_header_bound_param(h, i, &key, have, sizeof have);
		bound = envol_header_context_get(h, key);
		if (!bound) {
			missing = key;
			continue;
		}
		found++;
		if (strcmp(bound, have) != 0)
			return envol_fail(-EBADMSG, err, errlen,
					  "header %s %s is not the encryption context's %s %s",
					  bound_params[i].field, have, key, bound);
	}
	if (found == 0)
		return 0;
	if (missing)
		return envol_fail(-EBADMSG, err, errlen,
				  "the encryption context binds some parameters but lacks %s",
				  missing);
	return 1;
}

/* blob_len and n_context within their bounds (validate and decode); code on failure. */
static int check_counts(const struct envol_volume_header *h, int code, char *err, size_t errlen)
{
	if (h->blob_len == 0 || h->blob_len > ENVOL_VOLUME_MAX_BLOB)
		return envol_fail(code, err, errlen, "blob_len %zu is not 1..%d", h->blob_len,
				  ENVOL_VOLUME_MAX_BLOB);
	if (h->n_context == 0 || h->n_context > ENVOL_VOLUME_MAX_CONTEXT)
		return envol_fail(code, err, errlen, "n_context %zu is not 1..%d", h->n_context,
				  ENVOL_VOLUME_MAX_CONTEXT);
	return 0;
}

int envol_header_validate(const struct envol_volume_header *h, char *err, size_t errlen)
{
	size_t cipher_len, arn_len, total;
	char uuid_str[37];
	const char *vid;
	int r;

	if (h->flags & ~ENVOL_HEADER_FLAGS_KNOWN) {
		envol_set_error(err, errlen, "flags 0x%x has unknown bits 0x%x", h->flags,
			h->flags & ~ENVOL_HEADER_FLAGS_KNOWN);
		return -EINVAL;
	}
	if (h->sector_size != 512 && h->sector_size != 4096) {
		envol_set_error(err, errlen, "sector_size %u is not 512 or 4096", h->sector_size);
		return -EINVAL;
	}
	if (all_zero(h->uuid, sizeof h->uuid)) {
		envol_set_error(err, errlen, "uuid is all zero");
		return -EINVAL;
	}
	if (h->size == 0 || h->size % h->sector_size != 0) {
		envol_set_error(err, errlen, "size %llu is not a positive multiple of sector_size %u",
			(unsigned long long)h->size, h->sector_size);
		return -EINVAL;
	}
	if (h->size > ENVOL_HEADER_MAX_VOLUME_SIZE) {
		envol_set_error(err, errlen, "size %llu is larger than the maximum %llu",
			(unsigned long long)h->size,
			(unsigned long long)ENVOL_HEADER_MAX_VOLUME_SIZE);
		return -EINVAL;
	}
	if (h->data_offset != ENVOL_VOLUME_DATA_OFFSET) {
		envol_set_error(err, errlen, "data_offset %llu is not %llu", (unsigned long long)h->data_offset,
			(unsigned long long)ENVOL_VOLUME_DATA_OFFSET);
		return -EINVAL;
	}
	if (h->created > (uint64_t)INT64_MAX) {
		envol_set_error(err, errlen, "created %llu is out of range", (unsigned long long)h->created);
		return -EINVAL;
	}
	cipher_len = strnlen(h->cipher, sizeof h->cipher);
	if (cipher_len == sizeof h->cipher || strcmp(h->cipher, ENVOL_VOLUME_CIPHER) != 0) {
		envol_set_error(err, errlen, "cipher is not \"%s\"", ENVOL_VOLUME_CIPHER);
		return -EINVAL;
	}
	arn_len = strnlen(h->key_arn, sizeof h->key_arn);
	if (arn_len == 0 || arn_len > ENVOL_VOLUME_MAX_KEY_ARN) {
		envol_set_error(err, errlen, "key_arn length must be 1..%d", ENVOL_VOLUME_MAX_KEY_ARN);
		return -EINVAL;
	}
	if (!arn_ok(h->key_arn, arn_len)) {
		envol_set_error(err, errlen, "key_arn has a byte that is not printable ASCII");
		return -EINVAL;
	}
	r = check_counts(h, -EINVAL, err, errlen);
	if (r < 0)
		return r;
	total = OFF_VARIABLE + arn_len + h->blob_len + ENVOL_HEADER_CHECKSUM_SIZE;
	for (size_t i = 0; i < h->n_context; i++) {
		const struct envol_header_context *c = &h->context[i];
		size_t kl = strnlen(c->key, sizeof c->key), vl = strnlen(c->value, sizeof c->value);

		if (kl == 0 || kl > ENVOL_HEADER_MAX_CONTEXT_KEY) {
			envol_set_error(err, errlen, "context[%zu] key length must be 1..%d", i,
				ENVOL_HEADER_MAX_CONTEXT_KEY);
			return -EINVAL;
		}
		if (vl > ENVOL_HEADER_MAX_CONTEXT_VALUE) {
			envol_set_error(err, errlen, "context[%zu] value is longer than %d bytes", i,
				ENVOL_HEADER_MAX_CONTEXT_VALUE);
			return -EINVAL;
		}
		if (!text_ok((const uint8_t *)c->key, kl) ||
		    !text_ok((const uint8_t *)c->value, vl)) {
			envol_set_error(err, errlen, "context[%zu] is not printable UTF-8", i);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->context[j].key, c->key) == 0) {
				envol_set_error(err, errlen, "context[%zu] key \"%s\" appears twice", i,
					c->key);
				return -EINVAL;
			}
		total += 4 + kl + vl;
	}
	if (total > ENVOL_HEADER_SLOT_SIZE) {
		envol_set_error(err, errlen, "header needs %zu bytes, more than the slot's %u", total,
			ENVOL_HEADER_SLOT_SIZE);
		return -EINVAL;
	}
	vid = envol_header_context_get(h, ENVOL_VOLUME_CONTEXT_VOLUME_ID);
	envol_uuid_format(h->uuid, uuid_str);
	if (!vid) {
		envol_set_error(err, errlen, "context has no %s", ENVOL_VOLUME_CONTEXT_VOLUME_ID);
		return -EINVAL;
	}
	if (strcmp(vid, uuid_str) != 0) {
		envol_set_error(err, errlen, "context %s \"%s\" is not the volume uuid %s",
			ENVOL_VOLUME_CONTEXT_VOLUME_ID, vid, uuid_str);
		return -EINVAL;
	}
	if ((h->flags & ENVOL_HEADER_FLAG_MAC_PENDING) && !all_zero(h->mac, sizeof h->mac)) {
		envol_set_error(err, errlen, "mac is not zero although flags say MAC pending");
		return -EINVAL;
	}
	return 0;
}

static int sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -EIO;
	return 0;
}

/* Writes the header without its checksum; returns the encoded size including the checksum. */
static int encode_body(const struct envol_volume_header *h, uint8_t *out, size_t out_len,
		       bool zero_mac, bool clear_pending)
{
	size_t arn_len = strlen(h->key_arn), pos, total;
	uint32_t flags = h->flags;

	total = OFF_VARIABLE + arn_len + h->blob_len + ENVOL_HEADER_CHECKSUM_SIZE;
	for (size_t i = 0; i < h->n_context; i++)
		total += 4 + strlen(h->context[i].key) + strlen(h->context[i].value);
	if (total > out_len)
		return -ENOBUFS;

	if (clear_pending)
		flags &= ~ENVOL_HEADER_FLAG_MAC_PENDING;
	memset(out, 0, OFF_VARIABLE);
	memcpy(out + OFF_MAGIC, ENVOL_HEADER_MAGIC, 8);
	put32(out + OFF_VERSION, ENVOL_HEADER_VERSION);
	put32(out + OFF_SLOT_LEN, (uint32_t)total);
	put64(out + OFF_SEQUENCE, h->sequence);
	put32(out + OFF_FLAGS, flags);
	put32(out + OFF_SECTOR_SIZE, h->sector_size);
	memcpy(out + OFF_UUID, h->uuid, 16);
	put64(out + OFF_SIZE, h->size);
	put64(out + OFF_DATA_OFFSET, h->data_offset);
	put64(out + OFF_CREATED, h->created);
	memcpy(out + OFF_CIPHER, h->cipher, strlen(h->cipher));
	put16(out + OFF_KEY_ARN_LEN, (uint16_t)arn_len);
	put16(out + OFF_BLOB_LEN, (uint16_t)h->blob_len);
	put16(out + OFF_N_CONTEXT, (uint16_t)h->n_context);
	if (!zero_mac && !(flags & ENVOL_HEADER_FLAG_MAC_PENDING))
		memcpy(out + OFF_MAC, h->mac, ENVOL_HEADER_MAC_SIZE);

	pos = OFF_VARIABLE;
	memcpy(out + pos, h->key_arn, arn_len);
	pos += arn_len;
	memcpy(out + pos, h->blob, h->blob_len);
	pos += h->blob_len;
	for (size_t i = 0; i < h->n_context; i++) {
		size_t kl = strlen(h->context[i].key), vl = strlen(h->context[i].value);

		put16(out + pos, (uint16_t)kl);
		put16(out + pos + 2, (uint16_t)vl);
		pos += 4;
		memcpy(out + pos, h->context[i].key, kl);
		pos += kl;
		memcpy(out + pos, h->context[i].value, vl);
		pos += vl;
	}
	return (int)total;
}

int envol_header_encode(const struct envol_volume_header *h, uint8_t *out, size_t out_len,
			char *err, size_t errlen)
{
	int r, total;

	r = envol_header_validate(h, err, errlen);
	if (r < 0)
		return r;
	total = encode_body(h, out, out_len, false, false);
	if (total < 0) {
		envol_set_error(err, errlen, "header does not fit into %zu bytes", out_len);
		return total;
	}
	r = sha256(out, (size_t)total - ENVOL_HEADER_CHECKSUM_SIZE,
		   out + total - ENVOL_HEADER_CHECKSUM_SIZE);
	if (r < 0) {
		envol_set_error(err, errlen, "SHA-256 failed");
		return r;
	}
	return total;
}

int envol_header_compute_mac(const struct envol_volume_header *h, const uint8_t mac_key[32],
			     uint8_t out[ENVOL_HEADER_MAC_SIZE])
{
	_cleanup_free_ uint8_t *buf = NULL;
	int total;

	if (envol_header_validate(h, NULL, 0) < 0)
		return -EINVAL;
	buf = malloc(ENVOL_HEADER_SLOT_SIZE);
	if (!buf)
		return -ENOMEM;
	total = encode_body(h, buf, ENVOL_HEADER_SLOT_SIZE, true, true);
	if (total < 0)
		return total;
	return envol_hmac_sha256(mac_key, 32, buf, (size_t)total - ENVOL_HEADER_CHECKSUM_SIZE,
				 out);
}

/* Copies a length-prefixed string field into a NUL-terminated buffer, refusing NUL bytes. */
static bool copy_text(char *dst, const uint8_t *src, size_t n)
{
	if (memchr(src, 0, n))
		return false;
	memcpy(dst, src, n);
	dst[n] = 0;
	return true;
}

int envol_header_decode(const uint8_t *buf, size_t len, struct envol_volume_header *ret,
			char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *h = NULL;
	uint8_t sum[32];
	uint32_t version, slot_len;
	size_t arn_len, pos, end;
	int r;

	if (len < ENVOL_HEADER_MIN_SIZE) {
		envol_set_error(err, errlen, "truncated: %zu bytes, a header needs at least %d", len,
			ENVOL_HEADER_MIN_SIZE);
		return -EBADMSG;
	}
	if (memcmp(buf + OFF_MAGIC, ENVOL_HEADER_MAGIC, 8) != 0) {
		envol_set_error(err, errlen, "magic is not \"%s\" (not an envol volume header)",
			ENVOL_HEADER_MAGIC);
		return -EBADMSG;
	}
	version = get32(buf + OFF_VERSION);
	slot_len = get32(buf + OFF_SLOT_LEN);
	if (version != ENVOL_HEADER_VERSION) {
		envol_set_error(err, errlen, "version %u is not supported (this envol reads version %d)",
			version, ENVOL_HEADER_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (slot_len < ENVOL_HEADER_MIN_SIZE || slot_len > ENVOL_HEADER_SLOT_SIZE) {
		envol_set_error(err, errlen, "slot_len %u is not %d..%u", slot_len, ENVOL_HEADER_MIN_SIZE,
			ENVOL_HEADER_SLOT_SIZE);
		return -EBADMSG;
	}
	if (slot_len > len) {
		envol_set_error(err, errlen, "truncated: slot_len %u but only %zu bytes", slot_len, len);
		return -EBADMSG;
	}
	r = sha256(buf, slot_len - ENVOL_HEADER_CHECKSUM_SIZE, sum);
	if (r < 0) {
		envol_set_error(err, errlen, "SHA-256 failed");
		return r;
	}
	if (memcmp(sum, buf + slot_len - ENVOL_HEADER_CHECKSUM_SIZE, 32) != 0) {
		envol_set_error(err, errlen, "checksum mismatch (torn or corrupted header)");
		return -EBADMSG;
	}

	/* From here on the bytes are what some envol wrote; still check every field. */
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	end = slot_len - ENVOL_HEADER_CHECKSUM_SIZE;
	h->sequence = get64(buf + OFF_SEQUENCE);
	h->flags = get32(buf + OFF_FLAGS);
	h->sector_size = get32(buf + OFF_SECTOR_SIZE);
	memcpy(h->uuid, buf + OFF_UUID, 16);
	h->size = get64(buf + OFF_SIZE);
	h->data_offset = get64(buf + OFF_DATA_OFFSET);
	h->created = get64(buf + OFF_CREATED);
	{
		const uint8_t *c = buf + OFF_CIPHER;
		const uint8_t *nul = memchr(c, 0, ENVOL_HEADER_CIPHER_SIZE);

		if (!nul || !all_zero(nul, (size_t)(c + ENVOL_HEADER_CIPHER_SIZE - nul))) {
			envol_set_error(err, errlen, "cipher is not a NUL-padded string");
			return -EBADMSG;
		}
		memcpy(h->cipher, c, ENVOL_HEADER_CIPHER_SIZE);
	}
	if (!all_zero(buf + OFF_RESERVED, OFF_MAC - OFF_RESERVED)) {
		envol_set_error(err, errlen, "reserved bytes %d..%d are not zero", OFF_RESERVED,
			OFF_MAC - 1);
		return -EBADMSG;
	}
	memcpy(h->mac, buf + OFF_MAC, ENVOL_HEADER_MAC_SIZE);

	arn_len = get16(buf + OFF_KEY_ARN_LEN);
	h->blob_len = get16(buf + OFF_BLOB_LEN);
	h->n_context = get16(buf + OFF_N_CONTEXT);
	if (arn_len == 0 || arn_len > ENVOL_VOLUME_MAX_KEY_ARN) {
		envol_set_error(err, errlen, "key_arn_len %zu is not 1..%d", arn_len,
			ENVOL_VOLUME_MAX_KEY_ARN);
		return -EBADMSG;
	}
	r = check_counts(h, -EBADMSG, err, errlen);
	if (r < 0)
		return r;
	pos = OFF_VARIABLE;
	if (end - pos < arn_len) {
		envol_set_error(err, errlen, "key_arn_len %zu runs past slot_len %u", arn_len, slot_len);
		return -EBADMSG;
	}
	if (!copy_text(h->key_arn, buf + pos, arn_len)) {
		envol_set_error(err, errlen, "key_arn contains a NUL byte");
		return -EBADMSG;
	}
	pos += arn_len;
	if (end - pos < h->blob_len) {
		envol_set_error(err, errlen, "blob_len %zu runs past slot_len %u", h->blob_len, slot_len);
		return -EBADMSG;
	}
	memcpy(h->blob, buf + pos, h->blob_len);
	pos += h->blob_len;
	for (size_t i = 0; i < h->n_context; i++) {
		size_t kl, vl;

		if (end - pos < 4) {
			envol_set_error(err, errlen, "context[%zu] runs past slot_len %u", i, slot_len);
			return -EBADMSG;
		}
		kl = get16(buf + pos);
		vl = get16(buf + pos + 2);
		pos += 4;
		if (kl == 0 || kl > ENVOL_HEADER_MAX_CONTEXT_KEY) {
			envol_set_error(err, errlen, "context[%zu] key_len %zu is not 1..%d", i, kl,
				ENVOL_HEADER_MAX_CONTEXT_KEY);
			return -EBADMSG;
		}
		if (vl > ENVOL_HEADER_MAX_CONTEXT_VALUE) {
			envol_set_error(err, errlen, "context[%zu] value_len %zu is more than %d", i, vl,
				ENVOL_HEADER_MAX_CONTEXT_VALUE);
			return -EBADMSG;
		}
		if (end - pos < kl + vl) {
			envol_set_error(err, errlen, "context[%zu] runs past slot_len %u", i, slot_len);
			return -EBADMSG;
		}
		if (!copy_text(h->context[i].key, buf + pos, kl) ||
		    !copy_text(h->context[i].value, buf + pos + kl, vl)) {
			envol_set_error(err, errlen, "context[%zu] contains a NUL byte", i);
			return -EBADMSG;
		}
		pos += kl + vl;
	}
	if (pos != end) {
		envol_set_error(err, errlen, "%zu unexpected bytes after the last context pair",
			end - pos);
		return -EBADMSG;
	}
	r = envol_header_validate(h, err, errlen);
	if (r < 0)
		return -EBADMSG;
	*ret = *h;
	return 0;
}
