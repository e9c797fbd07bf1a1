/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * parse.h — pure helpers of envolctl (no I/O, unit-tested): sizes with binary suffixes, key
 * identifier forms, K=V pairs, integers in a range, human sizes and ISO 8601 times, and the
 * readers of members of KMS answers.
 */
#ifndef ENVOLCTL_PARSE_H
#define ENVOLCTL_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * "4096", "10G", "1.5G" is not accepted; suffixes K M G T (also KiB/MiB/GiB/TiB, KB…,
 * case-insensitive) are powers of 1024.  Returns 0, -EINVAL (syntax), -ERANGE (overflow).
 */
int ctl_parse_size(const char *text, uint64_t *ret);

/* A volume size: parsed, a positive multiple of sector_size.  err says what is wrong. */
int ctl_parse_volume_size(const char *text, uint32_t sector_size, uint64_t *ret, char *err,
			  size_t errlen);

/* Round up to a multiple of align (a power of two or not); -ERANGE on overflow. */
int ctl_round_up(uint64_t v, uint64_t align, uint64_t *ret);

enum ctl_key_form {
	CTL_KEY_ID,	   /* 1234abcd-12ab-34cd-56ef-1234567890ab */
	CTL_KEY_ARN,	   /* arn:aws:kms:local:000000000000:key/… */
	CTL_KEY_ALIAS,	   /* alias/NAME */
	CTL_KEY_ALIAS_ARN, /* arn:aws:kms:local:000000000000:alias/NAME */
	CTL_KEY_BARE_NAME, /* NAME: an alias name without its "alias/" prefix */
	CTL_KEY_INVALID,
};
enum ctl_key_form ctl_key_classify(const char *key);
/* The KeyId to send for KEY: as given, or "alias/" + KEY for a bare name. malloc'd or NULL. */
char *ctl_key_normalize(const char *key);
/* Is text a valid alias name for CreateAlias ("alias/" + [A-Za-z0-9/_-]{1,250}, not
 * "alias/aws/…")? */
bool ctl_alias_name_valid(const char *text);

/* "K=V" (K non-empty) into malloc'd key and value. Returns 0 or -EINVAL. */
int ctl_parse_pair(const char *text, char **ret_key, char **ret_value);

/* Decimal integer in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int ctl_parse_int(const char *text, long min, long max, long *ret);

/* "10 GiB", "512 B", "1.5 MiB" into buf. */
void ctl_format_size(uint64_t bytes, char *buf, size_t len);
/* "2026-11-28T14:53:49Z" into buf (at least 21 bytes). */
void ctl_format_time(time_t t, char *buf, size_t len);

/* True when len bytes at p are all zero. */
bool ctl_all_zero(const void *p, size_t len);

/*
 * Readers of KMS answers, which are hostile input like any other: a member may be missing, of
 * another type, or out of range.
 * ctl_json_string: the member's string value; NULL when o is not an object, the member is
 * absent or not a string.
 * ctl_json_time: an AWS timestamp member (seconds since the epoch, a JSON number, fractions
 * dropped) between 1970 and 9999.  Returns 0, -ENOENT when absent, -EINVAL when of another
 * type or out of range.
 */
const char *ctl_json_string(const json_t *o, const char *name);
int ctl_json_time(const json_t *o, const char *name, time_t *ret);

#endif
