/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * volume.h — envol volumes inside libenvol: the public API (include/envol/volume.h) plus what
 * only our own code and tests use.
 */
#ifndef ENVOL_VOLUME_H
#define ENVOL_VOLUME_H

#include "envol/volume.h"

#endif
