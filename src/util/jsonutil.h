/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_JSONUTIL_H
#define ARMVMD_JSONUTIL_H

#include <stddef.h>
#include <jansson.h>

/* A JSON string of bytes that may not be UTF-8 (guest console output):
 * invalid sequences become U+FFFD. */
json_t *json_string_lossy(const char *buf, size_t len);

#endif
