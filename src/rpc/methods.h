/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_RPC_METHODS_H
#define ARMVMD_RPC_METHODS_H

#include "rpc/rpc.h"

/* one array per resource file, gathered into armvmd_methods */
extern const struct rpc_method rpc_host_info;
extern const struct rpc_method rpc_rpc_methods;

extern const struct rpc_table armvmd_methods;

#endif
