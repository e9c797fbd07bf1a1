/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms-load.c — load generator for envol-kmsd: N client threads, each with its own libcurl
 * handle (one kept-alive HTTP connection), POSTing one KMS operation as fast as the daemon
 * answers, over the Unix socket (caller = SO_PEERCRED) or over TCP with SigV4
 * (CURLOPT_AWS_SIGV4).  Prints one JSON line: ops/s, p50/p99/max latency, errors.
 * A benchmark helper driven by scripts/bench; never part of ctest.
 *
 *   kms-load (--socket PATH | --endpoint URL --access-key AK --secret-key SK [--region R])
 *            --op Decrypt|GenerateDataKeyWithoutPlaintext|CreateKey [--key KEY | --policy FILE]
 *            [--clients N] [--seconds S] [--warmup S] [--count N]
 *
 * Without --key, Decrypt and GenerateDataKeyWithoutPlaintext run on a key kms-load creates
 * first: with the default key policy, or with the key policy in FILE (--policy; the caller
 * must be allowed the operation by it, e.g. bench/policy-10.json for root on the Unix
 * socket).  The JSON line says which ("key_policy": "default", the file's name, or "given").
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/macros.h"

#define MAX_CLIENTS 256

enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

struct options {
	const char *socket;
	const char *endpoint;
	const char *access_key;
	const char *secret_key;
	const char *region;
	const char *op;
	const char *key;
	const char *policy; /* --policy FILE */
	unsigned clients;
	double seconds;
	double warmup;
	long count; /* > 0: run exactly this many operations in total, no warmup */
};

struct buf {
	char *data;
	size_t len, cap;
};

struct client {
	pthread_t thread;
	const struct options *o;
	const char *body; /* request body shared by all threads (NULL: CreateKey, made per op) */
	uint64_t *lat_ns;
	size_t n_lat, cap_lat;
	unsigned long errors;
	char first_error[256];
	int setup_failed;
};

static atomic_int phase = PHASE_WARMUP;
static atomic_long remaining; /* --count mode */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->data, cap);

		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* One easy handle set up for operation op; the connection is kept alive between calls. */
static CURL *make_handle(const struct options *o, const char *op, struct curl_slist **ret_hdrs,
			 struct buf *resp)
{
	char url[512], target[128], sigv4[128], userpwd[512];
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	snprintf(target, sizeof(target), "X-Amz-Target: TrentService.%s", op);
	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
	h = curl_slist_append(h, target);
	h = curl_slist_append(h, "Expect:");
	if (o->socket) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->socket);
		snprintf(url, sizeof(url), "http://localhost/");
	} else {
		snprintf(url, sizeof(url), "%s/", o->endpoint);
		snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:kms", o->region);
		snprintf(userpwd, sizeof(userpwd), "%s:%s", o->access_key, o->secret_key);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	*ret_hdrs = h;
	return c;
}

/* POST body; returns the HTTP status (200 on success) or -1 with err filled in. */
static long do_call(CURL *c, const char *body, struct buf *resp, char *err, size_t errlen)
{
	CURLcode rc;
	long status = 0;

	resp->len = 0;
	if (resp->data)
		resp->data[0] = '\0';
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "curl: %s", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		snprintf(err, errlen, "HTTP %ld: %.200s", status, resp->data ? resp->data : "");
	return status;
}

static int record(struct client *cl, uint64_t ns)
{
	if (cl->n_lat == cl->cap_lat) {
		size_t cap = cl->cap_lat ? cl->cap_lat * 2 : 65536;
		uint64_t *p = realloc(cl->lat_ns, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		cl->lat_ns = p;
		cl->cap_lat = cap;
	}
	cl->lat_ns[cl->n_lat++] = ns;
	return 0;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	const struct options *o = cl->o;
	struct curl_slist *hdrs = NULL;
	struct buf resp = { 0 };
	char err[256], body[256];
	unsigned long seq = 0;
	CURL *c = make_handle(o, o->op, &hdrs, &resp);

	if (!c) {
		cl->setup_failed = 1;
		return NULL;
	}
	for (;;) {
		int ph = atomic_load(&phase);
		const char *b = cl->body;
		uint64_t t0, t1;
		long status;

		if (o->count > 0) {
			if (atomic_fetch_sub(&remaining, 1) <= 0)
				break;
			ph = PHASE_MEASURE;
		} else if (ph == PHASE_STOP) {
			break;
		}
		if (!b) {
			snprintf(body, sizeof(body), "{\"Description\":\"kms-load %lx-%lu\"}",
				 (unsigned long)pthread_self(), seq++);
			b = body;
		}
		t0 = now_ns();
		status = do_call(c, b, &resp, err, sizeof(err));
		t1 = now_ns();
		if (status != 200) {
			if (ph == PHASE_MEASURE) {
				if (cl->errors++ == 0)
					snprintf(cl->first_error, sizeof(cl->first_error), "%s", err);
			}
			continue;
		}
		if (ph == PHASE_MEASURE && record(cl, t1 - t0) < 0)
			break;
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(resp.data);
	return NULL;
}

/* One call of op with body; returns the answer (parsed) or NULL with a message on stderr. */
static json_t *call_once(const struct options *o, const char *op, const char *body)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = { 0 };
	char err[256];
	json_t *j = NULL;
	long status;
	CURL *c = make_handle(o, op, &hdrs, &resp);

	if (!c)
		return NULL;
	status = do_call(c, body, &resp, err, sizeof(err));
	if (status != 200)
		fprintf(stderr, "kms-load: %s: %s\n", op, err);
	else if (!(j = json_loads(resp.data, 0, NULL)))
		fprintf(stderr, "kms-load: %s: not JSON: %.200s\n", op, resp.data);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(resp.data);
	return j;
}

/* Creates the key of the run (policy: key policy text, NULL for the default); its KeyId. */
static char *create_key(const struct options *o, const char *policy)
{
	json_t *req = json_pack("{s:s}", "Description", "kms-load");
	char *body, *id = NULL;
	json_t *j;

	if (req && policy)
		json_object_set_new(req, "Policy", json_string(policy));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return NULL;
	j = call_once(o, "CreateKey", body);
	free(body);
	if (j && json_is_string(json_object_get(json_object_get(j, "KeyMetadata"), "KeyId")))
		id = strdup(json_string_value(
			json_object_get(json_object_get(j, "KeyMetadata"), "KeyId")));
	json_decref(j);
	return id;
}

/* The contents of FILE (a key policy, at most 32 KiB) in a malloc'd string. */
static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = malloc(32769);
	size_t n = 0;

	if (f && buf)
		n = fread(buf, 1, 32768, f);
	if (f)
		fclose(f);
	if (!f || !buf || n == 0) {
		fprintf(stderr, "kms-load: cannot read %s\n", path);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

/* GenerateDataKeyWithoutPlaintext once, to get a CiphertextBlob for the Decrypt load. */
static char *make_decrypt_body(const struct options *o, const char *context_json)
{
	struct curl_slist *hdrs = NULL;
	struct buf resp = { 0 };
	char req[1024], err[256];
	char *out = NULL;
	json_t *j = NULL;
	const char *blob;
	long status;
	CURL *c = make_handle(o, "GenerateDataKeyWithoutPlaintext", &hdrs, &resp);

	if (!c)
		return NULL;
	snprintf(req, sizeof(req), "{\"KeyId\":\"%s\",\"NumberOfBytes\":64,\"EncryptionContext\":%s}",
		 o->key, context_json);
	status = do_call(c, req, &resp, err, sizeof(err));
	if (status != 200) {
		fprintf(stderr, "kms-load: GenerateDataKeyWithoutPlaintext: %s\n", err);
		goto out;
	}
	j = json_loads(resp.data, 0, NULL);
	blob = j ? json_string_value(json_object_get(j, "CiphertextBlob")) : NULL;
	if (!blob) {
		fprintf(stderr, "kms-load: no CiphertextBlob in %.200s\n", resp.data);
		goto out;
	}
	if (asprintf(&out, "{\"CiphertextBlob\":\"%s\",\"EncryptionContext\":%s}", blob,
		     context_json) < 0)
		out = NULL;
out:
	json_decref(j);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(resp.data);
	return out;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double percentile_us(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: kms-load (--socket PATH | --endpoint URL --access-key AK --secret-key SK"
		   " [--region R])\n"
		   "                --op Decrypt|GenerateDataKeyWithoutPlaintext|CreateKey"
		   " [--key KEY | --policy FILE]\n"
		   "                [--clients N] [--seconds S] [--warmup S] [--count N]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "access-key", required_argument, NULL, 'a' },
		{ "secret-key", required_argument, NULL, 'k' },
		{ "region", required_argument, NULL, 'r' },
		{ "op", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'K' },
		{ "policy", required_argument, NULL, 'p' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct options o = { .region = "local", .op = "Decrypt", .clients = 1, .seconds = 3,
			     .warmup = 0.5 };
	_cleanup_free_ char *created = NULL, *policy_text = NULL;
	const char *key_policy = "given";
	static struct client cl[MAX_CLIENTS];
	_cleanup_free_ char *body = NULL;
	_cleanup_free_ uint64_t *all = NULL;
	char context[128];
	unsigned long errors = 0;
	const char *first_error = "";
	size_t n_all = 0, k;
	uint64_t t_start, t_end = 0;
	struct timespec ts;
	double elapsed;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': o.socket = optarg; break;
		case 'e': o.endpoint = optarg; break;
		case 'a': o.access_key = optarg; break;
		case 'k': o.secret_key = optarg; break;
		case 'r': o.region = optarg; break;
		case 'o': o.op = optarg; break;
		case 'K': o.key = optarg; break;
		case 'p': o.policy = optarg; break;
		case 'c': o.clients = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': o.seconds = strtod(optarg, NULL); break;
		case 'w': o.warmup = strtod(optarg, NULL); break;
		case 'n': o.count = strtol(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.socket == !o.endpoint || (o.endpoint && (!o.access_key || !o.secret_key)) ||
	    o.clients < 1 || o.clients > MAX_CLIENTS || o.seconds <= 0 || o.warmup < 0 ||
	    (o.key && o.policy)) {
		usage(stderr);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return 1;

	if (!o.key && strcmp(o.op, "CreateKey") != 0) {
		if (o.policy && !(policy_text = read_text(o.policy)))
			return 1;
		created = create_key(&o, policy_text);
		if (!created)
			return 1;
		o.key = created;
		key_policy = o.policy ? (strrchr(o.policy, '/') ? strrchr(o.policy, '/') + 1
								: o.policy)
				      : "default";
	}
	snprintf(context, sizeof(context), "{\"envol:volume-id\":\"vol-kms-load-%ld\"}",
		 (long)getpid());
	if (strcmp(o.op, "Decrypt") == 0) {
		body = make_decrypt_body(&o, context);
		if (!body)
			return 1;
	} else if (strcmp(o.op, "GenerateDataKeyWithoutPlaintext") == 0) {
		if (asprintf(&body, "{\"KeyId\":\"%s\",\"NumberOfBytes\":64,"
				    "\"EncryptionContext\":%s}", o.key, context) < 0)
			return 1;
	} else if (strcmp(o.op, "CreateKey") != 0) {
		fprintf(stderr, "kms-load: unknown --op %s\n", o.op);
		return 2;
	}

	atomic_store(&remaining, o.count);
	atomic_store(&phase, o.count > 0 ? PHASE_MEASURE : PHASE_WARMUP);
	t_start = now_ns();
	for (k = 0; k < o.clients; k++) {
		cl[k].o = &o;
		cl[k].body = body;
		if (pthread_create(&cl[k].thread, NULL, client_main, &cl[k]) != 0) {
			fprintf(stderr, "kms-load: pthread_create failed\n");
			return 1;
		}
	}
	if (o.count <= 0) {
		ts.tv_sec = (time_t)o.warmup;
		ts.tv_nsec = (long)((o.warmup - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
		t_start = now_ns();
		atomic_store(&phase, PHASE_MEASURE);
		ts.tv_sec = (time_t)o.seconds;
		ts.tv_nsec = (long)((o.seconds - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
		atomic_store(&phase, PHASE_STOP);
		t_end = now_ns();
	}
	for (k = 0; k < o.clients; k++)
		pthread_join(cl[k].thread, NULL);
	if (o.count > 0)
		t_end = now_ns();
	elapsed = (double)(t_end - t_start) / 1e9;

	for (k = 0; k < o.clients; k++)
		n_all += cl[k].n_lat;
	all = malloc((n_all ? n_all : 1) * sizeof(*all));
	if (!all)
		return 1;
	n_all = 0;
	for (k = 0; k < o.clients; k++) {
		if (cl[k].n_lat)
			memcpy(all + n_all, cl[k].lat_ns, cl[k].n_lat * sizeof(*all));
		n_all += cl[k].n_lat;
		if (cl[k].errors && !errors)
			first_error = cl[k].first_error;
		errors += cl[k].errors;
		free(cl[k].lat_ns);
	}
	qsort(all, n_all, sizeof(*all), cmp_u64);

	{
		json_t *out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:s}",
					"op", o.op, "transport", o.socket ? "unix" : "tcp+sigv4",
					"key_policy", key_policy,
					"clients", (json_int_t)o.clients, "ops", (json_int_t)n_all,
					"seconds", elapsed,
					"ops_per_s", elapsed > 0 ? (double)n_all / elapsed : 0.0,
					"p50_us", percentile_us(all, n_all, 50),
					"p99_us", percentile_us(all, n_all, 99),
					"max_us", n_all ? (double)all[n_all - 1] / 1000.0 : 0.0,
					"errors", (json_int_t)errors, "first_error", first_error);
		char *s = out ? json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(8)) : NULL;

		if (s)
			printf("%s\n", s);
		free(s);
		json_decref(out);
	}
	curl_global_cleanup();
	return n_all > 0 ? 0 : 1;
}
