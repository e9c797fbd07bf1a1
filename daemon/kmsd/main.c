/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c — envol-kmsd: options, process hardening, configuration, the KMS core, listeners,
 * key maintenance every second on the daemon/common ticker (kms_tick: rotations and deletions
 * by envol_clock_now(); the audit anchor; cutting connections over the request time limit; it
 * also pings the systemd watchdog), sd_notify, an orderly SIGTERM/SIGINT shutdown that finishes
 * in-flight requests; SIGHUP reloads the access settings (and never stops the daemon).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/listen.h"
#include "common/notify.h"
#include "common/signals.h"
#include "kms/kms.h"
#include "kmsd.h"
#include "util/config.h"
#include "util/log.h"
#include "util/macros.h"
#include "util/secure_mem.h"

#define MAINTENANCE_PERIOD_MS 1000 /* kms_tick: rotations due, deletion windows over */

/* The access settings of cfg as KMS options (arrays malloc'd into *ret_ips, *ret_principals). */
static int access_options(const struct envol_config *cfg, struct kms_options *ko,
			  struct kms_identity_policy_file **ret_ips, char ***ret_principals)
{
	size_t n_ip = cfg->kms.n_identity_policies, n_cr = cfg->kms.n_credentials;
	struct kms_identity_policy_file *ips = calloc(n_ip + 1, sizeof(*ips));
	char **principals = calloc(n_cr + 1, sizeof(*principals));

	if (!ips || !principals) {
		free(ips);
		free(principals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_ip; i++)
		ips[i] = (struct kms_identity_policy_file){cfg->kms.identity_policies[i].principal,
							   cfg->kms.identity_policies[i].file};
	for (size_t i = 0; i < n_cr; i++)
		principals[i] = cfg->kms.credentials[i].principal;
	ko->admins = cfg->kms.admins;
	ko->n_admins = cfg->kms.n_admins;
	ko->services = cfg->kms.services;
	ko->n_services = cfg->kms.n_services;
	ko->identity_policies = ips;
	ko->n_identity_policies = n_ip;
	ko->principals = principals;
	ko->n_principals = n_cr;
	*ret_ips = ips;
	*ret_principals = principals;
	return 0;
}

/* SIGHUP: the access settings (admins, services, identity policies) of the file, again. */
static void reload_access(const char *config_path, struct kms *kms)
{
	struct envol_config *cfg = NULL;
	struct kms_identity_policy_file *ips = NULL;
	char **principals = NULL, err[512] = "";
	struct kms_options ko = {0};
	int r;

	r = envol_config_load(config_path, &cfg, err, sizeof err);
	if (r == 0)
		r = access_options(cfg, &ko, &ips, &principals);
	if (r == 0)
		r = kms_reload_access(kms, &ko, err, sizeof err);
	if (r < 0)
		log_error("SIGHUP: access settings not reloaded, the old ones stay: %s",
			  err[0] ? err : strerror(-r));
	else
		log_info("SIGHUP: reloaded kms.admins, kms.services and kms.identity_policies");
	free(ips);
	free(principals);
	envol_config_free(cfg);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: envol-kmsd [-c FILE] [-v]\n"
		"A local key management service that speaks the AWS KMS API (JSON 1.1) on a Unix\n"
		"socket (callers identified by SO_PEERCRED) and optionally on TCP (HTTPS, or plain\n"
		"HTTP with kms.allow_plain_http; AWS Signature Version 4 required).\n"
		"\n"
		"  -c, --config FILE  configuration file (default %s)\n"
		"  -v, --verbose      debug logging\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n",
		ENVOL_CONFIG_DEFAULT_PATH);
}

/* ---- key maintenance, on the daemon/common ticker (which also pings the watchdog) ---- */

struct maintenance {
	struct kmsd *kmsd;
	struct kms *kms;
	bool warned;
};

static void maintenance_tick(void *opaque)
{
	struct maintenance *m = opaque;
	int r;

	kmsd_http_reap(m->kmsd);
	r = kms_tick(m->kms);

	if (r > 0)
		log_info("Key maintenance: %d key(s) rotated or destroyed", r);
	else if (r < 0 && !m->warned)
		(void)log_warning_errno(r, "Key maintenance failed (will retry): %m");
	m->warned = r < 0;
}

/* ---- setup helpers ---- */

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static unsigned pool_size(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	n *= 2;
	if (n < 4)
		n = 4;
	if (n > 64)
		n = 64;
	return (unsigned)n;
}

static void drain(struct kmsd *k)
{
	for (int waited = 0; waited < KMSD_DRAIN_TIMEOUT_MS; waited += 10) {
		if (atomic_load(&k->inflight) <= 0)
			return;
		usleep(10000);
	}
	log_warning("%ld request(s) still in flight after %d ms; closing them",
		    (long)atomic_load(&k->inflight), KMSD_DRAIN_TIMEOUT_MS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL;
	struct envol_config *cfg = NULL;
	struct kmsd k = {.n_listeners = 0};
	struct kms_options ko;
	struct kms_identity_policy_file *ips = NULL;
	char **principals = NULL;
	struct daemon_ticker ticker;
	struct maintenance maint = {.warned = false};
	bool ticking = false;
	char err[1024] = "";
	sigset_t sigs;
	int c, r, sig = 0, ret = EXIT_FAILURE;

	envol_log_set_ident("envol-kmsd");
	while ((c = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'v':
			envol_log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("envol-kmsd %s\n", ENVOL_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "envol-kmsd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	r = envol_harden_process();
	if (r < 0) {
		(void)log_error_errno(r, "Failed to harden the process: %m");
		return EXIT_FAILURE;
	}

	/* Signals are handled by sigwait() in this thread; every thread inherits the mask. */
	daemon_signals_block(&sigs);
	sigaddset(&sigs, SIGHUP); /* reload_access() */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	r = envol_config_load(config_path, &cfg, err, sizeof err);
	if (r < 0) {
		log_error("%s", err[0] ? err : "Failed to load the configuration");
		return EXIT_FAILURE;
	}
	k.cfg = cfg;
	k.threads = pool_size();
	raise_nofile();

	if (cfg->kms.n_credentials) {
		k.creds = calloc(cfg->kms.n_credentials, sizeof *k.creds);
		if (!k.creds) {
			log_error("Out of memory");
			goto out;
		}
		for (size_t i = 0; i < cfg->kms.n_credentials; i++)
			k.creds[i] = (struct sigv4_credential){
			    .access_key_id = cfg->kms.credentials[i].access_key_id,
			    .secret_access_key = cfg->kms.credentials[i].secret_access_key,
			    .principal = cfg->kms.credentials[i].principal,
			};
		k.n_creds = cfg->kms.n_credentials;
	}

	/* Sockets first: a bad kms.listen (or TCP without TLS or kms.allow_plain_http, see
	 * listen.c) fails before the key store is touched. */
	r = kmsd_listeners_open(&k, err, sizeof err);
	if (r < 0) {
		log_error("%s", err);
		goto out;
	}
	/* Create missing state directories (shared with envold's volumes/: 0755; the files in
	 * them are 0600). */
	{
		const char *paths[] = {cfg->kms.database, cfg->kms.root_key_file,
				       cfg->kms.audit_log};

		for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
			r = paths[i] ? daemon_mkdir_parents(paths[i], 0755) : 0;
			if (r < 0) {
				(void)log_error_errno(r, "Cannot create the directory of %s: %m",
						      paths[i]);
				goto out;
			}
		}
	}

	ko = (struct kms_options){
	    .database = cfg->kms.database,
	    .root_key_file = cfg->kms.root_key_file,
	    .audit_log = cfg->kms.audit_log,
	    .region = cfg->kms.region,
	    .account_id = cfg->kms.account_id,
	};
	r = access_options(cfg, &ko, &ips, &principals);
	if (r < 0) {
		log_error("Out of memory");
		goto out;
	}
	err[0] = '\0';
	r = kms_open(&ko, &k.kms, err, sizeof err);
	if (r < 0) {
		(void)log_error_errno(r, "Failed to open the key store: %s",
				      err[0] ? err : strerror(-r));
		goto out;
	}

	for (size_t i = 0; i < k.n_listeners; i++) {
		r = kmsd_http_start(&k, &k.listeners[i], err, sizeof err);
		if (r < 0) {
			log_error("%s", err);
			goto out;
		}
	}

	maint.kms = k.kms;
	maint.kmsd = &k;
	r = daemon_ticker_start(&ticker, MAINTENANCE_PERIOD_MS, maintenance_tick, &maint);
	if (r < 0) {
		(void)log_error_errno(r, "Failed to start the maintenance thread: %m");
		goto out;
	}
	ticking = true;

	{
		char status[512] = "Listening on";
		size_t n = strlen(status);

		for (size_t i = 0; i < k.n_listeners; i++)
			n += (size_t)snprintf(status + n, n < sizeof status ? sizeof status - n : 0,
					      "%s %s", i ? "," : "", k.listeners[i].sock.name);
		log_info("%s (%u threads per listener)", status, k.threads);
		(void)sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	}

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP)
			reload_access(config_path, k.kms);
	}
	log_info("Received %s, finishing in-flight requests",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT");
	(void)sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
	atomic_store(&k.stopping, true);
	kmsd_http_quiesce(&k);
	drain(&k);
	ret = EXIT_SUCCESS;
out:
	kmsd_http_stop(&k);
	if (ticking)
		daemon_ticker_stop(&ticker);
	kmsd_listeners_close(&k);
	kms_close(k.kms);
	free(k.creds);
	free(ips);
	free(principals);
	envol_config_free(cfg);
	return ret;
}
