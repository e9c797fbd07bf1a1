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
/* Defaults of the limits (docs/operations.md "Limits"). */
#define ENVOL_DEFAULT_MAX_CONNECTIONS 256
#define ENVOL_DEFAULT_MAX_INFLIGHT_MIB 1024
#define ENVOL_DEFAULT_HANDSHAKE_TIMEOUT 30 /* seconds */
#define ENVOL_DEFAULT_KMS_TIMEOUT 10	   /* seconds */

/* kms.identity_policies: an IAM JSON document (file) attached to a principal ARN. */
struct envol_identity_policy {
	char *principal;
	char *file; /* absolute path */
};

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
		struct envol_identity_policy *identity_policies;
		size_t n_identity_policies;
		char *tls_certificates; /* "" = plain HTTP (TCP only with allow_plain_http) */
		bool allow_plain_http;
	} kms;
	struct {
		char *socket;
		char *listen; /* "" = no TCP listener */
		char *volume_dir;
		char *tls;		/* "off" | "on" | "require"; "" = require on TCP, off on Unix */
		char *tls_certificates; /* DIR with ca-cert.pem, server-cert.pem, server-key.pem */
		bool tls_verify_peer;
		char *tls_psk_file; /* psktool format: username:hexkey */
		bool allow_plain_tcp;
		struct envol_tls_identity *tls_identities;
		size_t n_tls_identities;
		char *backend; /* default backend of new volumes: "file" or "rbd" */
		char *cipher_backend; /* "auto" or a sector-cipher backend name (crypto/xts.h) */
		int threads; /* 0 = one per core */
		int max_connections;	/* more are closed at accept */
		int max_inflight_mib;	/* request payload buffered by all connections */
		int handshake_timeout;	/* seconds a client may take to choose an export */
	} server;
	struct {
		char *ceph_conf; /* "" = librados' search ($CEPH_CONF, /etc/ceph/ceph.conf, …) */
		char *client_id; /* cephx user without "client.": "admin" */
		char *pool;
		char *pool_namespace; /* "namespace" in the file; "" = the pool's default namespace */
		bool enabled;     /* the file has an rbd group, or server.backend = "rbd" */
	} rbd;
	struct {
		char *kms_socket;
		char *endpoint; /* "" = use kms_socket */
		char *access_key_id;
		char *secret_access_key; /* in secure memory */
		char *principal; /* envold's own principal over SigV4 when kms.credentials lacks it */
		char *tls_ca;		 /* CA file or directory for https:// endpoints; "" = system */
		char *tls_cert;		 /* client certificate (PEM); "" = none */
		char *tls_key;		 /* its key (PEM) */
		int kms_timeout;	 /* seconds for one KMS call, connecting included */
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
