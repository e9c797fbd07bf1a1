/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume.c — "envolctl volume create|list|show|delete|rekey|upgrade|release": volumes in
 * server.volume_dir or in a Ceph RBD pool (found by name, volume/locate.h), their wrapped keys
 * through the KMS (GenerateDataKeyWithoutPlaintext, ReEncrypt), headers read with the volume
 * header codec (without a lock, so attached volumes can be shown), and the temporary volumes
 * of imports (begin, finish, abandon; listed as incomplete).  The transfers of import and
 * export are in transfer.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/encoding.h"
#include "envolctl.h"
#include "parse.h"
#include "table.h"
#include "volume/volume.h"
#include "volume/header.h"
#include "volume/locate.h"
#include "volume/name.h"

#define DEFAULT_KEY "alias/envol/ebs"

static void bad_name(const char *name)
{
	ctl_error("\"%s\" is not a valid volume name: 1 to 64 of A-Z a-z 0-9 . _ -, starting "
		  "with a letter or digit (POOL/NAME for a volume in another Ceph pool)",
		  name);
}

/*
 * NAME (or POOL[/NAMESPACE]/NAME) -> where it is or would be, on any backend (an RBD image is
 * not looked at: see exists()), or *ret NULL when it is nowhere (no file, Ceph off); prints
 * errors.
 */
static int lookup_path(struct ctl *c, const char *name, char **ret)
{
	char err[1024] = "";
	int r;

	*ret = NULL;
	if (!envol_volume_ref_valid(name)) {
		bad_name(name);
		return -EINVAL;
	}
	r = ctl_config(c);
	if (r < 0)
		return r;
	r = envol_volume_locate(c->cfg, name, ret, err, sizeof err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		ctl_error("%s: %s", name, err[0] ? err : strerror(-r));
	return r;
}

/* lookup_path, where a name found nowhere is an error: -ENOENT. */
static int volume_path(struct ctl *c, const char *name, char **ret)
{
	int r = lookup_path(c, name, ret);

	if (r == 0 && !*ret) {
		ctl_error("volume %s does not exist; see envolctl volume list", name);
		r = -ENOENT;
	}
	return r;
}

/* Is there a volume at location?  1 or 0; prints an error and returns -errno when unknown. */
static int exists(const char *name, const char *location)
{
	int r = envol_volume_exists(location);

	if (r < 0)
		ctl_error("volume %s: cannot look at %s: %s", name, location, strerror(-r));
	return r;
}

static void report_missing(const char *name, const char *location)
{
	ctl_error("volume %s does not exist (no %s); see envolctl volume list", name, location);
}

/* mkdir -p with mode 0700 for what is created. */
static int mkdir_p(const char *dir)
{
	_cleanup_free_ char *p = strdup(dir);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return negative_errno();
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

/* Reads the header slot in use without taking a lock (envold may hold it attached). */
static int read_header(const char *path, struct envol_volume_header **ret, char *err, size_t errlen)
{
	_cleanup_free_ struct envol_volume_header *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	r = envol_volume_read_header(path, h, err, errlen);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(h);
	return 0;
}

/* An encryption context as a JSON object (NULL: out of memory). */
static json_t *context_json(const struct envol_context_pair *pairs, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++)
		if (json_object_set_new(o, pairs[i].key, json_string(pairs[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/*
 * Creates volume name of size bytes under key, on backend "file" or "rbd" (NULL:
 * server.backend) and, for rbd, in pool (NULL: rbd.pool); used by create and import.
 * *ret_ref (when given) is the name it goes by: name, or POOL/name outside rbd.pool.
 */
static int volume_make(struct ctl *c, const char *name, uint64_t size, const char *key,
		       uint32_t sector_size, bool read_only, const char *backend, const char *pool,
		       char *ret_uuid, size_t uuid_len, char **ret_ref)
{
	_cleanup_free_ char *path = NULL, *key_id = NULL, *ref = NULL;
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_json_ json_t *req = NULL, *resp = NULL, *ctx = NULL;
	struct envol_volume_bound_context bc;
	struct envol_volume_create_params p = {0};
	char uuid_str[37], err[1024] = "";
	const char *b64, *arn;
	size_t blob_len = 0;
	int r;

	if (!envol_volume_name_valid(name)) {
		bad_name(name);
		return -EINVAL;
	}
	r = ctl_config(c);
	if (r < 0)
		return r;
	c->key_hint = key ? key : DEFAULT_KEY;
	key_id = ctl_key_normalize(c->key_hint);
	if (!key_id) {
		ctl_error("--key \"%s\" is not a key id, key ARN, alias name or alias ARN", key);
		return -EINVAL;
	}
	/* The name must be free on every backend, before the KMS is asked for a key. */
	r = envol_volume_locate_new(c->cfg, name, backend, pool, &path, &ref, err, sizeof err);
	if (r == -EEXIST) {
		ctl_error("%s; pick another name or delete it first", err);
		return r;
	}
	if (r < 0) {
		ctl_error("cannot create volume %s: %s", name, err[0] ? err : strerror(-r));
		return r;
	}
	r = envol_uuid_generate(p.uuid);
	if (r < 0) {
		ctl_error("cannot generate a volume id: %s", strerror(-r));
		return r;
	}
	envol_uuid_format(p.uuid, uuid_str);
	/* The context binds the parameters: every Decrypt authenticates them (format.md). */
	r = envol_volume_bound_context(p.uuid, size, sector_size, read_only, &bc);
	if (r < 0) {
		ctl_error("cannot make the encryption context of volume %s: %s", name,
			  strerror(-r));
		return r;
	}
	ctx = context_json(bc.pairs, ENVOL_VOLUME_BOUND_PAIRS);
	req = ctx ? json_pack("{s:s,s:i,s:O}", "KeyId", key_id, "NumberOfBytes",
			      ENVOL_VOLUME_DEK_SIZE, "EncryptionContext", ctx)
		  : NULL;
	if (!req)
		return -ENOMEM;
	r = ctl_kms_call(c, "GenerateDataKeyWithoutPlaintext", req, &resp, NULL);
	if (r < 0)
		return r;
	b64 = json_string_value(json_object_get(resp, "CiphertextBlob"));
	arn = json_string_value(json_object_get(resp, "KeyId"));
	if (!b64 || !arn || envol_base64_decode(b64, strlen(b64), &blob, &blob_len) < 0) {
		ctl_error(
		    "KMS GenerateDataKeyWithoutPlaintext answer lacks KeyId or CiphertextBlob");
		return -EPROTO;
	}

	r = strcmp(envol_volume_backend_name(path), "file") == 0
		? mkdir_p(c->cfg->server.volume_dir)
		: 0;
	if (r < 0) {
		ctl_error("cannot create the volume directory %s: %s", c->cfg->server.volume_dir,
			  strerror(-r));
		return r;
	}
	p.path = path;
	p.size = size;
	p.sector_size = sector_size;
	p.key_arn = arn;
	p.blob = blob;
	p.blob_len = blob_len;
	p.context = bc.pairs;
	p.n_context = ENVOL_VOLUME_BOUND_PAIRS;
	p.read_only = read_only;
	r = envol_volume_create(&p, err, sizeof err);
	if (r == -EEXIST) {
		ctl_error("volume %s already exists (%s)", name, path);
		return r;
	}
	if (r < 0) {
		ctl_error("cannot create volume %s: %s", name, err[0] ? err : strerror(-r));
		return r;
	}
	snprintf(ret_uuid, uuid_len, "%s", uuid_str);
	if (ret_ref)
		*ret_ref = TAKE_PTR(ref);
	return 0;
}

/* The backend a --backend option names, or a usage error. */
static int parse_backend(const char *text, const char **ret)
{
	if (strcmp(text, "file") != 0 && strcmp(text, "rbd") != 0)
		return ctl_usage("--backend %s: must be file or rbd", text);
	*ret = text;
	return 0;
}

int ctl_parse_place(const char **backend, const char *pool)
{
	if (pool && !*backend)
		*backend = "rbd";
	if (pool && strcmp(*backend, "rbd") != 0)
		return ctl_usage("--pool is for --backend rbd");
	return 0;
}

/* Refuses NAME.import-TAG as the name of a new volume: that form is an unfinished import. */
static int refuse_import_name(const char *name)
{
	if (!envol_volume_name_is_import(name, NULL))
		return 0;
	ctl_error("\"%s\": names ending in \"" ENVOL_VOLUME_IMPORT_INFIX
		  "\" and %d hex digits are reserved for unfinished imports",
		  name, ENVOL_VOLUME_IMPORT_TAG_LEN);
	return -EINVAL;
}

int ctl_volume_find_import(struct ctl *c, const char *name, char **ret_import_name)
{
	struct envol_volume_entry *e = NULL;
	char rbd_err[1024] = "";
	size_t n = 0, len = 0;
	int r;

	r = envol_volume_list_all(c->cfg, NULL, &e, &n, rbd_err, sizeof rbd_err);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n && r == -ENOENT; i++)
		if (e[i].import && envol_volume_name_is_import(e[i].ref, &len) &&
		    len == strlen(name) && strncmp(e[i].ref, name, len) == 0) {
			*ret_import_name = TAKE_PTR(e[i].ref);
			r = 0;
		}
	envol_volume_entries_free(e, n);
	return r;
}

int ctl_volume_import_begin(struct ctl *c, const char *name, uint64_t size, const char *key,
			    uint32_t sector_size, const char *backend, const char *pool,
			    char **ret_import_name, char *ret_uuid, size_t uuid_len)
{
	_cleanup_free_ char *path = NULL, *ref = NULL, *other = NULL, *tmp = NULL;
	uint8_t tag[ENVOL_VOLUME_IMPORT_TAG_LEN / 2];
	char hex[ENVOL_VOLUME_IMPORT_TAG_LEN + 1], err[1024] = "";
	int r;

	if (refuse_import_name(name) < 0)
		return -EINVAL;
	if (!envol_volume_name_valid(name)) {
		bad_name(name);
		return -EINVAL;
	}
	r = ctl_config(c);
	if (r < 0)
		return r;
	/* NAME itself must be free on every backend */
	r = envol_volume_locate_new(c->cfg, name, backend, pool, &path, &ref, err, sizeof err);
	if (r == -EEXIST) {
		ctl_error("%s; pick another name or delete it first", err);
		return r;
	}
	if (r < 0) {
		ctl_error("cannot import into volume %s: %s", name, err[0] ? err : strerror(-r));
		return r;
	}
	r = ctl_volume_find_import(c, name, &other);
	if (r == 0) {
		ctl_error("an unfinished import of volume %s exists (%s); if no import is running, "
			  "remove it with: envolctl volume delete %s",
			  name, other, name);
		return -EEXIST;
	}
	if (r != -ENOENT) {
		ctl_error("cannot list %s: %s", c->cfg->server.volume_dir, strerror(-r));
		return r;
	}
	if (getrandom(tag, sizeof tag, 0) != (ssize_t)sizeof tag) {
		ctl_error("cannot get random bytes: %s", strerror(errno));
		return -EIO;
	}
	for (size_t i = 0; i < sizeof tag; i++)
		snprintf(hex + 2 * i, 3, "%02x", tag[i]);
	if (asprintf(&tmp, "%s" ENVOL_VOLUME_IMPORT_INFIX "%s", name, hex) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	r = volume_make(c, tmp, size, key, sector_size, false, backend, pool, ret_uuid, uuid_len,
			ret_import_name);
	if (r < 0)
		return r;
	return 0;
}

/* Waits (up to 30 s) until envold has closed the volume at path.  Returns 0, or -EBUSY. */
static int wait_released(const char *path)
{
	for (int i = 0; i < 600; i++) {
		bool locked = true;
		int r = envol_volume_query_lock(path, &locked, NULL, 0);

		if (r < 0)
			return r;
		if (!locked)
			return 0;
		usleep(50 * 1000);
	}
	return -EBUSY;
}

int ctl_volume_import_finish(struct ctl *c, const char *name, const char *import_name)
{
	_cleanup_free_ char *path = NULL, *tmp_path = NULL;
	char err[1024] = "";
	int r;

	r = volume_path(c, import_name, &tmp_path);
	if (r < 0)
		return r;
	/* envold closes a volume when its last client has gone: rename it only then */
	r = wait_released(tmp_path);
	if (r < 0) {
		ctl_error("envold still has %s open 30 s after the import ended: %s", import_name,
			  strerror(-r));
		return r;
	}
	/* in the same place: the directory, or the pool and namespace */
	r = envol_volume_rename_to(tmp_path, name, &path, err, sizeof err);
	if (r == -EEXIST) {
		ctl_error("volume %s was created by someone else during the import; the imported "
			  "data stays in volume %s",
			  name, import_name);
		return r;
	}
	if (r < 0)
		ctl_error("%s", err[0] ? err : strerror(-r));
	return r;
}

void ctl_volume_import_abandon(struct ctl *c, const char *name, const char *import_name)
{
	_cleanup_free_ char *tmp_path = NULL;
	char err[1024] = "";
	int r;

	r = volume_path(c, import_name, &tmp_path);
	if (r == 0)
		r = wait_released(tmp_path);
	if (r == 0)
		r = envol_volume_erase(tmp_path, err, sizeof err);
	if (r == 0)
		r = envol_volume_remove(tmp_path, err, sizeof err);
	if (r < 0)
		ctl_error("the import of volume %s did not finish and its incomplete volume could "
			  "not be removed (%s); remove it with: envolctl volume delete %s",
			  name, err[0] ? err : strerror(-r), name);
}

static int parse_sector_size(const char *text, uint32_t *ret)
{
	if (strcmp(text, "512") == 0)
		*ret = 512;
	else if (strcmp(text, "4096") == 0 || strcasecmp(text, "4K") == 0)
		*ret = 4096;
	else
		return ctl_usage("--sector-size %s: must be 512 or 4096", text);
	return 0;
}

static int volume_create(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"size", required_argument, NULL, 's'},
					     {"key", required_argument, NULL, 'k'},
					     {"sector-size", required_argument, NULL, 'S'},
					     {"read-only", no_argument, NULL, 'r'},
					     {"backend", required_argument, NULL, 'b'},
					     {"pool", required_argument, NULL, 'p'},
					     {}};
	const char *size_text = NULL, *key = NULL, *backend = NULL, *pool = NULL;
	_cleanup_free_ char *ref = NULL;
	uint32_t sector_size = 512;
	bool read_only = false;
	char uuid[37], err[256];
	uint64_t size;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			size_text = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'S':
			r = parse_sector_size(optarg, &sector_size);
			if (r)
				return r;
			break;
		case 'r':
			read_only = true;
			break;
		case 'b':
			r = parse_backend(optarg, &backend);
			if (r)
				return r;
			break;
		case 'p':
			pool = optarg;
			break;
		default:
			return ctl_bad_option("volume", "create", argv);
		}
	}
	if (argc - optind != 1 || !size_text)
		return ctl_usage("usage: envolctl volume create NAME --size SIZE [--key KEY] "
				 "[--sector-size 512|4096] [--read-only] [--backend file|rbd] "
				 "[--pool POOL]");
	r = ctl_parse_place(&backend, pool);
	if (r)
		return r;
	if (ctl_parse_volume_size(size_text, sector_size, &size, err, sizeof err) < 0)
		return ctl_usage("--size: %s", err);
	if (refuse_import_name(argv[optind]) < 0)
		return EXIT_ERROR;
	if (volume_make(c, argv[optind], size, key, sector_size, read_only, backend, pool, uuid,
			sizeof uuid, &ref) < 0)
		return EXIT_ERROR;
	if (c->json) {
		_cleanup_json_ json_t *o2 = json_pack("{s:s,s:s,s:I}", "name", ref, "volume_id",
						      uuid, "size", (json_int_t)size);
		ctl_print_json(o2);
	} else {
		printf("%s\n", uuid);
		if (strcmp(ref, argv[optind]) != 0)
			fprintf(stderr, "envolctl: the volume is named %s (it is outside rbd.pool)\n",
				ref);
	}
	return EXIT_OK;
}

/* DescribeKey state of arn, cached in cache (arn -> state), quietly ("Unknown"). */
static const char *key_state(struct ctl *c, json_t *cache, const char *arn)
{
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	struct ctl_kms_error e;
	json_t *v = json_object_get(cache, arn);
	const char *state = "Unknown";

	if (json_is_string(v))
		return json_string_value(v);
	req = json_pack("{s:s}", "KeyId", arn);
	if (req && ctl_kms_call(c, "DescribeKey", req, &resp, &e) == 0) {
		const char *s = json_string_value(
		    json_object_get(json_object_get(resp, "KeyMetadata"), "KeyState"));
		if (s)
			state = s;
	} else if (req && strcmp(e.type, "NotFoundException") == 0) {
		state = "NotFound";
	}
	json_object_set_new(cache, arn, json_string(state));
	return json_string_value(json_object_get(cache, arn));
}

/*
 * The "volume show --json" object of one volume; prints errors.  import_name is the temporary
 * name of an unfinished import of name (the volume is then incomplete), or NULL.
 */
static int volume_object(struct ctl *c, const char *name, const char *import_name, const char *path,
			 json_t *cache, json_t **ret)
{
	_cleanup_free_ struct envol_volume_header *h = NULL;
	_cleanup_free_ char *blob64 = NULL;
	json_t *o, *ctx;
	char err[1024] = "", uuid[37], created[40], holder[256] = "";
	bool locked = false;
	int r;

	r = read_header(path, &h, err, sizeof err);
	if (r < 0) {
		if (r == -ENOENT)
			report_missing(name, path);
		else
			ctl_error("volume %s: %s", name, err[0] ? err : strerror(-r));
		return r;
	}
	r = envol_volume_query_lock(path, &locked, holder, sizeof holder);
	if (r < 0) {
		ctl_error("volume %s: cannot query its lock: %s", name, strerror(-r));
		return r;
	}
	envol_uuid_format(h->uuid, uuid);
	ctl_format_time((time_t)h->created, created, sizeof created);
	blob64 = envol_base64_encode(h->blob, h->blob_len);
	ctx = json_object();
	if (!blob64 || !ctx) {
		json_decref(ctx);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->n_context; i++)
		json_object_set_new(ctx, h->context[i].key, json_string(h->context[i].value));
	o = json_pack("{s:s,s:s,s:s,s:I,s:i,s:s,s:I,s:s,s:s,s:s,s:o,s:s,s:b,s:b,s:b}", "name", name,
		      "path", path, "volume_id", uuid, "size", (json_int_t)h->size, "sector_size",
		      (int)h->sector_size, "cipher", h->cipher, "data_offset",
		      (json_int_t)h->data_offset, "created", created, "key_arn", h->key_arn,
		      "key_state", key_state(c, cache, h->key_arn), "encryption_context", ctx,
		      "ciphertext_blob", blob64, "read_only",
		      (h->flags & ENVOL_HEADER_FLAG_READ_ONLY) != 0, "mac_pending",
		      (h->flags & ENVOL_HEADER_FLAG_MAC_PENDING) != 0, "attached", locked);
	if (!o)
		return -ENOMEM;
	if (locked && holder[0])
		json_object_set_new(o, "attached_by", json_string(holder));
	json_object_set_new(o, "backend", json_string(envol_volume_backend_name(path)));
	json_object_set_new(o, "location", json_string(path));
	/* true: the parameters are in the encryption context; false: an older volume */
	r = envol_header_check_binding(h, err, sizeof err);
	json_object_set_new(o, "bound", json_boolean(r == 1));
	if (r < 0)
		json_object_set_new(o, "binding_error", json_string(err));
	json_object_set_new(o, "complete", json_boolean(!import_name));
	if (import_name)
		json_object_set_new(o, "import_name", json_string(import_name));
	*ret = o;
	return 0;
}

/*
 * NAME -> the volume to show or delete: NAME's file or image, or else the temporary volume of
 * an unfinished import of NAME (*ret_import_name set; also when NAME is such a temporary name
 * itself).  Prints errors; -ENOENT when neither exists.
 */
static int volume_lookup(struct ctl *c, const char *name, char **ret_path, char **ret_import_name)
{
	_cleanup_free_ char *path = NULL, *import_name = NULL;
	int r;

	r = lookup_path(c, name, &path);
	if (r < 0)
		return r;
	r = path ? exists(name, path) : 0;
	if (r < 0)
		return r;
	if (envol_volume_name_is_import(name, NULL)) {
		import_name = strdup(name);
		if (!import_name)
			return -ENOMEM;
	} else if (r == 0) {
		/* no volume NAME: an unfinished import of it, then */
		r = ctl_volume_find_import(c, name, &import_name);
		if (r == -ENOENT) {
			if (path)
				report_missing(name, path);
			else
				ctl_error("volume %s does not exist; see envolctl volume list", name);
			return r;
		}
		if (r < 0) {
			ctl_error("cannot list the volumes: %s", strerror(-r));
			return r;
		}
		free(path);
		r = volume_path(c, import_name, &path);
		if (r < 0)
			return r;
		r = exists(name, path);
		if (r < 0)
			return r;
	}
	if (r == 0) {
		if (path)
			report_missing(name, path);
		else
			ctl_error("volume %s does not exist; see envolctl volume list", name);
		return -ENOENT;
	}
	*ret_path = TAKE_PTR(path);
	*ret_import_name = TAKE_PTR(import_name);
	return 0;
}

/* The NAME an import's temporary name stands for, into buf. */
static const char *import_target(const char *import_name, char *buf, size_t len)
{
	size_t n = 0;

	if (!envol_volume_name_is_import(import_name, &n))
		n = strlen(import_name);
	snprintf(buf, len, "%.*s", (int)n, import_name);
	return buf;
}

static const char *ostr(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : "-";
}

static int volume_list(struct ctl *c, int argc, char **argv)
{
	static const char *const headers[] = {"NAME", "SIZE", "SECTOR", "KEY", "STATE", "ATTACHED"};
	/* where volumes can be on RBD: which backend and where each one is */
	static const char *const rbd_headers[] = {"NAME", "BACKEND", "SIZE",     "SECTOR", "KEY",
						  "STATE", "ATTACHED", "LOCATION"};
	static const struct option opts[] = {{"pool", required_argument, NULL, 'p'}, {}};
	_cleanup_json_ json_t *cache = json_object(), *out = json_array();
	struct envol_volume_entry *e = NULL;
	const char *pool = NULL;
	char rbd_err[1024] = "";
	size_t n = 0;
	struct table *t = NULL;
	bool wide;
	int o, r, ret = EXIT_ERROR;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'p')
			return ctl_bad_option("volume", "list", argv);
		pool = optarg;
	}
	if (argc - optind > 0)
		return ctl_usage("volume list: unexpected argument \"%s\"", argv[optind]);
	if (!cache || !out || ctl_config(c) < 0)
		return EXIT_ERROR;
	r = envol_volume_list_all(c->cfg, pool, &e, &n, rbd_err, sizeof rbd_err);
	if (r < 0) {
		ctl_error("cannot list %s: %s", c->cfg->server.volume_dir, strerror(-r));
		return EXIT_ERROR;
	}
	wide = c->cfg->rbd.enabled || pool;
	t = wide ? table_new(ARRAY_SIZE(rbd_headers), rbd_headers)
		 : table_new(ARRAY_SIZE(headers), headers);
	if (!t)
		goto out;
	/* the volumes, then unfinished imports (listed under the NAME they are for) */
	for (int imports = 0; imports < 2; imports++)
		for (size_t i = 0; i < n; i++) {
			const char *import_name = e[i].import ? e[i].ref : NULL, *name = e[i].ref;
			const char *backend = envol_volume_backend_name(e[i].location);
			char target[ENVOL_VOLUME_REF_MAX + 1], size[32], sector[16];
			const char *arn, *slash, *state, *attached;
			json_t *obj = NULL;

			if (e[i].import != (imports == 1))
				continue;
			if (import_name)
				name = import_target(import_name, target, sizeof target);
			if (volume_object(c, name, import_name, e[i].location, cache, &obj) < 0) {
				const char *cells[] = {
				    name, "?", "?", "(unreadable header)",
				    import_name ? "incomplete" : "-", "-"};
				const char *wcells[] = {
				    name, backend, "?", "?", "(unreadable header)",
				    import_name ? "incomplete" : "-", "-", e[i].location};

				(void)table_add_row(t, wide ? wcells : cells);
				continue;
			}
			ctl_format_size((uint64_t)json_integer_value(json_object_get(obj, "size")),
					size, sizeof size);
			snprintf(sector, sizeof sector, "%lld",
				 (long long)json_integer_value(json_object_get(obj, "sector_size")));
			arn = ostr(obj, "key_arn");
			slash = strstr(arn, ":key/");
			state = import_name ? "incomplete" : ostr(obj, "key_state");
			attached = json_is_true(json_object_get(obj, "attached")) ? "yes" : "no";
			const char *cells[] = {name, size, sector, slash ? slash + 5 : arn, state,
					       attached};
			const char *wcells[] = {name,  backend,  size,         sector,
						slash ? slash + 5 : arn, state, attached,
						e[i].location};
			(void)table_add_row(t, wide ? wcells : cells);
			json_array_append_new(out, obj);
		}
	ctl_print_listing(c, t, out);
	ret = EXIT_OK;
	if (rbd_err[0]) {
		ctl_error("the RBD volumes are not listed: %s", rbd_err);
		ret = EXIT_ERROR;
	}
out:
	table_free(t);
	envol_volume_entries_free(e, n);
	return ret;
}

static int volume_show(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *cache = json_object(), *o = NULL;
	_cleanup_free_ char *path = NULL, *ctx_text = NULL, *import_name = NULL;
	char size[64], target[ENVOL_VOLUME_REF_MAX + 1];
	const char *k, *name;
	json_t *v;

	if (argc != 2)
		return ctl_usage("usage: envolctl volume show NAME");
	if (!cache || volume_lookup(c, argv[1], &path, &import_name) < 0)
		return EXIT_ERROR;
	name = import_name ? import_target(import_name, target, sizeof target) : argv[1];
	if (volume_object(c, name, import_name, path, cache, &o) < 0)
		return EXIT_ERROR;
	ctl_volume_grants_add(c, o);
	if (c->json) {
		ctl_print_json(o);
		return EXIT_OK;
	}
	ctl_format_size((uint64_t)json_integer_value(json_object_get(o, "size")), size,
			sizeof size);
	snprintf(size + strlen(size), sizeof size - strlen(size), " (%lld bytes)",
		 (long long)json_integer_value(json_object_get(o, "size")));
	json_object_foreach(json_object_get(o, "encryption_context"), k, v)
	{
		char *n;

		if (asprintf(&n, "%s%s%s=%s", ctx_text ? ctx_text : "", ctx_text ? ", " : "", k,
			     json_string_value(v)) < 0)
			n = NULL;
		free(ctx_text);
		ctx_text = n;
	}
	table_print_field(stdout, 18, "name", ostr(o, "name"));
	if (import_name) {
		char *note;

		if (asprintf(&note,
			     "incomplete: an import that did not finish%s; not attachable as %s; "
			     "remove it with envolctl volume delete %s",
			     json_is_true(json_object_get(o, "attached")) ? " (or is still running)"
									  : "",
			     name, name) < 0)
			note = NULL;
		table_print_field(stdout, 18, "state", note ? note : "incomplete");
		free(note);
	}
	table_print_field(stdout, 18, "backend", ostr(o, "backend"));
	table_print_field(stdout, 18, "path", ostr(o, "path"));
	table_print_field(stdout, 18, "volume_id", ostr(o, "volume_id"));
	table_print_field(stdout, 18, "size", size);
	{
		char s[16];

		snprintf(s, sizeof s, "%lld",
			 (long long)json_integer_value(json_object_get(o, "sector_size")));
		table_print_field(stdout, 18, "sector_size", s);
		snprintf(s, sizeof s, "%lld",
			 (long long)json_integer_value(json_object_get(o, "data_offset")));
		table_print_field(stdout, 18, "cipher", ostr(o, "cipher"));
		table_print_field(stdout, 18, "data_offset", s);
	}
	table_print_field(stdout, 18, "created", ostr(o, "created"));
	table_print_field(stdout, 18, "key_arn", ostr(o, "key_arn"));
	table_print_field(stdout, 18, "key_state", ostr(o, "key_state"));
	table_print_field(stdout, 18, "encryption_context", ctx_text);
	table_print_field(stdout, 18, "ciphertext_blob", ostr(o, "ciphertext_blob"));
	table_print_field(stdout, 18, "read_only",
			  json_is_true(json_object_get(o, "read_only")) ? "yes" : "no");
	table_print_field(stdout, 18, "mac_pending",
			  json_is_true(json_object_get(o, "mac_pending")) ? "yes" : "no");
	table_print_field(stdout, 18, "bound",
			  json_is_true(json_object_get(o, "bound"))
			      ? "yes"
			      : json_object_get(o, "binding_error")
				    ? ostr(o, "binding_error")
				    : "no (an older volume: envolctl volume upgrade binds it)");
	table_print_field(stdout, 18, "attached",
			  json_is_true(json_object_get(o, "attached"))
			      ? (json_object_get(o, "attached_by") ? ostr(o, "attached_by") : "yes")
			      : "no");
	ctl_volume_grants_print(o, 18);
	return EXIT_OK;
}

/* Refuses an attached volume, naming the holder. Returns 0 when free. */
static int refuse_attached(const char *name, const char *path, const char *what)
{
	char holder[256] = "";
	bool locked = false;
	int r;

	r = envol_volume_query_lock(path, &locked, holder, sizeof holder);
	if (r == -ENOENT) {
		report_missing(name, path);
		return r;
	}
	if (r < 0) {
		ctl_error("volume %s: %s", name, strerror(-r));
		return r;
	}
	if (locked) {
		ctl_error("volume %s is attached (open by %s); disconnect its NBD clients before "
			  "%s it (if that holder is dead: envolctl volume release %s --force)",
			  name, holder[0] ? holder : "another process", what, name);
		return -EBUSY;
	}
	return 0;
}

static int volume_delete(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {}};
	_cleanup_free_ char *path = NULL, *import_name = NULL;
	char err[1024] = "";
	bool force = false;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o != 'f')
			return ctl_bad_option("volume", "delete", argv);
		force = true;
	}
	if (argc - optind != 1)
		return ctl_usage("usage: envolctl volume delete NAME [--force]");
	if (volume_lookup(c, argv[optind], &path, &import_name) < 0)
		return EXIT_ERROR;
	if (refuse_attached(argv[optind], path, "deleting") < 0)
		return EXIT_ERROR;
	if (!force && isatty(STDIN_FILENO)) {
		char answer[16] = "";

		fprintf(stderr,
			"Delete volume %s? Its key is erased and its data cannot be recovered. "
			"[y/N] ",
			argv[optind]);
		fflush(stderr);
		if (!fgets(answer, sizeof answer, stdin) ||
		    (strcmp(answer, "y\n") != 0 && strcmp(answer, "yes\n") != 0)) {
			ctl_error("volume %s not deleted", argv[optind]);
			return EXIT_ERROR;
		}
	}
	r = envol_volume_erase(path, err, sizeof err);
	if (r < 0) {
		ctl_error("cannot erase volume %s: %s", argv[optind], err[0] ? err : strerror(-r));
		return EXIT_ERROR;
	}
	r = envol_volume_remove(path, err, sizeof err);
	if (r < 0) {
		ctl_error("volume %s was crypto-erased but %s could not be removed: %s",
			  argv[optind], path, strerror(-r));
		return EXIT_ERROR;
	}
	if (c->json) {
		_cleanup_json_ json_t *j =
		    json_pack("{s:s,s:b}", "name", argv[optind], "deleted", 1);
		ctl_print_json(j);
	} else {
		printf("volume %s deleted\n", argv[optind]);
	}
	return EXIT_OK;
}

/*
 * Rewraps the data key of the open volume v with ReEncrypt: from its blob and context to
 * dest_key (NULL: the header's key) under new_ctx (the context to bind; NULL: the header's),
 * then writes the new blob and context.  Without --key the wrapping key must stay the one
 * that wrapped the blob: a header whose key ARN was changed would otherwise pick the key.
 */
static int rewrap(struct ctl *c, const char *name, struct envol_volume *v, const char *dest_key,
		  const struct envol_context_pair *new_ctx, size_t n_new_ctx, json_t **ret_resp)
{
	const struct envol_volume_info *info = envol_volume_get_info(v);
	_cleanup_json_ json_t *src = context_json(info->context, info->n_context), *dst = NULL;
	_cleanup_json_ json_t *req = NULL, *resp = NULL;
	_cleanup_free_ char *blob64 = envol_base64_encode(info->blob, info->blob_len);
	_cleanup_free_ uint8_t *blob = NULL;
	const char *b64, *new_arn, *source_arn;
	char err[1024] = "";
	size_t blob_len = 0;
	int r;

	dst = new_ctx ? context_json(new_ctx, n_new_ctx) : json_incref(src);
	if (!src || !dst || !blob64)
		return -ENOMEM;
	c->key_hint = dest_key ? dest_key : info->key_arn;
	req = json_pack("{s:s,s:O,s:s,s:O}", "CiphertextBlob", blob64, "SourceEncryptionContext",
			src, "DestinationKeyId", dest_key ? dest_key : info->key_arn,
			"DestinationEncryptionContext", dst);
	if (!req)
		return -ENOMEM;
	r = ctl_kms_call(c, "ReEncrypt", req, &resp, NULL);
	if (r < 0)
		return r;
	b64 = json_string_value(json_object_get(resp, "CiphertextBlob"));
	new_arn = json_string_value(json_object_get(resp, "KeyId"));
	source_arn = json_string_value(json_object_get(resp, "SourceKeyId"));
	if (!b64 || !new_arn || !source_arn ||
	    envol_base64_decode(b64, strlen(b64), &blob, &blob_len) < 0) {
		ctl_error("KMS ReEncrypt answer lacks KeyId, SourceKeyId or CiphertextBlob");
		return -EPROTO;
	}
	if (!dest_key && strcmp(source_arn, info->key_arn) != 0) {
		ctl_error("volume %s: its header names key %s, but its data key was wrapped by %s: "
			  "the header was altered; nothing written",
			  name, info->key_arn, source_arn);
		return -EBADMSG;
	}
	r = envol_volume_rewrap(v, new_arn, blob, blob_len, new_ctx, n_new_ctx, err, sizeof err);
	if (r < 0) {
		ctl_error("cannot write the new key to volume %s: %s (the old header is intact)",
			  name, err[0] ? err : strerror(-r));
		return r;
	}
	*ret_resp = TAKE_PTR(resp);
	return 0;
}

/* Opens volume NAME for a header update (rekey, upgrade): not attached.  Prints errors. */
static int open_for_update(struct ctl *c, const char *name, const char *what,
			   struct envol_volume **ret)
{
	_cleanup_free_ char *path = NULL;
	char err[1024] = "";
	int r;

	if (volume_path(c, name, &path) < 0 || refuse_attached(name, path, what) < 0)
		return -EINVAL;
	r = envol_volume_open(path, true, ret, err, sizeof err);
	if (r == -EBUSY)
		ctl_error("volume %s is attached: %s; disconnect its NBD clients before %s it",
			  name, err, what);
	else if (r < 0)
		ctl_error("cannot open volume %s: %s", name, err[0] ? err : strerror(-r));
	return r;
}

static int volume_rekey(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 'k'}, {}};
	_cleanup_free_ char *dest = NULL;
	_cleanup_json_ json_t *resp = NULL;
	struct envol_volume *v = NULL;
	const char *key = NULL, *name;
	int o, ret = EXIT_ERROR;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'k')
			return ctl_bad_option("volume", "rekey", argv);
		key = optarg;
	}
	if (argc - optind != 1)
		return ctl_usage("usage: envolctl volume rekey NAME [--key KEY]");
	name = argv[optind];
	if (key) {
		dest = ctl_key_normalize(key);
		if (!dest)
			return ctl_usage(
			    "--key \"%s\" is not a key id, key ARN, alias name or alias "
			    "ARN",
			    key);
	}
	if (open_for_update(c, name, "rekeying", &v) < 0)
		return EXIT_ERROR;
	if (!envol_volume_get_info(v)->bound) {
		ctl_error("volume %s was made by an older envol: its encryption context does not "
			  "bind its parameters; run envolctl volume upgrade %s first",
			  name, name);
		goto out;
	}
	/* The same (bound) context: the parameters do not change, only the wrapping key. */
	if (rewrap(c, name, v, dest, NULL, 0, &resp) < 0)
		goto out;
	if (c->json) {
		_cleanup_json_ json_t *j =
		    json_pack("{s:s,s:s,s:s}", "name", name, "source_key_arn",
			      json_string_value(json_object_get(resp, "SourceKeyId")), "key_arn",
			      json_string_value(json_object_get(resp, "KeyId")));
		ctl_print_json(j);
	} else {
		printf("volume %s: data key rewrapped under %s\n", name,
		       json_string_value(json_object_get(resp, "KeyId")));
	}
	ret = EXIT_OK;
out:
	envol_volume_close(v);
	return ret;
}

/*
 * envolctl volume upgrade NAME: binds the parameters of a volume made by an older envol into
 * its encryption context (ReEncrypt under the same key), keeping its other context pairs.  It
 * trusts the header's size, sector size and read-only flag as they are now, and says so.
 */
static int volume_upgrade(struct ctl *c, int argc, char **argv)
{
	_cleanup_json_ json_t *resp = NULL;
	struct envol_context_pair ctx[ENVOL_VOLUME_MAX_CONTEXT];
	struct envol_volume_bound_context bc;
	const struct envol_volume_info *info;
	struct envol_volume *v = NULL;
	const char *name;
	size_t n = 0;
	int ret = EXIT_ERROR;

	if (argc != 2)
		return ctl_usage("usage: envolctl volume upgrade NAME");
	name = argv[1];
	if (open_for_update(c, name, "upgrading", &v) < 0)
		return EXIT_ERROR;
	info = envol_volume_get_info(v);
	if (info->bound) {
		printf("volume %s: its encryption context already binds its parameters\n", name);
		ret = EXIT_OK;
		goto out;
	}
	if (envol_volume_bound_context(info->uuid, info->size, info->sector_size, info->read_only,
				       &bc) < 0)
		goto out;
	for (size_t i = 0; i < info->n_context; i++)
		if (strncmp(info->context[i].key, "envol:", 6) != 0)
			ctx[n++] = info->context[i];
	if (n + ENVOL_VOLUME_BOUND_PAIRS > ENVOL_VOLUME_MAX_CONTEXT) {
		ctl_error("volume %s: %zu encryption context pairs and the %d envol: pairs are more "
			  "than %d",
			  name, n, ENVOL_VOLUME_BOUND_PAIRS, ENVOL_VOLUME_MAX_CONTEXT);
		goto out;
	}
	for (size_t i = 0; i < ENVOL_VOLUME_BOUND_PAIRS; i++)
		ctx[n++] = bc.pairs[i];
	if (rewrap(c, name, v, NULL, ctx, n, &resp) < 0)
		goto out;
	if (c->json) {
		_cleanup_json_ json_t *j = json_pack(
		    "{s:s,s:I,s:i,s:b,s:b}", "name", name, "size", (json_int_t)info->size,
		    "sector_size", (int)info->sector_size, "read_only", info->read_only, "bound", 1);
		ctl_print_json(j);
	} else {
		printf("volume %s: parameters bound to its data key as the header gives them: size "
		       "%llu bytes, sector size %u, %s\n",
		       name, (unsigned long long)info->size, info->sector_size,
		       info->read_only ? "read-only" : "read-write");
	}
	ret = EXIT_OK;
out:
	envol_volume_close(v);
	return ret;
}

/*
 * The forced takeover (EBS's force-detach): fences whoever holds an RBD volume and breaks its
 * lock, so that another host can attach it.  For a holder that is dead or cut off: a live one
 * loses the volume (its I/O fails from then on).
 */
static int volume_release(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {}};
	_cleanup_free_ char *path = NULL;
	char err[1024] = "", holder[512] = "";
	bool force = false;
	int o, r;

	ctl_getopt_reset();
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o != 'f')
			return ctl_bad_option("volume", "release", argv);
		force = true;
	}
	if (argc - optind != 1)
		return ctl_usage("usage: envolctl volume release NAME --force");
	if (!force)
		return ctl_usage("volume release takes the volume away from whoever holds it and "
				 "fences that host: give --force (see envolctl(1))");
	if (volume_path(c, argv[optind], &path) < 0)
		return EXIT_ERROR;
	r = envol_volume_force_release(path, holder, sizeof holder, err, sizeof err);
	if (r == -ENOENT) {
		report_missing(argv[optind], path);
		return EXIT_ERROR;
	}
	if (r < 0) {
		ctl_error("cannot release volume %s: %s", argv[optind], err[0] ? err : strerror(-r));
		return EXIT_ERROR;
	}
	if (c->json) {
		_cleanup_json_ json_t *j = json_pack("{s:s,s:b}", "name", argv[optind], "released",
						     holder[0] != 0);

		if (j && holder[0])
			json_object_set_new(j, "fenced", json_string(holder));
		ctl_print_json(j);
	} else if (holder[0]) {
		printf("volume %s released: %s is fenced (blocklisted) and its lock broken\n",
		       argv[optind], holder);
	} else {
		printf("volume %s is not attached; nothing to release\n", argv[optind]);
	}
	return EXIT_OK;
}

int ctl_volume_main(struct ctl *c, int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return ctl_usage("volume: which command? (create, list, show, delete, rekey, "
				 "upgrade, import, export, release)");
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "create") == 0)
		return volume_create(c, argc, argv);
	if (strcmp(cmd, "list") == 0)
		return volume_list(c, argc, argv);
	if (strcmp(cmd, "show") == 0)
		return volume_show(c, argc, argv);
	if (strcmp(cmd, "delete") == 0)
		return volume_delete(c, argc, argv);
	if (strcmp(cmd, "rekey") == 0)
		return volume_rekey(c, argc, argv);
	if (strcmp(cmd, "upgrade") == 0)
		return volume_upgrade(c, argc, argv);
	if (strcmp(cmd, "import") == 0)
		return ctl_volume_import(c, argc, argv);
	if (strcmp(cmd, "export") == 0)
		return ctl_volume_export(c, argc, argv);
	if (strcmp(cmd, "release") == 0)
		return volume_release(c, argc, argv);
	return ctl_usage("volume: unknown command \"%s\"", cmd);
}
