/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume-grants.c — the grants of a volume for "envolctl volume show": those named
 * "envol-attach/<volume uuid>" on the volume's key, which envold creates at attach and retires
 * at detach (docs/operations.md).  A caller who may not ListGrants still sees the volume.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envolctl.h"
#include "parse.h"
#include "table.h"

/* The name envold gives the grant of an attach (lib/volume: a uuid is 36 characters). */
#define ATTACH_GRANT_PREFIX "envol-attach/"

void ctl_volume_grants_add(struct ctl *c, json_t *volume)
{
	const char *arn = ctl_json_string(volume, "key_arn");
	const char *uuid = ctl_json_string(volume, "volume_id");
	_cleanup_json_ json_t *all = NULL, *mine = json_array();
	struct ctl_kms_error e;
	char name[sizeof ATTACH_GRANT_PREFIX + 64];
	size_t i;
	json_t *g;
	int r;

	if (!mine || !arn || !uuid)
		return;
	snprintf(name, sizeof name, ATTACH_GRANT_PREFIX "%s", uuid);
	r = ctl_grant_list(c, arn, NULL, NULL, &all, &e);
	if (r < 0) {
		char why[sizeof e.type + sizeof e.message + 2];

		if (e.type[0])
			snprintf(why, sizeof why, "%s: %s", e.type, e.message);
		else
			snprintf(why, sizeof why, "%s", strerror(-r));
		json_object_set_new(volume, "grants", json_null());
		json_object_set_new(volume, "grants_error", json_string(why));
		return;
	}
	json_array_foreach(all, i, g)
	{
		const char *n = ctl_json_string(g, "Name");

		if (n && strcmp(n, name) == 0)
			json_array_append(mine, g);
	}
	json_object_set(volume, "grants", mine);
}

void ctl_volume_grants_print(json_t *volume, int width)
{
	json_t *grants = json_object_get(volume, "grants"), *g;
	struct table *t;
	char line[128];
	size_t i;

	if (!json_is_array(grants)) {
		const char *why = ctl_json_string(volume, "grants_error");
		char *text = NULL;

		if (asprintf(&text, "not listed (%s)", why ? why : "no answer") < 0)
			text = NULL;
		table_print_field(stdout, width, "grants", text ? text : "not listed");
		free(text);
		return;
	}
	if (json_array_size(grants) == 0) {
		table_print_field(stdout, width, "grants", "none");
		return;
	}
	snprintf(line, sizeof line, "%zu (" ATTACH_GRANT_PREFIX "%s)", json_array_size(grants),
		 ctl_json_string(volume, "volume_id"));
	table_print_field(stdout, width, "grants", line);
	t = ctl_grant_table_new(false);
	if (!t)
		return;
	json_array_foreach(grants, i, g)
	{
		if (ctl_grant_table_add(t, g, false) < 0)
			break;
	}
	table_print(t, stdout);
	table_free(t);
}
