/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.c — the KMS audit: what a request's record holds (kms_audit_call(), kms_audit_system()),
 * the hash-chained JSON-lines log with its journal copy (audit.h), and the verifier.
 */
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "kms/audit.h"
#include "kms/internal.h"
#include "util/clock.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/log.h"
#include "util/macros.h"

#define AUDIT_MAX_TAIL (1024 * 1024)

struct kms_audit {
	pthread_mutex_t lock;
	int fd;
	char prev[65]; /* hex SHA-256 of the last line */
	bool journal;
};

static void hash_line(const char *line, size_t len, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)line, len, md);
	envol_hex_encode(md, sizeof md, out);
}

/* Finds the last line of the file (which ends with '\n') and hashes it into a->prev. */
static int resume_chain(struct kms_audit *a, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	off_t start;
	size_t n, end, begin;
	ssize_t got;

	memset(a->prev, '0', 64);
	a->prev[64] = 0;
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size == 0)
		return 0;
	start = st.st_size > AUDIT_MAX_TAIL ? st.st_size - AUDIT_MAX_TAIL : 0;
	n = (size_t)(st.st_size - start);
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	got = pread(fd, buf, n, start);
	if (got < 0)
		return negative_errno();
	if ((size_t)got != n)
		return -EIO;
	end = n;
	if (buf[end - 1] == '\n')
		end--; /* a torn last line (no newline) is hashed as it is; verify flags it */
	begin = end;
	while (begin > 0 && buf[begin - 1] != '\n')
		begin--;
	if (begin == 0 && start > 0)
		return -EFBIG;
	hash_line(buf + begin, end - begin, a->prev);
	return 0;
}

int kms_audit_open(const char *path, struct kms_audit **ret)
{
	struct kms_audit *a;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		r = negative_errno();
		free(a);
		return log_debug_errno(r, "cannot open audit log %s: %m", path);
	}
	r = resume_chain(a, path);
	if (r < 0) {
		close(a->fd);
		free(a);
		return log_debug_errno(r, "cannot read the last line of audit log %s: %m", path);
	}
	pthread_mutex_init(&a->lock, NULL);
	a->journal = getenv("JOURNAL_STREAM") != NULL;
	*ret = a;
	return 0;
}

void kms_audit_close(struct kms_audit *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	if (a->fd >= 0)
		close(a->fd);
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

int kms_audit_append(struct kms_audit *a, const struct kms_audit_record *rec)
{
	char when[80];
	json_t *o;
	char *head = NULL, *line = NULL;
	size_t hlen, len;
	ssize_t w;
	int r = 0;

	if (!a)
		return 0;
	/* Everything but "prev" is built outside the lock. */
	format_time(envol_clock_now_ms(), when);
	o = json_object();
	if (!o)
		return -ENOMEM;
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
	head = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!head)
		return -ENOMEM;
	hlen = strlen(head);
	if (hlen < 2 || head[hlen - 1] != '}') {
		free(head);
		return -EINVAL;
	}
	/* head without its closing brace, then ,"prev":"<64 hex>"}\n */
	len = hlen - 1 + 9 + 64 + 2;
	line = malloc(len + 2);
	if (!line) {
		free(head);
		return -ENOMEM;
	}
	memcpy(line, head, hlen - 1);
	memcpy(line + hlen - 1, ",\"prev\":\"", 9);
	pthread_mutex_lock(&a->lock);
	memcpy(line + hlen - 1 + 9, a->prev, 64);
	memcpy(line + len - 2, "\"}\n", 3);
	w = write(a->fd, line, len + 1);
	if (w < 0)
		r = negative_errno();
	else if ((size_t)w != len + 1)
		r = -EIO;
	/* The chain follows what is in the file, even after a short write. */
	if (w > 0)
		hash_line(line, (size_t)w > len ? len : (size_t)w, a->prev);
	pthread_mutex_unlock(&a->lock);
	if (a->journal)
		sd_journal_send("MESSAGE=KMS %s by %s: %s", rec->operation ? rec->operation : "-",
				rec->principal ? rec->principal : "-",
				rec->error_code ? rec->error_code : "OK", "PRIORITY=%d", LOG_INFO,
				"ENVOL_KMS_OPERATION=%s", rec->operation ? rec->operation : "",
				"ENVOL_KMS_PRINCIPAL=%s", rec->principal ? rec->principal : "",
				"ENVOL_KMS_SOURCE=%s", rec->source ? rec->source : "",
				"ENVOL_KMS_KEY_ARN=%s", rec->key_arn ? rec->key_arn : "",
				"ENVOL_KMS_REQUEST_ID=%s", rec->request_id ? rec->request_id : "",
				"ENVOL_KMS_ERROR_CODE=%s", rec->error_code ? rec->error_code : "",
				NULL);
	free(head);
	free(line);
	return r;
}

int kms_audit_call(struct kms_audit *a, const struct kms_call *c, const char *operation,
		   const char *request_id)
{
	const struct kms_request *q = &c->req;
	json_t *ctx = NULL, *src_ctx = NULL;
	struct kms_audit_record rec = {
	    .operation = operation,
	    .principal = c->caller ? c->caller->principal : NULL,
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
	char rid[37];
	uint8_t u[16];
	struct kms_audit_record rec = {
	    .operation = operation,
	    .principal = KMS_SYSTEM_PRINCIPAL,
	    .source = "internal",
	    .key_arn = key_arn,
	    .request_id = rid,
	};

	if (envol_uuid_generate(u) < 0)
		memset(u, 0, sizeof u);
	envol_uuid_format(u, rid);
	return kms_audit_append(a, &rec);
}

int kms_audit_verify(const char *path, uint64_t *ret_lines, char *err, size_t errlen)
{
	_cleanup_free_ char *line = NULL;
	char expect[65];
	size_t cap = 0;
	uint64_t n = 0;
	ssize_t len;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		r = negative_errno();
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	memset(expect, '0', 64);
	expect[64] = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		json_t *o, *prev;
		json_error_t jerr;

		n++;
		if (len == 0 || line[len - 1] != '\n') {
			r = envol_fail(-EBADMSG, err, errlen,
				       "line %llu: truncated (no newline at the end)",
				       (unsigned long long)n);
			break;
		}
		len--;
		o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &jerr);
		if (!o || !json_is_object(o)) {
			json_decref(o);
			r = envol_fail(-EBADMSG, err, errlen, "line %llu: not a JSON object",
				       (unsigned long long)n);
			break;
		}
		prev = json_object_get(o, "prev");
		if (!json_is_string(prev) || strcmp(json_string_value(prev), expect) != 0) {
			json_decref(o);
			if (n == 1)
				r = envol_fail(
				    -EBADMSG, err, errlen,
				    "line 1: prev hash is not the start of a chain (lines "
				    "removed before it?)");
			else
				r = envol_fail(
				    -EBADMSG, err, errlen,
				    "line %llu: prev hash does not match line %llu (line %llu "
				    "changed, or lines removed, inserted or reordered there)",
				    (unsigned long long)n, (unsigned long long)(n - 1),
				    (unsigned long long)(n - 1));
			break;
		}
		json_decref(o);
		hash_line(line, (size_t)len, expect);
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if (r == 0 && ret_lines)
		*ret_lines = n;
	return r;
}
