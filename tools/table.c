/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* table.c — aligned text tables for envolctl's human output; see table.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/macros.h"
#include "table.h"

struct table {
	size_t ncols;
	size_t nrows, cap;
	char **cells; /* (nrows + 1) * ncols, row 0 is the header */
};

struct table *table_free(struct table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	return NULL;
}

static int table_append(struct table *t, const char *const *cells)
{
	size_t need = (t->nrows + 2) * t->ncols;

	if (need > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : t->ncols * 16;
		char **c;

		while (cap < need)
			cap *= 2;
		c = realloc(t->cells, cap * sizeof *c);
		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	size_t base = (t->nrows + 1) * t->ncols; /* row 0 is the header */

	for (size_t i = 0; i < t->ncols; i++) {
		t->cells[base + i] = strdup(cells[i] ? cells[i] : "-");
		if (!t->cells[base + i]) {
			while (i > 0)
				free(t->cells[base + --i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t;

	if (ncols == 0)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->cap = ncols * 16;
	t->cells = calloc(t->cap, sizeof *t->cells);
	if (!t->cells) {
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < ncols; i++) {
		t->cells[i] = strdup(headers[i]);
		if (!t->cells[i])
			return table_free(t);
	}
	return t;
}

int table_add_row(struct table *t, const char *const *cells) { return table_append(t, cells); }

size_t table_rows(const struct table *t) { return t->nrows; }

/* Display width: count UTF-8 characters, not bytes. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void print_cell(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

void table_print(const struct table *t, FILE *f)
{
	_cleanup_free_ size_t *width = calloc(t->ncols, sizeof *width);

	if (!width)
		return;
	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = text_width(t->cells[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			print_cell(f, s);
			if (c + 1 < t->ncols)
				fprintf(f, "%*s", (int)(width[c] - text_width(s) + 2), "");
		}
		fputc('\n', f);
	}
}

void table_print_field(FILE *f, int width, const char *name, const char *value)
{
	int n = fprintf(f, "%s:", name);

	fprintf(f, "%*s", n < width + 2 ? width + 2 - n : 1, "");
	print_cell(f, value ? value : "-");
	fputc('\n', f);
}
