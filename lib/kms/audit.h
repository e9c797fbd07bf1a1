/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.h — the KMS audit log: one JSON line per request, ending with its chain fields "seq"
 * (1, 2, …) and "prev", the hex HMAC-SHA256 of the previous line's bytes (without its newline)
 * under a key derived from the root key with HKDF (64 zeros for record 1).  The sequence
 * number, offset and chain MAC of the newest record are kept in the key store (the anchor,
 * store.h, with a tag under the chain key), so removing records from the end, or rewriting
 * records and recomputing the chain, is found by kms_audit_verify() (kms.h).  Each record is
 * written with one write(2) before the request's answer leaves; a record that cannot be
 * written fails the request and is taken back (ftruncate), so the file has no torn tail while
 * running.  The anchor follows every second (kms_tick → kms_audit_flush: fdatasync, then the
 * anchor's transaction) and at close, so cryptographic operations do not write the database.
 * At open, a torn tail left by a crash is cut to the last whole record and an
 * "AuditLogRepaired" record says so; an empty file after an anchored one (the log was moved
 * aside) starts with "AuditLogStarted", chained to the anchor.  Each record also goes to the
 * journal when JOURNAL_STREAM is set.
 */
#ifndef ENVOL_KMS_AUDIT_H
#define ENVOL_KMS_AUDIT_H

#include <jansson.h>

#define KMS_SYSTEM_PRINCIPAL "envol-kmsd" /* the principal of what the KMS does by itself */

struct kms_audit;

struct kms_audit_record {
	const char *operation;
	const char *principal; /* the caller as decided ("userIdentity"): the client when a
				  service acted on its behalf */
	const char *invoked_by;	       /* the service acting for principal; NULL: none */
	const char *service_principal; /* with invoked_by: the service's own principal */
	const char *grant_id;	       /* the grant that allowed the request; NULL: none */
	const char *decision;	       /* "allowed", "denied"; NULL: no decision was made */
	const char *source;
	const char *key_arn;		   /* NULL: no key */
	json_t *encryption_context;	   /* borrowed; NULL: none */
	json_t *source_encryption_context; /* ReEncrypt only; borrowed; NULL: omitted */
	const char *request_id;
	const char *error_code; /* NULL: success */
};

struct kms_store;

/*
 * Opens (creating with mode 0600) and resumes the chain from the last record, which must
 * match the store's anchor (or be the one record after it).  Returns 0, or -errno with err
 * set (-EBADMSG: the log does not match the anchor; nothing is written then).
 */
int kms_audit_open(const char *path, struct kms_store *store, struct kms_audit **ret, char *err,
		   size_t errlen);
void kms_audit_close(struct kms_audit *a);
/* Appends one record (written, synced, anchored). Returns 0 or -errno. */
int kms_audit_append(struct kms_audit *a, const struct kms_audit_record *rec);
/*
 * A request refused before anyone was authenticated: the first ten of a source (its address
 * without the port) in a minute are written in full, the others are counted, and one
 * "UnauthenticatedRequests" record per source gives the count ("count") once that minute is
 * over (at the next such request or kms_audit_flush()).  Returns 0 or -errno.
 */
int kms_audit_unauthenticated(struct kms_audit *a, const struct kms_audit_record *rec);
/* Writes the counts of minutes that are over, then anchors (every second, from kms_tick). */
int kms_audit_flush(struct kms_audit *a);
/* Syncs the log and records its newest record in the store's anchor.  0 or -errno. */
int kms_audit_anchor(struct kms_audit *a);

#endif
