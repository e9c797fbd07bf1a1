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
	} kms;
	struct {
		char *socket;
		char *listen; /* "" = no TCP listener */
		char *volume_dir;
		char *backend; /* default backend of new volumes: "file" or "rbd" */
		int threads;   /* 0 = one per core */
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
