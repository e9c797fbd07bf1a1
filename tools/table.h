/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * table.h — envolctl's human output: a table of text cells printed with aligned columns (two
 * spaces apart, last column unpadded), and "key: value" listings.
 */
#ifndef ENVOLCTL_TABLE_H
#define ENVOLCTL_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* A table with ncols columns named by the header strings. NULL on ENOMEM. */
struct table *table_new(size_t ncols, const char *const *headers);
struct table *table_free(struct table *t);
/* Adds a row of ncols cells (copied; NULL prints "-"). Returns 0 or -ENOMEM. */
int table_add_row(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* Prints header and rows. Cells are printed with control characters replaced by '?'. */
void table_print(const struct table *t, FILE *f);

/* "name:  value" with name padded to width. */
void table_print_field(FILE *f, int width, const char *name, const char *value);

#endif
