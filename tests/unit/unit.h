/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * unit.h — glue shared by the CUnit programs in tests/unit: run the registered suites in
 * basic mode (which prints CUnit's "Run Summary"), exit non-zero on any failure.
 */
#ifndef ENVOL_TEST_UNIT_H
#define ENVOL_TEST_UNIT_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs suites (terminated by CU_SUITE_INFO_NULL); returns the process exit code. */
static inline int unit_run(CU_SuiteInfo *suites)
{
	unsigned failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "CU_register_suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	if (CU_get_number_of_tests_run() == 0)
		failures++; /* a program that runs no test must not pass */
	CU_cleanup_registry();
	return failures ? 1 : 0;
}

/* Path of a file in the source tree ($ENVOL_SOURCE_DIR/rel), in a static buffer. */
static inline const char *unit_source_path(const char *rel)
{
	static char path[4096];
	const char *top = getenv("ENVOL_SOURCE_DIR");

	snprintf(path, sizeof path, "%s/%s", top ? top : ".", rel);
	return path;
}

#endif
