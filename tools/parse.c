/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* parse.c — pure parsing and formatting helpers of envolctl; see parse.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/macros.h"
#include "util/encoding.h"
#include "parse.h"

int ctl_parse_size(const char *text, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
	    {"", 0},	 {"B", 0},  {"K", 10},	{"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
	    {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},	  {"TB", 40}, {"TiB", 40},
	};
	const char *p = text;
	uint64_t v = 0;

	if (!text || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (MUL_OVERFLOW(v, 10, &v) || ADD_OVERFLOW(v, (uint64_t)(*p - '0'), &v))
			return -ERANGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcasecmp(p, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*ret = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

int ctl_parse_volume_size(const char *text, uint32_t sector_size, uint64_t *ret, char *err,
			  size_t errlen)
{
	uint64_t v;
	int r = ctl_parse_size(text, &v);

	if (r == -ERANGE) {
		snprintf(err, errlen, "size \"%s\" is too large", text);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen,
			 "size \"%s\" is not a number with an optional K, M, G or T suffix", text);
		return r;
	}
	if (v == 0) {
		snprintf(err, errlen, "size must be at least one sector (%u bytes)", sector_size);
		return -EINVAL;
	}
	if (v % sector_size) {
		snprintf(err, errlen,
			 "size %s (%llu bytes) is not a multiple of the sector size %u", text,
			 (unsigned long long)v, sector_size);
		return -EINVAL;
	}
	if (v > (UINT64_C(1) << 60)) {
		snprintf(err, errlen, "size \"%s\" is too large", text);
		return -ERANGE;
	}
	*ret = v;
	return 0;
}

int ctl_round_up(uint64_t v, uint64_t align, uint64_t *ret)
{
	uint64_t r;

	if (align == 0)
		return -EINVAL;
	if (v % align == 0) {
		*ret = v;
		return 0;
	}
	if (ADD_OVERFLOW(v - v % align, align, &r))
		return -ERANGE;
	*ret = r;
	return 0;
}

static bool is_uuid(const char *s)
{
	uint8_t u[16];

	return envol_uuid_parse(s, u) == 0;
}

/* "arn:aws:kms:REGION:ACCOUNT:" prefix length, or 0. */
static size_t kms_arn_prefix(const char *s)
{
	const char *p;

	if (strncmp(s, "arn:", 4) != 0)
		return 0;
	p = strchr(s + 4, ':'); /* partition */
	if (!p || strncmp(p, ":kms:", 5) != 0)
		return 0;
	p = strchr(p + 5, ':'); /* region */
	if (!p)
		return 0;
	p = strchr(p + 1, ':'); /* account */
	if (!p)
		return 0;
	return (size_t)(p + 1 - s);
}

enum ctl_key_form ctl_key_classify(const char *key)
{
	size_t n;

	if (!key || !*key || strlen(key) > 2048)
		return CTL_KEY_INVALID;
	n = kms_arn_prefix(key);
	if (n) {
		if (strncmp(key + n, "key/", 4) == 0 && key[n + 4])
			return CTL_KEY_ARN;
		if (strncmp(key + n, "alias/", 6) == 0 && key[n + 6])
			return CTL_KEY_ALIAS_ARN;
		return CTL_KEY_INVALID;
	}
	if (strncmp(key, "arn:", 4) == 0)
		return CTL_KEY_INVALID;
	if (strncmp(key, "alias/", 6) == 0)
		return key[6] ? CTL_KEY_ALIAS : CTL_KEY_INVALID;
	if (is_uuid(key))
		return CTL_KEY_ID;
	for (const char *p = key; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-' || *p == ':'))
			return CTL_KEY_INVALID;
	return CTL_KEY_BARE_NAME;
}

char *ctl_key_normalize(const char *key)
{
	char *s;

	switch (ctl_key_classify(key)) {
	case CTL_KEY_INVALID:
		errno = EINVAL;
		return NULL;
	case CTL_KEY_BARE_NAME:
		if (asprintf(&s, "alias/%s", key) < 0)
			return NULL;
		return s;
	default:
		return strdup(key);
	}
}

bool ctl_alias_name_valid(const char *text)
{
	size_t n;

	if (!text || strncmp(text, "alias/", 6) != 0 || strncmp(text, "alias/aws/", 10) == 0)
		return false;
	n = strlen(text);
	if (n <= 6 || n > 256)
		return false;
	for (const char *p = text + 6; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' || *p == '-'))
			return false;
	return true;
}

int ctl_parse_pair(const char *text, char **ret_key, char **ret_value)
{
	const char *eq = text ? strchr(text, '=') : NULL;
	char *k, *v;

	if (!eq || eq == text)
		return -EINVAL;
	k = strndup(text, (size_t)(eq - text));
	v = strdup(eq + 1);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	*ret_key = k;
	*ret_value = v;
	return 0;
}

int ctl_parse_int(const char *text, long min, long max, long *ret)
{
	char *end;
	long v;

	if (!text || !*text || !((*text >= '0' && *text <= '9') || *text == '-'))
		return -EINVAL;
	errno = 0;
	v = strtol(text, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

void ctl_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned u = 0;
	uint64_t whole = bytes, rem = 0;

	while (whole >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		rem = whole % 1024;
		whole /= 1024;
		u++;
	}
	if (u == 0 || rem == 0) {
		snprintf(buf, len, "%llu %s", (unsigned long long)whole, units[u]);
		return;
	}
	/* one decimal, truncated, so 1.99 GiB never reads as 2.0 */
	snprintf(buf, len, "%llu.%llu %s", (unsigned long long)whole,
		 (unsigned long long)(rem * 10 / 1024), units[u]);
}

void ctl_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
}

bool ctl_all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	/* Check the first 16 bytes, then compare the buffer with itself shifted by 16. */
	for (size_t i = 0; i < len && i < 16; i++)
		if (b[i])
			return false;
	return len <= 16 || memcmp(b, b + 16, len - 16) == 0;
}

const char *ctl_json_string(const json_t *o, const char *name)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, name) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int ctl_json_time(const json_t *o, const char *name, time_t *ret)
{
	const json_t *v = json_is_object(o) ? json_object_get(o, name) : NULL;
	double t;

	if (!v)
		return -ENOENT;
	if (!json_is_number(v))
		return -EINVAL;
	t = json_number_value(v);
	/* 9999-12-31T23:59:59Z; also refuses NaN */
	if (!(t >= 0 && t < 253402300800.0))
		return -EINVAL;
	*ret = (time_t)t;
	return 0;
}
