/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kms_client.h — how envold and envolctl talk to envol-kmsd: the public envol_kms_client_* API
 * (include/envol/kms_client.h; libcurl on client.kms_socket with CURLOPT_UNIX_SOCKET_PATH, or
 * on client.endpoint with CURLOPT_AWS_SIGV4), seen from inside libenvol with the full
 * definitions of the configuration and of encryption context pairs.
 */
#ifndef ENVOL_KMS_CLIENT_H
#define ENVOL_KMS_CLIENT_H

#include "envol/kms_client.h"
#include "util/config.h"
#include "volume/volume.h"

#endif
