/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * handshake.h — the server side of the NBD fixed-newstyle handshake as an explicit state
 * machine (docs/nbd-handshake.md): greeting, client flags, then options until the client
 * chooses an export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME), aborts or breaks the protocol.
 *
 * The machine owns no socket, thread, lock or clock.  It talks to the client only through
 * struct nbd_io (read exactly n bytes, write one reply) and asks the server what only the
 * server knows through struct nbd_server_ops (list exports, describe one, open one).  Timeouts
 * are the transport's: a read that gives up returns its -errno and the handshake ends.  Those
 * seams are what the fuzzer drives with bytes from memory, and what TLS wraps:
 * NBD_OPT_STARTTLS is answered in one place (opt_starttls() in handshake.c), which calls the
 * transport upgrade hook nbd_server_ops.starttls; after it the same struct nbd_io reads and
 * writes through the TLS session.
 */
#ifndef ENVOL_NBD_HANDSHAKE_H
#define ENVOL_NBD_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "nbd/validate.h"
#include "nbd/wire.h"

/* Handshake flags the server offers: FIXED_NEWSTYLE | NO_ZEROES. */
#define NBD_HANDSHAKE_FLAGS (NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES)
/* The context id of base:allocation in NBD_REP_META_CONTEXT and BLOCK_STATUS replies. */
#define NBD_META_ID_BASE_ALLOCATION 1

/* The transport.  Both calls return 0 or a negative errno and never a partial result. */
struct nbd_io {
	/* Reads exactly n bytes into buf: 0, -EPIPE at the end of the stream, or -errno. */
	int (*read)(void *opaque, void *buf, size_t n);
	/* Writes all n bytes (one whole reply per call): 0 or -errno. */
	int (*write)(void *opaque, const void *buf, size_t n);
	void *opaque;
};

/* What the server says about one export (NBD_INFO_EXPORT, _DESCRIPTION, _BLOCK_SIZE). */
struct nbd_export_info {
	uint64_t size;
	uint16_t transmission_flags;
	uint32_t min_block; /* also the alignment requests must keep */
	uint32_t preferred_block;
	uint32_t max_block; /* also the READ/WRITE payload cap */
	char description[NBD_MAX_STRING + 1];
};

/* The listener's TLS policy (nbdkit's --tls): off refuses STARTTLS, on allows it, require
 * refuses every option but STARTTLS and ABORT with NBD_REP_ERR_TLS_REQD until TLS is up. */
enum nbd_tls_mode {
	NBD_TLS_OFF,
	NBD_TLS_ON,
	NBD_TLS_REQUIRE,
};

/* Called by nbd_server_ops.list once per export; a negative return stops the listing. */
typedef int (*nbd_list_emit_fn)(void *ctx, const char *name, const char *description);

/*
 * What only the server knows.  opaque is the one given to nbd_handshake_run().  A failing
 * call returns a negative errno and may write a text for the client into err (errlen bytes);
 * names are NUL-terminated, at most NBD_MAX_STRING bytes, and contain no NUL.
 */
struct nbd_server_ops {
	/* NBD_OPT_LIST: emit(ctx, name, description) per export.  Failure → NBD_REP_ERR_PLATFORM. */
	int (*list)(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err, size_t errlen);
	/* NBD_OPT_INFO: the export's facts without opening it.  Failure → nbd_errno_to_rep_error. */
	int (*describe)(void *opaque, const char *name, struct nbd_export_info *ret, char *err,
			size_t errlen);
	/*
	 * NBD_OPT_GO and NBD_OPT_EXPORT_NAME: open (attach) the export.  *ret_export is the
	 * server's handle; it is handed back in the result, or to release() when the handshake
	 * fails after the open.  Failure → nbd_errno_to_rep_error (GO) or a disconnect
	 * (EXPORT_NAME cannot carry an error).
	 */
	int (*open)(void *opaque, const char *name, struct nbd_export_info *ret, void **ret_export,
		    char *err, size_t errlen);
	void (*release)(void *opaque, void *export);
	/* The TLS policy of this connection; NULL means NBD_TLS_OFF. */
	enum nbd_tls_mode (*tls_mode)(void *opaque);
	/*
	 * NBD_OPT_STARTTLS was acknowledged: run the TLS handshake on the transport.  0: TLS is
	 * up and nbd_io goes through it.  -EACCES: TLS is up but the client's identity is not
	 * allowed (err says why): every later option is refused with NBD_REP_ERR_POLICY and that
	 * text.  Any other error: the TLS handshake failed and the connection closes.
	 */
	int (*starttls)(void *opaque, char *err, size_t errlen);
};

/* What was negotiated, for the transmission phase. */
struct nbd_handshake_result {
	void *export; /* from open(): the caller owns it now */
	uint32_t client_flags;
	struct nbd_export_limits limits; /* for nbd_validate_request() */
};

/*
 * Runs the handshake to its end.  Returns 0 when the client chose an export (ret filled, the
 * connection enters transmission), or a negative errno when the connection is to be closed:
 * -ECONNABORTED (NBD_OPT_ABORT), -EPROTO (protocol violation: flags not offered, bad option
 * magic, more than NBD_MAX_OPTIONS options, an oversized option beyond NBD_MAX_DISCARD, a bad
 * NBD_OPT_EXPORT_NAME), open()'s error for a refused NBD_OPT_EXPORT_NAME, -ENOMEM, or the
 * transport's error (-EPIPE at EOF).  ret is untouched on failure.
 */
int nbd_handshake_run(const struct nbd_io *io, const struct nbd_server_ops *ops, void *opaque,
		      struct nbd_handshake_result *ret);

#endif
