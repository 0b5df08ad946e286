/* SPDX-License-Identifier: MIT */
/*
 * The per-VM worker process.  armvmd re-executes itself as
 *   armvmd --worker DIR --status-fd N
 * DIR holds spec.json (the vm.create parameters, IPA and GIC resolved);
 * the worker writes there control.sock (JSON-RPC: worker.*), console.sock
 * (raw console), console.log and its own log.  On fd N it writes one JSON
 * line, {"ok":true} or {"error":{...}}, once the VM is set up or failed.
 */
#ifndef ARMVMD_WORKER_H
#define ARMVMD_WORKER_H

#include "rpc/worker_proto.h"


int worker_main(const char *dir, int status_fd);

#endif
