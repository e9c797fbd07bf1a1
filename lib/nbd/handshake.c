/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handshake.c — the NBD fixed-newstyle handshake as an explicit state machine (handshake.h,
 * docs/nbd-handshake.md).  Each state function does one step and returns the next state; every
 * byte read is bounded before it is stored; every reply is encoded by lib/nbd/codec.c into one
 * buffer and written with one nbd_io.write call.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nbd/codec.h"
#include "nbd/handshake.h"
#include "util/log.h"
#include "util/macros.h"

enum hs_state {
	HS_GREETING,	 /* send NBDMAGIC, IHAVEOPT, handshake flags */
	HS_CLIENT_FLAGS, /* read the client's 32-bit flags */
	HS_OPTION,	 /* read one option (header, bounded payload) and answer it */
	HS_TRANSMISSION, /* export chosen: leave the handshake */
	HS_CLOSE,	 /* abort, error, or a protocol violation: close the connection */
};

struct hs {
	const struct nbd_io *io;
	const struct nbd_server_ops *ops;
	void *opaque;
	int error; /* why HS_CLOSE: a negative errno */
	unsigned n_options;
	/* negotiated so far */
	uint32_t client_flags;
	enum nbd_tls_mode tls_mode;
	bool tls;		/* STARTTLS succeeded */
	char denied[NBD_MAX_ERROR_TEXT + 1]; /* TLS up, identity refused: why */
	bool structured;
	bool meta;			      /* base:allocation selected ... */
	char meta_export[NBD_MAX_STRING + 1]; /* ... for this export name */
	void *export;			      /* open()ed; released unless we reach transmission */
	struct nbd_export_limits limits;
	bool block_size_asked; /* the NBD_OPT_GO chosen listed NBD_INFO_BLOCK_SIZE */
	/* the option being answered */
	int emit_error; /* a NBD_REP_SERVER reply could not be sent */
	char name[NBD_MAX_STRING + 1];
	char err[NBD_MAX_ERROR_TEXT + 1];
	struct nbd_export_info info;
	uint8_t opt[NBD_MAX_OPTION_LEN + 1];
	uint8_t out[NBD_MAX_STRING * 2 + 64];
};

static enum hs_state fail(struct hs *h, int r)
{
	h->error = r < 0 ? r : -EPROTO;
	return HS_CLOSE;
}

static int send_rep(struct hs *h, int len)
{
	if (len < 0)
		return len;
	return h->io->write(h->io->opaque, h->out, (size_t)len);
}

static int send_ack(struct hs *h, uint32_t opt)
{
	return send_rep(h,
			nbd_encode_option_reply(h->out, sizeof h->out, opt, NBD_REP_ACK, NULL, 0));
}

/* Sends an error reply; the handshake goes on unless the reply cannot be sent. */
static enum hs_state refuse(struct hs *h, uint32_t opt, uint32_t type, const char *text)
{
	int r;

	log_debug("%s: replying %#x: %s", nbd_option_name(opt), type, text);
	r = send_rep(h, nbd_encode_option_error(h->out, sizeof h->out, opt, type, text));
	return r < 0 ? fail(h, r) : HS_OPTION;
}

/* Copies an option string into a NUL-terminated buffer; -EINVAL on embedded NULs. */
static int copy_name(const void *p, uint32_t len, char *out, size_t cap)
{
	if (len >= cap || memchr(p, 0, len))
		return -EINVAL;
	memcpy(out, p, len);
	out[len] = 0;
	return 0;
}

/* Reads and drops n bytes of an option too long to keep (n ≤ NBD_MAX_DISCARD). */
static int discard(struct hs *h, uint32_t n)
{
	while (n > 0) {
		uint32_t k = n > sizeof h->opt ? (uint32_t)sizeof h->opt : n;
		int r = h->io->read(h->io->opaque, h->opt, k);

		if (r < 0)
			return r;
		n -= k;
	}
	return 0;
}

/* Before a server callback: no stale text or export facts from the previous option. */
static void reset_answer(struct hs *h)
{
	h->err[0] = 0;
	memset(&h->info, 0, sizeof h->info);
}

/* The export in h->info / h->export named h->name is chosen: what transmission needs. */
static void enter_transmission(struct hs *h)
{
	h->limits = (struct nbd_export_limits){
	    .size = h->info.size,
	    /* block sizes bind only a client that asked for them (NBD spec, "Block size
	     * constraints"); any other may send byte-granular requests */
	    .min_block = h->block_size_asked ? h->info.min_block : 1,
	    .max_payload = h->info.max_block,
	    .transmission_flags = h->info.transmission_flags,
	    .structured = h->structured,
	    .meta_base_allocation = h->meta && strcmp(h->meta_export, h->name) == 0,
	};
}

static enum hs_state opt_export_name(struct hs *h, uint32_t len)
{
	int r;

	if (copy_name(h->opt, len, h->name, sizeof h->name) < 0)
		return fail(h, -EPROTO);
	h->block_size_asked = false;
	reset_answer(h);
	r = h->ops->open(h->opaque, h->name, &h->info, &h->export, h->err, sizeof h->err);
	if (r < 0)
		return fail(h, r); /* NBD_OPT_EXPORT_NAME cannot carry an error */
	r = send_rep(h, nbd_encode_export_name_reply(h->out, sizeof h->out, h->info.size,
						    h->info.transmission_flags,
						    h->client_flags & NBD_FLAG_C_NO_ZEROES));
	if (r < 0)
		return fail(h, r);
	enter_transmission(h);
	return HS_TRANSMISSION;
}

static int list_emit(void *ctx, const char *name, const char *description)
{
	struct hs *h = ctx;
	int r;

	r = send_rep(h, nbd_encode_rep_server(h->out, sizeof h->out, NBD_OPT_LIST, name,
					      description));
	if (r < 0)
		h->emit_error = r;
	return r;
}

static enum hs_state opt_list(struct hs *h, uint32_t opt, uint32_t len)
{
	int r;

	if (len != 0)
		return refuse(h, opt, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
	reset_answer(h);
	h->emit_error = 0;
	r = h->ops->list(h->opaque, list_emit, h, h->err, sizeof h->err);
	if (h->emit_error < 0)
		return fail(h, h->emit_error);
	if (r < 0)
		return refuse(h, opt, NBD_REP_ERR_PLATFORM,
			      h->err[0] ? h->err : "cannot list the exports");
	r = send_ack(h, opt);
	return r < 0 ? fail(h, r) : HS_OPTION;
}

static enum hs_state opt_info_go(struct hs *h, uint32_t opt, uint32_t len)
{
	struct nbd_info_request req;
	const struct nbd_export_info *f = &h->info;
	int r;

	if (nbd_decode_info_request(h->opt, len, &req) < 0 ||
	    copy_name(req.name, req.name_len, h->name, sizeof h->name) < 0)
		return refuse(h, opt, NBD_REP_ERR_INVALID, "malformed NBD_OPT_INFO/GO request");
	if (h->name[0] == 0)
		return refuse(h, opt, NBD_REP_ERR_UNKNOWN,
			      "no default export: name a volume (NBD_OPT_LIST shows them)");
	reset_answer(h);
	if (opt == NBD_OPT_GO)
		r = h->ops->open(h->opaque, h->name, &h->info, &h->export, h->err, sizeof h->err);
	else
		r = h->ops->describe(h->opaque, h->name, &h->info, h->err, sizeof h->err);
	if (r < 0)
		return refuse(h, opt, nbd_errno_to_rep_error(r), h->err);
	/* NBD_INFO_EXPORT always; name, description and block size whether asked or not */
	r = send_rep(h, nbd_encode_rep_info_export(h->out, sizeof h->out, opt, f->size,
						   f->transmission_flags));
	if (r >= 0)
		r = send_rep(h, nbd_encode_rep_info_string(h->out, sizeof h->out, opt,
							   NBD_INFO_NAME, h->name));
	if (r >= 0)
		r = send_rep(h, nbd_encode_rep_info_string(h->out, sizeof h->out, opt,
							   NBD_INFO_DESCRIPTION, f->description));
	if (r >= 0)
		r = send_rep(h, nbd_encode_rep_info_block_size(h->out, sizeof h->out, opt,
							       f->min_block, f->preferred_block,
							       f->max_block));
	if (r >= 0)
		r = send_ack(h, opt);
	if (r < 0)
		return fail(h, r);
	if (opt == NBD_OPT_INFO)
		return HS_OPTION;
	h->block_size_asked = false;
	for (uint16_t i = 0; i < req.n_info; i++)
		if (req.info[i] == NBD_INFO_BLOCK_SIZE)
			h->block_size_asked = true;
	enter_transmission(h);
	return HS_TRANSMISSION;
}

static enum hs_state opt_meta(struct hs *h, uint32_t opt, uint32_t len)
{
	struct nbd_meta_request req;
	bool listing = opt == NBD_OPT_LIST_META_CONTEXT, selected = false;
	int r = 0;

	if (!h->structured)
		return refuse(h, opt, NBD_REP_ERR_INVALID,
			      "negotiate NBD_OPT_STRUCTURED_REPLY first");
	if (nbd_decode_meta_request(h->opt, len, &req) < 0)
		return refuse(h, opt, NBD_REP_ERR_INVALID, "malformed meta context request");
	if (listing && req.n_queries == 0)
		selected = true;
	for (uint32_t i = 0; i < req.n_queries; i++)
		if (nbd_meta_query_selects_base_allocation(req.query[i], req.query_len[i], listing))
			selected = true;
	if (!listing) {
		h->meta = false;
		if (copy_name(req.name, req.name_len, h->meta_export, sizeof h->meta_export) < 0)
			return refuse(h, opt, NBD_REP_ERR_INVALID, "bad export name");
		h->meta = selected;
	}
	if (selected)
		r = send_rep(h, nbd_encode_rep_meta_context(
				    h->out, sizeof h->out, opt,
				    listing ? 0 : NBD_META_ID_BASE_ALLOCATION, NBD_META_BASE_ALLOCATION));
	if (r >= 0)
		r = send_ack(h, opt);
	return r < 0 ? fail(h, r) : HS_OPTION;
}

/* NBD_OPT_STARTTLS: acknowledge, then upgrade the transport (nbd_server_ops.starttls). */
static enum hs_state opt_starttls(struct hs *h, uint32_t opt, uint32_t len)
{
	int r;

	if (len != 0)
		return refuse(h, opt, NBD_REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
	if (h->tls)
		return refuse(h, opt, NBD_REP_ERR_INVALID, "TLS is already negotiated");
	if (h->tls_mode == NBD_TLS_OFF || !h->ops->starttls)
		return refuse(h, opt, NBD_REP_ERR_POLICY, "TLS is not enabled on this listener");
	r = send_ack(h, opt);
	if (r < 0)
		return fail(h, r);
	h->err[0] = 0;
	r = h->ops->starttls(h->opaque, h->err, sizeof h->err);
	if (r == -EACCES) {
		snprintf(h->denied, sizeof h->denied, "%s",
			 h->err[0] ? h->err : "TLS client identity not allowed");
	} else if (r < 0) {
		log_debug("STARTTLS: TLS handshake failed: %s", h->err);
		return fail(h, r);
	}
	/* nothing negotiated in plaintext carries over into the TLS session */
	h->tls = true;
	h->structured = false;
	h->meta = false;
	return HS_OPTION;
}

/*
 * Options the TLS policy does not let through: before STARTTLS under "require"
 * (NBD_REP_ERR_TLS_REQD, no export names), or after a refused client identity.  Returns
 * HS_OPTION when opt may be answered normally.
 */
static enum hs_state tls_gate(struct hs *h, uint32_t opt, bool *gated)
{
	*gated = true;
	if (opt == NBD_OPT_ABORT)
		goto pass;
	if (h->denied[0]) {
		if (opt == NBD_OPT_EXPORT_NAME)
			return fail(h, -EACCES); /* cannot carry an error */
		return refuse(h, opt, NBD_REP_ERR_POLICY, h->denied);
	}
	if (h->tls_mode == NBD_TLS_REQUIRE && !h->tls && opt != NBD_OPT_STARTTLS) {
		if (opt == NBD_OPT_EXPORT_NAME)
			return fail(h, -EPROTO); /* the spec: terminate the session */
		return refuse(h, opt, NBD_REP_ERR_TLS_REQD,
			      "TLS is required: send NBD_OPT_STARTTLS first");
	}
pass:
	*gated = false;
	return HS_OPTION;
}

static enum hs_state handle_option(struct hs *h, uint32_t opt, uint32_t len)
{
	enum hs_state next;
	char text[128];
	bool gated;
	int r;

	next = tls_gate(h, opt, &gated);
	if (gated)
		return next;
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(h, len);
	case NBD_OPT_ABORT:
		(void)send_ack(h, opt);
		return fail(h, -ECONNABORTED);
	case NBD_OPT_LIST:
		return opt_list(h, opt, len);
	case NBD_OPT_STARTTLS:
		return opt_starttls(h, opt, len);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info_go(h, opt, len);
	case NBD_OPT_STRUCTURED_REPLY:
		if (len != 0)
			return refuse(h, opt, NBD_REP_ERR_INVALID,
				      "NBD_OPT_STRUCTURED_REPLY takes no data");
		h->structured = true;
		r = send_ack(h, opt);
		return r < 0 ? fail(h, r) : HS_OPTION;
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return opt_meta(h, opt, len);
	default:
		snprintf(text, sizeof text, "option %u (%s) is not supported", opt,
			 nbd_option_name(opt));
		return refuse(h, opt, NBD_REP_ERR_UNSUP, text);
	}
}

static enum hs_state state_greeting(struct hs *h)
{
	int r = send_rep(h, nbd_encode_greeting(h->out, sizeof h->out, NBD_HANDSHAKE_FLAGS));

	return r < 0 ? fail(h, r) : HS_CLIENT_FLAGS;
}

static enum hs_state state_client_flags(struct hs *h)
{
	uint8_t b[4];
	int r;

	r = h->io->read(h->io->opaque, b, sizeof b);
	if (r < 0)
		return fail(h, r);
	if (nbd_decode_client_flags(b, NBD_HANDSHAKE_FLAGS, &h->client_flags) < 0)
		return fail(h, -EPROTO);
	return HS_OPTION;
}

static enum hs_state state_option(struct hs *h)
{
	uint8_t b[NBD_OPTION_HEADER_SIZE];
	struct nbd_option_header oh;
	char text[128];
	int r;

	if (++h->n_options > NBD_MAX_OPTIONS)
		return fail(h, -EPROTO);
	r = h->io->read(h->io->opaque, b, sizeof b);
	if (r < 0)
		return fail(h, r);
	if (nbd_decode_option_header(b, &oh) < 0)
		return fail(h, -EPROTO);
	if (oh.length > NBD_MAX_OPTION_LEN) {
		/* bounded before anything is read into memory */
		if (oh.length > NBD_MAX_DISCARD)
			return fail(h, -EPROTO);
		r = discard(h, oh.length);
		if (r < 0)
			return fail(h, r);
		snprintf(text, sizeof text, "option data of %u bytes is too long", oh.length);
		return refuse(h, oh.option, NBD_REP_ERR_TOO_BIG, text);
	}
	if (oh.length > 0) {
		r = h->io->read(h->io->opaque, h->opt, oh.length);
		if (r < 0)
			return fail(h, r);
	}
	log_debug("option %s, %u bytes", nbd_option_name(oh.option), oh.length);
	return handle_option(h, oh.option, oh.length);
}

int nbd_handshake_run(const struct nbd_io *io, const struct nbd_server_ops *ops, void *opaque,
		      struct nbd_handshake_result *ret)
{
	_cleanup_free_ struct hs *h = calloc(1, sizeof *h);
	enum hs_state state = HS_GREETING;

	if (!h)
		return -ENOMEM;
	h->io = io;
	h->ops = ops;
	h->opaque = opaque;
	h->tls_mode = ops->tls_mode ? ops->tls_mode(opaque) : NBD_TLS_OFF;
	for (;;) {
		switch (state) {
		case HS_GREETING:
			state = state_greeting(h);
			break;
		case HS_CLIENT_FLAGS:
			state = state_client_flags(h);
			break;
		case HS_OPTION:
			state = state_option(h);
			break;
		case HS_TRANSMISSION:
			*ret = (struct nbd_handshake_result){
			    .export = h->export,
			    .client_flags = h->client_flags,
			    .limits = h->limits,
			};
			return 0;
		case HS_CLOSE:
			if (h->export)
				ops->release(opaque, h->export);
			return h->error;
		}
	}
}
