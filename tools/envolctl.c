/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envolctl.c — the admin CLI's entry point: global options (anywhere on the line), dispatch
 * to the key, grant, volume and audit command groups, configuration loading, the KMS call helper
 * with advice for each AWS error, and small file helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envolctl.h"
#include "aws/kms_client.h"
#include "util/log.h"
#include "parse.h"
#include "util/secure_mem.h"
#include "table.h"

#define CTL_ERR_MAX 1024

static const char usage_text[] =
    "Usage: envolctl [-c FILE] [--json] [-v] COMMAND ...\n"
    "\n"
    "Keys (envol-kmsd):\n"
    "  key create [--description TEXT] [--alias alias/NAME] [--tag K=V]...\n"
    "  key list\n"
    "  key show KEY\n"
    "  key alias KEY alias/NAME\n"
    "  key enable KEY | key disable KEY\n"
    "  key rotate KEY\n"
    "  key rotation KEY on [--days N] | key rotation KEY off\n"
    "  key schedule-delete KEY [--days 7-30] | key cancel-delete KEY\n"
    "  key encrypt KEY IN OUT [--context K=V]...\n"
    "  key decrypt IN OUT [--context K=V]...\n"
    "  key policy KEY [--put FILE [--bypass-policy-lockout-safety-check]]\n"
    "Grants (envol-kmsd):\n"
    "  grant create KEY --grantee ARN --operations OP[,OP]... [--retiring ARN]\n"
    "               [--constraint-equals K=V ...|--constraint-subset K=V ...] [--name NAME]\n"
    "               [--dry-run]\n"
    "  grant list KEY [--grantee ARN] [--grant-id ID]\n"
    "  grant list-retirable ARN\n"
    "  grant retire --token TOKEN | grant retire KEY GRANT_ID\n"
    "  grant revoke KEY GRANT_ID\n"
    "Audit log:\n"
    "  audit verify [--root-key FILE] [FILE]\n"
    "  audit tail [-n N] [FILE]\n"
    "Volumes:\n"
    "  volume create NAME --size SIZE [--key KEY] [--sector-size 512|4096] [--read-only]\n"
    "                [--backend file|rbd] [--pool POOL]\n"
    "  volume list [--pool POOL]\n"
    "  volume show NAME\n"
    "  volume delete NAME [--force]\n"
    "  volume rekey NAME [--key KEY]\n"
    "  volume import FILE NAME [--key KEY] [--sector-size 512|4096] [--size SIZE]\n"
    "                [--backend file|rbd] [--pool POOL]\n"
    "  volume import NAME --from-image FILE [same options]\n"
    "  volume import FILE URI          (into an existing volume: nbds://HOST:PORT/NAME)\n"
    "  volume export NAME|URI FILE [--force]\n"
    "  volume release NAME --force\n"
    "\n"
    "KEY is a key id, key ARN, alias name (alias/NAME) or alias ARN. SIZE takes K, M, G, T\n"
    "(powers of 1024). A volume on Ceph RBD outside rbd.pool is named POOL/NAME.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  configuration file (default " ENVOL_CONFIG_DEFAULT_PATH ")\n"
    "      --json         machine-readable JSON output\n"
    "      --ca FILE|DIR  CA certificates for an https:// client.endpoint and nbds:// URIs\n"
    "                     (client.tls_ca)\n"
    "      --cert FILE    client certificate for them (client.tls_cert; with --tls-key)\n"
    "      --tls-key FILE the certificate's private key (client.tls_key)\n"
    "  -v, --verbose      debug logging\n"
    "  -h, --help         this help\n"
    "  -V, --version      version\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error. See envolctl(1).\n";

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fputs("envolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("envolctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'envolctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* --ca, --cert, --tls-key (--key names a KMS key in volume commands): override client.tls_ca, tls_cert, tls_key once the file is loaded. */
static const char *opt_tls[3];

static int override_tls(struct envol_config *cfg)
{
	char **field[3] = {&cfg->client.tls_ca, &cfg->client.tls_cert, &cfg->client.tls_key};

	for (size_t i = 0; i < ARRAY_SIZE(field); i++) {
		char *v;

		if (!opt_tls[i])
			continue;
		v = strdup(opt_tls[i]);
		if (!v)
			return -ENOMEM;
		free(*field[i]);
		*field[i] = v;
	}
	return 0;
}

int ctl_config(struct ctl *c)
{
	char err[CTL_ERR_MAX] = "";
	int r;

	if (c->cfg)
		return 0;
	r = envol_config_load(c->config_path, &c->cfg, err, sizeof err);
	if (r < 0) {
		ctl_error("%s", err[0] ? err : strerror(-r));
		return r;
	}
	r = override_tls(c->cfg);
	if (r < 0) {
		ctl_error("%s", strerror(-r));
		return r;
	}
	return 0;
}

static int ctl_kms_client(struct ctl *c)
{
	char err[CTL_ERR_MAX] = "";
	int r;

	if (c->kms)
		return 0;
	r = ctl_config(c);
	if (r < 0)
		return r;
	r = envol_kms_client_new(c->cfg, &c->kms, err, sizeof err);
	if (r < 0)
		ctl_error("cannot set up the KMS client: %s", err);
	return r;
}

static const char *error_advice(const char *type, const char *message)
{
	if (strcmp(type, "AccessDeniedException") == 0 && strstr(message, "managed key"))
		return "managed keys cannot be disabled, deleted or re-aliased; create your own "
		       "with envolctl key create";
	static const struct {
		const char *type;
		const char *advice;
	} advice[] = {
	    {"NotFoundException", "see envolctl key list"},
	    {"DisabledException", "enable it with envolctl key enable KEY"},
	    {"KMSInvalidStateException",
	     "see envolctl key show KEY (a key pending deletion can be restored with "
	     "envolctl key cancel-delete KEY)"},
	    {"AccessDeniedException",
	     "the key policy (envolctl key policy KEY), an identity policy (kms.admins, "
	     "kms.identity_policies) or a grant must allow it"},
	    {"MalformedPolicyDocumentException",
	     "fix the document and put it again (envolctl key policy KEY --put FILE)"},
	    {"InvalidCiphertextException",
	     "the ciphertext is damaged or the encryption context (--context) differs from "
	     "the one used to encrypt"},
	    {"IncorrectKeyException", "the ciphertext was made under another key"},
	    {"AlreadyExistsException", "choose another name, or see envolctl key list"},
	    {"UnsupportedOperationException", "this KMS does not implement the operation"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(advice); i++)
		if (strcmp(type, advice[i].type) == 0)
			return advice[i].advice;
	return NULL;
}

void ctl_free_wiped(char *s)
{
	if (s) {
		envol_wipe(s, strlen(s));
		free(s);
	}
}

void ctl_kms_report(struct ctl *c, const struct ctl_kms_error *e)
{
	char msg[sizeof e->message];
	const char *a;
	size_t n;

	if (strcmp(e->type, "Unreachable") == 0) {
		if (c->cfg && c->cfg->client.endpoint && *c->cfg->client.endpoint)
			ctl_error(
			    "KMS unreachable at %s: is envol-kmsd running and listening there? "
			    "(%s)",
			    c->kms ? envol_kms_client_target(c->kms) : c->cfg->client.endpoint,
			    e->message);
		else if (c->kms && access(envol_kms_client_target(c->kms), F_OK) == 0 &&
			 access(envol_kms_client_target(c->kms), W_OK) < 0 && errno == EACCES)
			ctl_error(
			    "cannot connect to the KMS at %s: permission denied (run envolctl "
			    "as root or as a member of the socket's group)",
			    envol_kms_client_target(c->kms));
		else
			ctl_error("KMS unreachable at %s: is envol-kmsd running? "
				  "(systemctl start envol-kmsd)",
				  c->kms ? envol_kms_client_target(c->kms) : "the KMS socket");
		if (c->verbose)
			ctl_error("%s", e->message);
		return;
	}
	/* "…is disabled." + "; advice" reads badly: drop a final period when advice follows */
	snprintf(msg, sizeof msg, "%s", e->message);
	a = error_advice(e->type, msg);
	if (a && (n = strlen(msg)) > 0 && msg[n - 1] == '.')
		msg[n - 1] = '\0';
	if (a && c->key_hint) {
		char advice[512] = "";
		size_t len = 0;

		/* put the user's KEY into the advice */
		for (const char *p = a; *p && len + 1 < sizeof advice;) {
			if (strncmp(p, "KEY", 3) == 0) {
				len += (size_t)snprintf(advice + len, sizeof advice - len, "%s",
							c->key_hint);
				if (len >= sizeof advice)
					len = sizeof advice - 1;
				p += 3;
			} else {
				advice[len++] = *p++;
				advice[len] = '\0';
			}
		}
		ctl_error("%s: %s; %s", e->type, msg, advice);
		return;
	}
	ctl_error("%s: %s%s%s", e->type, msg, a ? "; " : "", a ? a : "");
}

int ctl_kms_call_raw(struct ctl *c, const char *op, json_t *req, char **ret_body,
		     struct ctl_kms_error *e)
{
	struct ctl_kms_error local;
	struct ctl_kms_error *err = e ? e : &local;
	char *request = NULL, *body = NULL;
	long status = 0;
	int r;

	err->type[0] = err->message[0] = '\0';
	r = ctl_kms_client(c);
	if (r < 0) {
		snprintf(err->type, sizeof err->type, "Config");
		return r;
	}
	request = json_dumps(req, JSON_COMPACT);
	if (!request) {
		snprintf(err->type, sizeof err->type, "OutOfMemory");
		snprintf(err->message, sizeof err->message, "out of memory");
		if (!e)
			ctl_error("out of memory");
		return -ENOMEM;
	}
	r = envol_kms_client_call(c->kms, op, request, &status, &body, err->message,
				  sizeof err->message);
	ctl_free_wiped(request);
	if (r < 0) {
		snprintf(err->type, sizeof err->type, "Unreachable");
		if (!e)
			ctl_kms_report(c, err);
		return r;
	}
	if (status != 200) {
		if (envol_kms_client_parse_error(body, err->type, sizeof err->type, err->message,
						 sizeof err->message) < 0) {
			snprintf(err->type, sizeof err->type, "HTTP%ld", status);
			snprintf(err->message, sizeof err->message, "KMS answered HTTP %ld to %s",
				 status, op);
		}
		if (!err->message[0])
			snprintf(err->message, sizeof err->message, "%s failed", op);
		ctl_free_wiped(body);
		if (!e)
			ctl_kms_report(c, err);
		return envol_kms_client_error_errno(err->type);
	}
	*ret_body = body;
	return 0;
}

int ctl_kms_call(struct ctl *c, const char *op, json_t *req, json_t **ret_resp,
		 struct ctl_kms_error *e)
{
	char *body = NULL;
	json_t *resp;
	int r;

	r = ctl_kms_call_raw(c, op, req, &body, e);
	if (r < 0)
		return r;
	resp = json_loads(body, 0, NULL);
	ctl_free_wiped(body);
	if (!json_is_object(resp)) {
		json_decref(resp);
		if (e) {
			snprintf(e->type, sizeof e->type, "BadAnswer");
			snprintf(e->message, sizeof e->message,
				 "KMS answer to %s is not a JSON object", op);
		} else {
			ctl_error("KMS answer to %s is not a JSON object", op);
		}
		return -EPROTO;
	}
	*ret_resp = resp;
	return 0;
}

int ctl_context_add(json_t *ctx, const char *pair)
{
	_cleanup_free_ char *k = NULL, *v = NULL;

	if (ctl_parse_pair(pair, &k, &v) < 0) {
		ctl_usage("--context \"%s\": expected KEY=VALUE", pair);
		return -EINVAL;
	}
	if (json_object_set_new(ctx, k, json_string(v)) < 0) {
		ctl_usage("--context \"%s\": not valid UTF-8", pair);
		return -EINVAL;
	}
	return 0;
}

int ctl_describe_key(struct ctl *c, const char *key, json_t **ret_metadata)
{
	_cleanup_free_ char *id = ctl_key_normalize(key);
	json_t *req, *resp = NULL, *md;
	int r;

	if (!id) {
		ctl_error("\"%s\" is not a key id, key ARN, alias name (alias/NAME) or alias ARN",
			  key);
		return -EINVAL;
	}
	req = json_pack("{s:s}", "KeyId", id);
	if (!req)
		return -ENOMEM;
	r = ctl_kms_call(c, "DescribeKey", req, &resp, NULL);
	json_decref(req);
	if (r < 0)
		return r;
	md = json_object_get(resp, "KeyMetadata");
	if (!json_is_object(md) || !json_is_string(json_object_get(md, "KeyId"))) {
		json_decref(resp);
		ctl_error("KMS DescribeKey answer has no KeyMetadata");
		return -EPROTO;
	}
	json_incref(md);
	json_decref(resp);
	*ret_metadata = md;
	return 0;
}

const char *ctl_need_str(json_t *o, const char *op, const char *where, const char *name)
{
	const char *v = ctl_json_string(o, name);

	if (!v || !*v) {
		ctl_error("KMS %s answer lacks %s%s; is client.kms_socket or client.endpoint an "
			  "AWS KMS?",
			  op, where, name);
		return NULL;
	}
	return v;
}

/* A malformed answer to a list call: printed, or into e when the call is quiet. */
static int list_bad_answer(struct ctl_kms_error *e, const char *fmt, ...) _printf_(2, 3);
static int list_bad_answer(struct ctl_kms_error *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (e) {
		snprintf(e->type, sizeof e->type, "BadAnswer");
		vsnprintf(e->message, sizeof e->message, fmt, ap);
	} else {
		fputs("envolctl: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
	return -EPROTO;
}

int ctl_kms_list_all(struct ctl *c, const char *op, json_t *base, const char *list_name,
		     const char *item_id, int limit, json_t **ret, struct ctl_kms_error *e)
{
	static const char not_kms[] = "is client.kms_socket or client.endpoint an AWS KMS?";
	_cleanup_json_ json_t *all = json_array();
	_cleanup_free_ char *marker = NULL;

	if (!all)
		return -ENOMEM;
	for (;;) {
		_cleanup_json_ json_t *req = json_copy(base);
		_cleanup_json_ json_t *resp = NULL;
		json_t *list, *next;
		int r;

		if (!req || json_object_set_new(req, "Limit", json_integer(limit)) < 0 ||
		    (marker && json_object_set_new(req, "Marker", json_string(marker)) < 0))
			return -ENOMEM;
		r = ctl_kms_call(c, op, req, &resp, e);
		if (r < 0)
			return r;
		list = json_object_get(resp, list_name);
		if (!json_is_array(list))
			return list_bad_answer(e, "KMS %s answer lacks %s", op, list_name);
		for (size_t i = 0; i < json_array_size(list); i++) {
			const char *v = ctl_json_string(json_array_get(list, i), item_id);

			if (!v || !*v)
				return list_bad_answer(e, "KMS %s answer lacks %s[%zu].%s; %s", op,
						       list_name, i, item_id, not_kms);
		}
		json_array_extend(all, list);
		if (!json_is_true(json_object_get(resp, "Truncated")))
			break;
		next = json_object_get(resp, "NextMarker");
		if (!json_is_string(next) || !*json_string_value(next))
			return list_bad_answer(e, "KMS %s answer is truncated but lacks NextMarker",
					       op);
		free(marker);
		marker = strdup(json_string_value(next));
		if (!marker)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(all);
	return 0;
}

void ctl_print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

void ctl_print_listing(const struct ctl *c, const struct table *t, json_t *json)
{
	if (c->json)
		ctl_print_json(json);
	else
		table_print(t, stdout);
}

void ctl_getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

int ctl_bad_option(const char *group, const char *cmd, char **argv)
{
	if (optopt)
		return ctl_usage("%s %s: unknown option -%c, or it needs a value", group, cmd,
				 optopt);
	return ctl_usage("%s %s: unknown option %s, or it needs a value", group, cmd,
			 argv[optind - 1]);
}

int ctl_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	uint8_t *buf;
	size_t len = 0;

	if (strcmp(path, "-") == 0) {
		fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return negative_errno();
	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			envol_wipe(buf, len);
			free(buf);
			return negative_errno();
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			envol_wipe(buf, len);
			free(buf);
			return -EFBIG;
		}
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

int ctl_write_file(const char *path, const uint8_t *data, size_t len, mode_t mode)
{
	_cleanup_close_ int fd = -1;
	size_t off = 0;

	if (strcmp(path, "-") == 0)
		fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
	else
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return negative_errno();
	if (strcmp(path, "-") != 0) {
		struct stat st;

		if (fstat(fd, &st) < 0)
			return negative_errno();
		if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
			return negative_errno();
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		off += (size_t)n;
	}
	if (strcmp(path, "-") != 0 && fsync(fd) < 0 && errno != EINVAL)
		return negative_errno();
	if (close(TAKE_FD(fd)) < 0)
		return negative_errno();
	return 0;
}

/*
 * Pulls the global options out of argv wherever they are (before "--"), leaving the command
 * words and command options in order.  Returns 0, 1 for "exit 0 now" (help, version), or
 * EXIT_USAGE.
 */
static int parse_global(struct ctl *c, int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			for (; i < *argc; i++)
				argv[out++] = argv[i];
			break;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= *argc)
				return ctl_usage("%s needs a FILE", a);
			c->config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			c->config_path = a + 9;
		} else if (strcmp(a, "--ca") == 0 || strcmp(a, "--cert") == 0 ||
			   strcmp(a, "--tls-key") == 0) {
			size_t k = strcmp(a, "--ca") == 0 ? 0 : strcmp(a, "--cert") == 0 ? 1 : 2;

			if (i + 1 >= *argc)
				return ctl_usage("%s needs a FILE", a);
			opt_tls[k] = argv[++i];
		} else if (strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			c->verbose = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return 1;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("envolctl %s\n", ENVOL_VERSION);
			return 1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

int main(int argc, char **argv)
{
	struct ctl c = {0};
	int r;

	envol_log_set_ident("envolctl");
	r = parse_global(&c, &argc, argv);
	if (r)
		return r == 1 ? EXIT_OK : r;
	if (c.verbose)
		envol_log_set_level(LOG_DEBUG);
	else
		envol_log_set_level(LOG_WARNING);
	if (argc < 2)
		return ctl_usage("no command given");

	if (strcmp(argv[1], "key") == 0)
		r = ctl_key_main(&c, argc - 1, argv + 1);
	else if (strcmp(argv[1], "grant") == 0)
		r = ctl_grant_main(&c, argc - 1, argv + 1);
	else if (strcmp(argv[1], "volume") == 0)
		r = ctl_volume_main(&c, argc - 1, argv + 1);
	else if (strcmp(argv[1], "audit") == 0)
		r = ctl_audit_main(&c, argc - 1, argv + 1);
	else if (strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		r = EXIT_OK;
	} else
		r = ctl_usage("unknown command \"%s\"", argv[1]);

	envol_kms_client_free(c.kms);
	envol_config_free(c.cfg);
	if (fflush(stdout) != 0 && r == EXIT_OK) {
		ctl_error("cannot write output: %s", strerror(errno));
		r = EXIT_ERROR;
	}
	return r;
}
