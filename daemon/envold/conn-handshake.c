/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conn-handshake.c — the handshake of one connection: the socket and the exports behind
 * lib/nbd/handshake.c (docs/nbd-handshake.md), NBD_OPT_STARTTLS, and the client's principal
 * (its TLS identity's, else its Unix peer credentials'; attach.c authorizes it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn-internal.h"
#include "tls.h"
#include "util/log.h"

/* ---- handshake: the socket and the exports behind lib/nbd/handshake.c ---- */

static int hs_read(void *opaque, void *buf, size_t n)
{
	struct conn *c = opaque;

	return conn_read_full(c, buf, n, &c->hs_deadline);
}

static int hs_write(void *opaque, const void *buf, size_t n)
{
	return conn_send_blocking(opaque, buf, n);
}

static uint16_t transmission_flags(bool read_only)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		     NBD_FLAG_SEND_CACHE | NBD_FLAG_CAN_MULTI_CONN;

	if (read_only)
		f |= NBD_FLAG_READ_ONLY;
	else
		f |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
	return f;
}

/* What envold advertises for an export: flags, block sizes (min = sector size), description. */
static void export_info(const struct export_facts *f, struct nbd_export_info *ret)
{
	ret->size = f->size;
	ret->transmission_flags = transmission_flags(f->read_only);
	ret->min_block = f->sector_size;
	ret->preferred_block = f->sector_size > 4096 ? f->sector_size : 4096;
	ret->max_block = NBD_MAX_PAYLOAD;
	snprintf(ret->description, sizeof ret->description, "%s", f->description);
}

static void attached_facts(const struct export *e, struct export_facts *ret)
{
	ret->size = e->info->size;
	ret->sector_size = e->info->sector_size;
	ret->read_only = e->read_only;
	exports_describe(e, ret->description, sizeof ret->description);
}

/* Client texts are as long as the registry writes them (ENVOLD_ERR_TEXT). */
static size_t err_cap(size_t errlen) { return errlen < ENVOLD_ERR_TEXT ? errlen : ENVOLD_ERR_TEXT; }

/* The export registry (exports.c): every volume in server.volume_dir, attached on open. */

static int registry_list(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err,
			 size_t errlen)
{
	struct export_facts f;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = exports_list(&names, &n);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the volume directory");
		return r;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		char ferr[ENVOLD_ERR_TEXT];

		if (exports_facts(names[i], &f, ferr, sizeof ferr) < 0)
			snprintf(f.description, sizeof f.description, "%s", ferr);
		r = emit(ctx, names[i], f.description);
	}
	envol_volume_name_list_free(names, n);
	return r;
}

static int registry_describe(void *opaque, const char *name, struct nbd_export_info *ret,
			     char *err, size_t errlen)
{
	struct export_facts f;
	int r;

	r = exports_facts(name, &f, err, err_cap(errlen));
	if (r < 0)
		return r;
	export_info(&f, ret);
	return 0;
}

/*
 * Who the client is (what its attach is authorized as): its TLS identity's principal; else, on
 * the Unix socket, its peer credentials; else (TCP without a mapped identity) nobody: -EACCES.
 */
static int client_principal(struct conn *c, char *buf, size_t len, char *err, size_t errlen)
{
	const char *p = conn_principal(c);
	int r;

	if (p) {
		snprintf(buf, len, "%s", p);
		return 0;
	}
	if (!c->tcp) {
		r = attach_peer_principal(c->fd, buf, len);
		if (r >= 0)
			return 0;
		snprintf(err, errlen, "no client identity: the peer credentials of the connection: %s",
			 strerror(-r));
		return -EACCES;
	}
	if (c->tls)
		snprintf(err, errlen,
			 "no client identity: TLS client '%s' is not mapped to a principal "
			 "(server.tls_identities)",
			 tls_session_identity(c->tls));
	else
		snprintf(err, errlen,
			 "no client identity: a TCP client must present a TLS identity that "
			 "server.tls_identities maps to a principal");
	return -EACCES;
}

static int registry_open(void *opaque, const char *name, struct nbd_export_info *ret,
			 void **ret_export, char *err, size_t errlen)
{
	struct conn *c = opaque;
	char client[ATTACH_PRINCIPAL_MAX];
	struct export_facts f;
	struct export *e;
	int r;

	r = client_principal(c, client, sizeof client, err, err_cap(errlen));
	if (r < 0) {
		log_warning("attach %s refused: %s", name, err);
		return r;
	}
	r = exports_attach(name, client, &e, err, err_cap(errlen));
	if (r < 0)
		return r;
	if (c->tls)
		log_info("attach %s: TLS client '%s' as principal %s", name,
			 tls_session_identity(c->tls), client);
	attached_facts(e, &f);
	export_info(&f, ret);
	*ret_export = e;
	return 0;
}

static void registry_release(void *opaque, void *export) { exports_release(export); }

static enum nbd_tls_mode conn_tls_mode(void *opaque)
{
	struct conn *c = opaque;

	return tls_mode_for(c->tcp);
}

/* NBD_OPT_STARTTLS acknowledged: the TLS handshake, then the client identity. */
static int conn_starttls(void *opaque, char *err, size_t errlen)
{
	struct conn *c = opaque;
	int r;

	r = tls_session_start(c->fd, tls_mode_for(c->tcp) == NBD_TLS_REQUIRE, &c->tls, err,
			      err_cap(errlen));
	if (r < 0 && !c->tls) {
		log_warning("NBD client refused: %s", err);
		return r;
	}
	if (r < 0)
		log_warning("NBD client refused: %s", err);
	else
		log_debug("TLS up: client '%s', principal %s", tls_session_identity(c->tls),
			  conn_principal(c) ? conn_principal(c) : "(none)");
	return r;
}

const char *conn_principal(struct conn *c)
{
	return c->tls ? tls_session_principal(c->tls) : NULL;
}

const struct nbd_server_ops conn_registry_ops = {
    .list = registry_list,
    .describe = registry_describe,
    .open = registry_open,
    .release = registry_release,
    .tls_mode = conn_tls_mode,
    .starttls = conn_starttls,
};

/* conn_serve(): one export, prepared and owned by the caller; no other name exists. */

static int fixed_list(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	struct conn *c = opaque;
	struct export_facts f;

	attached_facts(c->fixed, &f);
	return emit(ctx, c->fixed->name, f.description);
}

static int fixed_open(void *opaque, const char *name, struct nbd_export_info *ret,
		      void **ret_export, char *err, size_t errlen)
{
	struct conn *c = opaque;
	struct export_facts f;

	if (strcmp(name, c->fixed->name) != 0) {
		snprintf(err, err_cap(errlen), "no export named '%s'", name);
		return -ENOENT;
	}
	attached_facts(c->fixed, &f);
	export_info(&f, ret);
	*ret_export = c->fixed;
	return 0;
}

static int fixed_describe(void *opaque, const char *name, struct nbd_export_info *ret, char *err,
			  size_t errlen)
{
	void *e;

	return fixed_open(opaque, name, ret, &e, err, errlen);
}

static void fixed_release(void *opaque, void *export) {}

const struct nbd_server_ops conn_fixed_ops = {
    .list = fixed_list,
    .describe = fixed_describe,
    .open = fixed_open,
    .release = fixed_release,
};

/* Runs the handshake; returns true when the connection enters transmission. */
bool conn_handshake(struct conn *c)
{
	const struct nbd_io io = {.read = hs_read, .write = hs_write, .opaque = c};
	struct nbd_handshake_result res;
	int r;

	r = nbd_handshake_run(&io, c->ops, c, &res);
	if (r == -ETIMEDOUT) {
		log_warning("client dropped: no export chosen within server.handshake_timeout "
			    "(%d s)",
			    conn_handshake_timeout());
		return false;
	}
	if (r == -EPROTO) {
		log_warning("client dropped: NBD protocol violation in the handshake");
		return false;
	}
	if (r < 0) {
		log_debug_errno(r, "handshake ended: %m");
		return false;
	}
	c->exp = res.export;
	c->lim = res.limits;
	return true;
}

