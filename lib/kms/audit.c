/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.c — the KMS audit: what a request's record holds (kms_audit_call(), kms_audit_system()),
 * the hash-chained JSON-lines log with its journal copy (audit.h), and the verifier.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "crypto/hkdf.h"
#include "kms/audit.h"
#include "kms/internal.h"
#include "kms/policy.h"
#include "kms/root_key.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/secure_mem.h"

#define AUDIT_MAX_TAIL (1024 * 1024)
#define AUDIT_CHAIN_INFO "envol-kmsd audit chain v1"
#define AUDIT_MAX_SOURCES 64 /* sources of unauthenticated requests tracked per minute */
#define AUDIT_UNAUTH_FULL 10 /* of those, per source and minute, written in full */

/* Unauthenticated requests of one source in one minute (the first ones written in full). */
struct unauth {
	char source[96];
	int64_t minute;
	uint64_t full;	/* written in full */
	uint64_t count; /* counted only */
	char error[64];
};

struct kms_audit {
	pthread_mutex_t lock; /* the chain; taken after the store's lock */
	int fd;
	struct kms_store *store;
	uint8_t *key;			/* chain key, secure memory */
	uint64_t seq;			/* of the newest record; 0: none */
	uint8_t mac[KMS_AUDIT_MAC_LEN]; /* its chain MAC; zeros: none */
	off_t last_off;			/* where its line starts */
	off_t size;			/* bytes of whole records */
	uint64_t anchored;		/* the newest record in the store's anchor */
	bool broken;			/* a failed write could not be undone */
	bool journal;
	pthread_mutex_t unauth_lock;
	struct unauth unauth[AUDIT_MAX_SOURCES];
	size_t n_unauth;
};

static int chain_key(const uint8_t *root, uint8_t *key)
{
	return envol_hkdf_sha256(NULL, 0, root, KMS_KEY_LEN, (const uint8_t *)AUDIT_CHAIN_INFO,
				 strlen(AUDIT_CHAIN_INFO), key, KMS_AUDIT_MAC_LEN);
}

static int line_mac(const uint8_t *key, const char *line, size_t len, uint8_t mac[32])
{
	return envol_hmac_sha256(key, KMS_AUDIT_MAC_LEN, (const uint8_t *)line, len, mac);
}

/* The chain fields of one record line (without its newline): "seq" and "prev". */
struct chain_fields {
	uint64_t seq;
	uint8_t prev[KMS_AUDIT_MAC_LEN];
	bool started; /* operation "AuditLogStarted": the first record of a new file */
};

static int parse_chain(const char *line, size_t len, struct chain_fields *f)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL), *seq, *prev, *op;
	int r = -EBADMSG;

	if (!json_is_object(o))
		goto out;
	seq = json_object_get(o, "seq");
	prev = json_object_get(o, "prev");
	op = json_object_get(o, "operation");
	if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_string(prev) ||
	    json_string_length(prev) != 2 * KMS_AUDIT_MAC_LEN ||
	    envol_hex_decode(json_string_value(prev), 2 * KMS_AUDIT_MAC_LEN, f->prev,
			     KMS_AUDIT_MAC_LEN) < 0)
		goto out;
	f->seq = (uint64_t)json_integer_value(seq);
	f->started = json_is_string(op) && strcmp(json_string_value(op), "AuditLogStarted") == 0;
	r = 0;
out:
	json_decref(o);
	return r;
}

static int anchor_tag(const uint8_t *key, const struct kms_audit_anchor *an,
		      uint8_t tag[KMS_AUDIT_MAC_LEN])
{
	static const char label[] = "envol audit anchor v1";
	uint8_t msg[sizeof label - 1 + 16 + KMS_AUDIT_MAC_LEN];

	memcpy(msg, label, sizeof label - 1);
	for (int i = 0; i < 8; i++) {
		msg[sizeof label - 1 + i] = (uint8_t)(an->seq >> (56 - 8 * i));
		msg[sizeof label - 1 + 8 + i] = (uint8_t)(an->offset >> (56 - 8 * i));
	}
	memcpy(msg + sizeof label - 1 + 16, an->mac, KMS_AUDIT_MAC_LEN);
	return envol_hmac_sha256(key, KMS_AUDIT_MAC_LEN, msg, sizeof msg, tag);
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* The chain walked line by line, from the start of a file or from the anchored record. */
struct chain_walk {
	const uint8_t *key;
	const struct kms_audit_anchor *anchor; /* NULL: none */
	uint64_t n;			       /* lines seen */
	uint64_t seq;			       /* of the last record; 0: none */
	uint8_t mac[KMS_AUDIT_MAC_LEN];
	uint64_t last_off; /* where the last record's line starts */
	bool anchor_seen;
};

static int chain_error(uint64_t n, char *err, size_t errlen)
{
	if (n == 1)
		return envol_fail(-EBADMSG, err, errlen,
				  "line 1: prev hash is not the start of a chain (lines removed "
				  "before it?)");
	return envol_fail(-EBADMSG, err, errlen,
			  "line %llu: prev hash does not match line %llu (line %llu changed, or "
			  "lines removed, inserted or reordered there)",
			  (unsigned long long)n, (unsigned long long)(n - 1),
			  (unsigned long long)(n - 1));
}

/* Checks one line (without its newline) starting at offset off and advances the walk. */
static int chain_step(struct chain_walk *w, const char *line, size_t len, uint64_t off, char *err,
		      size_t errlen)
{
	struct chain_fields c;
	json_t *obj;
	int r;

	w->n++;
	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return envol_fail(-EBADMSG, err, errlen, "line %llu: not a JSON object",
				  (unsigned long long)w->n);
	}
	json_decref(obj);
	if (parse_chain(line, len, &c) < 0)
		return chain_error(w->n, err, errlen);
	/* A file's first line starts the chain, or continues the anchored one (a new file). */
	if (w->n == 1 && w->seq == 0 && c.started && c.seq > 1) {
		memcpy(w->mac, c.prev, sizeof w->mac);
		w->seq = c.seq - 1;
	}
	if (c.seq != w->seq + 1 || memcmp(c.prev, w->mac, sizeof w->mac) != 0)
		return chain_error(w->n, err, errlen);
	r = line_mac(w->key, line, len, w->mac);
	if (r < 0)
		return envol_fail(r, err, errlen, "cannot compute the audit chain");
	w->seq = c.seq;
	w->last_off = off;
	if (w->anchor && c.seq == w->anchor->seq) {
		struct kms_audit_anchor an = {.seq = c.seq, .offset = off};
		uint8_t tag[KMS_AUDIT_MAC_LEN];

		memcpy(an.mac, w->mac, sizeof an.mac);
		r = anchor_tag(w->key, &an, tag);
		if (r < 0 || off != w->anchor->offset ||
		    memcmp(w->mac, w->anchor->mac, sizeof w->mac) != 0 ||
		    memcmp(tag, w->anchor->tag, sizeof tag) != 0)
			return envol_fail(-EBADMSG, err, errlen,
					  "line %llu: record %llu does not match the audit anchor "
					  "in the key store (changed with the chain recomputed, "
					  "moved, or another root key)",
					  (unsigned long long)w->n, (unsigned long long)c.seq);
		w->anchor_seen = true;
	}
	return 0;
}

/* Walks the lines of f from where it stands to its end (or to limit, if >= 0). */
static int chain_walk_file(struct chain_walk *w, FILE *f, uint64_t off, int64_t limit,
			   bool *ret_torn, char *err, size_t errlen)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r;

	*ret_torn = false;
	while ((limit < 0 || (int64_t)off < limit) && (len = getline(&line, &cap, f)) >= 0) {
		if (len == 0 || line[len - 1] != '\n') {
			*ret_torn = true;
			return envol_fail(-EBADMSG, err, errlen,
					  "line %llu: truncated (no newline at the end)",
					  (unsigned long long)w->n + 1);
		}
		r = chain_step(w, line, (size_t)len - 1, off, err, errlen);
		if (r < 0)
			return r;
		off += (uint64_t)len;
	}
	if (ferror(f))
		return envol_fail(-EIO, err, errlen, "read error");
	return 0;
}

/* Where the whole lines of the file end: after its last newline (0: none). */
static int whole_lines_end(int fd, off_t size, off_t *ret)
{
	char buf[4096];
	off_t end = size;

	while (end > 0) {
		size_t want = end >= (off_t)sizeof buf ? sizeof buf : (size_t)end;
		ssize_t got = pread(fd, buf, want, end - (off_t)want);

		if (got != (ssize_t)want)
			return got < 0 ? negative_errno() : -EIO;
		for (size_t i = want; i > 0; i--)
			if (buf[i - 1] == '\n') {
				*ret = end - (off_t)want + (off_t)i;
				return 0;
			}
		end -= (off_t)want;
		if (size - end > AUDIT_MAX_TAIL)
			return -EFBIG;
	}
	*ret = 0;
	return 0;
}

/*
 * Checks the file's whole records from the anchored one on (all of them if there is no
 * anchor) and sets the chain state; writes nothing.
 */
static int resume_chain(struct kms_audit *a, const char *path, off_t keep, bool *ret_started,
			char *err, size_t errlen)
{
	struct kms_audit_anchor an;
	struct chain_walk w = {.key = a->key};
	_cleanup_fclose_ FILE *f = NULL;
	bool torn;
	int fd, r;

	*ret_started = false;
	r = kms_store_audit_anchor_get(a->store, &an);
	if (r < 0 && r != -ENOENT)
		return envol_fail(r, err, errlen, "cannot read the audit anchor: %s", strerror(-r));
	if (r == 0)
		w.anchor = &an;
	if (keep == 0) {
		/* An empty file: a new chain, or the next file of the anchored one. */
		if (w.anchor) {
			a->seq = an.seq;
			memcpy(a->mac, an.mac, sizeof a->mac);
			*ret_started = true;
		}
		return 0;
	}
	fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 3);
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		r = negative_errno();
		if (fd >= 0)
			close(fd);
		return envol_fail(r, err, errlen, "cannot read audit log %s: %s", path,
				  strerror(-r));
	}
	if (w.anchor) {
		/* Start at the anchored record: the walk checks it against the anchor. */
		if ((off_t)an.offset >= keep)
			return envol_fail(
			    -EBADMSG, err, errlen,
			    "audit log %s ends before record %llu, the newest one "
			    "anchored in the key store: records were removed from its "
			    "end. Keep the file as evidence and move it aside "
			    "(docs/operations.md, \"Audit log\")",
			    path, (unsigned long long)an.seq);
		w.seq = an.seq - 1;
		w.n = 1; /* not a file's first line */
		r = fseeko(f, (off_t)an.offset, SEEK_SET) < 0 ? negative_errno() : 0;
		if (r == 0) {
			/* The anchored line's prev is only known from the line itself. */
			_cleanup_free_ char *line = NULL;
			size_t cap = 0;
			ssize_t len = getline(&line, &cap, f);
			struct chain_fields c;

			if (len > 0 && line[len - 1] == '\n' &&
			    parse_chain(line, (size_t)len - 1, &c) == 0)
				memcpy(w.mac, c.prev, sizeof w.mac);
			r = fseeko(f, (off_t)an.offset, SEEK_SET) < 0 ? negative_errno() : 0;
		}
		if (r == 0)
			r = chain_walk_file(&w, f, an.offset, keep, &torn, err, errlen);
		if (r == 0 && !w.anchor_seen)
			r = envol_fail(-EBADMSG, err, errlen,
				       "record %llu is not where the anchor "
				       "says",
				       (unsigned long long)an.seq);
	} else {
		r = chain_walk_file(&w, f, 0, keep, &torn, err, errlen);
	}
	if (r < 0) {
		char why[512];

		snprintf(why, sizeof why, "%s", err ? err : "");
		return envol_fail(r, err, errlen,
				  "audit log %s does not match its chain or the anchor in the key "
				  "store (%s): it was changed, cut or replaced, or belongs to "
				  "another root key. Keep the file as evidence and move it aside "
				  "(docs/operations.md, \"Audit log\")",
				  path, why);
	}
	a->seq = w.seq;
	memcpy(a->mac, w.mac, sizeof a->mac);
	a->last_off = (off_t)w.last_off;
	a->anchored = w.anchor ? an.seq : 0;
	return 0;
}

static json_t *system_record(const char *operation);
static int write_object(struct kms_audit *a, json_t *o, const struct kms_audit_record *rec);

int kms_audit_open(const char *path, struct kms_store *store, struct kms_audit **ret, char *err,
		   size_t errlen)
{
	struct kms_audit *a;
	struct stat st;
	off_t keep = 0;
	bool started = false;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = -1;
	a->store = store;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->unauth_lock, NULL);
	a->key = envol_secure_alloc(KMS_AUDIT_MAC_LEN);
	if (!a->key || chain_key(kms_store_root_key(store), a->key) < 0) {
		r = envol_fail(-ENOMEM, err, errlen, "cannot derive the audit chain key");
		goto fail;
	}
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0 || fstat(a->fd, &st) < 0) {
		r = negative_errno();
		envol_set_error(err, errlen, "cannot open audit log %s: %s", path, strerror(-r));
		goto fail;
	}
	r = whole_lines_end(a->fd, st.st_size, &keep);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot read the end of audit log %s: %s", path,
				strerror(-r));
		goto fail;
	}
	kms_store_lock(store);
	r = resume_chain(a, path, keep, &started, err, errlen);
	kms_store_unlock(store);
	if (r < 0)
		goto fail;
	a->size = keep;
	a->journal = getenv("JOURNAL_STREAM") != NULL;
	if (keep < st.st_size) {
		/* A torn last record (a crash mid-write): cut it off and say so. */
		json_t *o = system_record("AuditLogRepaired");

		if (ftruncate(a->fd, keep) < 0 || fsync(a->fd) < 0) {
			r = negative_errno();
			json_decref(o);
			envol_set_error(err, errlen,
					"cannot repair the torn end of audit log %s: %s", path,
					strerror(-r));
			goto fail;
		}
		if (o)
			json_object_set_new(o, "removed_bytes",
					    json_integer((json_int_t)(st.st_size - keep)));
		r = o ? write_object(a, o, NULL) : -ENOMEM;
		if (r < 0) {
			envol_set_error(err, errlen, "cannot record the repair of audit log %s: %s",
					path, strerror(-r));
			goto fail;
		}
	}
	if (started) {
		json_t *o = system_record("AuditLogStarted");

		if (o)
			json_object_set_new(o, "previous_records",
					    json_integer((json_int_t)a->seq));
		r = o ? write_object(a, o, NULL) : -ENOMEM;
		if (r < 0) {
			envol_set_error(err, errlen, "cannot start audit log %s: %s", path,
					strerror(-r));
			goto fail;
		}
	}
	r = kms_audit_anchor(a);
	if (r < 0) {
		envol_set_error(err, errlen, "cannot anchor audit log %s: %s", path, strerror(-r));
		goto fail;
	}
	*ret = a;
	return 0;
fail:
	kms_audit_close(a);
	return r;
}

int kms_audit_anchor(struct kms_audit *a)
{
	struct kms_audit_anchor an = {0};
	int r = 0;

	if (!a)
		return 0;
	/* Lock order: the store's, then the chain's (as the sweeper's records take them). */
	kms_store_lock(a->store);
	pthread_mutex_lock(&a->lock);
	if (a->seq > a->anchored && !a->broken) {
		an.seq = a->seq;
		an.offset = (uint64_t)a->last_off;
		memcpy(an.mac, a->mac, sizeof an.mac);
		/* The records reach the disk before the anchor that counts them. */
		r = fdatasync(a->fd) < 0 ? negative_errno() : 0;
		if (r == 0)
			r = anchor_tag(a->key, &an, an.tag);
		if (r == 0)
			r = kms_store_audit_anchor_put(a->store, &an);
		if (r == 0)
			a->anchored = an.seq;
	}
	pthread_mutex_unlock(&a->lock);
	kms_store_unlock(a->store);
	return r;
}

void kms_audit_close(struct kms_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0 && a->key)
		(void)kms_audit_anchor(a);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->unauth_lock);
	if (a->fd >= 0)
		close(a->fd);
	envol_secure_free(a->key);
	free(a);
}

static void format_time(int64_t ms, char out[80])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/*
 * CloudTrail's userIdentity of a principal ARN: {"type", "arn", "accountId"} (type Root,
 * IAMUser, AssumedRole, or Unknown); null for no principal, and for envol-kmsd itself
 * ({"type": "AWSService"}, invokedBy envol-kmsd).
 */
static json_t *user_identity(const char *principal)
{
	char account[13];
	const char *type = "Unknown", *rest;

	if (!principal || strcmp(principal, "anonymous") == 0)
		return json_null();
	if (strcmp(principal, KMS_SYSTEM_PRINCIPAL) == 0)
		return json_pack("{s:s,s:s}", "type", "AWSService", "invokedBy", principal);
	if (kms_arn_account(principal, account) < 0)
		return json_pack("{s:s,s:s}", "type", type, "arn", principal);
	rest = strrchr(principal, ':');
	if (rest && strcmp(rest, ":root") == 0)
		type = "Root";
	else if (rest && strncmp(rest, ":user/", 6) == 0)
		type = "IAMUser";
	else if (rest &&
		 (strncmp(rest, ":role/", 6) == 0 || strncmp(rest, ":assumed-role/", 14) == 0))
		type = "AssumedRole";
	return json_pack("{s:s,s:s,s:s}", "type", type, "arn", principal, "accountId", account);
}

/* The JSON object of a record, without its chain fields. */
static json_t *record_object(const struct kms_audit_record *rec)
{
	char when[80];
	json_t *o;

	format_time(envol_clock_now_ms(), when);
	o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "operation", str_or_null(rec->operation));
	json_object_set_new(o, "principal", str_or_null(rec->principal));
	json_object_set_new(o, "source", str_or_null(rec->source));
	json_object_set_new(o, "key_arn", str_or_null(rec->key_arn));
	json_object_set(o, "encryption_context",
			rec->encryption_context ? rec->encryption_context : json_null());
	if (rec->source_encryption_context)
		json_object_set(o, "source_encryption_context", rec->source_encryption_context);
	json_object_set_new(o, "request_id", str_or_null(rec->request_id));
	json_object_set_new(o, "error_code", str_or_null(rec->error_code));
	/* CloudTrail's names, after the fields records had before them */
	json_object_set_new(o, "userIdentity", user_identity(rec->principal));
	json_object_set_new(o, "invokedBy", str_or_null(rec->invoked_by));
	if (rec->invoked_by)
		json_object_set_new(o, "invokedByPrincipal", str_or_null(rec->service_principal));
	json_object_set_new(o, "grantId", str_or_null(rec->grant_id));
	json_object_set_new(o, "decision", str_or_null(rec->decision));
	return o;
}

static json_t *system_record(const char *operation)
{
	char rid[37];
	uint8_t u[16];

	if (envol_uuid_generate(u) < 0)
		memset(u, 0, sizeof u);
	envol_uuid_format(u, rid);
	return record_object(&(struct kms_audit_record){
	    .operation = operation,
	    .principal = KMS_SYSTEM_PRINCIPAL,
	    .source = "internal",
	    .request_id = rid,
	});
}

/* Takes back a record that was not (wholly) written or anchored. */
static void undo_write(struct kms_audit *a)
{
	if (ftruncate(a->fd, a->size) < 0)
		a->broken = true;
}

/* Chains and writes one line; under the chain's lock. */
static int append_line(struct kms_audit *a, const char *head, size_t hlen)
{
	_cleanup_free_ char *line = NULL;
	uint8_t mac[KMS_AUDIT_MAC_LEN];
	char prev[2 * KMS_AUDIT_MAC_LEN + 1];
	size_t done = 0;
	int len, r;

	if (a->broken)
		return -EIO;
	envol_hex_encode(a->mac, sizeof a->mac, prev);
	len = asprintf(&line, "%.*s,\"seq\":%llu,\"prev\":\"%s\"}\n", (int)(hlen - 1), head,
		       (unsigned long long)(a->seq + 1), prev);
	if (len < 0) {
		line = NULL;
		return -ENOMEM;
	}
	r = line_mac(a->key, line, (size_t)len - 1, mac);
	if (r < 0)
		return r;
	while (done < (size_t)len) {
		ssize_t w = write(a->fd, line + done, (size_t)len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = w < 0 ? negative_errno() : -EIO;
			undo_write(a);
			return r;
		}
		done += (size_t)w;
	}
	a->seq++;
	memcpy(a->mac, mac, sizeof mac);
	a->last_off = a->size;
	a->size += len;
	return 0;
}

/* Writes the record o (taken over); rec, if not NULL, also goes to the journal. */
static int write_object(struct kms_audit *a, json_t *o, const struct kms_audit_record *rec)
{
	_cleanup_free_ char *head = json_dumps(o, JSON_COMPACT);
	size_t hlen = head ? strlen(head) : 0;
	int r;

	json_decref(o);
	if (!head)
		return -ENOMEM;
	if (hlen < 2 || head[hlen - 1] != '}')
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	r = append_line(a, head, hlen);
	pthread_mutex_unlock(&a->lock);
	if (rec && a->journal)
		sd_journal_send("MESSAGE=KMS %s by %s: %s", rec->operation ? rec->operation : "-",
				rec->principal ? rec->principal : "-",
				rec->error_code ? rec->error_code : "OK", "PRIORITY=%d", LOG_INFO,
				"ENVOL_KMS_OPERATION=%s", rec->operation ? rec->operation : "",
				"ENVOL_KMS_PRINCIPAL=%s", rec->principal ? rec->principal : "",
				"ENVOL_KMS_INVOKED_BY=%s", rec->invoked_by ? rec->invoked_by : "",
				"ENVOL_KMS_GRANT_ID=%s", rec->grant_id ? rec->grant_id : "",
				"ENVOL_KMS_DECISION=%s", rec->decision ? rec->decision : "",
				"ENVOL_KMS_SOURCE=%s", rec->source ? rec->source : "",
				"ENVOL_KMS_KEY_ARN=%s", rec->key_arn ? rec->key_arn : "",
				"ENVOL_KMS_REQUEST_ID=%s", rec->request_id ? rec->request_id : "",
				"ENVOL_KMS_ERROR_CODE=%s", rec->error_code ? rec->error_code : "",
				NULL);
	return r;
}

int kms_audit_append(struct kms_audit *a, const struct kms_audit_record *rec)
{
	json_t *o;

	if (!a)
		return 0;
	o = record_object(rec);
	return o ? write_object(a, o, rec) : -ENOMEM;
}

/* ---- unauthenticated requests: one full record per source and minute, then a count ---- */

/* "tcp:127.0.0.1:4711" -> "tcp:127.0.0.1"; "unix:pid=1,uid=0" -> "unix". */
static void source_host(const char *source, char out[96])
{
	const char *colon;

	if (!source)
		source = "?";
	if (strncmp(source, "unix:", 5) == 0) {
		snprintf(out, 96, "unix");
		return;
	}
	colon = strrchr(source, ':');
	if (colon && colon > source && strncmp(source, "tcp:", 4) == 0)
		snprintf(out, 96, "%.*s", (int)(colon - source), source);
	else
		snprintf(out, 96, "%s", source);
}

/* Moves the counts of minutes before now_minute into due (AUDIT_MAX_SOURCES entries). */
static size_t take_due(struct kms_audit *a, int64_t now_minute, struct unauth *due)
{
	size_t n = 0, kept = 0;

	for (size_t i = 0; i < a->n_unauth; i++) {
		if (a->unauth[i].minute < now_minute) {
			if (a->unauth[i].count > 0)
				due[n++] = a->unauth[i];
		} else {
			a->unauth[kept++] = a->unauth[i];
		}
	}
	a->n_unauth = kept;
	return n;
}

static int write_summaries(struct kms_audit *a, const struct unauth *due, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		char start[80];
		json_t *o = record_object(&(struct kms_audit_record){
		    .operation = "UnauthenticatedRequests",
		    .principal = "anonymous",
		    .source = due[i].source,
		    .error_code = due[i].error,
		});
		int q;

		if (!o)
			return -ENOMEM;
		format_time(due[i].minute * 60000, start);
		json_object_set_new(o, "count", json_integer((json_int_t)due[i].count));
		json_object_set_new(o, "minute", json_string(start));
		q = write_object(a, o, NULL);
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

int kms_audit_unauthenticated(struct kms_audit *a, const struct kms_audit_record *rec)
{
	struct unauth due[AUDIT_MAX_SOURCES], *u = NULL;
	int64_t minute = envol_clock_now_ms() / 60000;
	char host[96];
	bool first = false;
	size_t n;
	int r;

	if (!a)
		return 0;
	source_host(rec->source, host);
	pthread_mutex_lock(&a->unauth_lock);
	n = take_due(a, minute, due);
	for (size_t i = 0; i < a->n_unauth && !u; i++)
		if (strcmp(a->unauth[i].source, host) == 0)
			u = &a->unauth[i];
	if (!u && a->n_unauth == AUDIT_MAX_SOURCES) {
		/* Too many sources this minute: the rest are counted together. */
		snprintf(host, sizeof host, "(other sources)");
		for (size_t i = 0; i < a->n_unauth && !u; i++)
			if (strcmp(a->unauth[i].source, host) == 0)
				u = &a->unauth[i];
		if (!u)
			u = &a->unauth[a->n_unauth - 1];
	}
	if (!u) {
		u = &a->unauth[a->n_unauth++];
		*u = (struct unauth){.minute = minute};
		snprintf(u->source, sizeof u->source, "%s", host);
	}
	if (u->full < AUDIT_UNAUTH_FULL) {
		u->full++;
		first = true;
	} else {
		u->count++;
		snprintf(u->error, sizeof u->error, "%s", rec->error_code ? rec->error_code : "");
	}
	pthread_mutex_unlock(&a->unauth_lock);
	r = write_summaries(a, due, n);
	if (first) {
		int q = kms_audit_append(a, rec);

		if (q < 0)
			r = q;
	}
	return r;
}

int kms_audit_flush(struct kms_audit *a)
{
	struct unauth due[AUDIT_MAX_SOURCES];
	size_t n;
	int r, q;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->unauth_lock);
	n = take_due(a, envol_clock_now_ms() / 60000, due);
	pthread_mutex_unlock(&a->unauth_lock);
	r = write_summaries(a, due, n);
	q = kms_audit_anchor(a);
	return r < 0 ? r : q;
}

const char *kms_audit_decision(bool authorized, int error)
{
	if (error == KMS_ERR_ACCESS_DENIED)
		return "denied";
	return authorized ? "allowed" : NULL;
}

int kms_audit_call(struct kms_audit *a, const struct kms_call *c, const char *operation,
		   const char *request_id)
{
	const struct kms_request *q = &c->req;
	json_t *ctx = NULL, *src_ctx = NULL;
	struct kms_audit_record rec = {
	    .operation = operation,
	    .principal = c->caller ? c->caller->principal : NULL,
	    .invoked_by = c->caller ? c->caller->invoked_by : NULL,
	    .service_principal = c->caller ? c->caller->service_principal : NULL,
	    .grant_id = c->grant_id[0] ? c->grant_id : NULL,
	    .decision = kms_audit_decision(c->authorized, c->error),
	    .source = c->caller ? c->caller->source : NULL,
	    .key_arn = c->key_arn[0] ? c->key_arn : NULL,
	    .request_id = request_id,
	    .error_code = c->error ? kms_error_map(c->error, NULL) : NULL,
	};
	int r;

	/* ReEncrypt: the destination context is "the" context, the source one goes beside it */
	if (q->op == KMS_OP_RE_ENCRYPT && q->root) {
		ctx = q->dst_context.present ? kms_context_json(&q->dst_context) : NULL;
		src_ctx = q->context.present ? kms_context_json(&q->context) : NULL;
	} else if (q->context.present) {
		ctx = kms_context_json(&q->context);
	}
	rec.encryption_context = ctx;
	rec.source_encryption_context = src_ctx;
	r = kms_audit_append(a, &rec);
	json_decref(ctx);
	json_decref(src_ctx);
	return r;
}

int kms_audit_system(struct kms_audit *a, const char *operation, const char *key_arn)
{
	json_t *o;

	if (!a)
		return 0;
	o = system_record(operation);
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "key_arn", str_or_null(key_arn));
	return write_object(a, o, NULL);
}

int kms_audit_verify(const struct kms_options *o, const char *path, uint64_t *ret_lines, char *err,
		     size_t errlen)
{
	_cleanup_(envol_secure_freep) uint8_t *root = NULL;
	_cleanup_(envol_secure_freep) uint8_t *key = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	struct kms_audit_anchor an;
	struct chain_walk w = {.n = 0};
	bool torn;
	int r;

	if (!o || !o->database || !o->root_key_file)
		return envol_fail(-EINVAL, err, errlen, "kms_audit_verify: no key store given");
	if (!path)
		path = o->audit_log;
	r = kms_root_key_load(o->root_key_file, false, &root, err, errlen);
	if (r < 0)
		return r;
	key = envol_secure_alloc(KMS_AUDIT_MAC_LEN);
	if (!key || chain_key(root, key) < 0)
		return envol_fail(-ENOMEM, err, errlen, "cannot derive the audit chain key");
	r = kms_store_audit_anchor_read(o->database, &an);
	if (r < 0 && r != -ENOENT)
		return envol_fail(r, err, errlen, "cannot read the audit anchor in %s: %s",
				  o->database, strerror(-r));
	w.key = key;
	w.anchor = r == 0 ? &an : NULL;
	f = fopen(path, "re");
	if (!f) {
		r = negative_errno();
		return envol_fail(r, err, errlen, "%s: %s", path, strerror(-r));
	}
	r = chain_walk_file(&w, f, 0, -1, &torn, err, errlen);
	if (r < 0)
		return r;
	/* Records after the anchor are fine (it moves every second); none before it. */
	if (w.anchor && !w.anchor_seen)
		return envol_fail(-EBADMSG, err, errlen,
				  "the log ends at record %llu but the audit anchor in %s is "
				  "record %llu: records were removed from its end",
				  (unsigned long long)w.seq, o->database,
				  (unsigned long long)an.seq);
	if (ret_lines)
		*ret_lines = w.n;
	return 0;
}
