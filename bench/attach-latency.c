/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * attach-latency.c — NBD attach timing and connection holding, with libnbd, for scripts/bench.
 *
 *   attach-latency --socket SOCK [-n N] [--gap-ms MS] EXPORT…
 *       N times (cycling over the exports): connect, fixed-newstyle handshake, NBD_OPT_GO
 *       (for envold the first open of an export includes the KMS Decrypt and the header MAC
 *       check), timed until the handle is ready; then disconnect.  Cycle over many exports so
 *       that every attach is a first open.  Prints one JSON line with p50/p99/max.
 *
 *   attach-latency --socket SOCK --hold [--conns C] EXPORT…
 *       Opens C connections to every export and reads 4 KiB on each, prints "ready N" and waits
 *       until stdin reaches EOF (so the caller can read the server's memory), then disconnects.
 */
#include <getopt.h>
#include <libnbd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/macros.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double percentile_us(const uint64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	return (double)v[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)] / 1000.0;
}

static struct nbd_handle *open_export(const char *sock, const char *name)
{
	struct nbd_handle *h = nbd_create();

	if (!h)
		return NULL;
	if (nbd_set_export_name(h, name) < 0 || nbd_connect_unix(h, sock) < 0) {
		fprintf(stderr, "attach-latency: %s: %s\n", name, nbd_get_error());
		nbd_close(h);
		return NULL;
	}
	return h;
}

static int run_latency(const char *sock, char **exports, int n_exports, long n, long gap_ms)
{
	_cleanup_free_ uint64_t *lat = calloc((size_t)n, sizeof(*lat));
	struct timespec gap = { gap_ms / 1000, (gap_ms % 1000) * 1000000 };
	size_t ok = 0;
	long i, errors = 0;

	if (!lat)
		return 1;
	for (i = 0; i < n; i++) {
		const char *name = exports[i % n_exports];
		uint64_t t0 = now_ns();
		struct nbd_handle *h = open_export(sock, name);
		uint64_t t1 = now_ns();

		if (!h) {
			errors++;
			continue;
		}
		lat[ok++] = t1 - t0;
		(void)nbd_shutdown(h, 0);
		nbd_close(h);
		if (gap_ms > 0)
			nanosleep(&gap, NULL);
	}
	qsort(lat, ok, sizeof(*lat), cmp_u64);
	printf("{\"attaches\":%zu,\"exports\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	       "\"errors\":%ld}\n",
	       ok, n_exports, percentile_us(lat, ok, 50), percentile_us(lat, ok, 99),
	       ok ? (double)lat[ok - 1] / 1000.0 : 0.0, errors);
	return ok > 0 ? 0 : 1;
}

static int run_hold(const char *sock, char **exports, int n_exports, int conns)
{
	size_t n = (size_t)n_exports * (size_t)conns, k, opened = 0;
	_cleanup_free_ struct nbd_handle **h = calloc(n, sizeof(*h));
	char data[4096], line[64];
	int r = 0;

	if (!h)
		return 1;
	for (k = 0; k < n; k++) {
		h[k] = open_export(sock, exports[k / (size_t)conns]);
		if (!h[k] || nbd_pread(h[k], data, sizeof(data), 0, 0) < 0) {
			if (h[k])
				fprintf(stderr, "attach-latency: pread: %s\n", nbd_get_error());
			r = 1;
			break;
		}
		opened++;
	}
	printf("ready %zu\n", opened);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		;
	for (k = 0; k < n; k++) {
		if (h[k]) {
			(void)nbd_shutdown(h[k], 0);
			nbd_close(h[k]);
		}
	}
	return r;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "gap-ms", required_argument, NULL, 'g' },
		{ "hold", no_argument, NULL, 'H' },
		{ "conns", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *sock = NULL;
	long n = 200, gap_ms = 0;
	int conns = 2, hold = 0, opt;

	while ((opt = getopt_long(argc, argv, "s:n:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'g': gap_ms = strtol(optarg, NULL, 10); break;
		case 'H': hold = 1; break;
		case 'c': conns = (int)strtol(optarg, NULL, 10); break;
		case 'h':
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: attach-latency --socket SOCK [-n N] [--gap-ms MS] EXPORT…\n"
				"       attach-latency --socket SOCK --hold [--conns C] EXPORT…\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (!sock || optind >= argc || n < 1 || conns < 1 || gap_ms < 0) {
		fprintf(stderr, "attach-latency: need --socket and at least one export (see --help)\n");
		return 2;
	}
	if (hold)
		return run_hold(sock, argv + optind, argc - optind, conns);
	return run_latency(sock, argv + optind, argc - optind, n, gap_ms);
}
