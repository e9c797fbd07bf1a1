/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lock.c — who holds a volume.  A writable open holds the backend's lock exclusively, a
 * read-only open shares it; a conflict names the holder.  The lock itself is the backend's
 * (file: an OFD lock, see backend-file.c; RBD: the image's exclusive lock, backend-rbd.c), and
 * so is the forced takeover of a lock whose holder is gone.
 */
#include <errno.h>
#include <string.h>

#include "util/error.h"
#include "util/macros.h"
#include "volume/internal.h"

int envol_volume_lock(struct envol_backend *b, bool exclusive, const char *location, char *err,
		      size_t errlen)
{
	char holder[256] = "";
	int r = b->ops->lock_acquire(b, exclusive, holder, sizeof holder);

	if (r != -EBUSY)
		return r;
	return envol_fail(-EBUSY, err, errlen, "%s is in use by %s (attached)", location,
			  holder[0] ? holder : "another process");
}

int envol_volume_query_lock(const char *location, bool *ret_locked, char *holder,
			    size_t holder_len)
{
	const struct envol_backend_type *type = envol_backend_type_for(location);
	struct envol_backend *b = NULL;
	int r;

	if (!location || !ret_locked)
		return -EINVAL;
	r = type->open(location, false, &b, NULL, 0);
	if (r < 0)
		return r;
	r = b->ops->lock_query(b, ret_locked, holder, holder_len);
	b->ops->close(b);
	return r;
}

int envol_volume_force_release(const char *location, char *holder, size_t holder_len,
			       char *err, size_t errlen)
{
	const struct envol_backend_type *type = envol_backend_type_for(location);
	struct envol_backend *b = NULL;
	int r;

	if (!location)
		return -EINVAL;
	r = type->open(location, true, &b, err, errlen);
	if (r < 0)
		return r;
	if (b->ops->lock_break)
		r = b->ops->lock_break(b, holder, holder_len);
	else
		r = envol_fail(-EOPNOTSUPP, err, errlen,
			       "%s: a %s volume's lock ends with the process that holds it; there "
			       "is nothing to release",
			       location, type->name);
	if (r < 0 && r != -EOPNOTSUPP)
		envol_set_error(err, errlen, "%s: cannot fence the holder and break its lock: %s",
				location, strerror(-r));
	b->ops->close(b);
	return r;
}
