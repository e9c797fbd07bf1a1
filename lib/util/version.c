/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* version.c — envol_version() (include/envol/envol.h). */
#include "envol/envol.h"

const char *envol_version(void) { return ENVOL_VERSION_STRING; }
