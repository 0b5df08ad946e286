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

/* worker exit codes: how the supervisor learns why a worker ended */
enum worker_exit {
	WORKER_EXIT_STOPPED = 0,	/* stopped by request (worker.stop) */
	WORKER_EXIT_SETUP = 1,		/* the VM could not be set up */
	WORKER_EXIT_POWEROFF = 3,	/* the guest powered off */
	WORKER_EXIT_GUEST_ERROR = 4,	/* KVM_RUN failed / an exit we cannot handle */
	WORKER_EXIT_USAGE = 2,
	WORKER_EXIT_DESTROY = 5,	/* the guest stopped and policy says destroy */
	WORKER_EXIT_FORCED = 6,		/* graceful stop timed out: forced */
	WORKER_EXIT_REBOOT_STOP = 7,	/* the guest reset and on_reboot=stop */
};

#define WORKER_GRACE_DEFAULT_S	30	/* power key to forced stop */

int worker_main(const char *dir, int status_fd);

#endif
