/* SPDX-License-Identifier: MIT */
/*
 * The per-VM worker process, armvmd-worker (src/worker_main.c), spawned
 * by the supervisor into its jail (src/daemon/jail.h):
 *   armvmd-worker --spec-fd N [--log-level L]
 *   armvmd-worker --pool-fd N [--log-level L]   (a warm pool's, below)
 * Descriptor N holds the spec (the vm.create parameters, the host facts
 * the supervisor resolved, its bounds, and spec.fds: the number of every
 * other descriptor it inherited — /dev/kvm, kernel, initrd, DTB, disks,
 * TAPs, the bound control.sock, console.sock and hvc0.sock, console and
 * hvc0 logs with their older halves, the older half of its own log
 * (stderr), exit.json, and the status pipe).  It opens no host path.  On
 * the status pipe it writes one JSON line, {"ok":true,...} or
 * {"error":{...}}, once the VM is set up or failed; then it serves
 * worker.* on control.sock.
 */
#ifndef ARMVMD_WORKER_H
#define ARMVMD_WORKER_H

#include "rpc/worker_proto.h"

int worker_main(int spec_fd);

/* A pooled worker: armvmd-worker --pool-fd N [--kvm-fd K --vm-type T]
 * (rpc/worker_proto.h) makes a KVM VM of type T ahead (its VM's, if the
 * supervisor guessed right), waits on N for its spec and descriptors,
 * then runs as worker_main. */
int worker_pool_main(int pool_fd, int kvm_fd, long vm_type);

#endif
