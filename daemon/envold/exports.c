/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exports.c — the export registry: every volume is an export of its name, whether it is
 * <volume_dir>/NAME.vol or an RBD image NAME.vol in the configured pool (volume/locate.h; a
 * volume in another pool is export POOL/NAME).  The first
 * connection to reach transmission attaches the volume (design.md "The EBS flow": open and lock,
 * KMS Decrypt with the header's encryption context, DEK into secure memory, header MAC checked);
 * later ones share it after the KMS has authorised them too (a disabled key refuses new
 * clients, open ones keep working); the last one to leave flushes and closes it, wiping the DEK.
 * The registry mutex guards the list and the states, and is never held across a KMS call or a
 * volume open: the first attach of a volume enters it as EXPORT_ATTACHING and works unlocked,
 * later connections to the same volume wait for it on attach_cond, and listing, other attaches
 * and detaches go on meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/encoding.h"
#include "envold.h"
#include "aws/kms_client.h"
#include "util/log.h"
#include "util/secure_mem.h"
#include "volume/header.h"
#include "volume/locate.h"
#include "volume/name.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t attach_cond = PTHREAD_COND_INITIALIZER;
static struct export *registry;
static unsigned n_attached;
static const struct envol_config *config;
static bool read_only_all;

int exports_init(const struct envol_config *cfg, bool force_read_only)
{
	config = cfg;
	read_only_all = force_read_only;
	return 0;
}

void exports_done(void)
{
	pthread_mutex_lock(&registry_lock);
	while (registry) {
		struct export *e = registry;

		registry = e->next;
		if (e->state != EXPORT_ATTACHED)
			continue; /* its attach thread owns it */
		log_warning("closing export %s with %u connection(s) still open", e->name, e->refs);
		(void)envol_volume_flush(e->vol);
		envol_volume_close(e->vol);
		free(e);
	}
	n_attached = 0;
	pthread_mutex_unlock(&registry_lock);
}

int exports_list(char ***ret_names, size_t *ret_n)
{
	struct envol_volume_entry *e = NULL;
	char rbd_err[ENVOLD_ERR_TEXT] = "", **names;
	size_t n = 0;
	int r;

	r = envol_volume_list_all(config, NULL, &e, &n, rbd_err, sizeof rbd_err);
	if (r < 0)
		return r;
	if (rbd_err[0])
		log_warning("listing the RBD volumes failed: %s", rbd_err);
	names = calloc(n + 1, sizeof(*names));
	if (!names) {
		envol_volume_entries_free(e, n);
		return -ENOMEM;
	}
	*ret_n = 0;
	for (size_t i = 0; i < n; i++)
		if (!e[i].import) /* unfinished imports are attachable, not listed */
			names[(*ret_n)++] = TAKE_PTR(e[i].ref);
	envol_volume_entries_free(e, n);
	*ret_names = names;
	return 0;
}

static struct export *find_locked(const char *name)
{
	for (struct export *e = registry; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void unlink_locked(struct export *e)
{
	for (struct export **pp = &registry; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
}

static void describe(const struct envol_volume_info *info, bool ro, char *buf, size_t len)
{
	snprintf(buf, len, "envol volume %s, key %s, AES-256-XTS%s", info->uuid_str,
		 info->key_arn ? info->key_arn : "?", ro ? ", read-only" : "");
}

void exports_describe(const struct export *e, char *buf, size_t len)
{
	describe(e->info, e->read_only, buf, len);
}

/* The location of export NAME; -ENOENT with a message when NAME is not an export. */
static int export_path(const char *name, char **ret_path, char *err, size_t errlen)
{
	char lerr[ENVOLD_ERR_TEXT] = "";
	int r;

	if (!envol_volume_ref_valid(name)) {
		snprintf(err, errlen,
			 "no export named '%.80s' (volume names match "
			 "[A-Za-z0-9][A-Za-z0-9._-]{0,63}, or POOL/NAME on Ceph)",
			 name);
		return -ENOENT;
	}
	r = envol_volume_locate(config, name, ret_path, lerr, sizeof lerr);
	if (r == -ENOENT) {
		snprintf(err, errlen, "no export named '%s'", name);
		return -ENOENT;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot find volume %s: %s", name,
			 lerr[0] ? lerr : strerror(-r));
		return r;
	}
	return 0;
}

/* Text for a volume that is locked by someone else. */
static void busy_text(const char *path, char *err, size_t errlen)
{
	char holder[256] = "";
	bool locked = false;

	if (envol_volume_query_lock(path, &locked, holder, sizeof holder) == 0 && locked &&
	    holder[0])
		snprintf(err, errlen, "volume is in use by %s", holder);
	else
		snprintf(err, errlen, "volume is in use by another process");
}

int exports_facts(const char *name, struct export_facts *ret, char *err, size_t errlen)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ struct envol_volume_header *h = NULL;
	struct export *e;
	char verr[ENVOLD_ERR_TEXT] = "", uuid[37];
	int r;

	r = export_path(name, &path, err, errlen);
	if (r < 0)
		return r;
	pthread_mutex_lock(&registry_lock);
	e = find_locked(name);
	if (e && e->state == EXPORT_ATTACHED) {
		ret->size = e->info->size;
		ret->sector_size = e->info->sector_size;
		ret->read_only = e->read_only;
		describe(e->info, e->read_only, ret->description, sizeof ret->description);
		pthread_mutex_unlock(&registry_lock);
		return 0;
	}
	pthread_mutex_unlock(&registry_lock);

	/* not attached here: read the header without a lock, so nobody's attach is disturbed */
	h = malloc(sizeof *h);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = envol_volume_read_header(path, h, verr, sizeof verr);
	if (r == -ENOENT) {
		snprintf(err, errlen, "no export named '%s'", name); /* no RBD image either */
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read volume %s: %s", name,
			 verr[0] ? verr : strerror(-r));
		return r;
	}
	envol_uuid_format(h->uuid, uuid);
	ret->size = h->size;
	ret->sector_size = h->sector_size;
	ret->read_only = read_only_all || (h->flags & ENVOL_HEADER_FLAG_READ_ONLY);
	snprintf(ret->description, sizeof ret->description,
		 "envol volume %s, key %s, AES-256-XTS%s", uuid, h->key_arn,
		 ret->read_only ? ", read-only" : "");
	return 0;
}

static bool contains(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

/* KMS Decrypt of the volume's wrapped DEK, with a message for the client on failure. */
static int unwrap_dek(const struct envol_volume_info *info, uint8_t **ret_dek, size_t *ret_len,
		      char *err, size_t errlen)
{
	struct envol_kms_client *kc = NULL;
	char kerr[ENVOLD_ERR_TEXT] = "";
	const char *arn = info->key_arn ? info->key_arn : "?";
	int r;

	r = envol_kms_client_new(config, &kc, kerr, sizeof kerr);
	if (r < 0) {
		snprintf(err, errlen, "KMS unreachable: %s", kerr[0] ? kerr : strerror(-r));
		return -EHOSTDOWN;
	}
	r = envol_kms_client_decrypt_dek(kc, info->blob, info->blob_len, info->context,
					 info->n_context, ret_dek, ret_len, kerr, sizeof kerr);
	envol_kms_client_free(kc);
	if (r >= 0)
		return 0;
	switch (r) {
	case -EKEYREVOKED:
		if (contains(kerr, "DisabledException"))
			snprintf(err, errlen, "key %s is disabled (DisabledException)", arn);
		else if (contains(kerr, "deletion"))
			snprintf(err, errlen,
				 "key %s is pending deletion (KMSInvalidStateException)", arn);
		else
			snprintf(err, errlen, "key %s cannot be used: %s", arn, kerr);
		return -EKEYREVOKED;
	case -EACCES:
	case -EPERM:
		snprintf(err, errlen, "access denied: %s", kerr[0] ? kerr : arn);
		return -EACCES;
	case -EBADMSG:
		/* The KMS's message says which: key gone, or blob/context changed. */
		snprintf(err, errlen, "the KMS cannot unwrap the volume's key: %s",
			 kerr[0] ? kerr : "InvalidCiphertextException");
		return -EBADMSG;
	case -EHOSTDOWN:
	case -ECONNREFUSED:
	case -ENOENT:
	case -ETIMEDOUT:
		snprintf(err, errlen, "KMS unreachable: %s", kerr[0] ? kerr : strerror(-r));
		return -EHOSTDOWN;
	default:
		if (contains(kerr, "NotFoundException"))
			snprintf(err, errlen, "key %s not found: %s", arn, kerr);
		else
			snprintf(err, errlen, "KMS Decrypt failed: %s",
				 kerr[0] ? kerr : strerror(-r));
		return r;
	}
}

/* Opens the volume and attaches its key into e (EXPORT_ATTACHING, no lock held). */
static int attach_unlocked(const char *name, struct export *e, char *err, size_t errlen)
{
	_cleanup_free_ char *path = NULL;
	struct envol_volume *v = NULL;
	const struct envol_volume_info *info;
	uint8_t *dek = NULL;
	size_t dek_len = 0;
	char verr[ENVOLD_ERR_TEXT] = "";
	int r;

	r = export_path(name, &path, err, errlen);
	if (r < 0)
		return r;
	r = envol_volume_open(path, !read_only_all, &v, verr, sizeof verr);
	if (r >= 0 && !read_only_all && envol_volume_get_info(v)->read_only) {
		/* a read-only volume is shared-locked like a read-only export */
		envol_volume_close(v);
		v = NULL;
		r = envol_volume_open(path, false, &v, verr, sizeof verr);
	}
	if (r < 0) {
		if (r == -EBUSY || r == -EAGAIN)
			busy_text(path, err, errlen);
		else if (r == -ENOENT)
			snprintf(err, errlen, "no export named '%s'", name);
		else
			snprintf(err, errlen, "cannot open volume %s: %s", name,
				 verr[0] ? verr : strerror(-r));
		return r == -EAGAIN ? -EBUSY : r;
	}
	info = envol_volume_get_info(v);
	r = unwrap_dek(info, &dek, &dek_len, err, errlen);
	if (r < 0)
		goto fail;
	r = envol_volume_attach_key(v, dek, dek_len, verr, sizeof verr);
	dek = envol_secure_free(dek);
	if (r < 0) {
		if (r == -EBADMSG)
			snprintf(err, errlen, "header MAC mismatch: tampered header or wrong key");
		else
			snprintf(err, errlen, "cannot attach the key: %s",
				 verr[0] ? verr : strerror(-r));
		goto fail;
	}
	e->vol = v;
	e->info = info;
	e->read_only = read_only_all || info->read_only;
	e->inline_io = strcmp(envol_volume_backend_name(path), "file") == 0;
	log_info("export %s attached (volume %s at %s, key %s%s)", name, info->uuid_str, path,
		 info->key_arn, e->read_only ? ", read-only" : "");
	return 0;
fail:
	envol_volume_close(v);
	return r;
}

int exports_attach(const char *name, struct export **ret, char *err, size_t errlen)
{
	struct export *e;
	uint8_t *dek = NULL;
	size_t dek_len = 0;
	int r = 0;

	pthread_mutex_lock(&registry_lock);
	e = find_locked(name);
	if (!e) {
		/* the first: enter the volume as attaching, then work without the lock */
		e = calloc(1, sizeof *e);
		if (!e) {
			pthread_mutex_unlock(&registry_lock);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		snprintf(e->name, sizeof e->name, "%s", name);
		e->state = EXPORT_ATTACHING;
		e->refs = 1;
		e->next = registry;
		registry = e;
		pthread_mutex_unlock(&registry_lock);

		r = attach_unlocked(name, e, err, errlen);

		pthread_mutex_lock(&registry_lock);
		if (r < 0) {
			e->state = EXPORT_FAILED;
			e->attach_error = r;
			snprintf(e->attach_err, sizeof e->attach_err, "%s", err);
			unlink_locked(e);
			if (--e->refs == 0)
				free(e);
		} else {
			e->state = EXPORT_ATTACHED;
			n_attached++;
			*ret = e;
		}
		pthread_cond_broadcast(&attach_cond);
		pthread_mutex_unlock(&registry_lock);
		if (r < 0)
			log_warning("attach of export %s refused: %s", name, err);
		return r;
	}
	e->refs++; /* keeps e and its info alive while we wait and ask the KMS */
	while (e->state == EXPORT_ATTACHING)
		pthread_cond_wait(&attach_cond, &registry_lock);
	if (e->state == EXPORT_FAILED) {
		/* the attach this connection waited for failed: same answer */
		r = e->attach_error;
		snprintf(err, errlen, "%s", e->attach_err);
		if (--e->refs == 0)
			free(e);
		pthread_mutex_unlock(&registry_lock);
		log_warning("connection to export %s refused: %s", name, err);
		return r;
	}
	pthread_mutex_unlock(&registry_lock);

	/*
	 * Already attached: the DEK in memory is shared, but every new connection is still
	 * authorised by the KMS (Decrypt of the same blob, answer wiped at once), so a disabled
	 * or scheduled-for-deletion key refuses new clients while open ones keep working.
	 */
	r = unwrap_dek(e->info, &dek, &dek_len, err, errlen);
	envol_secure_free(dek);
	if (r < 0) {
		log_warning("connection to export %s refused: %s", name, err);
		exports_release(e);
		return r;
	}
	*ret = e;
	return 0;
}

void exports_release(struct export *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&registry_lock);
	if (--e->refs == 0) {
		int r;

		unlink_locked(e);
		r = envol_volume_flush(e->vol);
		if (r < 0 && r != -EROFS)
			log_error_errno(r, "flush of export %s at detach failed: %m", e->name);
		envol_volume_close(e->vol); /* wipes the DEK, releases the lock */
		n_attached--;
		log_info("export %s detached, key wiped", e->name);
		free(e);
	}
	pthread_mutex_unlock(&registry_lock);
}

unsigned exports_attached_count(void)
{
	unsigned n;

	pthread_mutex_lock(&registry_lock);
	n = n_attached;
	pthread_mutex_unlock(&registry_lock);
	return n;
}

void exports_flush_all(void)
{
	pthread_mutex_lock(&registry_lock);
	for (struct export *e = registry; e; e = e->next) {
		int r;

		if (e->state != EXPORT_ATTACHED)
			continue;
		r = envol_volume_flush(e->vol);

		if (r < 0 && r != -EROFS)
			log_error_errno(r, "flush of export %s failed: %m", e->name);
	}
	pthread_mutex_unlock(&registry_lock);
}
