/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_API_H
#define ARMVMD_API_H

#include "rpc/rpc.h"

/* one array per resource file, gathered into armvmd_methods */
extern const struct rpc_method rpc_host_info;
extern const struct rpc_method rpc_rpc_methods;
extern const struct rpc_method rpc_vm_create, rpc_vm_layout, rpc_vm_start,
	rpc_vm_stop, rpc_vm_destroy, rpc_vm_list, rpc_vm_info, rpc_vm_console,
	rpc_vm_pause, rpc_vm_resume, rpc_vm_reboot, rpc_vm_set;
extern const struct rpc_method rpc_events_subscribe, rpc_daemon_info;

extern const struct rpc_table armvmd_methods;

#endif
