/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exports.c — the export registry: every volume is an export of its name, whether it is
 * <volume_dir>/NAME.vol or an RBD image NAME.vol in the configured pool (volume/locate.h; a
 * volume in another pool is export POOL/NAME).  The first
 * connection to reach transmission attaches the volume as EBS does (attach.c; design.md "The
 * EBS flow"): open and lock, CreateGrant on the client's behalf for envold (Decrypt under the
 * volume's encryption context), Decrypt through it, DEK into secure memory, header MAC checked;
 * later ones share it after the KMS has authorised their clients too (CreateGrant DryRun, and a
 * Decrypt through the grant: a disabled key refuses new clients, open ones keep working); the
 * last one to leave flushes and closes it, wiping the DEK, and retires the grant.
 * The registry mutex guards the list and the states, and is never held across a KMS call or a
 * volume open: the first attach of a volume enters it as EXPORT_ATTACHING and works unlocked,
 * later connections to the same volume wait for it on attach_cond, and listing, other attaches
 * and detaches go on meanwhile; a volume whose grant is being retired (EXPORT_DETACHING) is
 * attached again only once that is done.  At start a thread retires the grants an earlier
 * envold left (exports_retire_stale_start()); retiring_uuid keeps it and an attach of the same
 * volume apart.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"
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
static char retiring_uuid[37]; /* the stale grant being retired at start, "" if none */

int exports_init(const struct envol_config *cfg, bool force_read_only)
{
	config = cfg;
	read_only_all = force_read_only;
	return 0;
}

void exports_done(void)
{
	struct export *left = NULL;

	pthread_mutex_lock(&registry_lock);
	while (registry) {
		struct export *e = registry;

		registry = e->next;
		if (e->state != EXPORT_ATTACHED)
			continue; /* its attach or detach thread owns it */
		log_warning("closing export %s with %u connection(s) still open", e->name, e->refs);
		(void)envol_volume_flush(e->vol);
		envol_volume_close(e->vol);
		e->next = left;
		left = e;
	}
	n_attached = 0;
	pthread_mutex_unlock(&registry_lock);
	while (left) {
		struct export *e = left;

		left = e->next;
		attach_retire(e->name, &e->grant);
		free(e);
	}
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

/*
 * e's volume is open: publishes its UUID, so the start-up clean-up leaves its grant alone, and
 * waits while that clean-up retires a grant of the same volume.
 */
static void publish_uuid(struct export *e, const char *uuid)
{
	pthread_mutex_lock(&registry_lock);
	snprintf(e->uuid, sizeof e->uuid, "%s", uuid);
	while (strcmp(retiring_uuid, uuid) == 0)
		pthread_cond_wait(&attach_cond, &registry_lock);
	pthread_mutex_unlock(&registry_lock);
}

/* Opens the volume and attaches its key into e for client (EXPORT_ATTACHING, no lock held). */
static int attach_unlocked(const char *name, const char *client, struct export *e, char *err,
			   size_t errlen)
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
	publish_uuid(e, info->uuid_str);
	r = attach_unwrap(name, info, client, &e->grant, &dek, &dek_len, err, errlen);
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
	log_info("export %s attached for %s (volume %s at %s, key %s%s)", name, client,
		 info->uuid_str, path, info->key_arn, e->read_only ? ", read-only" : "");
	return 0;
fail:
	envol_volume_close(v);
	attach_retire(name, &e->grant);
	return r;
}

int exports_attach(const char *name, const char *client, struct export **ret, char *err,
		   size_t errlen)
{
	struct export *e;
	int r = 0;

	pthread_mutex_lock(&registry_lock);
again:
	e = find_locked(name);
	if (e && e->state == EXPORT_DETACHING) {
		/* its grant is being retired: attach afresh once it is gone */
		pthread_cond_wait(&attach_cond, &registry_lock);
		goto again;
	}
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

		r = attach_unlocked(name, client, e, err, errlen);

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
			log_warning("attach of export %s for %s refused: %s", name, client, err);
		return r;
	}
	e->refs++; /* keeps e and its info alive while we wait and ask the KMS */
	while (e->state == EXPORT_ATTACHING)
		pthread_cond_wait(&attach_cond, &registry_lock);
	if (e->state == EXPORT_FAILED) {
		bool denied = e->attach_error == -EACCES;

		/* the attach this connection waited for failed: same answer, unless it was its
		 * client that was refused (then this one asks for itself) */
		r = e->attach_error;
		snprintf(err, errlen, "%s", e->attach_err);
		if (--e->refs == 0)
			free(e);
		if (denied)
			goto again;
		pthread_mutex_unlock(&registry_lock);
		log_warning("connection to export %s refused: %s", name, err);
		return r;
	}
	pthread_mutex_unlock(&registry_lock);

	/*
	 * Already attached: the DEK in memory is shared, but every new connection's client is
	 * authorized by the KMS (CreateGrant DryRun on its behalf), and a Decrypt through the
	 * grant (answer wiped at once) checks that the key is still usable, so a disabled or
	 * scheduled-for-deletion key refuses new clients while open ones keep working.
	 */
	r = attach_authorize(name, e->info, client, &e->grant, err, errlen);
	if (r < 0) {
		log_warning("connection to export %s for %s refused: %s", name, client, err);
		exports_release(e);
		return r;
	}
	*ret = e;
	return 0;
}

void exports_release(struct export *e)
{
	int r;

	if (!e)
		return;
	pthread_mutex_lock(&registry_lock);
	if (--e->refs > 0) {
		pthread_mutex_unlock(&registry_lock);
		return;
	}
	r = envol_volume_flush(e->vol);
	if (r < 0 && r != -EROFS)
		log_error_errno(r, "flush of export %s at detach failed: %m", e->name);
	envol_volume_close(e->vol); /* wipes the DEK, releases the lock */
	e->vol = NULL;
	e->info = NULL;
	e->state = EXPORT_DETACHING;
	n_attached--;
	pthread_mutex_unlock(&registry_lock);

	attach_retire(e->name, &e->grant); /* a KMS call: without the lock */
	log_info("export %s detached, key wiped, grant retired", e->name);

	pthread_mutex_lock(&registry_lock);
	unlink_locked(e);
	pthread_cond_broadcast(&attach_cond);
	pthread_mutex_unlock(&registry_lock);
	free(e);
}

/* The start-up clean-up may retire the stale grant of volume uuid unless it is attached here. */
static bool stale_claim(const char *uuid, void *opaque)
{
	bool mine = true;

	pthread_mutex_lock(&registry_lock);
	for (struct export *e = registry; e; e = e->next)
		if (strcmp(e->uuid, uuid) == 0)
			mine = false;
	if (mine)
		snprintf(retiring_uuid, sizeof retiring_uuid, "%s", uuid);
	pthread_mutex_unlock(&registry_lock);
	return mine;
}

static void stale_done(const char *uuid, void *opaque)
{
	pthread_mutex_lock(&registry_lock);
	retiring_uuid[0] = '\0';
	pthread_cond_broadcast(&attach_cond);
	pthread_mutex_unlock(&registry_lock);
}

static void *stale_thread(void *arg)
{
	int n = attach_retire_stale(stale_claim, stale_done, NULL);

	if (n > 0)
		log_info("%d grant(s) left by an earlier envold retired", n);
	return NULL;
}

static pthread_t stale_tid;
static bool stale_started;

int exports_retire_stale_start(void)
{
	int r = -pthread_create(&stale_tid, NULL, stale_thread, NULL);

	stale_started = r == 0;
	return r;
}

/*
 * Joined before envold exits: the thread uses libcurl and OpenSSL, whose global state exit()
 * tears down (a stop right after the start crashed it inside OPENSSL_init_crypto()).
 */
void exports_retire_stale_stop(void)
{
	if (stale_started)
		(void)pthread_join(stale_tid, NULL);
	stale_started = false;
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
