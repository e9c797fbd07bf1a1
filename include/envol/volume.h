/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envol/volume.h — the public volume API of libenvol: create, open, read, write and close an
 * envol volume (format v1, docs/format.md), and read its header.  Self-contained: it includes
 * standard headers only, and every symbol it declares starts with envol_ / ENVOL_.
 *
 * A volume lives at a location: the path of a regular file or a block device, or a Ceph RBD
 * image "rbd:POOL/IMAGE" or "rbd:POOL/NAMESPACE/IMAGE" (on the cluster of $CEPH_CONF, as
 * client.admin, in a libenvol built with librbd); the volume is a two-slot header in its
 * first 1 MiB and AES-256-XTS sectors after it.
 *
 * Lifecycle: envol_volume_create() writes a fresh volume (needs no DEK: the header holds only
 * the wrapped key).  envol_volume_open() validates the header and locks the volume (exclusive
 * when writable, shared when not).  The caller unwraps the CiphertextBlob through the KMS and
 * hands the DEK to envol_volume_attach_key(), which checks the header against the (KMS-
 * authenticated) encryption context and its MAC (or seals a MAC-pending header, see format.md)
 * and sets up the sector cipher; I/O works only
 * between attach_key and detach_key.  All I/O functions are thread-safe.
 *
 * All functions return 0 (or a byte count where said) or a negative errno; an error message
 * for humans, when there is one, is written into the optional err buffer (err may be NULL).
 */
#ifndef ENVOL_PUBLIC_VOLUME_H
#define ENVOL_PUBLIC_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ENVOL_VOLUME_DATA_OFFSET (UINT64_C(1) << 20)
#define ENVOL_VOLUME_DEK_SIZE 64
#define ENVOL_VOLUME_CIPHER "aes-xts-plain64"
#define ENVOL_VOLUME_MAX_KEY_ARN 2048
#define ENVOL_VOLUME_MAX_BLOB 4096
#define ENVOL_VOLUME_MAX_CONTEXT 16 /* encryption context pairs */
#define ENVOL_VOLUME_CONTEXT_VOLUME_ID "envol:volume-id"

/*
 * The encryption context pairs that bind a volume's parameters (docs/format.md, "Encryption
 * context"): the KMS authenticates them at every Decrypt, and attach refuses a header whose
 * fields differ from them.  A volume is created with all of them (envol_volume_bound_context).
 */
#define ENVOL_VOLUME_CONTEXT_FORMAT "envol:format"
#define ENVOL_VOLUME_CONTEXT_SIZE "envol:size"
#define ENVOL_VOLUME_CONTEXT_SECTOR_SIZE "envol:sector-size"
#define ENVOL_VOLUME_CONTEXT_DATA_OFFSET "envol:data-offset"
#define ENVOL_VOLUME_CONTEXT_CIPHER "envol:cipher"
#define ENVOL_VOLUME_CONTEXT_READ_ONLY "envol:read-only"
#define ENVOL_VOLUME_BOUND_PAIRS 7 /* envol:volume-id and the six above */

/* Header fields (docs/format.md, "Header slot"): the sizes struct envol_volume_header uses. */
#define ENVOL_HEADER_MAC_SIZE 32
#define ENVOL_HEADER_CIPHER_SIZE 32
#define ENVOL_HEADER_MAX_CONTEXT_KEY 256
#define ENVOL_HEADER_MAX_CONTEXT_VALUE 1024
#define ENVOL_HEADER_FLAG_READ_ONLY 0x1u   /* exported read-only */
#define ENVOL_HEADER_FLAG_MAC_PENDING 0x2u /* MAC not computed yet (created or rekeyed) */

struct envol_volume;

struct envol_context_pair {
	const char *key;
	const char *value;
};

struct envol_volume_create_params {
	/*
	 * The location.  File backend: a path, created with O_EXCL (a regular file), or an
	 * existing block device (zeroed).  RBD: an image created for it (never an existing
	 * one).
	 */
	const char *path;
	uint64_t size;        /* bytes; a positive multiple of sector_size */
	uint32_t sector_size; /* 512 or 4096 */
	uint8_t uuid[16];     /* volume id; its text form is the envol:volume-id context value */
	const char *key_arn;
	const uint8_t *blob; /* CiphertextBlob from GenerateDataKeyWithoutPlaintext(64 bytes) */
	size_t blob_len;
	const struct envol_context_pair *context; /* must contain envol:volume-id = uuid text */
	size_t n_context;
	bool read_only; /* exported read-only by envold */
};

/* What the header says, valid until envol_volume_close(). Strings are NUL-terminated. */
struct envol_volume_info {
	uint8_t uuid[16];
	char uuid_str[37];
	uint64_t size;
	uint32_t sector_size;
	uint64_t data_offset;
	uint64_t sequence; /* of the slot in use */
	uint64_t created;  /* Unix seconds */
	const char *cipher;
	const char *key_arn;
	const uint8_t *blob;
	size_t blob_len;
	const struct envol_context_pair *context;
	size_t n_context;
	bool read_only;
	bool mac_pending; /* created or rekeyed, not yet sealed by an attach */
	bool bound;       /* the encryption context binds the parameters (format.md) */
};

/* The context of a new volume: pairs[] point into values[] (and string constants). */
struct envol_volume_bound_context {
	struct envol_context_pair pairs[ENVOL_VOLUME_BOUND_PAIRS];
	char values[ENVOL_VOLUME_BOUND_PAIRS][40];
};

struct envol_header_context {
	char key[ENVOL_HEADER_MAX_CONTEXT_KEY + 1];
	char value[ENVOL_HEADER_MAX_CONTEXT_VALUE + 1];
};

/* One header slot, decoded.  Self-contained (no pointers), about 28 KiB: allocate it. */
struct envol_volume_header {
	uint64_t sequence;
	uint32_t flags; /* ENVOL_HEADER_FLAG_* */
	uint32_t sector_size;
	uint8_t uuid[16];
	uint64_t size;
	uint64_t data_offset;
	uint64_t created;
	char cipher[ENVOL_HEADER_CIPHER_SIZE]; /* NUL-terminated */
	char key_arn[ENVOL_VOLUME_MAX_KEY_ARN + 1];
	uint8_t blob[ENVOL_VOLUME_MAX_BLOB];
	size_t blob_len;
	size_t n_context;
	struct envol_header_context context[ENVOL_VOLUME_MAX_CONTEXT];
	uint8_t mac[ENVOL_HEADER_MAC_SIZE]; /* all zero while MAC_PENDING */
};

/*
 * Fills ret with the encryption context that binds a volume of these parameters: pass it to
 * GenerateDataKeyWithoutPlaintext and, as create_params.context, to envol_volume_create (which
 * refuses a context that does not bind the parameters).  -EINVAL for a sector size other than
 * 512 or 4096.
 */
int envol_volume_bound_context(const uint8_t uuid[16], uint64_t size, uint32_t sector_size,
			       bool read_only, struct envol_volume_bound_context *ret);

int envol_volume_create(const struct envol_volume_create_params *p, char *err, size_t errlen);

/* writable=false opens read-only with a shared lock. -EBUSY names the holder in err. */
int envol_volume_open(const char *location, bool writable, struct envol_volume **ret, char *err,
		      size_t errlen);
void envol_volume_close(struct envol_volume *v); /* detaches the key; NULL is fine */

/*
 * Reads the header slot in use without opening the volume or taking any lock, for inspection
 * (envolctl list/show) while envold holds it attached.  Same errors as envol_volume_open.
 */
int envol_volume_read_header(const char *location, struct envol_volume_header *ret, char *err,
			     size_t errlen);
const struct envol_volume_info *envol_volume_get_info(const struct envol_volume *v);

/*
 * dek: ENVOL_VOLUME_DEK_SIZE bytes, copied into secure memory; the caller got it from the KMS
 * by Decrypt with the header's encryption context (info.context), which authenticates that
 * context.  Before the key is used, every parameter the context binds must equal its header
 * field, and a sealed header's MAC must match; a bound header whose MAC is pending is sealed by
 * a writable attach.  -EBADMSG: a field differs from the context, or MAC mismatch (tampered
 * header or wrong key).  -EKEYREJECTED: an unbound (older) header whose MAC is pending, which
 * nothing authenticates ("envolctl volume upgrade" binds it).
 */
int envol_volume_attach_key(struct envol_volume *v, const uint8_t *dek, size_t dek_len, char *err,
			    size_t errlen);
void envol_volume_detach_key(struct envol_volume *v); /* wipes the DEK and cipher contexts */
bool envol_volume_key_attached(const struct envol_volume *v);

/*
 * Rewrap: new key ARN, blob (from ReEncrypt) and encryption context (the blob's; NULL and 0:
 * unchanged), written crash-safely to the older slot.  The new context must bind the volume's
 * parameters (-EINVAL otherwise).  The MAC is computed when a key is attached, else the new
 * header is MAC pending.  update_key is rewrap with the context unchanged.
 */
int envol_volume_rewrap(struct envol_volume *v, const char *key_arn, const uint8_t *blob,
			size_t blob_len, const struct envol_context_pair *context, size_t n_context,
			char *err, size_t errlen);
int envol_volume_update_key(struct envol_volume *v, const char *key_arn, const uint8_t *blob,
			    size_t blob_len, char *err, size_t errlen);

/*
 * Is the volume open (locked) by a process, i.e. attached?  *ret_locked tells; when locked
 * and known, holder gets who holds it (file backend: "pid 1234 (envold)").  Returns 0 or
 * -errno.
 */
int envol_volume_query_lock(const char *location, bool *ret_locked, char *holder,
			    size_t holder_len);

/* Crypto-erase: overwrite both header slots (and the whole header area) and sync. */
int envol_volume_erase(const char *location, char *err, size_t errlen);

/*
 * I/O at any byte offset and length inside [0, size).  -EINVAL past the end, -EROFS on a
 * read-only volume, -ENOKEY when no key is attached.
 * pwrite encrypts in place: buf's content is undefined afterwards (no copy on the hot path).
 */
#define ENVOL_IO_FUA 0x1     /* durable before return */
#define ENVOL_IO_NO_HOLE 0x2 /* zero: keep the range allocated (zero bytes, no hole punched) */
int envol_volume_pread(struct envol_volume *v, void *buf, size_t len, uint64_t off);
int envol_volume_pwrite(struct envol_volume *v, void *buf, size_t len, uint64_t off,
			unsigned flags);
int envol_volume_flush(struct envol_volume *v);
int envol_volume_trim(struct envol_volume *v, uint64_t off, uint64_t len, unsigned flags);
int envol_volume_zero(struct envol_volume *v, uint64_t off, uint64_t len, unsigned flags);

/*
 * Extents for NBD_CMD_BLOCK_STATUS: calls cb for consecutive extents covering [off, off+len)
 * (may stop early, at least one extent).  hole=true means "reads as zeros, not allocated".
 * cb returning < 0 aborts with that error, > 0 stops early (success).
 */
typedef int (*envol_extent_cb)(void *opaque, uint64_t off, uint64_t len, bool hole);
int envol_volume_extents(struct envol_volume *v, uint64_t off, uint64_t len, envol_extent_cb cb,
			 void *opaque);

#ifdef __cplusplus
}
#endif

#endif
