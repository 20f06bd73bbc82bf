/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * jansson, for every JSON lmtrace reads (QMP replies, `lmtrace check -j`
 * files) and writes (the check's -j), with its version floor: before 2.13
 * jansson parses nested arrays and objects recursively with no depth
 * limit, so a hostile QMP peer or file could overflow the stack. 2.13
 * stops at 2048 levels.
 */
#ifndef LM_JSON_H
#define LM_JSON_H

#include <jansson.h>

#if JANSSON_VERSION_HEX < 0x020d00
#error "lmtrace needs jansson 2.13 or later: older versions parse deep nesting on the stack (apt-get install libjansson-dev from Debian 11 or later)"
#endif

#endif /* LM_JSON_H */
