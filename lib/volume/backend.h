/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend.h — the storage seam under an envol volume.  A backend stores the volume's bytes
 * (header area and encrypted data area, docs/format.md "Layout") and knows who holds the
 * volume; it knows nothing of headers, keys or sectors.  Every byte lib/volume reads or writes
 * goes through struct envol_backend_ops, so the volume code never sees a file descriptor.
 *
 * A backend type (struct envol_backend_type) opens or creates a backend from a location
 * string: for the file backend (backend-file.c) a path; for the Ceph RBD backend
 * (backend-rbd.c) "rbd:POOL/IMAGE" or "rbd:POOL/NAMESPACE/IMAGE".  A type with a prefix
 * ("rbd:") is chosen by it, the type without one (file) takes every other location.  Adding a
 * backend: implement the ops and the type in backend-NAME.c and list the type in backend.c.
 *
 * Ops are called from many threads at once (one synchronous call per worker thread; that is
 * where the queue depth comes from): a backend is thread-safe.  Offsets and lengths are bytes
 * of the backend's address space (the data area starts at the header's data_offset); the
 * volume code keeps every call inside [0, size).  Every op returns 0 or -errno, unless said.
 */
#ifndef ENVOL_VOLUME_BACKEND_H
#define ENVOL_VOLUME_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct envol_backend_ops;

/* A backend embeds this as its first member; the ops cast back to their own struct. */
struct envol_backend {
	const struct envol_backend_ops *ops;
};

/*
 * Allocation of [off, off+len), for BLOCK_STATUS: cb is called for consecutive extents in
 * order, exactly covering the range; hole=true means "not allocated, reads as zeros".  A
 * backend that cannot tell reports one extent with hole=false.  cb returning non-zero stops
 * the walk, and extents() returns that value.
 */
typedef int (*envol_backend_extent_cb)(void *opaque, uint64_t off, uint64_t len, bool hole);

struct envol_backend_ops {
	/* Exactly len bytes at off, or an error (-EIO when the storage ends before off+len). */
	int (*pread)(struct envol_backend *b, void *buf, size_t len, uint64_t off);
	int (*pwrite)(struct envol_backend *b, const void *buf, size_t len, uint64_t off);
	/* Everything written so far is durable (file: fdatasync; RBD: rbd_aio_flush). */
	int (*flush)(struct envol_backend *b);
	/*
	 * Deallocates the range, which then reads as zero bytes (file: punch a hole).
	 * -EOPNOTSUPP (or any error) when the backend cannot promise zeros; the caller then uses
	 * write_zeroes.
	 */
	int (*discard)(struct envol_backend *b, uint64_t off, uint64_t len);
	/* The range reads as zero bytes and stays allocated (falls back to writing zeros). */
	int (*write_zeroes)(struct envol_backend *b, uint64_t off, uint64_t len);
	int (*extents)(struct envol_backend *b, uint64_t off, uint64_t len,
		       envol_backend_extent_cb cb, void *opaque);
	/* Bytes of storage.  -EINVAL when the location is not storage a volume can live on. */
	int (*size)(struct envol_backend *b, uint64_t *ret_size);

	/*
	 * Who holds the volume (file: an OFD lock; RBD: the image's exclusive lock).  Held until
	 * lock_release or close.  acquire: exclusive (a writer) or shared (readers); -EBUSY when
	 * another holder conflicts, with its name in holder ("pid 1234 (envold)") when known
	 * (holder left empty otherwise).  query: is the volume locked by anyone, and by whom
	 * (holder empty when unknown); it takes no lock.
	 */
	int (*lock_acquire)(struct envol_backend *b, bool exclusive, char *holder,
			    size_t holder_len);
	int (*lock_release)(struct envol_backend *b);
	int (*lock_query)(struct envol_backend *b, bool *ret_locked, char *holder,
			  size_t holder_len);
	/*
	 * Forced takeover of a holder that is dead or cut off (EBS's force-detach): fences the
	 * holder, so that nothing it still sends can change the storage, then breaks its lock
	 * (and takes none).  holder gets who was fenced; 0 with holder empty when nobody held
	 * the lock.  Optional: NULL where a lock cannot outlive its holder (file: an OFD lock
	 * goes with its process), and callers then report -EOPNOTSUPP.
	 */
	int (*lock_break)(struct envol_backend *b, char *holder, size_t holder_len);

	/* Releases the lock and everything else, frees b.  NULL is not passed. */
	void (*close)(struct envol_backend *b);
};

struct envol_backend_type {
	const char *name;   /* "file" */
	const char *prefix; /* location prefix that selects this type ("rbd:"), NULL: default */

	/*
	 * Opens existing storage at location, read-write or read-only, taking no lock.  A
	 * message naming the location goes to err ("cannot open PATH: …").
	 */
	int (*open)(const char *location, bool writable, struct envol_backend **ret, char *err,
		    size_t errlen);
	/*
	 * Creates new storage of size bytes that reads as zeros, opened read-write, no lock
	 * taken, and *ret_created = true.  When location names existing storage that may be
	 * reused for a volume (a block device), opens that instead with *ret_created = false:
	 * its size is unchecked and its bytes are old (the caller locks, checks and zeroes).
	 * -EEXIST when anything else is already there.
	 */
	int (*create)(const char *location, uint64_t size, struct envol_backend **ret,
		      bool *ret_created, char *err, size_t errlen);
	/* Removes what create made (after a failed create; b is closed by then). */
	int (*remove)(const char *location);
	/*
	 * Renames the storage at from to to, both locations of this type in the same place (the
	 * same directory, the same pool and namespace); -EEXIST when to exists (never replaced).
	 */
	int (*rename)(const char *from, const char *to);
};

extern const struct envol_backend_type envol_backend_file;
extern const struct envol_backend_type envol_backend_rbd;

/* The type a location names (by prefix); never NULL. */
const struct envol_backend_type *envol_backend_type_for(const char *location);

/* ---- Ceph RBD (backend-rbd.c) ------------------------------------------------------------ */

/*
 * The cluster every rbd: location of this process is on: the ceph.conf to read ("" or NULL:
 * librados' own search, $CEPH_CONF first) and the cephx user ("envol" for client.envol; NULL:
 * "admin").  Set before the first rbd: location is opened; setting it again with the same
 * values changes nothing, with other values once a connection exists is -EBUSY.
 */
int envol_backend_rbd_setup(const char *ceph_conf, const char *client_id);

/* false when libenvol was built without librbd: every rbd: location fails then. */
bool envol_backend_rbd_available(void);

/*
 * The images in POOL (and NAMESPACE; "" or NULL: none), as a malloc'd array of malloc'd
 * names in no particular order.  Returns 0 or -errno with a message in err.
 */
int envol_backend_rbd_list(const char *pool, const char *pool_namespace, char ***ret_names,
			   size_t *ret_n, char *err, size_t errlen);

#endif
