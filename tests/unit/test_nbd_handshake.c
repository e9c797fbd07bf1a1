/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_nbd_handshake.c — the handshake state machine (lib/nbd/handshake.c) driven through its
 * two seams: a scripted client (struct nbd_io reading prepared bytes and recording the
 * replies) and stub exports (struct nbd_server_ops).  Each test checks the replies on the wire,
 * the return value, the negotiated result, and that an opened export is released whenever the
 * handshake does not reach transmission.
 */
#include <string.h>

#include "nbd/codec.h"
#include "nbd/handshake.h"
#include "unit.h"
#include "util/buffer.h"

/* ---- the scripted client ---- */

struct wire {
	struct envol_buffer in; /* what the client sends */
	size_t pos;
	struct envol_buffer out; /* what the server wrote */
	size_t rpos;		 /* replies checked so far */
	unsigned writes;
	unsigned fail_write; /* the n-th write (1-based) fails with -EPIPE; 0: none */
};

static int w_read(void *opaque, void *buf, size_t n)
{
	struct wire *w = opaque;

	if (w->in.len - w->pos < n)
		return -EPIPE;
	memcpy(buf, w->in.data + w->pos, n);
	w->pos += n;
	return 0;
}

static int w_write(void *opaque, const void *buf, size_t n)
{
	struct wire *w = opaque;

	if (++w->writes == w->fail_write)
		return -EPIPE;
	return envol_buffer_append(&w->out, buf, n);
}

static void put32(struct wire *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

	envol_buffer_append(&w->in, b, 4);
}

static void put16(struct wire *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	envol_buffer_append(&w->in, b, 2);
}

static void send_option(struct wire *w, uint32_t opt, const void *data, uint32_t len)
{
	uint8_t hdr[NBD_OPTION_HEADER_SIZE];

	CU_ASSERT_FATAL(nbd_encode_option(hdr, sizeof hdr, opt, NULL, 0) == NBD_OPTION_HEADER_SIZE);
	hdr[12] = (uint8_t)(len >> 24);
	hdr[13] = (uint8_t)(len >> 16);
	hdr[14] = (uint8_t)(len >> 8);
	hdr[15] = (uint8_t)len;
	envol_buffer_append(&w->in, hdr, sizeof hdr);
	if (len)
		envol_buffer_append(&w->in, data, len);
}

/* NBD_OPT_INFO / NBD_OPT_GO for name, asking for the block sizes. */
static void send_info_go(struct wire *w, uint32_t opt, const char *name)
{
	uint32_t n = (uint32_t)strlen(name);

	send_option(w, opt, NULL, 0);
	w->in.len -= 4; /* rewrite the length */
	put32(w, 4 + n + 2 + 2);
	put32(w, n);
	envol_buffer_append(&w->in, name, n);
	put16(w, 1);
	put16(w, NBD_INFO_BLOCK_SIZE);
}

/* NBD_OPT_SET/LIST_META_CONTEXT for name with one query (NULL: none). */
static void send_meta(struct wire *w, uint32_t opt, const char *name, const char *query)
{
	uint32_t n = (uint32_t)strlen(name), q = query ? (uint32_t)strlen(query) : 0;

	send_option(w, opt, NULL, 0);
	w->in.len -= 4;
	put32(w, 4 + n + 4 + (query ? 4 + q : 0));
	put32(w, n);
	envol_buffer_append(&w->in, name, n);
	put32(w, query ? 1 : 0);
	if (query) {
		put32(w, q);
		envol_buffer_append(&w->in, query, q);
	}
}

static void start(struct wire *w, uint32_t client_flags)
{
	memset(w, 0, sizeof *w);
	put32(w, client_flags);
}

/* The next option reply: checks option and type, returns its payload (len in *ret_len). */
static const uint8_t *expect_reply(struct wire *w, uint32_t opt, uint32_t type, uint32_t *ret_len)
{
	struct nbd_option_reply rep = {0};
	const uint8_t *p = (const uint8_t *)w->out.data + w->rpos;

	CU_ASSERT_FATAL(w->out.len - w->rpos >= NBD_OPTION_REPLY_HEADER_SIZE);
	CU_ASSERT_FATAL(nbd_decode_option_reply(p, &rep) == 0);
	CU_ASSERT_EQUAL(rep.option, opt);
	if (rep.type != type)
		fprintf(stderr, "option %u: reply %#x, want %#x\n", rep.option, rep.type, type);
	CU_ASSERT_EQUAL(rep.type, type);
	CU_ASSERT_FATAL(w->out.len - w->rpos - NBD_OPTION_REPLY_HEADER_SIZE >= rep.length);
	w->rpos += NBD_OPTION_REPLY_HEADER_SIZE + rep.length;
	if (ret_len)
		*ret_len = rep.length;
	return p + NBD_OPTION_REPLY_HEADER_SIZE;
}

static void expect_text(struct wire *w, uint32_t opt, uint32_t type, const char *text)
{
	uint32_t len = 0;
	const uint8_t *p = expect_reply(w, opt, type, &len);

	CU_ASSERT_EQUAL(len, strlen(text));
	CU_ASSERT(len == strlen(text) && memcmp(p, text, len) == 0);
}

static void expect_greeting(struct wire *w)
{
	CU_ASSERT_FATAL(w->out.len >= NBD_GREETING_SIZE);
	CU_ASSERT_EQUAL(memcmp(w->out.data, "NBDMAGICIHAVEOPT\0\x03", NBD_GREETING_SIZE), 0);
	w->rpos = NBD_GREETING_SIZE;
}

static void expect_end(struct wire *w) { CU_ASSERT_EQUAL(w->rpos, w->out.len); }

/* ---- stub exports ---- */

struct stub {
	const char *name;
	uint64_t size;
	uint32_t sector;
	bool read_only;
	int open_error;
	unsigned refs;
};

static struct stub stubs[] = {
    {.name = "vol1", .size = UINT64_C(1) << 30, .sector = 512},
    {.name = "vol4k", .size = UINT64_C(1) << 20, .sector = 4096, .read_only = true},
    {.name = "denied", .size = 4096, .sector = 512, .open_error = -EACCES},
};
static int list_error; /* list() fails with it */

static struct stub *stub_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(stubs); i++)
		if (strcmp(stubs[i].name, name) == 0)
			return &stubs[i];
	return NULL;
}

static int s_list(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	if (list_error < 0) {
		snprintf(err, errlen, "the directory is gone");
		return list_error;
	}
	for (size_t i = 0; i < ARRAY_SIZE(stubs); i++) {
		int r = emit(ctx, stubs[i].name, "a stub");

		if (r < 0)
			return r;
	}
	return 0;
}

static int s_describe(void *opaque, const char *name, struct nbd_export_info *ret, char *err,
		      size_t errlen)
{
	const struct stub *s = stub_find(name);

	CU_ASSERT_PTR_EQUAL(opaque, stubs);
	if (!s) {
		snprintf(err, errlen, "no export named '%s'", name);
		return -ENOENT;
	}
	ret->size = s->size;
	ret->transmission_flags =
	    NBD_FLAG_HAS_FLAGS | (s->read_only ? NBD_FLAG_READ_ONLY : NBD_FLAG_SEND_TRIM);
	ret->min_block = s->sector;
	ret->preferred_block = 4096;
	ret->max_block = NBD_MAX_PAYLOAD;
	snprintf(ret->description, sizeof ret->description, "stub %s", s->name);
	return 0;
}

static int s_open(void *opaque, const char *name, struct nbd_export_info *ret, void **ret_export,
		  char *err, size_t errlen)
{
	struct stub *s;
	int r = s_describe(opaque, name, ret, err, errlen);

	if (r < 0)
		return r;
	s = stub_find(name);
	if (s->open_error < 0) {
		snprintf(err, errlen, "access denied to %s", name);
		return s->open_error;
	}
	s->refs++;
	*ret_export = s;
	return 0;
}

static void s_release(void *opaque, void *export)
{
	struct stub *s = export;

	CU_ASSERT_FATAL(s->refs > 0);
	s->refs--;
}

static const struct nbd_server_ops ops = {
    .list = s_list,
    .describe = s_describe,
    .open = s_open,
    .release = s_release,
};

static unsigned open_refs(void)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(stubs); i++)
		n += stubs[i].refs;
	return n;
}

static int run(struct wire *w, struct nbd_handshake_result *res)
{
	const struct nbd_io io = {.read = w_read, .write = w_write, .opaque = w};

	CU_ASSERT_FATAL(w->in.error == 0);
	return nbd_handshake_run(&io, &ops, stubs, res);
}

static void done(struct wire *w, struct nbd_handshake_result *res)
{
	if (res && res->export)
		s_release(stubs, res->export);
	CU_ASSERT_EQUAL(open_refs(), 0);
	envol_buffer_done(&w->in);
	envol_buffer_done(&w->out);
}

/* ---- tests ---- */

static void test_go_structured_meta(void)
{
	struct wire w;
	struct nbd_handshake_result res = {0};
	const uint8_t *p;
	uint32_t len;

	start(&w, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	send_option(&w, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	send_meta(&w, NBD_OPT_SET_META_CONTEXT, "vol1", "base:allocation");
	send_info_go(&w, NBD_OPT_GO, "vol1");
	put32(&w, 0xdeadbeef); /* transmission: not the handshake's to read */
	CU_ASSERT_EQUAL(run(&w, &res), 0);
	CU_ASSERT_EQUAL(w.pos, w.in.len - 4);

	expect_greeting(&w);
	expect_reply(&w, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL);
	p = expect_reply(&w, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT, &len);
	CU_ASSERT(len == 4 + 15 && memcmp(p, "\0\0\0\x01" "base:allocation", len) == 0);
	expect_reply(&w, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL);
	p = expect_reply(&w, NBD_OPT_GO, NBD_REP_INFO, &len);
	CU_ASSERT(len == 12 && memcmp(p, "\0\0\0\0\0\0\x40\0\0\0\0\x21", 12) == 0);
	p = expect_reply(&w, NBD_OPT_GO, NBD_REP_INFO, &len);
	CU_ASSERT(len == 6 && memcmp(p, "\0\x01vol1", 6) == 0);
	p = expect_reply(&w, NBD_OPT_GO, NBD_REP_INFO, &len);
	CU_ASSERT(len == 11 && memcmp(p, "\0\x02stub vol1", 11) == 0);
	p = expect_reply(&w, NBD_OPT_GO, NBD_REP_INFO, &len);
	CU_ASSERT(len == 14 && memcmp(p, "\0\x03\0\0\x02\0\0\0\x10\0\x02\0\0\0", 14) == 0);
	expect_reply(&w, NBD_OPT_GO, NBD_REP_ACK, NULL);
	expect_end(&w);

	CU_ASSERT_PTR_EQUAL(res.export, stub_find("vol1"));
	CU_ASSERT_EQUAL(stub_find("vol1")->refs, 1);
	CU_ASSERT_EQUAL(res.client_flags, 3);
	CU_ASSERT_EQUAL(res.limits.size, UINT64_C(1) << 30);
	CU_ASSERT_EQUAL(res.limits.min_block, 512);
	CU_ASSERT_EQUAL(res.limits.max_payload, NBD_MAX_PAYLOAD);
	CU_ASSERT_EQUAL(res.limits.transmission_flags, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_TRIM);
	CU_ASSERT(res.limits.structured);
	CU_ASSERT(res.limits.meta_base_allocation);
	done(&w, &res);
}

static void test_meta_rules(void)
{
	struct wire w;
	struct nbd_handshake_result res = {0};
	const uint8_t *p;
	uint32_t len;

	/* meta contexts need structured replies; one chosen for another export does not apply */
	start(&w, 1);
	send_meta(&w, NBD_OPT_LIST_META_CONTEXT, "vol1", NULL);
	send_option(&w, NBD_OPT_STRUCTURED_REPLY, "x", 1);
	send_option(&w, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	send_meta(&w, NBD_OPT_LIST_META_CONTEXT, "vol1", NULL);
	send_meta(&w, NBD_OPT_LIST_META_CONTEXT, "vol1", "base:");
	send_meta(&w, NBD_OPT_LIST_META_CONTEXT, "vol1", "qemu:dirty-bitmap:x");
	send_meta(&w, NBD_OPT_SET_META_CONTEXT, "vol4k", "base:allocation");
	send_meta(&w, NBD_OPT_SET_META_CONTEXT, "vol1", "base:"); /* selects nothing */
	send_option(&w, NBD_OPT_SET_META_CONTEXT, "\0\0", 2);
	send_info_go(&w, NBD_OPT_GO, "vol4k");
	CU_ASSERT_EQUAL(run(&w, &res), 0);
	expect_greeting(&w);
	expect_text(&w, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ERR_INVALID,
		    "negotiate NBD_OPT_STRUCTURED_REPLY first");
	expect_text(&w, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID,
		    "NBD_OPT_STRUCTURED_REPLY takes no data");
	expect_reply(&w, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL);
	for (int i = 0; i < 2; i++) {
		p = expect_reply(&w, NBD_OPT_LIST_META_CONTEXT, NBD_REP_META_CONTEXT, &len);
		CU_ASSERT(len == 19 && memcmp(p, "\0\0\0\0base:allocation", len) == 0);
		expect_reply(&w, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL);
	}
	expect_reply(&w, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK, NULL);
	expect_reply(&w, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT, NULL);
	expect_reply(&w, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL);
	expect_reply(&w, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL);
	expect_text(&w, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID,
		    "malformed meta context request");
	for (int i = 0; i < 4; i++)
		expect_reply(&w, NBD_OPT_GO, NBD_REP_INFO, NULL);
	expect_reply(&w, NBD_OPT_GO, NBD_REP_ACK, NULL);
	expect_end(&w);
	/* the last SET_META_CONTEXT (vol1, nothing) replaced the one for vol4k */
	CU_ASSERT(res.limits.structured);
	CU_ASSERT(!res.limits.meta_base_allocation);
	CU_ASSERT_EQUAL(res.limits.min_block, 4096);
	CU_ASSERT(res.limits.transmission_flags & NBD_FLAG_READ_ONLY);
	done(&w, &res);

	/* chosen for vol4k, GO vol1: not selected */
	start(&w, 1);
	send_option(&w, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	send_meta(&w, NBD_OPT_SET_META_CONTEXT, "vol4k", "base:allocation");
	send_info_go(&w, NBD_OPT_GO, "vol1");
	CU_ASSERT_EQUAL(run(&w, &res), 0);
	CU_ASSERT(!res.limits.meta_base_allocation);
	done(&w, &res);
}

static void test_export_name(void)
{
	struct wire w;
	struct nbd_handshake_result res = {0};
	static const uint8_t want[10] = {0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0x21};

	/* without NO_ZEROES: size, flags, 124 zero bytes */
	start(&w, NBD_FLAG_C_FIXED_NEWSTYLE);
	send_option(&w, NBD_OPT_EXPORT_NAME, "vol1", 4);
	CU_ASSERT_EQUAL(run(&w, &res), 0);
	CU_ASSERT_EQUAL(w.out.len, NBD_GREETING_SIZE + NBD_EXPORT_NAME_REPLY_SIZE);
	CU_ASSERT_EQUAL(memcmp(w.out.data + NBD_GREETING_SIZE, want, sizeof want), 0);
	CU_ASSERT_PTR_EQUAL(res.export, stub_find("vol1"));
	CU_ASSERT(!res.limits.structured);
	done(&w, &res);

	start(&w, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	send_option(&w, NBD_OPT_EXPORT_NAME, "vol1", 4);
	CU_ASSERT_EQUAL(run(&w, &res), 0);
	CU_ASSERT_EQUAL(w.out.len, NBD_GREETING_SIZE + 10);
	done(&w, &res);

	/* a refusal cannot be told: disconnect with open()'s error, nothing written */
	start(&w, 3);
	send_option(&w, NBD_OPT_EXPORT_NAME, "missing", 7);
	CU_ASSERT_EQUAL(run(&w, &res), -ENOENT);
	CU_ASSERT_EQUAL(w.out.len, NBD_GREETING_SIZE);
	done(&w, NULL);

	start(&w, 3);
	send_option(&w, NBD_OPT_EXPORT_NAME, "vol1\0x", 6);
	CU_ASSERT_EQUAL(run(&w, &res), -EPROTO);
	done(&w, NULL);

	/* opened, but the reply cannot be sent: released */
	start(&w, 3);
	send_option(&w, NBD_OPT_EXPORT_NAME, "vol1", 4);
	w.fail_write = 2;
	CU_ASSERT_EQUAL(run(&w, &res), -EPIPE);
	done(&w, NULL);
}

static void test_list_info(void)
{
	struct wire w;
	struct nbd_handshake_result res = {0};
	const uint8_t *p;
	uint32_t len;

	start(&w, 3);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	send_option(&w, NBD_OPT_LIST, "x", 1);
	send_info_go(&w, NBD_OPT_INFO, "vol4k");
	send_info_go(&w, NBD_OPT_INFO, "missing");
	send_info_go(&w, NBD_OPT_GO, "missing");
	send_info_go(&w, NBD_OPT_GO, "denied");
	send_info_go(&w, NBD_OPT_GO, "");
	send_option(&w, NBD_OPT_GO, "\0\0\0\x09vol", 7);
	send_option(&w, NBD_OPT_ABORT, NULL, 0);
	CU_ASSERT_EQUAL(run(&w, &res), -ECONNABORTED);
	expect_greeting(&w);
	for (size_t i = 0; i < ARRAY_SIZE(stubs); i++) {
		p = expect_reply(&w, NBD_OPT_LIST, NBD_REP_SERVER, &len);
		CU_ASSERT(len == 4 + strlen(stubs[i].name) + 6);
		CU_ASSERT(memcmp(p + 4, stubs[i].name, strlen(stubs[i].name)) == 0);
	}
	expect_reply(&w, NBD_OPT_LIST, NBD_REP_ACK, NULL);
	expect_text(&w, NBD_OPT_LIST, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
	p = expect_reply(&w, NBD_OPT_INFO, NBD_REP_INFO, &len);
	CU_ASSERT(len == 12 && memcmp(p, "\0\0\0\0\0\0\0\x10\0\0\0\x03", 12) == 0);
	expect_reply(&w, NBD_OPT_INFO, NBD_REP_INFO, NULL);
	expect_reply(&w, NBD_OPT_INFO, NBD_REP_INFO, NULL);
	p = expect_reply(&w, NBD_OPT_INFO, NBD_REP_INFO, &len);
	CU_ASSERT(len == 14 && memcmp(p, "\0\x03\0\0\x10\0\0\0\x10\0\x02\0\0\0", 14) == 0);
	expect_reply(&w, NBD_OPT_INFO, NBD_REP_ACK, NULL);
	expect_text(&w, NBD_OPT_INFO, NBD_REP_ERR_UNKNOWN, "no export named 'missing'");
	expect_text(&w, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, "no export named 'missing'");
	expect_text(&w, NBD_OPT_GO, NBD_REP_ERR_POLICY, "access denied to denied");
	expect_text(&w, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN,
		    "no default export: name a volume (NBD_OPT_LIST shows them)");
	expect_text(&w, NBD_OPT_GO, NBD_REP_ERR_INVALID, "malformed NBD_OPT_INFO/GO request");
	expect_reply(&w, NBD_OPT_ABORT, NBD_REP_ACK, NULL);
	expect_end(&w);
	done(&w, NULL);

	/* the server cannot list */
	list_error = -EIO;
	start(&w, 3);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	CU_ASSERT_EQUAL(run(&w, &res), -EPIPE);
	expect_greeting(&w);
	expect_text(&w, NBD_OPT_LIST, NBD_REP_ERR_PLATFORM, "the directory is gone");
	expect_end(&w);
	list_error = 0;
	done(&w, NULL);

	/* a NBD_REP_SERVER that cannot be sent ends the handshake */
	start(&w, 3);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	w.fail_write = 3;
	CU_ASSERT_EQUAL(run(&w, &res), -EPIPE);
	CU_ASSERT_EQUAL(w.writes, 3);
	done(&w, NULL);
}

static void test_go_send_failure_releases(void)
{
	struct wire w;
	struct nbd_handshake_result res = {0};

	/* GO opened vol1; every one of its five replies failing releases it */
	for (unsigned k = 2; k <= 6; k++) {
		start(&w, 3);
		send_info_go(&w, NBD_OPT_GO, "vol1");
		w.fail_write = k;
		CU_ASSERT_EQUAL(run(&w, &res), -EPIPE);
		CU_ASSERT_EQUAL(open_refs(), 0);
		done(&w, NULL);
	}
}

static void test_refusals_and_limits(void)
{
	struct wire w;
	struct nbd_handshake_result res = {0};
	uint8_t *big = calloc(1, NBD_MAX_OPTION_LEN + 1);

	CU_ASSERT_FATAL(big != NULL);
	start(&w, 3);
	send_option(&w, NBD_OPT_STARTTLS, NULL, 0);
	send_option(&w, 0x4242, "abc", 3);
	send_option(&w, NBD_OPT_PEEK_EXPORT, NULL, 0);
	send_option(&w, NBD_OPT_INFO, big, NBD_MAX_OPTION_LEN + 1); /* read, dropped, refused */
	send_info_go(&w, NBD_OPT_GO, "vol1");
	CU_ASSERT_EQUAL(run(&w, &res), 0);
	expect_greeting(&w);
	expect_text(&w, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY, "TLS is not enabled on this listener");
	expect_text(&w, 0x4242, NBD_REP_ERR_UNSUP, "option 16962 (unknown) is not supported");
	expect_text(&w, NBD_OPT_PEEK_EXPORT, NBD_REP_ERR_UNSUP,
		    "option 4 (NBD_OPT_PEEK_EXPORT) is not supported");
	expect_text(&w, NBD_OPT_INFO, NBD_REP_ERR_TOO_BIG, "option data of 8193 bytes is too long");
	for (int i = 0; i < 4; i++)
		expect_reply(&w, NBD_OPT_GO, NBD_REP_INFO, NULL);
	expect_reply(&w, NBD_OPT_GO, NBD_REP_ACK, NULL);
	expect_end(&w);
	done(&w, &res);
	free(big);

	/* flags we did not offer */
	start(&w, 4);
	CU_ASSERT_EQUAL(run(&w, &res), -EPROTO);
	CU_ASSERT_EQUAL(w.out.len, NBD_GREETING_SIZE);
	done(&w, NULL);

	/* bad option magic */
	start(&w, 3);
	envol_buffer_append(&w.in, "IHAVEOPX\0\0\0\x03\0\0\0\0", 16);
	CU_ASSERT_EQUAL(run(&w, &res), -EPROTO);
	done(&w, NULL);

	/* more data than we would ever read and drop: disconnect before reading it */
	start(&w, 3);
	send_option(&w, NBD_OPT_GO, NULL, 0);
	w.in.len -= 4;
	put32(&w, NBD_MAX_DISCARD + 1);
	CU_ASSERT_EQUAL(run(&w, &res), -EPROTO);
	CU_ASSERT_EQUAL(w.out.len, NBD_GREETING_SIZE);
	done(&w, NULL);

	/* end of stream in the middle of an option */
	start(&w, 3);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	w.in.len -= 1;
	CU_ASSERT_EQUAL(run(&w, &res), -EPIPE);
	done(&w, NULL);

	/* the greeting cannot be sent */
	start(&w, 3);
	w.fail_write = 1;
	CU_ASSERT_EQUAL(run(&w, &res), -EPIPE);
	CU_ASSERT_EQUAL(w.pos, 0);
	done(&w, NULL);

	/* NBD_MAX_OPTIONS options are answered, one more is a disconnect */
	start(&w, 3);
	for (unsigned i = 0; i <= NBD_MAX_OPTIONS; i++)
		send_option(&w, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	CU_ASSERT_EQUAL(run(&w, &res), -EPROTO);
	CU_ASSERT_EQUAL(w.out.len,
			NBD_GREETING_SIZE + (size_t)NBD_MAX_OPTIONS * NBD_OPTION_REPLY_HEADER_SIZE);
	CU_ASSERT_EQUAL(w.pos, w.in.len - NBD_OPTION_HEADER_SIZE);
	done(&w, NULL);
}

/* ---- STARTTLS: a stub upgrade hook; the wire stays the same byte stream ---- */

static enum nbd_tls_mode tls_mode;
static int starttls_result; /* what the hook returns */
static unsigned starttls_calls;

static enum nbd_tls_mode s_tls_mode(void *opaque) { return tls_mode; }

static int s_starttls(void *opaque, char *err, size_t errlen)
{
	starttls_calls++;
	if (starttls_result == -EACCES)
		snprintf(err, errlen, "identity 'CN=x' is not mapped");
	else if (starttls_result < 0)
		snprintf(err, errlen, "bad certificate");
	return starttls_result;
}

static const struct nbd_server_ops tls_ops = {
    .list = s_list,
    .describe = s_describe,
    .open = s_open,
    .release = s_release,
    .tls_mode = s_tls_mode,
    .starttls = s_starttls,
};

static int run_tls(struct wire *w, struct nbd_handshake_result *res, enum nbd_tls_mode mode,
		   int result)
{
	const struct nbd_io io = {.read = w_read, .write = w_write, .opaque = w};

	tls_mode = mode;
	starttls_result = result;
	starttls_calls = 0;
	CU_ASSERT_FATAL(w->in.error == 0);
	return nbd_handshake_run(&io, &tls_ops, stubs, res);
}

static void test_starttls_require(void)
{
	static const char reqd[] = "TLS is required: send NBD_OPT_STARTTLS first";
	struct wire w;
	struct nbd_handshake_result res = {0};

	/* before TLS: every option but STARTTLS and ABORT is refused, no export name leaks */
	start(&w, 3);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	send_info_go(&w, NBD_OPT_INFO, "vol1");
	send_info_go(&w, NBD_OPT_GO, "vol1");
	send_option(&w, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	send_meta(&w, NBD_OPT_LIST_META_CONTEXT, "vol1", NULL);
	send_option(&w, NBD_OPT_STARTTLS, "x", 1);
	send_option(&w, NBD_OPT_STARTTLS, NULL, 0);
	send_option(&w, NBD_OPT_STARTTLS, NULL, 0); /* twice */
	send_info_go(&w, NBD_OPT_GO, "vol1");
	CU_ASSERT_EQUAL(run_tls(&w, &res, NBD_TLS_REQUIRE, 0), 0);
	CU_ASSERT_EQUAL(starttls_calls, 1);
	expect_greeting(&w);
	expect_text(&w, NBD_OPT_LIST, NBD_REP_ERR_TLS_REQD, reqd);
	expect_text(&w, NBD_OPT_INFO, NBD_REP_ERR_TLS_REQD, reqd);
	expect_text(&w, NBD_OPT_GO, NBD_REP_ERR_TLS_REQD, reqd);
	expect_text(&w, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_TLS_REQD, reqd);
	expect_text(&w, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ERR_TLS_REQD, reqd);
	expect_text(&w, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
	expect_reply(&w, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL);
	expect_text(&w, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID, "TLS is already negotiated");
	for (int i = 0; i < 4; i++)
		expect_reply(&w, NBD_OPT_GO, NBD_REP_INFO, NULL);
	expect_reply(&w, NBD_OPT_GO, NBD_REP_ACK, NULL);
	expect_end(&w);
	CU_ASSERT_PTR_EQUAL(res.export, &stubs[0]);
	CU_ASSERT_FALSE(res.limits.structured);
	done(&w, &res);

	/* NBD_OPT_EXPORT_NAME before TLS: the spec says terminate */
	start(&w, 3);
	send_option(&w, NBD_OPT_EXPORT_NAME, "vol1", 4);
	CU_ASSERT_EQUAL(run_tls(&w, &res, NBD_TLS_REQUIRE, 0), -EPROTO);
	expect_greeting(&w);
	expect_end(&w);
	done(&w, NULL);

	/* a failed TLS handshake closes after the ACK */
	start(&w, 3);
	send_option(&w, NBD_OPT_STARTTLS, NULL, 0);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	CU_ASSERT_EQUAL(run_tls(&w, &res, NBD_TLS_REQUIRE, -EPROTO), -EPROTO);
	expect_greeting(&w);
	expect_reply(&w, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL);
	expect_end(&w);
	done(&w, NULL);

	/* TLS up, identity refused: every option answered with the reason */
	start(&w, 3);
	send_option(&w, NBD_OPT_STARTTLS, NULL, 0);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	send_info_go(&w, NBD_OPT_GO, "vol1");
	send_option(&w, NBD_OPT_EXPORT_NAME, "vol1", 4);
	CU_ASSERT_EQUAL(run_tls(&w, &res, NBD_TLS_REQUIRE, -EACCES), -EACCES);
	expect_greeting(&w);
	expect_reply(&w, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL);
	expect_text(&w, NBD_OPT_LIST, NBD_REP_ERR_POLICY, "identity 'CN=x' is not mapped");
	expect_text(&w, NBD_OPT_GO, NBD_REP_ERR_POLICY, "identity 'CN=x' is not mapped");
	expect_end(&w);
	done(&w, NULL);
}

static void test_starttls_on_off(void)
{
	struct wire w;
	struct nbd_handshake_result res = {0};

	/* on: plaintext options work, STARTTLS forgets what was negotiated before it */
	start(&w, 3);
	send_option(&w, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
	send_option(&w, NBD_OPT_STARTTLS, NULL, 0);
	send_meta(&w, NBD_OPT_SET_META_CONTEXT, "vol1", "base:allocation");
	send_option(&w, NBD_OPT_ABORT, NULL, 0);
	CU_ASSERT_EQUAL(run_tls(&w, &res, NBD_TLS_ON, 0), -ECONNABORTED);
	CU_ASSERT_EQUAL(starttls_calls, 1);
	expect_greeting(&w);
	expect_reply(&w, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL);
	expect_reply(&w, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL);
	expect_text(&w, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID,
		    "negotiate NBD_OPT_STRUCTURED_REPLY first");
	expect_reply(&w, NBD_OPT_ABORT, NBD_REP_ACK, NULL);
	expect_end(&w);
	done(&w, NULL);

	/* off: refused, the hook is never called */
	start(&w, 3);
	send_option(&w, NBD_OPT_STARTTLS, NULL, 0);
	send_option(&w, NBD_OPT_LIST, NULL, 0);
	CU_ASSERT_EQUAL(run_tls(&w, &res, NBD_TLS_OFF, 0), -EPIPE);
	CU_ASSERT_EQUAL(starttls_calls, 0);
	expect_greeting(&w);
	expect_text(&w, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY, "TLS is not enabled on this listener");
	for (size_t i = 0; i < ARRAY_SIZE(stubs); i++)
		expect_reply(&w, NBD_OPT_LIST, NBD_REP_SERVER, NULL);
	expect_reply(&w, NBD_OPT_LIST, NBD_REP_ACK, NULL);
	expect_end(&w);
	done(&w, NULL);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"GO with structured replies and base:allocation", test_go_structured_meta},
	    {"meta context rules", test_meta_rules},
	    {"NBD_OPT_EXPORT_NAME", test_export_name},
	    {"LIST, INFO, refused GO, ABORT", test_list_info},
	    {"GO reply failure releases the export", test_go_send_failure_releases},
	    {"refusals, protocol violations, limits", test_refusals_and_limits},
	    {"STARTTLS under require: TLS_REQD, twice, failures, refused identity",
	     test_starttls_require},
	    {"STARTTLS under on and off", test_starttls_on_off},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
	    {"nbd_handshake", NULL, NULL, NULL, NULL, tests},
	    CU_SUITE_INFO_NULL,
	};

	return unit_run(suites);
}
