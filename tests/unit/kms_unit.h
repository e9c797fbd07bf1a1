/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms_unit.h — what the CUnit programs that drive the KMS through kms_handle() as several
 * principals share (test_kms_access.c, test_kms_grants.c, test_kms_via.c): a state directory
 * with the test clock, small files, and one request checked against the AWS error type it
 * must give (DryRunOperationException also with HTTP status 412).
 */
#ifndef ENVOL_TEST_KMS_UNIT_H
#define ENVOL_TEST_KMS_UNIT_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms/kms.h"
#include "unit.h"
#include "util/macros.h"

/* A test's state directory and the KMS files in it. */
struct kms_unit_dir {
	char dir[256], db[300], root[300], audit[300], clock[300];
};

static inline void kms_unit_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

/* Makes a fresh /tmp/envol-test-<tag>-XXXXXX with the test clock at 0 and no credentials
 * directory. */
static inline void kms_unit_dir_make(struct kms_unit_dir *d, const char *tag)
{
	snprintf(d->dir, sizeof d->dir, "/tmp/envol-test-%s-XXXXXX", tag);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(d->dir));
	snprintf(d->db, sizeof d->db, "%s/kms.db", d->dir);
	snprintf(d->root, sizeof d->root, "%s/root.key", d->dir);
	snprintf(d->audit, sizeof d->audit, "%s/audit.log", d->dir);
	snprintf(d->clock, sizeof d->clock, "%s/clock", d->dir);
	kms_unit_write_file(d->clock, "0\n");
	setenv("ENVOL_TEST_CLOCK_FILE", d->clock, 1);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* Closes k (NULL is fine) and removes the directory. */
static inline void kms_unit_dir_remove(struct kms_unit_dir *d, struct kms *k)
{
	char cmd[400];

	kms_close(k);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

/*
 * Runs op on k as who with a printf-formatted body and checks the outcome: want_type NULL
 * means success, else the AWS error type.  Returns the response (caller frees) and its HTTP
 * status in *ret_status (may be NULL).
 */
static inline json_t *kms_unit_vrun(struct kms *k, const struct kms_caller *who,
				    const char *want_type, int *ret_status, const char *op,
				    const char *fmt, va_list ap) _printf_(6, 0);
static inline json_t *kms_unit_vrun(struct kms *k, const struct kms_caller *who,
				    const char *want_type, int *ret_status, const char *op,
				    const char *fmt, va_list ap)
{
	_cleanup_free_ char *body = NULL, *out = NULL;
	const char *type;
	int status = 0, len;
	json_t *j;

	len = vasprintf(&body, fmt, ap);
	CU_ASSERT_FATAL(len >= 0);
	CU_ASSERT_EQUAL_FATAL(kms_handle(k, who, op, body, (size_t)len, NULL, &status, &out), 0);
	j = json_loads(out, 0, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	type = json_string_value(json_object_get(j, "__type"));
	if ((want_type == NULL) != (type == NULL) || (type && strcmp(type, want_type) != 0))
		fprintf(stderr, "%s as %s: expected %s, got %s\n", op, who->principal,
			want_type ? want_type : "success", out);
	CU_ASSERT_STRING_EQUAL(type ? type : "success", want_type ? want_type : "success");
	if (want_type && strcmp(want_type, "DryRunOperationException") == 0)
		CU_ASSERT_EQUAL(status, 412);
	if (ret_status)
		*ret_status = status;
	return j;
}

/* kms_unit_vrun() with the body's arguments inline. */
static inline json_t *kms_unit_run(struct kms *k, const struct kms_caller *who,
				   const char *want_type, const char *op, const char *fmt, ...)
    _printf_(5, 6);
static inline json_t *kms_unit_run(struct kms *k, const struct kms_caller *who,
				   const char *want_type, const char *op, const char *fmt, ...)
{
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	j = kms_unit_vrun(k, who, want_type, NULL, op, fmt, ap);
	va_end(ap);
	return j;
}

#endif
