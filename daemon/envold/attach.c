/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * attach.c — the KMS side of an attach (attach.h): the client's and envold's principals, the
 * grant per attached volume (CreateGrant on the client's behalf, Decrypt through it, RetireGrant
 * at detach), the DryRun that authorizes every further connection, and the clean-up at start.
 * Each call makes its own KMS client (a curl handle): attaches run in connection threads.
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attach.h"
#include "aws/kms_client.h"
#include "envold.h"
#include "util/log.h"
#include "util/macros.h"

static const struct envol_config *config;
static char own_principal[ATTACH_PRINCIPAL_MAX];

static const char *const GRANT_OPERATIONS[] = {"Decrypt"};

static void kc_freep(struct envol_kms_client **c) { envol_kms_client_free(*c); }

/* arn:aws:iam::ACCT:user/unix/<name of uid, or uid>. */
static int unix_principal(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	int n;

	if (getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &res) == 0 && res && res->pw_name &&
	    res->pw_name[0])
		n = snprintf(buf, len, "arn:aws:iam::%s:user/unix/%s", config->kms.account_id,
			     res->pw_name);
	else
		n = snprintf(buf, len, "arn:aws:iam::%s:user/unix/%u", config->kms.account_id,
			     (unsigned)uid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* envold's own principal, as the KMS knows it, into own_principal. */
static int resolve_own_principal(const struct envol_config *cfg, char *err, size_t errlen)
{
	const char *p = NULL;

	if (!(cfg->client.endpoint && *cfg->client.endpoint)) {
		if (cfg->client.principal && *cfg->client.principal)
			log_warning("client.principal is ignored on the Unix socket "
				    "client.kms_socket: the KMS knows envold by its uid");
		if (unix_principal(geteuid(), own_principal, sizeof own_principal) < 0) {
			snprintf(err, errlen, "envold's principal is too long");
			return -EINVAL;
		}
		return 0;
	}
	for (size_t i = 0; i < cfg->kms.n_credentials && !p; i++)
		if (strcmp(cfg->kms.credentials[i].access_key_id, cfg->client.access_key_id) == 0)
			p = cfg->kms.credentials[i].principal;
	if (!p && cfg->client.principal && *cfg->client.principal)
		p = cfg->client.principal;
	if (!p) {
		snprintf(err, errlen,
			 "envold's principal is unknown: client.endpoint is set and kms.credentials "
			 "has no entry for client.access_key_id; set client.principal to the "
			 "principal the KMS gives that key");
		return -EINVAL;
	}
	if (strlen(p) >= sizeof own_principal) {
		snprintf(err, errlen, "client.principal is too long");
		return -EINVAL;
	}
	snprintf(own_principal, sizeof own_principal, "%s", p);
	return 0;
}

int attach_init(const struct envol_config *cfg, char *err, size_t errlen)
{
	int r;

	config = cfg;
	r = resolve_own_principal(cfg, err, errlen);
	if (r < 0)
		return r;
	/* The KMS usually reads this same file: say now why every attach would be refused. */
	for (size_t i = 0; i < cfg->kms.n_services; i++)
		if (strcmp(cfg->kms.services[i], own_principal) == 0)
			return 0;
	log_warning("envold's principal %s is not in kms.services: if envol-kmsd reads this "
		    "configuration, it will not let envold ask for grants on behalf of clients, "
		    "and every attach will be refused (run envold as the user kms.services names, "
		    "or add %s there)",
		    own_principal, own_principal);
	return 0;
}

const char *attach_own_principal(void) { return own_principal; }

int attach_peer_principal(int fd, char *buf, size_t len)
{
	struct ucred cred;
	socklen_t clen = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return negative_errno();
	return unix_principal(cred.uid, buf, len);
}

static bool contains(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle) != NULL;
}

/*
 * The client's text for a failed KMS call of an attach (what: "CreateGrant", "Decrypt"), from
 * the errno and the KMS's "Type: message"; returns the errno the handshake acts on (-EACCES
 * becomes NBD_REP_ERR_POLICY).
 */
static int kms_failure(int r, const char *kerr, const char *name, const struct envol_volume_info *info,
		       const char *client, char *err, size_t errlen)
{
	const char *arn = info->key_arn ? info->key_arn : "?";

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
		snprintf(err, errlen, "access denied: %s may not attach volume %s (%s): %s", client,
			 name, info->uuid_str, kerr[0] ? kerr : arn);
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
	case -ENOKEY: /* NotFoundException */
		snprintf(err, errlen, "key %s not found: %s", arn, kerr);
		return -EIO;
	default:
		snprintf(err, errlen, "KMS call failed: %s", kerr[0] ? kerr : strerror(-r));
		return r == -ENOMEM ? r : -EIO;
	}
}

static int new_client(struct envol_kms_client **ret, char *err, size_t errlen)
{
	char kerr[ENVOLD_ERR_TEXT] = "";
	int r;

	r = envol_kms_client_new(config, ret, kerr, sizeof kerr);
	if (r < 0) {
		snprintf(err, errlen, "KMS unreachable: %s", kerr[0] ? kerr : strerror(-r));
		return -EHOSTDOWN;
	}
	return 0;
}

/* CreateGrant of the attach contract, on behalf of client (dry_run: only asks). */
static int create_grant(struct envol_kms_client *kc, const char *name,
			const struct envol_volume_info *info, const char *client, bool dry_run,
			struct attach_grant *g, char *err, size_t errlen)
{
	char kerr[ENVOLD_ERR_TEXT] = "", gname[sizeof ATTACH_GRANT_PREFIX + 37];
	int r;

	snprintf(gname, sizeof gname, ATTACH_GRANT_PREFIX "%s", info->uuid_str);
	r = envol_kms_client_create_grant(kc, info->key_arn, own_principal, own_principal,
					  GRANT_OPERATIONS, ARRAY_SIZE(GRANT_OPERATIONS),
					  info->context, info->n_context, gname, client, dry_run,
					  g ? &g->grant_id : NULL, g ? &g->token : NULL, kerr,
					  sizeof kerr);
	if (r < 0)
		return kms_failure(r, kerr, name, info, client, err, errlen);
	return 0;
}

static int decrypt(struct envol_kms_client *kc, const char *name,
		   const struct envol_volume_info *info, const char *client,
		   const struct attach_grant *g, uint8_t **ret_dek, size_t *ret_len, char *err,
		   size_t errlen)
{
	const char *tokens[] = {g->token};
	char kerr[ENVOLD_ERR_TEXT] = "";
	int r;

	r = envol_kms_client_decrypt_dek_with_grants(kc, info->blob, info->blob_len, info->context,
						     info->n_context, tokens, g->token ? 1 : 0,
						     ret_dek, ret_len, kerr, sizeof kerr);
	if (r < 0)
		return kms_failure(r, kerr, name, info, client, err, errlen);
	return 0;
}

static void grant_free(struct attach_grant *g)
{
	free(g->key_arn);
	free(g->grant_id);
	free(g->token);
	*g = (struct attach_grant){0};
}

static int retire(struct envol_kms_client *kc, const char *name, const struct attach_grant *g)
{
	char kerr[ENVOLD_ERR_TEXT] = "";
	int r;

	r = envol_kms_client_retire_grant(kc, g->key_arn, g->grant_id, NULL, kerr, sizeof kerr);
	if (r == -ENOENT || r == -ENOKEY) { /* InvalidGrantIdException, NotFoundException */
		log_debug("grant %s of export %s was already gone", g->grant_id, name);
		return 0;
	}
	if (r < 0)
		log_warning("cannot retire grant %s of export %s on key %s: %s", g->grant_id, name,
			    g->key_arn, kerr[0] ? kerr : strerror(-r));
	return r;
}

int attach_unwrap(const char *name, const struct envol_volume_info *info, const char *client,
		  struct attach_grant *ret_grant, uint8_t **ret_dek, size_t *ret_len, char *err,
		  size_t errlen)
{
	_cleanup_(kc_freep) struct envol_kms_client *kc = NULL;
	struct attach_grant g = {0};
	int r;

	r = new_client(&kc, err, errlen);
	if (r < 0)
		return r;
	g.key_arn = strdup(info->key_arn ? info->key_arn : "");
	if (!g.key_arn) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = create_grant(kc, name, info, client, false, &g, err, errlen);
	if (r < 0) {
		grant_free(&g);
		return r;
	}
	r = decrypt(kc, name, info, client, &g, ret_dek, ret_len, err, errlen);
	if (r < 0) {
		(void)retire(kc, name, &g);
		grant_free(&g);
		return r;
	}
	log_info("export %s: grant %s for %s created on behalf of %s", name, g.grant_id,
		 own_principal, client);
	*ret_grant = g;
	return 0;
}

int attach_authorize(const char *name, const struct envol_volume_info *info, const char *client,
		     const struct attach_grant *g, char *err, size_t errlen)
{
	_cleanup_(kc_freep) struct envol_kms_client *kc = NULL;
	uint8_t *dek = NULL;
	size_t dek_len = 0;
	int r;

	r = new_client(&kc, err, errlen);
	if (r < 0)
		return r;
	r = create_grant(kc, name, info, client, true, NULL, err, errlen);
	if (r < 0)
		return r;
	r = decrypt(kc, name, info, client, g, &dek, &dek_len, err, errlen);
	envol_secure_free(dek);
	return r;
}

void attach_retire(const char *name, struct attach_grant *g)
{
	struct envol_kms_client *kc = NULL;
	char err[ENVOLD_ERR_TEXT] = "";

	if (!g->grant_id) {
		grant_free(g);
		return;
	}
	if (new_client(&kc, err, sizeof err) < 0)
		log_warning("cannot retire grant %s of export %s: %s", g->grant_id, name, err);
	else if (retire(kc, name, g) == 0)
		log_info("export %s: grant %s retired", name, g->grant_id);
	envol_kms_client_free(kc);
	grant_free(g);
}

struct stale {
	struct envol_kms_client *kc;
	bool (*claim)(const char *uuid, void *opaque);
	void (*done)(const char *uuid, void *opaque);
	void *opaque;
	int retired;
};

static int stale_one(void *opaque, const char *key_id, const char *grant_id, const char *gname)
{
	struct stale *s = opaque;
	const char *uuid = gname + strlen(ATTACH_GRANT_PREFIX);
	struct attach_grant g = {.key_arn = (char *)key_id, .grant_id = (char *)grant_id};

	if (strncmp(gname, ATTACH_GRANT_PREFIX, strlen(ATTACH_GRANT_PREFIX)) != 0 ||
	    strlen(uuid) != 36)
		return 0;
	if (!s->claim(uuid, s->opaque))
		return 0;
	if (retire(s->kc, "(left by an earlier envold)", &g) == 0) {
		log_info("grant %s (%s) on key %s, left by an earlier envold, retired", grant_id,
			 gname, key_id);
		s->retired++;
	}
	s->done(uuid, s->opaque);
	return 0;
}

int attach_retire_stale(bool (*claim)(const char *uuid, void *opaque),
			void (*done)(const char *uuid, void *opaque), void *opaque)
{
	_cleanup_(kc_freep) struct envol_kms_client *kc = NULL;
	struct stale s = {.claim = claim, .done = done, .opaque = opaque};
	char err[ENVOLD_ERR_TEXT] = "";
	int r;

	r = new_client(&kc, err, sizeof err);
	if (r >= 0) {
		s.kc = kc;
		r = envol_kms_client_list_retirable_grants(kc, own_principal, stale_one, &s, err,
							   sizeof err);
	}
	if (r < 0) {
		log_warning("grants left by an earlier envold not retired: %s",
			    err[0] ? err : strerror(-r));
		return r;
	}
	return s.retired;
}
