/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_nbd_handshake.c — the handshake state machine envold runs (lib/nbd/handshake.c) on
 * hostile bytes: the input is what a client sends after the greeting (client flags, then
 * options), read through struct nbd_io from memory; the replies are checked for framing and
 * dropped; stub callbacks stand in for envold's export registry.  Checked on every input: each
 * reply is one well-framed option reply (or the greeting, or a final EXPORT_NAME reply), an
 * export the machine opened is either handed over in the result or released, never both, never
 * leaked, and the negotiated limits are those of the export that was opened.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nbd/codec.h"
#include "nbd/handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *data;
	size_t size, pos;
	unsigned writes;
	bool export_name_reply; /* the last reply was NBD_OPT_EXPORT_NAME's */
};

struct stub_export {
	const char *name;
	uint64_t size;
	uint32_t sector;
	bool read_only;
	int open_error; /* open() fails with it */
	unsigned refs;
};

static struct stub_export stubs[] = {
    {.name = "vol1", .size = UINT64_C(1) << 20, .sector = 512},
    {.name = "vol4k", .size = UINT64_C(1) << 30, .sector = 4096, .read_only = true},
    {.name = "denied", .size = 4096, .sector = 512, .open_error = -EACCES},
};

#define check(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x);      \
			__builtin_trap();                                                          \
		}                                                                                  \
	} while (0)

static int in_read(void *opaque, void *buf, size_t n)
{
	struct input *in = opaque;

	check(n > 0 && n <= NBD_MAX_OPTION_LEN + 1);
	if (in->size - in->pos < n)
		return -EPIPE;
	memcpy(buf, in->data + in->pos, n);
	in->pos += n;
	return 0;
}

static int in_write(void *opaque, const void *buf, size_t n)
{
	struct input *in = opaque;
	struct nbd_option_reply rep;

	check(!in->export_name_reply); /* nothing may follow it */
	if (in->writes++ == 0) {
		check(n == NBD_GREETING_SIZE && memcmp(buf, "NBDMAGICIHAVEOPT", 16) == 0);
		return 0;
	}
	if (n >= NBD_OPTION_REPLY_HEADER_SIZE && nbd_decode_option_reply(buf, &rep) == 0) {
		check(rep.length == n - NBD_OPTION_REPLY_HEADER_SIZE);
		check(!(rep.type & NBD_REP_FLAG_ERROR) || rep.length <= NBD_MAX_ERROR_TEXT);
		return 0;
	}
	check(n == 10 || n == NBD_EXPORT_NAME_REPLY_SIZE);
	in->export_name_reply = true;
	return 0;
}

static struct stub_export *find(const char *name)
{
	for (size_t i = 0; i < sizeof stubs / sizeof stubs[0]; i++)
		if (strcmp(stubs[i].name, name) == 0)
			return &stubs[i];
	return NULL;
}

static void fill(const struct stub_export *s, struct nbd_export_info *ret)
{
	ret->size = s->size;
	ret->transmission_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
				  (s->read_only ? NBD_FLAG_READ_ONLY : NBD_FLAG_SEND_TRIM);
	ret->min_block = s->sector;
	ret->preferred_block = 4096;
	ret->max_block = NBD_MAX_PAYLOAD;
	snprintf(ret->description, sizeof ret->description, "stub %s", s->name);
}

static int stub_list(void *opaque, nbd_list_emit_fn emit, void *ctx, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof stubs / sizeof stubs[0]; i++) {
		int r = emit(ctx, stubs[i].name, "stub");

		if (r < 0)
			return r;
	}
	return 0;
}

static int stub_describe(void *opaque, const char *name, struct nbd_export_info *ret, char *err,
			 size_t errlen)
{
	const struct stub_export *s;

	check(strlen(name) <= NBD_MAX_STRING);
	s = find(name);
	if (!s) {
		snprintf(err, errlen, "no export named '%s'", name);
		return -ENOENT;
	}
	fill(s, ret);
	return 0;
}

static int stub_open(void *opaque, const char *name, struct nbd_export_info *ret,
		     void **ret_export, char *err, size_t errlen)
{
	struct stub_export *s;
	int r;

	r = stub_describe(opaque, name, ret, err, errlen);
	if (r < 0)
		return r;
	s = find(name);
	if (s->open_error < 0) {
		snprintf(err, errlen, "access denied");
		return s->open_error;
	}
	s->refs++;
	*ret_export = s;
	return 0;
}

static void stub_release(void *opaque, void *export)
{
	struct stub_export *s = export;

	check(s->refs > 0);
	s->refs--;
}

static const struct nbd_server_ops ops = {
    .list = stub_list,
    .describe = stub_describe,
    .open = stub_open,
    .release = stub_release,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {.data = data, .size = size};
	const struct nbd_io io = {.read = in_read, .write = in_write, .opaque = &in};
	struct nbd_handshake_result res;
	unsigned refs = 0;
	int r;

	r = nbd_handshake_run(&io, &ops, NULL, &res);
	for (size_t i = 0; i < sizeof stubs / sizeof stubs[0]; i++)
		refs += stubs[i].refs;
	if (r < 0) {
		check(refs == 0); /* whatever was opened was released */
		check(!in.export_name_reply);
		return 0;
	}
	/* in transmission: exactly the export in the result is open, with its own limits */
	{
		struct stub_export *s = res.export;

		check(s && s->refs == 1 && refs == 1);
		/* the sector size binds a client that asked for block sizes; others get 1 */
		check(res.limits.size == s->size &&
		      (res.limits.min_block == s->sector || res.limits.min_block == 1));
		check(res.limits.max_payload == NBD_MAX_PAYLOAD);
		check(!!(res.limits.transmission_flags & NBD_FLAG_READ_ONLY) == s->read_only);
		check(!res.limits.meta_base_allocation || res.limits.structured);
		check(!(res.client_flags & ~(uint32_t)NBD_HANDSHAKE_FLAGS));
		stub_release(NULL, s);
	}
	return 0;
}
