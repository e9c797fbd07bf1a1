/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envolctl.h — what the envolctl command modules share: the run context (config, KMS client,
 * output mode), error reporting in the "envolctl: what; what to do" form, exit codes, and the
 * KMS call helper that turns AWS errors into advice.
 */
#ifndef ENVOLCTL_H
#define ENVOLCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/macros.h"
#include "util/config.h"

/* jansson >= 2.11 provides json_decrefp */
#define _cleanup_json_ _cleanup_(json_decrefp)

#define EXIT_OK 0
#define EXIT_ERROR 1
#define EXIT_USAGE 2

struct table;

struct ctl {
	const char *config_path; /* NULL: the default */
	struct envol_config *cfg;
	struct envol_kms_client *kms; /* made on first use */
	bool json;
	bool verbose;
	const char *key_hint; /* the KEY the user gave, named in advice */
};

/* "envolctl: <message>" on stderr. */
void ctl_error(const char *fmt, ...) _printf_(1, 2);
/* Usage error: message plus "Try 'envolctl --help'."; returns EXIT_USAGE. */
int ctl_usage(const char *fmt, ...) _printf_(1, 2);

/* Loads the configuration once.  Returns 0 or prints the error and returns -errno. */
int ctl_config(struct ctl *c);

/* An AWS error (or "Unreachable") from a KMS call made quietly. */
struct ctl_kms_error {
	char type[128];
	char message[1024];
};

/*
 * Calls KMS operation op with the request object req (not consumed).  On success returns 0
 * and the parsed response (json_decref it).  On failure returns a negative errno and either
 * fills *e (when e is given: quiet) or prints an error that says what to do.
 */
int ctl_kms_call(struct ctl *c, const char *op, json_t *req, json_t **ret_resp,
		 struct ctl_kms_error *e);
/* The same, returning the raw response text (free it with ctl_free_wiped: it may hold a
 * plaintext). */
int ctl_kms_call_raw(struct ctl *c, const char *op, json_t *req, char **ret_body,
		     struct ctl_kms_error *e);
/* Prints a quiet call's error with advice. */
void ctl_kms_report(struct ctl *c, const struct ctl_kms_error *e);
/* Wipes and frees a NUL-terminated string. */
void ctl_free_wiped(char *s);
/* Adds "K=V" to the JSON object ctx. Returns 0 or prints a usage error and returns -EINVAL. */
int ctl_context_add(json_t *ctx, const char *pair);

/* Resolve KEY (id, ARN, alias name, alias ARN) with DescribeKey; ret_metadata is the
 * KeyMetadata object (json_decref it). Prints errors. */
int ctl_describe_key(struct ctl *c, const char *key, json_t **ret_metadata);

/*
 * The non-empty string member name of a KMS answer to op (where says where in the answer,
 * e.g. "KeyMetadata."); NULL, with an error that names it, when it is missing.
 */
const char *ctl_need_str(json_t *o, const char *op, const char *where, const char *name);
/*
 * Every page of a paged List call (Limit, Marker, NextMarker, Truncated) with the members of
 * base (not consumed; e.g. KeyId): *ret is the array of all the list_name items, each an
 * object with the non-empty string member item_id.  Returns 0 or -errno, printed unless e is
 * given (quiet: e says what went wrong, as for ctl_kms_call).
 */
int ctl_kms_list_all(struct ctl *c, const char *op, json_t *base, const char *list_name,
		     const char *item_id, int limit, json_t **ret, struct ctl_kms_error *e);
/* Describe KEY (any form) and return its KeyId (malloc'd) and optionally the KeyMetadata.
 * Sets c->key_hint.  Returns 0, EXIT_USAGE for a malformed KEY (printed), or -errno
 * (printed). */
int ctl_key_resolve(struct ctl *c, const char *key, char **ret_id, json_t **ret_md);

/* Print a JSON value on stdout (indented) followed by a newline. */
void ctl_print_json(json_t *v);
/* A listing's output: the JSON array with --json, else the table. */
void ctl_print_listing(const struct ctl *c, const struct table *t, json_t *json);

/* Before getopt_long over a subcommand's arguments (argv[0] is the subcommand): restart
 * scanning, and no getopt messages (ctl_bad_option reports). */
void ctl_getopt_reset(void);
/* Usage error for the option getopt_long just refused in "GROUP CMD". Returns EXIT_USAGE. */
int ctl_bad_option(const char *group, const char *cmd, char **argv);

/* Command groups: argv[0] is the group name ("key", "grant", "volume", "audit"). Return exit
 * codes. */
int ctl_key_main(struct ctl *c, int argc, char **argv);
int ctl_audit_main(struct ctl *c, int argc, char **argv);
int ctl_volume_main(struct ctl *c, int argc, char **argv);
int ctl_grant_main(struct ctl *c, int argc, char **argv);

/* Grants (grant.c).  A table of GrantListEntry objects (with a KEY column when with_key),
 * and one row of it; NULL / -ENOMEM on ENOMEM. */
struct table *ctl_grant_table_new(bool with_key);
int ctl_grant_table_add(struct table *t, json_t *grant, bool with_key);
/* Every grant on key_id (a key id or ARN), optionally only those for grantee or the one with
 * grant_id (NULL: any), as ListGrants pages them.  Quiet when e is given, as
 * ctl_kms_list_all. */
int ctl_grant_list(struct ctl *c, const char *key_id, const char *grantee, const char *grant_id,
		   json_t **ret, struct ctl_kms_error *e);
/*
 * The grants of a volume (volume-grants.c), for volume show: adds to the volume object (with
 * its key_arn and volume_id) "grants", the grants named "envol-attach/<volume_id>" on its key,
 * or, when they cannot be listed (the caller may not ListGrants, the KMS is down),
 * "grants_error" saying why; never fails.  print writes the "grants:" field (width as
 * table_print_field) and their table.
 */
void ctl_volume_grants_add(struct ctl *c, json_t *volume);
void ctl_volume_grants_print(json_t *volume, int width);
/* volume import / export (transfer.c) */
int ctl_volume_import(struct ctl *c, int argc, char **argv);
int ctl_volume_export(struct ctl *c, int argc, char **argv);
/*
 * An import is written into a temporary volume NAME.import-TAG (volume/name.h), which cannot be
 * attached as NAME and is listed as incomplete, and renamed to NAME only when complete:
 * begin creates it on backend (NULL: server.backend) and, for rbd, in pool (NULL: rbd.pool),
 * refusing a NAME that exists on any backend or another unfinished import of NAME, and
 * returns its name (POOL/… outside rbd.pool); finish waits for envold to close it and renames it without replacing anything;
 * abandon crypto-erases and removes it after a failure (or says how to).  These print their
 * errors.  find looks up the unfinished import of NAME, quietly (-ENOENT if none).
 */
int ctl_volume_import_begin(struct ctl *c, const char *name, uint64_t size, const char *key,
			    uint32_t sector_size, const char *backend, const char *pool,
			    char **ret_import_name, char *ret_uuid, size_t uuid_len);
/*
 * --backend and --pool of create and import: a pool alone means --backend rbd; a pool with
 * --backend file is a usage error (EXIT_USAGE printed; 0 otherwise).  backend "file", "rbd"
 * or NULL (server.backend), pool NULL (rbd.pool).
 */
int ctl_parse_place(const char **backend, const char *pool);
int ctl_volume_import_finish(struct ctl *c, const char *name, const char *import_name);
void ctl_volume_import_abandon(struct ctl *c, const char *name, const char *import_name);
int ctl_volume_find_import(struct ctl *c, const char *name, char **ret_import_name);

/* Reads a whole small file (at most max bytes); "-" is stdin. */
int ctl_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len);
/* Writes a file with the given mode (replacing it); "-" is stdout. */
int ctl_write_file(const char *path, const uint8_t *data, size_t len, mode_t mode);

#endif
