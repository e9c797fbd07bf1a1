/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.c — loads envol.conf (libconfig syntax) into struct envol_config: the names and
 * defaults of design.md, strict about unknown settings and bad values, every error naming the
 * file, the line and the setting.  Secrets (secret_access_key) go to secure memory.
 */
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/xts.h"
#include "util/config.h"
#include "util/error.h"
#include "util/log.h"
#include "util/secure_mem.h"

struct loader {
	const char *file; /* for messages: the path given */
	char *err;
	size_t errlen;
};

_printf_(3, 4) static int fail(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	envol_set_errorv(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s)
		return envol_fail(-EINVAL, l->err, l->errlen, "%s:%u: %s", l->file,
				  config_setting_source_line(s), msg);
	return envol_fail(-EINVAL, l->err, l->errlen, "%s: %s", l->file, msg);
}

/* "kms.region" for a setting (two levels are all we have, plus list elements). */
static void setting_path(const config_setting_t *s, char *out, size_t n)
{
	const config_setting_t *parent = config_setting_parent(s);
	const char *name = config_setting_name(s);

	if (parent && config_setting_name(parent) && name)
		snprintf(out, n, "%s.%s", config_setting_name(parent), name);
	else if (parent && config_setting_name(parent))
		snprintf(out, n, "%s[%d]", config_setting_name(parent), config_setting_index(s));
	else
		snprintf(out, n, "%s", name ? name : "(root)");
}

static int replace_str(char **dst, const char *value)
{
	char *c = strdup(value);

	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

typedef int (*check_fn)(const char *value);

static int check_absolute_path(const char *v)
{
	return v[0] == '/' ? 0 : -1;
}

static int check_nonempty(const char *v)
{
	return v[0] ? 0 : -1;
}

static int check_account_id(const char *v)
{
	if (strlen(v) != 12)
		return -1;
	for (const char *p = v; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	return 0;
}

static int check_region(const char *v)
{
	if (!v[0] || strlen(v) > 32)
		return -1;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return -1;
	return 0;
}

/* "" or HOST:PORT (HOST may be [v6]); port 1–65535. */
static int check_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (!v[0])
		return 0;
	if (!colon || colon == v)
		return -1;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
		return -1;
	return 0;
}

static int check_backend(const char *v)
{
	return strcmp(v, "file") == 0 || strcmp(v, "rbd") == 0 ? 0 : -1;
}

/* An RBD namespace ("" for none), as part of an image spec POOL/NAMESPACE/IMAGE. */
static int check_rbd_namespace(const char *v)
{
	return strchr(v, '/') || strchr(v, '@') || strlen(v) > 255 ? -1 : 0;
}

static int check_rbd_pool(const char *v)
{
	return v[0] ? check_rbd_namespace(v) : -1;
}

static int check_endpoint(const char *v)
{
	if (!v[0])
		return 0;
	return strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0 ? 0 : -1;
}

static int check_cipher_backend(const char *v)
{
	return envol_xts_backend_from_string(v) >= 0 ? 0 : -1;
}

static int load_string(struct loader *l, config_setting_t *s, char **dst, check_fn check,
		       const char *what)
{
	char path[128];
	const char *v;

	setting_path(s, path, sizeof path);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(l, s, "%s: must be a string", path);
	v = config_setting_get_string(s);
	if (check && check(v) < 0)
		return fail(l, s, "%s: \"%s\" is not %s", path, v, what);
	return replace_str(dst, v) < 0 ? -ENOMEM : 0;
}

static int load_secret(struct loader *l, config_setting_t *s, char **dst)
{
	char path[128];
	const char *v;
	size_t n;

	setting_path(s, path, sizeof path);
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(l, s, "%s: must be a string", path);
	v = config_setting_get_string(s);
	n = strlen(v);
	envol_secure_free(*dst);
	*dst = envol_secure_alloc(n + 1);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, v, n + 1);
	return 0;
}

static int load_string_array(struct loader *l, config_setting_t *s, char ***dst, size_t *n_dst)
{
	char path[128];
	int n;
	char **arr;

	setting_path(s, path, sizeof path);
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(l, s, "%s: must be an array of strings [ \"…\", … ]", path);
	n = config_setting_length(s);
	arr = calloc((size_t)n + 1, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    strncmp(config_setting_get_string(e), "arn:", 4) != 0) {
			for (int j = 0; j < i; j++)
				free(arr[j]);
			free(arr);
			return fail(l, e, "%s[%d]: must be a principal ARN string (arn:aws:iam::…)",
				    path, i);
		}
		arr[i] = strdup(config_setting_get_string(e));
		if (!arr[i]) {
			for (int j = 0; j < i; j++)
				free(arr[j]);
			free(arr);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < *n_dst; i++)
		free((*dst)[i]);
	free(*dst);
	*dst = arr;
	*n_dst = (size_t)n;
	return 0;
}

static int load_credentials(struct loader *l, struct envol_config *c, config_setting_t *s)
{
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(l, s,
			    "kms.credentials: must be a list of groups ( { access_key_id = …; "
			    "secret_access_key = …; principal = …; }, … )");
	n = config_setting_length(s);
	c->kms.credentials = calloc((size_t)n + 1, sizeof(*c->kms.credentials));
	if (!c->kms.credentials)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(s, (unsigned)i), *m;
		struct envol_credential *cr = &c->kms.credentials[i];
		int r;

		c->kms.n_credentials = (size_t)i + 1;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(l, g, "kms.credentials[%d]: must be a group { … }", i);
		for (int j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
			const char *name = config_setting_name(m);
			if (strcmp(name, "access_key_id") == 0)
				r = load_string(l, m, &cr->access_key_id, check_nonempty,
						"a non-empty access key id");
			else if (strcmp(name, "secret_access_key") == 0)
				r = load_secret(l, m, &cr->secret_access_key);
			else if (strcmp(name, "principal") == 0)
				r = load_string(l, m, &cr->principal, NULL, NULL);
			else
				r = fail(l, m, "kms.credentials[%d].%s: unknown setting", i, name);
			if (r < 0)
				return r;
		}
		if (!cr->access_key_id || !cr->secret_access_key || !cr->principal)
			return fail(l, g,
				    "kms.credentials[%d]: needs access_key_id, secret_access_key and "
				    "principal",
				    i);
		if (strncmp(cr->principal, "arn:", 4) != 0)
			return fail(l, g, "kms.credentials[%d].principal: must be a principal ARN", i);
	}
	return 0;
}

static int load_identities(struct loader *l, struct envol_config *c, config_setting_t *s)
{
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(l, s,
			    "server.tls_identities: must be a list of groups ( { match = …; "
			    "principal = …; }, … )");
	n = config_setting_length(s);
	c->server.tls_identities = calloc((size_t)n + 1, sizeof(*c->server.tls_identities));
	if (!c->server.tls_identities)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(s, (unsigned)i), *m;
		struct envol_tls_identity *id = &c->server.tls_identities[i];
		int r;

		c->server.n_tls_identities = (size_t)i + 1;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(l, g, "server.tls_identities[%d]: must be a group { … }", i);
		for (int j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
			const char *name = config_setting_name(m);

			if (strcmp(name, "match") == 0)
				r = load_string(l, m, &id->match, check_nonempty,
						"a subject, sha256:<hex> or a PSK username");
			else if (strcmp(name, "principal") == 0)
				r = load_string(l, m, &id->principal, check_nonempty,
						"a principal ARN");
			else
				r = fail(l, m, "server.tls_identities[%d].%s: unknown setting", i,
					 name);
			if (r < 0)
				return r;
		}
		if (!id->match || !id->principal)
			return fail(l, g, "server.tls_identities[%d]: needs match and principal", i);
		if (strncmp(id->principal, "arn:", 4) != 0)
			return fail(l, g, "server.tls_identities[%d].principal: must be a principal ARN",
				    i);
	}
	return 0;
}

static int load_identity_policies(struct loader *l, struct envol_config *c, config_setting_t *s)
{
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return fail(l, s,
			    "kms.identity_policies: must be a list of groups ( { principal = …; "
			    "file = …; }, … )");
	n = config_setting_length(s);
	c->kms.identity_policies = calloc((size_t)n + 1, sizeof(*c->kms.identity_policies));
	if (!c->kms.identity_policies)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(s, (unsigned)i), *m;
		struct envol_identity_policy *ip = &c->kms.identity_policies[i];
		int r;

		c->kms.n_identity_policies = (size_t)i + 1;
		if (config_setting_type(g) != CONFIG_TYPE_GROUP)
			return fail(l, g, "kms.identity_policies[%d]: must be a group { … }", i);
		for (int j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
			const char *name = config_setting_name(m);

			if (strcmp(name, "principal") == 0)
				r = load_string(l, m, &ip->principal, NULL, NULL);
			else if (strcmp(name, "file") == 0)
				r = load_string(l, m, &ip->file, check_absolute_path,
						"an absolute path");
			else
				r = fail(l, m, "kms.identity_policies[%d].%s: unknown setting", i,
					 name);
			if (r < 0)
				return r;
		}
		if (!ip->principal || !ip->file)
			return fail(l, g, "kms.identity_policies[%d]: needs principal and file", i);
		if (strncmp(ip->principal, "arn:", 4) != 0)
			return fail(l, g,
				    "kms.identity_policies[%d].principal: must be a principal ARN", i);
	}
	return 0;
}

static int check_tls_mode(const char *v)
{
	return strcmp(v, "off") == 0 || strcmp(v, "on") == 0 || strcmp(v, "require") == 0 ? 0 : -1;
}

enum kind { STR, PATH, SECRET, ARRAY, INT, BOOL };

struct field {
	const char *name;
	enum kind kind;
	size_t offset;
	size_t count_offset; /* ARRAY: where the element count goes */
	check_fn check;
	const char *what;
	int min, max; /* INT: the range (both 0: 0–1024) */
};

#define F(name, kind, member, check, what)                                                         \
	{ name, kind, offsetof(struct envol_config, member), 0, check, what, 0, 0 }
#define FA(name, member, count)                                                                    \
	{ name, ARRAY, offsetof(struct envol_config, member),                                      \
	  offsetof(struct envol_config, count), NULL, NULL, 0, 0 }
#define FI(name, member, lo, hi)                                                                   \
	{ name, INT, offsetof(struct envol_config, member), 0, NULL, NULL, lo, hi }

static const struct field root_fields[] = {
	F("state_dir", PATH, state_dir, check_absolute_path, "an absolute path"),
	F("runtime_dir", PATH, runtime_dir, check_absolute_path, "an absolute path"),
};
static const struct field kms_fields[] = {
	F("socket", PATH, kms.socket, check_absolute_path, "an absolute path"),
	F("listen", STR, kms.listen, check_listen, "\"\" or HOST:PORT"),
	F("region", STR, kms.region, check_region, "a region name like \"local\" or \"us-east-1\""),
	F("account_id", STR, kms.account_id, check_account_id, "a 12-digit account id"),
	F("database", PATH, kms.database, check_absolute_path, "an absolute path"),
	F("root_key_file", PATH, kms.root_key_file, check_absolute_path, "an absolute path"),
	F("audit_log", PATH, kms.audit_log, check_absolute_path, "an absolute path"),
	FA("admins", kms.admins, kms.n_admins),
	FA("services", kms.services, kms.n_services),
	F("tls_certificates", PATH, kms.tls_certificates, check_absolute_path, "an absolute path"),
	F("allow_plain_http", BOOL, kms.allow_plain_http, NULL, NULL),
};
static const struct field server_fields[] = {
	F("socket", PATH, server.socket, check_absolute_path, "an absolute path"),
	F("listen", STR, server.listen, check_listen, "\"\" or HOST:PORT"),
	F("volume_dir", PATH, server.volume_dir, check_absolute_path, "an absolute path"),
	F("backend", STR, server.backend, check_backend, "\"file\" or \"rbd\""),
	F("threads", INT, server.threads, NULL, NULL),
	F("tls", STR, server.tls, check_tls_mode, "\"off\", \"on\" or \"require\""),
	F("tls_certificates", PATH, server.tls_certificates, check_absolute_path,
	  "an absolute path"),
	F("tls_verify_peer", BOOL, server.tls_verify_peer, NULL, NULL),
	F("tls_psk_file", PATH, server.tls_psk_file, check_absolute_path, "an absolute path"),
	F("allow_plain_tcp", BOOL, server.allow_plain_tcp, NULL, NULL),
	F("cipher_backend", STR, server.cipher_backend, check_cipher_backend,
	  "a sector cipher backend (auto, openssl, gcrypt, vaes)"),
	FI("max_connections", server.max_connections, 1, 65536),
	FI("max_inflight_mib", server.max_inflight_mib, 64, 1048576),
	FI("handshake_timeout", server.handshake_timeout, 1, 3600),
};
static const struct field rbd_fields[] = {
	F("ceph_conf", STR, rbd.ceph_conf, NULL, NULL),
	F("client_id", STR, rbd.client_id, check_nonempty, "a cephx user name like \"admin\""),
	F("pool", STR, rbd.pool, check_rbd_pool, "a pool name (without / or @)"),
	F("namespace", STR, rbd.pool_namespace, check_rbd_namespace,
	  "\"\" or a namespace name (without / or @)"),
};
static const struct field client_fields[] = {
	F("kms_socket", PATH, client.kms_socket, check_absolute_path, "an absolute path"),
	F("endpoint", STR, client.endpoint, check_endpoint, "\"\" or an http:// or https:// URL"),
	F("access_key_id", STR, client.access_key_id, NULL, NULL),
	F("principal", STR, client.principal, NULL, NULL),
	F("secret_access_key", SECRET, client.secret_access_key, NULL, NULL),
	F("tls_ca", PATH, client.tls_ca, check_absolute_path, "an absolute path"),
	F("tls_cert", PATH, client.tls_cert, check_absolute_path, "an absolute path"),
	F("tls_key", PATH, client.tls_key, check_absolute_path, "an absolute path"),
	FI("kms_timeout", client.kms_timeout, 1, 600),
};

static int load_field(struct loader *l, struct envol_config *c, const struct field *f,
		      config_setting_t *s)
{
	void *dst = (char *)c + f->offset;
	char path[128];

	switch (f->kind) {
	case STR:
	case PATH:
		return load_string(l, s, dst, f->check, f->what);
	case SECRET:
		return load_secret(l, s, dst);
	case ARRAY:
		return load_string_array(l, s, dst, (size_t *)((char *)c + f->count_offset));
	case INT: {
		int lo = f->min, hi = f->max ? f->max : 1024;

		setting_path(s, path, sizeof path);
		if (config_setting_type(s) != CONFIG_TYPE_INT)
			return fail(l, s, "%s: must be an integer", path);
		if (config_setting_get_int(s) < lo || config_setting_get_int(s) > hi)
			return fail(l, s, "%s: %d is out of range %d–%d", path,
				    config_setting_get_int(s), lo, hi);
		*(int *)dst = config_setting_get_int(s);
		return 0;
	case BOOL:
		setting_path(s, path, sizeof path);
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(l, s, "%s: must be true or false", path);
		*(bool *)dst = config_setting_get_bool(s) != 0;
		return 0;
	}
	}
	return -EINVAL;
}

static const struct field *find_field(const struct field *fields, size_t n, const char *name)
{
	for (size_t j = 0; j < n; j++)
		if (strcmp(fields[j].name, name) == 0)
			return &fields[j];
	return NULL;
}

static int load_group(struct loader *l, struct envol_config *c, config_setting_t *g,
		      const char *group, const struct field *fields, size_t n_fields)
{
	config_setting_t *s;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(l, g, "%s: must be a group { … }", group);
	for (int i = 0; (s = config_setting_get_elem(g, (unsigned)i)); i++) {
		const char *name = config_setting_name(s);
		const struct field *f;
		int r;

		if (strcmp(group, "kms") == 0 && strcmp(name, "credentials") == 0) {
			r = load_credentials(l, c, s);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(group, "kms") == 0 && strcmp(name, "identity_policies") == 0) {
			r = load_identity_policies(l, c, s);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(group, "server") == 0 && strcmp(name, "tls_identities") == 0) {
			r = load_identities(l, c, s);
			if (r < 0)
				return r;
			continue;
		}
		f = find_field(fields, n_fields, name);
		if (!f)
			return fail(l, s, "%s.%s: unknown setting", group, name);
		r = load_field(l, c, f, s);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_root(struct loader *l, struct envol_config *c, config_t *cf)
{
	config_setting_t *root = config_root_setting(cf), *s;

	for (int i = 0; (s = config_setting_get_elem(root, (unsigned)i)); i++) {
		const char *name = config_setting_name(s);
		int r;

		if (strcmp(name, "kms") == 0)
			r = load_group(l, c, s, "kms", kms_fields, ARRAY_SIZE(kms_fields));
		else if (strcmp(name, "server") == 0)
			r = load_group(l, c, s, "server", server_fields, ARRAY_SIZE(server_fields));
		else if (strcmp(name, "client") == 0)
			r = load_group(l, c, s, "client", client_fields, ARRAY_SIZE(client_fields));
		else if (strcmp(name, "rbd") == 0) {
			r = load_group(l, c, s, "rbd", rbd_fields, ARRAY_SIZE(rbd_fields));
			c->rbd.enabled = true;
		} else {
			const struct field *f =
			    find_field(root_fields, ARRAY_SIZE(root_fields), name);

			r = f ? load_field(l, c, f, s) : fail(l, s, "%s: unknown setting", name);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Sets *dst to printf(fmt, …) unless the file already set it. */
_printf_(2, 3) static int default_str(char **dst, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*dst)
		return 0;
	va_start(ap, fmt);
	n = vasprintf(dst, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*dst = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int default_principals(char ***dst, size_t *n, const char *account, const char *user)
{
	if (*dst)
		return 0;
	*dst = calloc(2, sizeof(**dst));
	if (!*dst || asprintf(&(*dst)[0], "arn:aws:iam::%s:user/unix/%s", account, user) < 0) {
		free(*dst);
		*dst = NULL;
		return -ENOMEM;
	}
	*n = 1;
	return 0;
}

static int apply_defaults(struct envol_config *c)
{
	int r = 0;

	r |= default_str(&c->state_dir, "/var/lib/envol");
	r |= default_str(&c->runtime_dir, "/run/envol");
	r |= default_str(&c->kms.socket, "%s/kms.sock", c->runtime_dir);
	r |= default_str(&c->kms.listen, "%s", "");
	r |= default_str(&c->kms.region, "local");
	r |= default_str(&c->kms.account_id, "000000000000");
	r |= default_str(&c->kms.database, "%s/kms.db", c->state_dir);
	r |= default_str(&c->kms.root_key_file, "%s/root.key", c->state_dir);
	r |= default_str(&c->kms.audit_log, "%s/audit.log", c->state_dir);
	r |= default_principals(&c->kms.admins, &c->kms.n_admins, c->kms.account_id, "root");
	r |= default_principals(&c->kms.services, &c->kms.n_services, c->kms.account_id, "envol");
	r |= default_str(&c->server.socket, "%s/nbd.sock", c->runtime_dir);
	r |= default_str(&c->server.listen, "%s", ""); /* Unix socket only */
	r |= default_str(&c->server.volume_dir, "%s/volumes", c->state_dir);
	r |= default_str(&c->server.backend, "file");
	r |= default_str(&c->rbd.ceph_conf, "%s", "");
	r |= default_str(&c->rbd.client_id, "admin");
	r |= default_str(&c->rbd.pool, "envol");
	r |= default_str(&c->rbd.pool_namespace, "%s", "");
	r |= default_str(&c->server.tls, "%s", ""); /* by listener: require on TCP, off on Unix */
	r |= default_str(&c->server.tls_certificates, "%s", "");
	r |= default_str(&c->server.tls_psk_file, "%s", "");
	r |= default_str(&c->kms.tls_certificates, "%s", "");
	r |= default_str(&c->client.tls_ca, "%s", "");
	r |= default_str(&c->client.tls_cert, "%s", "");
	r |= default_str(&c->client.tls_key, "%s", "");
	r |= default_str(&c->server.cipher_backend, "auto");
	if (c->server.max_connections == 0)
		c->server.max_connections = ENVOL_DEFAULT_MAX_CONNECTIONS;
	if (c->server.max_inflight_mib == 0)
		c->server.max_inflight_mib = ENVOL_DEFAULT_MAX_INFLIGHT_MIB;
	if (c->server.handshake_timeout == 0)
		c->server.handshake_timeout = ENVOL_DEFAULT_HANDSHAKE_TIMEOUT;
	if (c->client.kms_timeout == 0)
		c->client.kms_timeout = ENVOL_DEFAULT_KMS_TIMEOUT;
	r |= default_str(&c->client.kms_socket, "%s/kms.sock", c->runtime_dir);
	r |= default_str(&c->client.endpoint, "%s", "");
	r |= default_str(&c->client.access_key_id, "%s", "");
	r |= default_str(&c->client.principal, "%s", "");
	if (!c->client.secret_access_key) {
		c->client.secret_access_key = envol_secure_alloc(1);
		if (!c->client.secret_access_key)
			r = -ENOMEM;
	}
	return r ? -ENOMEM : 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct envol_config *envol_config_free(struct envol_config *c)
{
	if (!c)
		return NULL;
	free(c->path);
	free(c->state_dir);
	free(c->runtime_dir);
	free(c->kms.socket);
	free(c->kms.listen);
	free(c->kms.region);
	free(c->kms.account_id);
	free(c->kms.database);
	free(c->kms.root_key_file);
	free(c->kms.audit_log);
	strv_free(c->kms.admins, c->kms.n_admins);
	strv_free(c->kms.services, c->kms.n_services);
	for (size_t i = 0; i < c->kms.n_credentials; i++) {
		free(c->kms.credentials[i].access_key_id);
		envol_secure_free(c->kms.credentials[i].secret_access_key);
		free(c->kms.credentials[i].principal);
	}
	free(c->kms.credentials);
	for (size_t i = 0; i < c->kms.n_identity_policies; i++) {
		free(c->kms.identity_policies[i].principal);
		free(c->kms.identity_policies[i].file);
	}
	free(c->kms.identity_policies);
	free(c->kms.tls_certificates);
	free(c->server.socket);
	free(c->server.listen);
	free(c->server.volume_dir);
	free(c->server.backend);
	free(c->rbd.ceph_conf);
	free(c->rbd.client_id);
	free(c->rbd.pool);
	free(c->rbd.pool_namespace);
	free(c->server.tls);
	free(c->server.tls_certificates);
	free(c->server.tls_psk_file);
	for (size_t i = 0; i < c->server.n_tls_identities; i++) {
		free(c->server.tls_identities[i].match);
		free(c->server.tls_identities[i].principal);
	}
	free(c->server.tls_identities);
	free(c->server.cipher_backend);
	free(c->client.kms_socket);
	free(c->client.endpoint);
	free(c->client.access_key_id);
	free(c->client.principal);
	free(c->client.tls_ca);
	free(c->client.tls_cert);
	free(c->client.tls_key);
	envol_secure_free(c->client.secret_access_key);
	free(c);
	return NULL;
}

int envol_config_load(const char *path, struct envol_config **ret, char *err, size_t errlen)
{
	struct envol_config *c;
	struct loader l = { .file = path ? path : ENVOL_CONFIG_DEFAULT_PATH,
			    .err = err,
			    .errlen = errlen };
	config_t cf;
	int r = 0;

	if (err && errlen)
		err[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;

	if (!path && access(ENVOL_CONFIG_DEFAULT_PATH, F_OK) < 0 && errno == ENOENT)
		goto defaults; /* no file at the default place: built-in defaults */

	config_init(&cf);
	if (!config_read_file(&cf, l.file)) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO) {
			r = access(l.file, R_OK) < 0 ? negative_errno() : -EIO;
			envol_set_error(err, errlen, "%s: cannot read: %s", l.file, strerror(-r));
		} else {
			r = -EINVAL;
			envol_set_error(err, errlen, "%s:%d: %s", l.file, config_error_line(&cf),
					config_error_text(&cf));
		}
	} else {
		r = load_root(&l, c, &cf);
	}
	config_destroy(&cf);
	if (r < 0)
		goto fail;
	c->path = strdup(l.file);
	if (!c->path) {
		r = -ENOMEM;
		goto fail;
	}
defaults:
	r = apply_defaults(c);
	if (r < 0)
		goto fail;
	if (strcmp(c->server.backend, "rbd") == 0)
		c->rbd.enabled = true;
	*ret = c;
	return 0;
fail:
	if (r == -ENOMEM && err && !err[0])
		envol_set_error(err, errlen, "%s: out of memory", l.file);
	envol_config_free(c);
	return r;
}
