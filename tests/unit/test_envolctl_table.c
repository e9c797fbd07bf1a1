/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test_envolctl_table.c — envolctl's human tables (tools/table.c): alignment, UTF-8 widths,
 * missing cells, control characters, key: value fields. */
#include <stdio.h>
#include <string.h>

#include "../../tools/table.c"
#include "unit.h"

static char *render(const struct table *t)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	table_print(t, f);
	fclose(f);
	return out;
}

static void test_aligned(void)
{
	static const char *const h[] = {"NAME", "SIZE", "ATTACHED"};
	static const char *const r1[] = {"db", "10 GiB", "no"};
	static const char *const r2[] = {"scratch-volume", "512 B", "yes"};
	struct table *t = table_new(3, h);
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(table_add_row(t, r1), 0);
	CU_ASSERT_EQUAL(table_add_row(t, r2), 0);
	CU_ASSERT_EQUAL(table_rows(t), 2);
	s = render(t);
	CU_ASSERT_STRING_EQUAL(s, "NAME            SIZE    ATTACHED\n"
				  "db              10 GiB  no\n"
				  "scratch-volume  512 B   yes\n");
	free(s);
	table_free(t);
}

static void test_cells(void)
{
	static const char *const h[] = {"A", "B"};
	const char *r1[] = {NULL, "x\ty"};
	const char *r2[] = {"\xc3\xa9t\xc3\xa9", "z"}; /* "été": 3 columns, 5 bytes */
	struct table *t = table_new(2, h);
	char *s;

	CU_ASSERT_EQUAL(table_add_row(t, r1), 0);
	CU_ASSERT_EQUAL(table_add_row(t, r2), 0);
	s = render(t);
	CU_ASSERT_STRING_EQUAL(s, "A    B\n"
				  "-    x?y\n"
				  "\xc3\xa9t\xc3\xa9  z\n");
	free(s);
	table_free(t);
}

static void test_many_rows(void)
{
	static const char *const h[] = {"N"};
	struct table *t = table_new(1, h);
	char num[16], *s;

	for (int i = 0; i < 1000; i++) {
		const char *r[] = {num};

		snprintf(num, sizeof num, "%d", i);
		CU_ASSERT_EQUAL(table_add_row(t, r), 0);
	}
	CU_ASSERT_EQUAL(table_rows(t), 1000);
	s = render(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(s, "\n999\n"));
	CU_ASSERT_EQUAL(strncmp(s, "N\n0\n1\n", 6), 0);
	free(s);
	table_free(t);
}

static void test_field(void)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	table_print_field(f, 8, "KeyId", "abc");
	table_print_field(f, 8, "Description", NULL);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(out, "KeyId:    abc\nDescription: -\n");
	free(out);
}

int main(void)
{
	CU_TestInfo tests[] = {
	    {"columns aligned two spaces apart", test_aligned},
	    {"NULL cells, control characters, UTF-8 widths", test_cells},
	    {"a thousand rows", test_many_rows},
	    {"key: value fields", test_field},
	    CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {{"envolctl-table", NULL, NULL, NULL, NULL, tests},
				 CU_SUITE_INFO_NULL};
	return unit_run(suites);
}
