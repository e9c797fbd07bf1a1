/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_config.c — envol.conf loading: defaults, every setting, and errors naming file:line. */
#include <stdio.h>
#include <string.h>

#include "util/macros.h"
#include "util/config.h"
#include "unit.h"

static char conf_path[] = "/tmp/envol-test-config.XXXXXX";

static int write_conf(const char *text)
{
	FILE *f = fopen(conf_path, "we");

	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

static int suite_init(void)
{
	int fd = mkstemp(conf_path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int suite_clean(void)
{
	unlink(conf_path);
	return 0;
}

static void test_defaults_derived(void)
{
	struct envol_config *c = NULL;
	char err[512];

	CU_ASSERT_EQUAL_FATAL(write_conf("state_dir = \"/srv/e\";\nruntime_dir = \"/run/x\";\n"), 0);
	CU_ASSERT_EQUAL_FATAL(envol_config_load(conf_path, &c, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c->kms.socket, "/run/x/kms.sock");
	CU_ASSERT_STRING_EQUAL(c->kms.database, "/srv/e/kms.db");
	CU_ASSERT_STRING_EQUAL(c->kms.root_key_file, "/srv/e/root.key");
	CU_ASSERT_STRING_EQUAL(c->kms.audit_log, "/srv/e/audit.log");
	CU_ASSERT_STRING_EQUAL(c->kms.region, "local");
	CU_ASSERT_STRING_EQUAL(c->kms.account_id, "000000000000");
	CU_ASSERT_STRING_EQUAL(c->kms.listen, "");
	CU_ASSERT_EQUAL_FATAL(c->kms.n_admins, 1);
	CU_ASSERT_STRING_EQUAL(c->kms.admins[0], "arn:aws:iam::000000000000:user/unix/root");
	CU_ASSERT_EQUAL_FATAL(c->kms.n_services, 1);
	CU_ASSERT_STRING_EQUAL(c->kms.services[0], "arn:aws:iam::000000000000:user/unix/envol");
	CU_ASSERT_STRING_EQUAL(c->server.socket, "/run/x/nbd.sock");
	CU_ASSERT_STRING_EQUAL(c->server.listen, ""); /* no TCP unless configured (issue 9) */
	CU_ASSERT_STRING_EQUAL(c->server.volume_dir, "/srv/e/volumes");
	CU_ASSERT_EQUAL(c->server.threads, 0);
	CU_ASSERT_STRING_EQUAL(c->client.kms_socket, "/run/x/kms.sock");
	CU_ASSERT_STRING_EQUAL(c->client.endpoint, "");
	CU_ASSERT_STRING_EQUAL(c->path, conf_path);
	/* no rbd group: Ceph is not used, and new volumes are files */
	CU_ASSERT_STRING_EQUAL(c->server.backend, "file");
	CU_ASSERT_FALSE(c->rbd.enabled);
	CU_ASSERT_STRING_EQUAL(c->rbd.ceph_conf, "");
	CU_ASSERT_STRING_EQUAL(c->rbd.client_id, "admin");
	CU_ASSERT_STRING_EQUAL(c->rbd.pool, "envol");
	CU_ASSERT_STRING_EQUAL(c->rbd.pool_namespace, "");
	envol_config_free(c);
}

static void test_rbd(void)
{
	struct envol_config *c = NULL;
	char err[512];

	/* an rbd group turns Ceph on; the settings it leaves out keep their defaults */
	CU_ASSERT_EQUAL_FATAL(write_conf("rbd: { client_id = \"envol\"; namespace = \"t1\"; };\n"), 0);
	CU_ASSERT_EQUAL_FATAL(envol_config_load(conf_path, &c, err, sizeof err), 0);
	CU_ASSERT_TRUE(c->rbd.enabled);
	CU_ASSERT_STRING_EQUAL(c->rbd.client_id, "envol");
	CU_ASSERT_STRING_EQUAL(c->rbd.pool_namespace, "t1");
	CU_ASSERT_STRING_EQUAL(c->rbd.pool, "envol");
	CU_ASSERT_STRING_EQUAL(c->server.backend, "file");
	c = envol_config_free(c);

	/* so does server.backend = "rbd", with every rbd default */
	CU_ASSERT_EQUAL_FATAL(write_conf("server: { backend = \"rbd\"; };\n"
					 "rbd: { ceph_conf = \"/etc/ceph/c2.conf\"; pool = \"vols\"; };\n"),
			      0);
	CU_ASSERT_EQUAL_FATAL(envol_config_load(conf_path, &c, err, sizeof err), 0);
	CU_ASSERT_TRUE(c->rbd.enabled);
	CU_ASSERT_STRING_EQUAL(c->server.backend, "rbd");
	CU_ASSERT_STRING_EQUAL(c->rbd.ceph_conf, "/etc/ceph/c2.conf");
	CU_ASSERT_STRING_EQUAL(c->rbd.pool, "vols");
	CU_ASSERT_STRING_EQUAL(c->rbd.client_id, "admin");
	c = envol_config_free(c);

	CU_ASSERT_EQUAL_FATAL(write_conf("server: { backend = \"rbd\"; };\n"), 0);
	CU_ASSERT_EQUAL_FATAL(envol_config_load(conf_path, &c, err, sizeof err), 0);
	CU_ASSERT_TRUE(c->rbd.enabled);
	envol_config_free(c);
}

static void test_full_file(void)
{
	struct envol_config *c = NULL;
	char err[512];

	CU_ASSERT_EQUAL_FATAL(
		write_conf("state_dir = \"/var/lib/envol\";\n"
			   "kms: {\n"
			   "  listen = \"127.0.0.1:8440\";\n"
			   "  region = \"eu-west-1\";\n"
			   "  account_id = \"123456789012\";\n"
			   "  admins = [ \"arn:aws:iam::123456789012:user/root\", "
			   "\"arn:aws:iam::123456789012:user/ops\" ];\n"
			   "  credentials = ( { access_key_id = \"AKID1\"; secret_access_key = "
			   "\"s3cr3t\"; principal = \"arn:aws:iam::123456789012:user/alice\"; } );\n"
			   "};\n"
			   "server: { threads = 4; listen = \"\"; };\n"
			   "client: { endpoint = \"http://127.0.0.1:8440\"; access_key_id = \"AKID1\"; "
			   "secret_access_key = \"s3cr3t\"; };\n"),
		0);
	CU_ASSERT_EQUAL_FATAL(envol_config_load(conf_path, &c, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(c->kms.listen, "127.0.0.1:8440");
	CU_ASSERT_STRING_EQUAL(c->kms.region, "eu-west-1");
	CU_ASSERT_EQUAL(c->kms.n_admins, 2);
	CU_ASSERT_STRING_EQUAL(c->kms.admins[1], "arn:aws:iam::123456789012:user/ops");
	/* services default follows the configured account */
	CU_ASSERT_STRING_EQUAL(c->kms.services[0], "arn:aws:iam::123456789012:user/unix/envol");
	CU_ASSERT_EQUAL_FATAL(c->kms.n_credentials, 1);
	CU_ASSERT_STRING_EQUAL(c->kms.credentials[0].access_key_id, "AKID1");
	CU_ASSERT_STRING_EQUAL(c->kms.credentials[0].secret_access_key, "s3cr3t");
	CU_ASSERT_STRING_EQUAL(c->kms.credentials[0].principal,
			       "arn:aws:iam::123456789012:user/alice");
	CU_ASSERT_EQUAL(c->server.threads, 4);
	CU_ASSERT_STRING_EQUAL(c->server.listen, "");
	CU_ASSERT_STRING_EQUAL(c->client.endpoint, "http://127.0.0.1:8440");
	CU_ASSERT_STRING_EQUAL(c->client.secret_access_key, "s3cr3t");
	envol_config_free(c);
}

/* Each bad file must fail with -EINVAL and an error containing the expected text. */
static void test_errors_name_file_line_setting(void)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{ "colour = \"blue\";\n", ":1: colour: unknown setting" },
		{ "\nkms: { regoin = \"x\"; };\n", ":2: kms.regoin: unknown setting" },
		{ "kms: {\n region = 5;\n};\n", ":2: kms.region: must be a string" },
		{ "kms: { account_id = \"12\"; };\n", "kms.account_id: \"12\" is not a 12-digit" },
		{ "kms: { listen = \"nohost\"; };\n", "kms.listen: \"nohost\" is not" },
		{ "kms: { listen = \"127.0.0.1:99999\"; };\n", "kms.listen" },
		{ "state_dir = \"relative\";\n", ":1: state_dir: \"relative\" is not an absolute" },
		{ "server: { threads = -1; };\n", "server.threads: -1 is out of range" },
		{ "server: { threads = \"4\"; };\n", "server.threads: must be an integer" },
		{ "kms: { admins = [ \"bob\" ]; };\n", "kms.admins[0]: must be a principal ARN" },
		{ "kms: { credentials = ( { access_key_id = \"A\"; } ); };\n",
		  "kms.credentials[0]: needs access_key_id, secret_access_key and principal" },
		{ "kms: { credentials = ( { access_key_id = \"A\"; colour = 1; } ); };\n",
		  "kms.credentials[0].colour: unknown setting" },
		{ "client: { endpoint = \"ftp://x\"; };\n", "client.endpoint" },
		{ "kms = 3;\n", "kms: must be a group" },
		{ "server: { backend = \"zfs\"; };\n", "server.backend: \"zfs\" is not \"file\" or \"rbd\"" },
		{ "rbd: { pool = \"\"; };\n", "rbd.pool: \"\" is not a pool name" },
		{ "rbd: { pool = \"a/b\"; };\n", "rbd.pool: \"a/b\" is not a pool name" },
		{ "rbd: { namespace = \"n@1\"; };\n", "rbd.namespace" },
		{ "rbd: { client_id = \"\"; };\n", "rbd.client_id" },
		{ "rbd: {\n monitors = \"x\"; };\n", ":2: rbd.monitors: unknown setting" },
		{ "rbd = 1;\n", "rbd: must be a group" },
		{ "kms: { region = \"a\" \n", ":2: syntax error" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct envol_config *c = NULL;
		char err[512] = "";

		CU_ASSERT_EQUAL_FATAL(write_conf(cases[i].text), 0);
		CU_ASSERT_EQUAL(envol_config_load(conf_path, &c, err, sizeof err), -EINVAL);
		CU_ASSERT_PTR_NULL(c);
		if (!strstr(err, cases[i].expect) || !strstr(err, conf_path))
			fprintf(stderr, "case %zu: got \"%s\", want \"%s\"\n", i, err,
				cases[i].expect);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].expect));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, conf_path));
	}
}

static void test_missing_named_file(void)
{
	struct envol_config *c = NULL;
	char err[512] = "";

	CU_ASSERT_EQUAL(envol_config_load("/nonexistent/envol.conf", &c, err, sizeof err), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/envol.conf: cannot read"));
	CU_ASSERT_PTR_NULL(c);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "defaults derive from state_dir and runtime_dir", test_defaults_derived },
		{ "every setting of design.md is read", test_full_file },
		{ "rbd group and server.backend", test_rbd },
		{ "errors name file, line and setting", test_errors_name_file_line_setting },
		{ "a named missing file is an error", test_missing_named_file },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = { { "config", suite_init, suite_clean, NULL, NULL, tests },
				  CU_SUITE_INFO_NULL };
	return unit_run(suites);
}
