/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config.h — the one libconfig file all three programs read (default /etc/envol/envol.conf,
 * names fixed by design.md).  Unknown settings and bad values are errors naming the file, the
 * line and the setting.  Paths left unset are derived from state_dir and runtime_dir.
 */
#ifndef ENVOL_CONFIG_H
#define ENVOL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define ENVOL_CONFIG_DEFAULT_PATH "/etc/envol/envol.conf"

struct envol_credential {
	char *access_key_id;
	char *secret_access_key; /* in secure memory */
	char *principal;
};

/* server.tls_identities: a TLS client identity and the principal it acts as. */
struct envol_tls_identity {
	char *match;	 /* "CN=…,O=…" (RFC 4514 subject), "sha256:<hex>", or a PSK username */
	char *principal; /* arn:… */
};

struct envol_config {
	char *path; /* the file read, or NULL when defaults only */
	char *state_dir;
	char *runtime_dir;
	struct {
		char *socket;
		char *listen; /* "" = no TCP listener */
		char *region;
		char *account_id;
		char *database;
		char *root_key_file;
		char *audit_log;
		char **admins;
		size_t n_admins;
		char **services;
		size_t n_services;
		struct envol_credential *credentials;
		size_t n_credentials;
		char *tls_certificates; /* "" = plain HTTP (TCP only with allow_plain_http) */
		bool allow_plain_http;
	} kms;
	struct {
		char *socket;
		char *listen; /* "" = no TCP listener */
		char *volume_dir;
		int threads; /* 0 = one per core */
		char *tls;		/* "off" | "on" | "require"; "" = require on TCP, off on Unix */
		char *tls_certificates; /* DIR with ca-cert.pem, server-cert.pem, server-key.pem */
		bool tls_verify_peer;
		char *tls_psk_file; /* psktool format: username:hexkey */
		bool allow_plain_tcp;
		struct envol_tls_identity *tls_identities;
		size_t n_tls_identities;
	} server;
	struct {
		char *kms_socket;
		char *endpoint; /* "" = use kms_socket */
		char *access_key_id;
		char *secret_access_key; /* in secure memory */
		char *tls_ca;		 /* CA file or directory for https:// endpoints; "" = system */
		char *tls_cert;		 /* client certificate (PEM); "" = none */
		char *tls_key;		 /* its key (PEM) */
	} client;
};

/*
 * path NULL means ENVOL_CONFIG_DEFAULT_PATH, and a missing default file means built-in defaults;
 * an explicitly named file must exist.  On error returns -EINVAL (or -errno) and writes a
 * message like "envol.conf:12: kms.region: must be a string" into err.
 */
int envol_config_load(const char *path, struct envol_config **ret, char *err, size_t errlen);
struct envol_config *envol_config_free(struct envol_config *c);

#endif
