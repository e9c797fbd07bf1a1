/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_secure_mem.c — locked, non-dumpable key buffers and process hardening. */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "util/secure_mem.h"
#include "unit.h"

/* Is the page holding p locked?  Read VmFlags of its mapping from /proc/self/smaps. */
static int mapping_flags(const void *p, char *flags, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0, found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, n, "%.*s", (int)(n - 1), line + 8);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static void test_alloc_locked_dontdump(void)
{
	char flags[512] = "";
	uint8_t *k = envol_secure_alloc(64);

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(envol_secure_size(k), 64);
	for (int i = 0; i < 64; i++)
		CU_ASSERT_EQUAL(k[i], 0);
	memset(k, 0xa5, 64);
	CU_ASSERT_EQUAL(mapping_flags(k, flags, sizeof flags), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(flags, " lo")); /* mlocked */
	CU_ASSERT_PTR_NOT_NULL(strstr(flags, " dd")); /* MADV_DONTDUMP */
	CU_ASSERT_PTR_NULL(envol_secure_free(k));
	CU_ASSERT_PTR_NULL(envol_secure_free(NULL));
}

static void test_alloc_rejects_zero(void)
{
	CU_ASSERT_PTR_NULL(envol_secure_alloc(0));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/* With RLIMIT_MEMLOCK at 0 an unprivileged process cannot lock: ENOMEM, not a crash.
 * Root ignores the limit (CAP_IPC_LOCK), so drop to nobody in a child first. */
static void test_memlock_limit(void)
{
	pid_t pid = fork();
	int status = 0;

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit zero = { 0, 0 };
		if (geteuid() == 0 && setuid(65534) < 0)
			_exit(3);
		if (setrlimit(RLIMIT_MEMLOCK, &zero) < 0)
			_exit(4);
		void *p = envol_secure_alloc(64);
		_exit(p == NULL && errno == ENOMEM ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

static void test_harden(void)
{
	pid_t pid = fork();
	int status = 0;

	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit rl;
		if (envol_harden_process() < 0)
			_exit(1);
		if (prctl(PR_GET_DUMPABLE) != 0)
			_exit(2);
		if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0)
			_exit(3);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

static void test_consttime_eq(void)
{
	CU_ASSERT_TRUE(envol_memequal_consttime("abcd", "abcd", 4));
	CU_ASSERT_FALSE(envol_memequal_consttime("abcd", "abce", 4));
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "alloc is zeroed, mlocked and MADV_DONTDUMP", test_alloc_locked_dontdump },
		{ "alloc of 0 bytes is EINVAL", test_alloc_rejects_zero },
		{ "RLIMIT_MEMLOCK too small gives ENOMEM", test_memlock_limit },
		{ "harden: not dumpable, no core", test_harden },
		{ "constant-time compare", test_consttime_eq },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = { { "secure_mem", NULL, NULL, NULL, NULL, tests },
				  CU_SUITE_INFO_NULL };
	return unit_run(suites);
}
