/* SPDX-License-Identifier: MIT */
/*
 * A VM's whole address plan, from its specification (the vm.create
 * parameters, as JSON) and the host's limits: banks, IPA size, GIC, boot
 * images and their placement.  Pure but for reading image headers and file
 * sizes; shared by the supervisor (vm.create, vm.layout) and the worker.
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
};

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
};

/*
 * The virtio devices of spec (disks, nets, hvc, rng) into plan's device
 * table (src/arm64/plan_virtio.c).  0, or -1 with err filled.
 */
int plan_virtio(json_t *spec, struct vm_plan *plan, struct layout_error *err);
/* One virtio slot of the plan for vm.layout's device list. */
json_t *plan_virtio_json(const struct vm_plan *plan, unsigned slot);
/* "02:00:00:00:00:01" (or with '-'): a unicast MAC address.  0 or -EINVAL. */
int plan_parse_mac(const char *text, uint8_t mac[6]);


/*
 * Build the plan.  spec is the params object of vm.create (name, kernel,
 * initrd, dtb, cmdline, memory, vcpus, ipa, gic, arch).  Returns 0, or -1
 * with err filled (err->code is an ARMVM_E_* value).
 */
int plan_build(json_t *spec, const struct plan_host *host,
	       struct vm_plan *plan, struct layout_error *err);

/* The plan as JSON: banks, devices, kernel, initrd, DTB, IPA and why. */
json_t *plan_to_json(const struct vm_plan *plan);

/* The error data object for a failed plan (needed_bits, sizes, ...). */
json_t *plan_error_data(const struct layout_error *err);

/* Is this a valid VM name ([A-Za-z0-9_.-], 1..40, no leading . or -)? */
bool plan_name_valid(const char *name);

#endif
