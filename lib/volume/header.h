/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * header.h — the volume header codec (format v1, byte layout in docs/format.md): one header
 * slot's bytes in, a validated struct envol_volume_header (envol/volume.h) out, and back.
 * Pure: no I/O, no global state, so it can be fuzzed.  Every decoded byte is treated as
 * hostile: lengths are bounded before use, the SHA-256 checksum is checked before any field
 * other than magic, version and slot length is read, and every error message names the field
 * ("sector_size 1000 is not 512 or 4096").  Callers (slots.c) prefix the slot name.
 */
#ifndef ENVOL_VOLUME_HEADER_H
#define ENVOL_VOLUME_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "volume/volume.h"

#define ENVOL_HEADER_MAGIC "ENVOLHDR" /* 8 bytes, no NUL */
#define ENVOL_HEADER_VERSION 1
#define ENVOL_HEADER_SLOT_SIZE (UINT32_C(64) << 10) /* bytes reserved for one slot */
#define ENVOL_HEADER_SLOT_A_OFFSET UINT64_C(0)
#define ENVOL_HEADER_SLOT_B_OFFSET (UINT64_C(512) << 10)
#define ENVOL_HEADER_FIXED_SIZE 160 /* fixed fields, then the variable part */
#define ENVOL_HEADER_CHECKSUM_SIZE 32
#define ENVOL_HEADER_MIN_SIZE (ENVOL_HEADER_FIXED_SIZE + ENVOL_HEADER_CHECKSUM_SIZE)
#define ENVOL_HEADER_MAC_OFFSET 128
/* ENVOL_HEADER_MAC_SIZE, _CIPHER_SIZE, _MAX_CONTEXT_KEY/VALUE, _FLAG_*: envol/volume.h */
/* Largest logical size: data_offset + size must fit in an off_t. */
#define ENVOL_HEADER_MAX_VOLUME_SIZE ((UINT64_C(1) << 62))

#define ENVOL_HEADER_FLAGS_KNOWN (ENVOL_HEADER_FLAG_READ_ONLY | ENVOL_HEADER_FLAG_MAC_PENDING)

/* The MAC key: HKDF-SHA256(ikm = DEK, salt = volume UUID, info = this string). */
#define ENVOL_HEADER_MAC_INFO "envol v1 header mac"

/*
 * Checks every field of h (the same rules decode applies).  Returns 0, or -EINVAL with a
 * message naming the field in err.
 */
int envol_header_validate(const struct envol_volume_header *h, char *err, size_t errlen);

/*
 * Encodes h into out (out_len >= its encoded size, at most ENVOL_HEADER_SLOT_SIZE), checksum
 * included; bytes of out past the encoded size are left alone.  When h has MAC_PENDING the MAC
 * field is written as zeros.  Returns the encoded size (> 0), or -EINVAL (h invalid, message in
 * err) or -ENOBUFS (out too small).
 */
int envol_header_encode(const struct envol_volume_header *h, uint8_t *out, size_t out_len,
			char *err, size_t errlen);

/*
 * Decodes one slot's bytes (buf may be longer than the header; len is how many bytes are
 * there).  Returns 0 and fills *ret, or -EBADMSG (bad magic, checksum, any field out of range,
 * truncated) or -EPROTONOSUPPORT (another format version), with the reason in err.  *ret is
 * untouched on failure.
 */
int envol_header_decode(const uint8_t *buf, size_t len, struct envol_volume_header *ret,
			char *err, size_t errlen);

/*
 * The header MAC: HMAC-SHA256 under mac_key (32 bytes, see ENVOL_HEADER_MAC_INFO) over the
 * encoding of h with MAC_PENDING cleared, the MAC field zeroed, and without the checksum.
 * Returns 0, -EINVAL (h invalid) or -EIO.
 */
int envol_header_compute_mac(const struct envol_volume_header *h, const uint8_t mac_key[32],
			     uint8_t out[ENVOL_HEADER_MAC_SIZE]);

/* Looks up an encryption context key; NULL when absent. */
const char *envol_header_context_get(const struct envol_volume_header *h, const char *key);

/* The parameters the encryption context binds (ENVOL_VOLUME_CONTEXT_FORMAT ... _READ_ONLY). */
#define ENVOL_HEADER_BOUND_PARAMS (ENVOL_VOLUME_BOUND_PAIRS - 1)

/*
 * The i-th bound parameter (i < ENVOL_HEADER_BOUND_PARAMS) of h: its context key into
 * *ret_key and the value h's fields give it into buf ("1", "8388608", "512", "1048576",
 * "aes-xts-plain64", "false"); the one table create, upgrade and attach share.
 */
void envol_header_bound_param(const struct envol_volume_header *h, size_t i,
			      const char **ret_key, char *buf, size_t len);

/*
 * Does h's encryption context bind h's parameters?  Returns 1 (every bound key present and
 * equal to what the fields say), 0 (none present: a volume made before binding existed), or
 * -EBADMSG with the field named in err (one differs: "header size 4194304 is not the
 * encryption context's envol:size 8388608", or only some are present).
 */
int envol_header_check_binding(const struct envol_volume_header *h, char *err, size_t errlen);


#endif
