/* SPDX-License-Identifier: MIT */
/*
 * A VM's whole address plan, from its specification (the vm.create
 * parameters, as JSON) and the host's limits: banks, IPA size, GIC, boot
 * images and their placement.  Pure but for reading image headers and file
 * sizes through descriptors; shared by the supervisor (vm.create, vm.layout) and the worker.
 */
#ifndef ARMVMD_PLAN_H
#define ARMVMD_PLAN_H

#include <limits.h>
#include <jansson.h>

#include "arm64/image.h"
#include "arm64/layout.h"
#include "devices/virtio_conf.h"

#define PLAN_CMDLINE_MAX	2048
#define PLAN_NAME_MAX		40	/* socket paths must fit sun_path */
#define PLAN_DEFAULT_MEMORY	"512M"
#define PLAN_DEFAULT_CMDLINE	"console=ttyS0 earlycon=uart8250,mmio,0x9000000"

struct plan_host {
	struct host_limits limits;
	bool gic_v2, gic_v3;
	bool el1_32bit;
	unsigned granules;		/* HOSTINFO_GRANULE_*; 0: unknown, no check */
	/* the host advertises FEAT_MOPS but its guests cannot execute it
	 * (host_info.mops_probe): hide it from aarch64 guests */
	bool hide_mops;
};

/*
 * The descriptors a VM's files are read from: the supervisor opened them
 * as the caller (or the caller passed them), and a worker inherits them.
 * -1: none.  Never owned by the plan.
 */
struct plan_files {
	int kernel, initrd, dtb;
	int disks[VIRTIO_MAX_DISKS];
	int nets[VIRTIO_MAX_NETS];	/* TAPs, attached already */
};
void plan_files_init(struct plan_files *f);
void plan_files_close(struct plan_files *f);

/*
 * A file parameter (kernel, initrd, dtb, a disk's path): "PATH", or
 * {"fd": N, "path": NAME} for the request's descriptor N (NAME only names
 * it in messages).  *name gets the path or "descriptor N"; *fd_index N or
 * -1 for a path.  0, or -1 with why filled.
 */
int plan_file_param(json_t *v, char *name, size_t size, int *fd_index,
		    char *why, size_t whylen);

struct vm_plan;
struct layout_error;
/* the end of a plan error for a file it was given no descriptor for */
#define PLAN_NO_FD	"no descriptor for it"
/* (plan.c and plan_virtio.c) The descriptor for one of the plan's files:
 * *slot, or with open_paths path opened now in mode.  -1 with err filled. */
int plan_fd(struct vm_plan *plan, int *slot, const char *path, int mode,
	    struct layout_error *err, const char *what);

struct vm_plan {
	char name[64];
	struct vm_config cfg;
	struct ipa_plan ipa;
	enum gic_version gic;		/* resolved */
	const char *gic_reason;
	char kernel[PATH_MAX], initrd[PATH_MAX], dtb[PATH_MAX];
	char cmdline[PLAN_CMDLINE_MAX];
	struct image_info kimg;
	struct payload_input in;
	struct payload_plan payload;
	/* virtio devices: the per-VM device table, virtio[] in slot order */
	unsigned ndisks, nnets, nvirtio;
	bool hvc, rng;
	struct virtio_blk_conf disks[VIRTIO_MAX_DISKS];
	struct virtio_net_conf nets[VIRTIO_MAX_NETS];
	struct virtio_slot_conf virtio[LAYOUT_VIRTIO_SLOTS];
	struct plan_files files;
	/* a 64K kernel above 2^48 (layout_check_kernel_bank): why it may be
	 * there, and what the boot protocol promises; empty otherwise */
	char kernel_note[384], warning[256];
	bool open_paths;		/* no files given: the plan opens them (tests) */
	/* ID_AA64ISAR2_EL1.MOPS cleared in the guest's vCPUs (plan_host.hide_mops) */
	bool hide_mops;
};

/*
 * The virtio devices of spec (disks, nets, hvc, rng) into plan's device
 * table (src/arm64/plan_virtio.c).  0, or -1 with err filled.
 */
int plan_virtio(json_t *spec, struct vm_plan *plan, struct layout_error *err);
/* One entry of disks / nets, parsed (what the supervisor opens for it):
 * *fd_index is the request's descriptor for the disk, or -1 for a path. */
int plan_disk_param(json_t *v, struct virtio_blk_conf *d, int *fd_index,
		    char *why, size_t whylen);
int plan_net_param(json_t *v, struct virtio_net_conf *n, bool *mac_given,
		   char *why, size_t whylen);
/* disks / nets as given ("x", {..} or a list): a list (new reference) */
json_t *plan_list_param(json_t *v);
/* One virtio slot of the plan for vm.layout's device list. */
json_t *plan_virtio_json(const struct vm_plan *plan, unsigned slot);
/* "02:00:00:00:00:01" (or with '-'): a unicast MAC address.  0 or -EINVAL. */
int plan_parse_mac(const char *text, uint8_t mac[6]);


/*
 * Build the plan.  spec is the params object of vm.create (name, kernel,
 * initrd, dtb, cmdline, memory, vcpus, ipa, gic, arch); files holds its
 * files' descriptors (read with pread only: they are shared).  files NULL
 * (unit tests, fuzzers, tools): the plan opens the paths itself for the
 * build and closes them again.  Returns 0, or -1 with err filled
 * (err->code is an ARMVM_E_* value).
 */
int plan_build(json_t *spec, const struct plan_host *host,
	       const struct plan_files *files, struct vm_plan *plan,
	       struct layout_error *err);

/* Bytes of guest RAM, all banks. */
uint64_t plan_guest_memory(const struct vm_plan *plan);

/* The plan as JSON: banks, devices, kernel, initrd, DTB, IPA and why. */
json_t *plan_to_json(const struct vm_plan *plan);

/* The error data object for a failed plan (needed_bits, sizes, ...). */
json_t *plan_error_data(const struct layout_error *err);

/* Is this a valid VM name ([A-Za-z0-9_.-], 1..40, no leading . or -)? */
bool plan_name_valid(const char *name);

#endif
