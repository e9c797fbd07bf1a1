/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.h — the KMS audit log: one JSON line per request, each carrying "prev", the hex
 * SHA-256 of the previous line's bytes (without its newline; 64 zeros for the first line).
 * Appends are serialized by a mutex and written with one write(2) on an O_APPEND file; no
 * fsync per line.  Each record also goes to the journal when JOURNAL_STREAM is set.
 * kms_audit_verify() (declared in kms.h) checks a file's chain.
 */
#ifndef ENVOL_KMS_AUDIT_H
#define ENVOL_KMS_AUDIT_H

#include <jansson.h>

#define KMS_SYSTEM_PRINCIPAL "envol-kmsd" /* the principal of what the KMS does by itself */

struct kms_audit;

struct kms_audit_record {
	const char *operation;
	const char *principal;
	const char *source;
	const char *key_arn;		   /* NULL: no key */
	json_t *encryption_context;	   /* borrowed; NULL: none */
	json_t *source_encryption_context; /* ReEncrypt only; borrowed; NULL: omitted */
	const char *request_id;
	const char *error_code; /* NULL: success */
};

/* Opens (creating with mode 0600) and resumes the chain from the last line. 0 or -errno. */
int kms_audit_open(const char *path, struct kms_audit **ret);
void kms_audit_close(struct kms_audit *a);
/* Appends one record. Returns 0 or -errno. */
int kms_audit_append(struct kms_audit *a, const struct kms_audit_record *rec);

#endif
