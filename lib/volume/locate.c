/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * locate.c — volume names to locations across the file and RBD backends; see locate.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/config.h"
#include "util/error.h"
#include "util/macros.h"
#include "volume/backend.h"
#include "volume/locate.h"
#include "volume/name.h"
#include "volume/volume.h"

#define PART_MAX 255 /* a Ceph pool or namespace name (ENVOL_VOLUME_REF_MAX) */

/* A ref split up: pool (and namespace) empty for a bare name. */
struct ref {
	char pool[PART_MAX + 1];
	char ns[PART_MAX + 1];
	char name[ENVOL_VOLUME_NAME_MAX + 1];
};

static bool part_valid(const char *p, size_t n)
{
	return n > 0 && n <= PART_MAX && !memchr(p, '@', n) && !memchr(p, ':', n);
}

static int parse_ref(const char *text, struct ref *r)
{
	const char *a, *b, *name = text;

	*r = (struct ref){ 0 };
	if (!text)
		return -EINVAL;
	a = strchr(text, '/');
	if (a) {
		b = strchr(a + 1, '/');
		if (!part_valid(text, (size_t)(a - text)))
			return -EINVAL;
		memcpy(r->pool, text, (size_t)(a - text));
		name = a + 1;
		if (b) {
			if (!part_valid(a + 1, (size_t)(b - a - 1)))
				return -EINVAL;
			memcpy(r->ns, a + 1, (size_t)(b - a - 1));
			name = b + 1;
		}
	}
	if (!envol_volume_name_valid(name))
		return -EINVAL;
	strcpy(r->name, name);
	return 0;
}

bool envol_volume_ref_valid(const char *ref)
{
	struct ref r;

	return parse_ref(ref, &r) == 0;
}

static int setup_rbd(const struct envol_config *cfg, char *err, size_t errlen)
{
	int r = envol_backend_rbd_setup(cfg->rbd.ceph_conf, cfg->rbd.client_id);

	if (r == -EBUSY)
		return envol_fail(r, err, errlen,
				  "the Ceph settings (rbd.ceph_conf, rbd.client_id) changed after "
				  "the first connection");
	return r;
}

/* "rbd:POOL[/NS]/NAME.vol" */
static int rbd_location(const char *pool, const char *ns, const char *name, char **ret)
{
	if (asprintf(ret, "rbd:%s/%s%s%s" ENVOL_VOLUME_SUFFIX, pool, ns, ns[0] ? "/" : "", name) <
	    0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* How a volume in pool/ns is named: bare in the configured pool and namespace. */
static int make_ref(const struct envol_config *cfg, const char *pool, const char *ns,
		    const char *name, char **ret)
{
	int n;

	if (strcmp(pool, cfg->rbd.pool) == 0 && strcmp(ns, cfg->rbd.pool_namespace) == 0)
		n = asprintf(ret, "%s", name);
	else
		n = asprintf(ret, "%s/%s%s%s", pool, ns, ns[0] ? "/" : "", name);
	if (n < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int envol_volume_locate(const struct envol_config *cfg, const char *ref, char **ret_location,
			char *err, size_t errlen)
{
	_cleanup_free_ char *path = NULL;
	struct ref r;
	int rr;

	if (parse_ref(ref, &r) < 0)
		return envol_fail(-EINVAL, err, errlen, "\"%s\" is not a volume name", ref ? ref : "");
	rr = setup_rbd(cfg, err, errlen);
	if (rr < 0)
		return rr;
	if (r.pool[0])
		return rbd_location(r.pool, r.ns, r.name, ret_location);
	rr = envol_volume_name_path(cfg->server.volume_dir, r.name, &path);
	if (rr < 0)
		return rr;
	if (file_exists(path) || !cfg->rbd.enabled) {
		if (!file_exists(path))
			return envol_fail(-ENOENT, err, errlen, "no volume %s (no %s)", r.name, path);
		*ret_location = TAKE_PTR(path);
		return 0;
	}
	return rbd_location(cfg->rbd.pool, cfg->rbd.pool_namespace, r.name, ret_location);
}

/* Is there an image at location?  0: no, -EEXIST: yes, else why it cannot be told. */
static int rbd_check_free(const char *location, char *err, size_t errlen)
{
	int r = envol_volume_exists(location);

	if (r < 0)
		return envol_fail(r, err, errlen, "cannot tell whether %s exists: %s", location,
				  strerror(-r));
	return r ? -EEXIST : 0;
}

int envol_volume_locate_new(const struct envol_config *cfg, const char *name,
			    const char *backend, const char *pool, char **ret_location,
			    char **ret_ref, char *err, size_t errlen)
{
	_cleanup_free_ char *path = NULL, *rbd = NULL, *ref = NULL;
	const char *ns = cfg->rbd.pool_namespace;
	bool want_rbd;
	int r;

	if (!envol_volume_name_valid(name))
		return envol_fail(-EINVAL, err, errlen, "\"%s\" is not a valid volume name", name);
	if (!backend)
		backend = cfg->server.backend;
	if (strcmp(backend, "file") != 0 && strcmp(backend, "rbd") != 0)
		return envol_fail(-EINVAL, err, errlen, "backend \"%s\" is not file or rbd",
				  backend);
	want_rbd = strcmp(backend, "rbd") == 0;
	if (pool && !want_rbd)
		return envol_fail(-EINVAL, err, errlen, "a pool is for volumes on RBD");
	if (pool && !part_valid(pool, strlen(pool)))
		return envol_fail(-EINVAL, err, errlen, "\"%s\" is not a pool name", pool);
	if (want_rbd && !envol_backend_rbd_available())
		return envol_fail(-EPROTONOSUPPORT, err, errlen,
				  "this envol was built without Ceph RBD support");
	r = setup_rbd(cfg, err, errlen);
	if (r < 0)
		return r;

	r = envol_volume_name_path(cfg->server.volume_dir, name, &path);
	if (r < 0)
		return r;
	if (file_exists(path))
		return envol_fail(-EEXIST, err, errlen, "volume %s already exists (%s)", name, path);
	/* The name in the configured pool: the one envold would find for it. */
	if (want_rbd || cfg->rbd.enabled) {
		r = rbd_location(cfg->rbd.pool, ns, name, &rbd);
		if (r == 0)
			r = rbd_check_free(rbd, err, errlen);
		if (r == -EEXIST)
			return envol_fail(r, err, errlen, "volume %s already exists (%s)", name, rbd);
		if (r < 0)
			return r;
	}
	if (!want_rbd) {
		ref = strdup(name);
		if (!ref)
			return -ENOMEM;
		*ret_location = TAKE_PTR(path);
		*ret_ref = TAKE_PTR(ref);
		return 0;
	}
	if (pool) {
		free(rbd);
		r = rbd_location(pool, ns, name, &rbd);
		if (r < 0)
			return r;
	}
	r = make_ref(cfg, pool ? pool : cfg->rbd.pool, ns, name, &ref);
	if (r < 0)
		return r;
	*ret_location = TAKE_PTR(rbd);
	*ret_ref = TAKE_PTR(ref);
	return 0;
}

void envol_volume_entries_free(struct envol_volume_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].ref);
		free(e[i].location);
	}
	free(e);
}

static int cmp_entries(const void *a, const void *b)
{
	const struct envol_volume_entry *x = a, *y = b;

	return strcmp(x->ref, y->ref);
}

struct entries {
	struct envol_volume_entry *e;
	size_t n, cap;
};

/* Adds one entry, taking ref and location (freed on failure). */
static int entries_add(struct entries *l, char *ref, char *location, bool import)
{
	if (!ref || !location) {
		free(ref);
		free(location);
		return -ENOMEM;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct envol_volume_entry *ne = realloc(l->e, cap * sizeof(*ne));

		if (!ne) {
			free(ref);
			free(location);
			return -ENOMEM;
		}
		l->e = ne;
		l->cap = cap;
	}
	l->e[l->n++] =
		(struct envol_volume_entry){ .ref = ref, .location = location, .import = import };
	return 0;
}

/* The images NAME.vol of pool/ns, as entries. */
static int add_rbd(const struct envol_config *cfg, const char *pool, struct entries *l,
		   char *err, size_t errlen)
{
	const char *ns = cfg->rbd.pool_namespace;
	size_t slen = strlen(ENVOL_VOLUME_SUFFIX), n = 0;
	char **images = NULL;
	int r;

	r = envol_backend_rbd_list(pool, ns, &images, &n, err, errlen);
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t len = strlen(images[i]);
		char name[ENVOL_VOLUME_NAME_MAX + 1], *ref = NULL, *location = NULL;

		if (len <= slen || len - slen > ENVOL_VOLUME_NAME_MAX ||
		    strcmp(images[i] + len - slen, ENVOL_VOLUME_SUFFIX) != 0)
			continue;
		snprintf(name, sizeof name, "%.*s", (int)(len - slen), images[i]);
		if (!envol_volume_name_valid(name))
			continue;
		if (make_ref(cfg, pool, ns, name, &ref) < 0 ||
		    rbd_location(pool, ns, name, &location) < 0) {
			free(ref);
			r = -ENOMEM;
			break;
		}
		r = entries_add(l, ref, location, envol_volume_name_is_import(name, NULL));
	}
	envol_volume_name_list_free(images, n);
	return r;
}

int envol_volume_list_all(const struct envol_config *cfg, const char *pool,
			  struct envol_volume_entry **ret, size_t *ret_n, char *rbd_err,
			  size_t rbd_errlen)
{
	struct entries l = { 0 };
	int r = 0;

	if (rbd_err && rbd_errlen)
		rbd_err[0] = 0;
	for (int imports = 0; r == 0 && imports < 2; imports++) {
		char **names = NULL;
		size_t n = 0;

		r = imports ? envol_volume_name_list_imports(cfg->server.volume_dir, &names, &n)
			    : envol_volume_name_list(cfg->server.volume_dir, &names, &n);
		for (size_t i = 0; r == 0 && i < n; i++) {
			char *path = NULL;

			r = envol_volume_name_path(cfg->server.volume_dir, names[i], &path);
			if (r == 0)
				r = entries_add(&l, strdup(names[i]), path, imports);
		}
		envol_volume_name_list_free(names, n);
	}
	if (r == 0 && (pool || cfg->rbd.enabled)) {
		char e[512] = "";
		int rr = setup_rbd(cfg, e, sizeof e);

		if (rr == 0)
			rr = add_rbd(cfg, pool ? pool : cfg->rbd.pool, &l, e, sizeof e);
		if (rr == -ENOMEM)
			r = rr;
		else if (rr < 0)
			envol_set_error(rbd_err, rbd_errlen, "%s", e[0] ? e : strerror(-rr));
	}
	if (r < 0) {
		envol_volume_entries_free(l.e, l.n);
		return r;
	}
	if (l.n)
		qsort(l.e, l.n, sizeof(*l.e), cmp_entries);
	*ret = l.e;
	*ret_n = l.n;
	return 0;
}

int envol_volume_rename_to(const char *location, const char *name, char **ret_location,
			   char *err, size_t errlen)
{
	const struct envol_backend_type *type = envol_backend_type_for(location);
	_cleanup_free_ char *to = NULL;
	const char *slash = location ? strrchr(location, '/') : NULL;
	int r;

	if (!slash || !envol_volume_name_valid(name))
		return envol_fail(-EINVAL, err, errlen, "cannot rename %s to %s", location ? location : "",
				  name ? name : "");
	if (asprintf(&to, "%.*s/%s" ENVOL_VOLUME_SUFFIX, (int)(slash - location), location,
		     name) < 0) {
		to = NULL;
		return -ENOMEM;
	}
	r = type->rename ? type->rename(location, to) : -EOPNOTSUPP;
	if (r < 0)
		return envol_fail(r, err, errlen, "cannot rename %s to %s: %s", location, to,
				  strerror(-r));
	if (ret_location)
		*ret_location = TAKE_PTR(to);
	return 0;
}
