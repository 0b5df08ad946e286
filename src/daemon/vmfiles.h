/* SPDX-License-Identifier: MIT */
/*
 * A VM's files as descriptors: which parameters of its definition name
 * files (kernel, initrd, dtb, each disk, each TAP), and where each one's
 * descriptor comes from.
 *
 *   kept   descriptors the client passed with vm.create ({"fd": N}),
 *          checked and kept by the VM's entry while it lives: a daemon
 *          restart loses them, and the VM cannot be set up again after it
 *          (vm.info says files "descriptors");
 *   paths  opened for each set-up as the VM's owner (files.c), so a
 *          definition reaches only what its owner may open at that time.
 *
 * A run's descriptors (vmfiles_open) are dups of the kept ones plus the
 * paths opened: the plan reads them, the worker inherits them, and the
 * supervisor closes its copies once the worker is spawned.
 */
#ifndef ARMVMD_VMFILES_H
#define ARMVMD_VMFILES_H

#include <jansson.h>

#include "arm64/plan.h"
#include "daemon/files.h"

/*
 * On the loop, in vm.create / vm.layout: the request's descriptors that
 * spec refers to, checked (mode, type) and moved into kept (their slots in
 * fds set to -1).  A descriptor index that was not passed is refused.
 * 0, or -1 with *why filled.
 */
int vmfiles_take(json_t *spec, const struct server_peer_cred *who, int *fds, unsigned nfds,
		 const struct files_policy *policy, struct plan_files *kept,
		 struct files_refusal *why);

/* On the loop: copies of the kept descriptors for one run (0 or -errno):
 * the entry may go while the run's job works. */
int vmfiles_dup(const struct plan_files *kept, struct plan_files *copy);

/*
 * On the job thread: one set-up's descriptors into out (initialised
 * here): the kept copies moved over (copy is emptied), paths opened as
 * who, TAPs attached for who.  0, or -1 with *why filled and nothing left
 * open.
 */
int vmfiles_open(json_t *spec, const struct server_peer_cred *who,
		 struct plan_files *copy, const struct files_policy *policy,
		 struct plan_files *out, struct files_refusal *why);
/* The same for the boot images alone (kernel, initrd, DTB: a reset in
 * place reads them again; its disks and TAPs stay). */
int vmfiles_open_payload(json_t *spec, const struct server_peer_cred *who,
			 struct plan_files *copy, const struct files_policy *policy,
			 struct plan_files *out, struct files_refusal *why);

/* "descriptors", "paths", "mixed" or "none": how spec names its files */
const char *vmfiles_kind(json_t *spec);

#endif
