/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* volume_name.c — volume names ↔ files in the volume directory; see volume_name.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macros.h"
#include "volume/name.h"

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '.' || c == '_' || c == '-');
}

static bool plain_name_valid(const char *name, size_t n)
{
	if (n == 0 || n > ENVOL_VOLUME_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(name[i], i == 0))
			return false;
	return true;
}

bool envol_volume_name_is_import(const char *name, size_t *ret_target_len)
{
	const size_t suffix = strlen(ENVOL_VOLUME_IMPORT_INFIX) + ENVOL_VOLUME_IMPORT_TAG_LEN;
	size_t n = name ? strlen(name) : 0;
	const char *tag;

	if (n <= suffix || !plain_name_valid(name, n - suffix))
		return false;
	if (strncmp(name + n - suffix, ENVOL_VOLUME_IMPORT_INFIX,
		    strlen(ENVOL_VOLUME_IMPORT_INFIX)) != 0)
		return false;
	tag = name + n - ENVOL_VOLUME_IMPORT_TAG_LEN;
	for (size_t i = 0; i < ENVOL_VOLUME_IMPORT_TAG_LEN; i++)
		if (!((tag[i] >= '0' && tag[i] <= '9') || (tag[i] >= 'a' && tag[i] <= 'f')))
			return false;
	if (ret_target_len)
		*ret_target_len = n - suffix;
	return true;
}

bool envol_volume_name_valid(const char *name)
{
	return name &&
	       (plain_name_valid(name, strlen(name)) || envol_volume_name_is_import(name, NULL));
}

int envol_volume_name_path(const char *dir, const char *name, char **ret_path)
{
	char *p;

	if (!envol_volume_name_valid(name))
		return -EINVAL;
	if (asprintf(&p, "%s/%s%s", dir, name, ENVOL_VOLUME_SUFFIX) < 0)
		return -ENOMEM;
	*ret_path = p;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void envol_volume_name_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n && names; i++)
		free(names[i]);
	free(names);
}

static int list_names(const char *dir, bool imports, char ***ret_names, size_t *ret_n)
{
	char **names = NULL;
	size_t n = 0, cap = 0, slen = strlen(ENVOL_VOLUME_SUFFIX);
	struct dirent *e;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d) {
		if (errno != ENOENT)
			return negative_errno();
		*ret_names = NULL;
		*ret_n = 0;
		return 0;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char *name;

		if (len <= slen || strcmp(e->d_name + len - slen, ENVOL_VOLUME_SUFFIX) != 0)
			continue;
		name = strndup(e->d_name, len - slen);
		if (!name) {
			r = -ENOMEM;
			break;
		}
		if (!envol_volume_name_valid(name) ||
		    envol_volume_name_is_import(name, NULL) != imports) {
			free(name);
			continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof(*nn));
			if (!nn) {
				free(name);
				r = -ENOMEM;
				break;
			}
			names = nn;
			cap = ncap;
		}
		names[n++] = name;
	}
	closedir(d);
	if (r < 0) {
		envol_volume_name_list_free(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*ret_names = names;
	*ret_n = n;
	return 0;
}

int envol_volume_name_list(const char *dir, char ***ret_names, size_t *ret_n)
{
	return list_names(dir, false, ret_names, ret_n);
}

int envol_volume_name_list_imports(const char *dir, char ***ret_names, size_t *ret_n)
{
	return list_names(dir, true, ret_names, ret_n);
}
