/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * audit.c — "envolctl audit verify|tail": checks the KMS audit log's keyed chain against the
 * anchor in kms.db (kms_audit_verify: it reads root.key and kms.db, so it runs as root or
 * envol-kms) and shows its last records as a table (principal, the service it acted through,
 * operation, key, grant used, decision, error) or raw JSON lines (every field).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envolctl.h"
#include "kms/kms.h"
#include "parse.h"
#include "table.h"

#define AUDIT_TAIL_DEFAULT 10
#define AUDIT_TAIL_MAX 100000
#define AUDIT_TAIL_BYTES ((off_t)256 << 20)

static int audit_path(struct ctl *c, int argc, char **argv, int first, const char **ret)
{
	if (argc - first > 1)
		return ctl_usage("audit: unexpected argument \"%s\"", argv[first + 1]);
	if (argc - first == 1) {
		*ret = argv[first];
		return 0;
	}
	if (ctl_config(c) < 0)
		return EXIT_ERROR;
	*ret = c->cfg->kms.audit_log;
	return 0;
}

static int audit_verify(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"root-key", required_argument, NULL, 'k'}, {}};
	char err[1024] = "";
	const char *path = NULL, *root_key = NULL;
	struct kms_options ko;
	uint64_t lines = 0;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'k')
			return ctl_usage("usage: envolctl audit verify [--root-key FILE] [FILE]");
		root_key = optarg;
	}
	r = audit_path(c, argc, argv, optind, &path);
	if (r)
		return r;
	/* The chain key comes from the root key, the anchor from kms.db: both need the config. */
	if (ctl_config(c) < 0)
		return EXIT_ERROR;
	ko = (struct kms_options){
	    .database = c->cfg->kms.database,
	    .root_key_file = root_key ? root_key : c->cfg->kms.root_key_file,
	    .audit_log = path,
	};
	r = kms_audit_verify(&ko, path, &lines, err, sizeof err);
	if (c->json) {
		json_t *j = json_pack("{s:s,s:b,s:I}", "file", path, "ok", r == 0, "records",
				      (json_int_t)lines);

		if (j && r < 0)
			json_object_set_new(j, "error", json_string(err[0] ? err : strerror(-r)));
		ctl_print_json(j);
		json_decref(j);
	}
	if (r == -EBADMSG) {
		ctl_error("audit log %s is NOT intact: %s", path, err);
		return EXIT_ERROR;
	}
	if (r < 0) {
		ctl_error("cannot verify audit log %s: %s", path, err[0] ? err : strerror(-r));
		return EXIT_ERROR;
	}
	if (!c->json)
		printf("audit log OK: %" PRIu64 " records, chain intact\n", lines);
	return EXIT_OK;
}

/*
 * The last n lines of the file at fd (size bytes), read backwards in chunks (at most
 * AUDIT_TAIL_BYTES); returns a malloc'd NUL-terminated buffer holding them.
 */
static int read_tail(int fd, off_t size, long n, char **ret, size_t *ret_len)
{
	const size_t chunk = 65536;
	_cleanup_free_ char *buf = NULL;
	off_t end = size, start;
	long newlines = 0;
	size_t len;
	char last;

	/* A trailing newline ends the last line; it does not start another. */
	if (size > 0 && pread(fd, &last, 1, size - 1) == 1 && last == '\n')
		end = size - 1;
	start = end;
	while (start > 0 && newlines < n && end - start < AUDIT_TAIL_BYTES) {
		size_t want = start >= (off_t)chunk ? chunk : (size_t)start;
		char tmp[65536];
		ssize_t got = pread(fd, tmp, want, start - (off_t)want);

		if (got != (ssize_t)want)
			return got < 0 ? negative_errno() : -EIO;
		for (size_t i = want; i > 0; i--) {
			if (tmp[i - 1] == '\n' && ++newlines == n) {
				start -= (off_t)(want - i); /* line starts after this newline */
				goto found;
			}
		}
		start -= (off_t)want;
	}
found:
	len = (size_t)(end - start);
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	if (len && pread(fd, buf, len, start) != (ssize_t)len)
		return -EIO;
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static const char *field(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : "-";
}

static int audit_tail(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"lines", required_argument, NULL, 'n'}, {}};
	static const char *const headers[] = {"TIME", "PRINCIPAL", "VIA",      "OPERATION",
					      "KEY",  "GRANT",	   "DECISION", "ERROR"};
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int fd = -1;
	struct table *t = NULL;
	const char *path = NULL;
	long n = AUDIT_TAIL_DEFAULT;
	size_t len = 0;
	struct stat st;
	char *line, *save = NULL;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (o != 'n')
			return ctl_usage("usage: envolctl audit tail [-n N] [FILE]");
		if (ctl_parse_int(optarg, 1, AUDIT_TAIL_MAX, &n) < 0)
			return ctl_usage("-n %s: a number of records from 1 to %d", optarg,
					 AUDIT_TAIL_MAX);
	}
	r = audit_path(c, argc, argv, optind, &path);
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ctl_error("cannot read audit log %s: %s", path, strerror(errno));
		return EXIT_ERROR;
	}
	r = read_tail(fd, st.st_size, n, &text, &len);
	if (r < 0) {
		ctl_error("cannot read audit log %s: %s", path, strerror(-r));
		return EXIT_ERROR;
	}
	if (c->json) {
		fwrite(text, 1, len, stdout);
		if (len && text[len - 1] != '\n')
			fputc('\n', stdout);
		return EXIT_OK;
	}
	t = table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		return EXIT_ERROR;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *rec = json_loads(line, 0, NULL);

		if (!json_is_object(rec)) {
			const char *cells[] = {"?", "?", "-", "(unreadable line)",
					       "-", "-", "-", "-"};

			(void)table_add_row(t, cells);
		} else {
			/* Records written before invokedBy, grantId and decision show "-". */
			const char *cells[] = {field(rec, "time"),	field(rec, "principal"),
					       field(rec, "invokedBy"), field(rec, "operation"),
					       field(rec, "key_arn"),	field(rec, "grantId"),
					       field(rec, "decision"),	field(rec, "error_code")};

			(void)table_add_row(t, cells);
		}
		json_decref(rec);
	}
	table_print(t, stdout);
	table_free(t);
	return EXIT_OK;
}

int ctl_audit_main(struct ctl *c, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage("audit: which command? (verify, tail)");
	if (strcmp(argv[1], "verify") == 0)
		return audit_verify(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "tail") == 0)
		return audit_tail(c, argc - 1, argv + 1);
	return ctl_usage("audit: unknown command \"%s\"", argv[1]);
}
