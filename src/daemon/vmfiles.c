// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/vmfiles.h"

/* The three single-file parameters and their slots. */
static const char *const single[] = { "kernel", "initrd", "dtb" };

/* One file parameter of a definition, as each_file() finds it. */
struct vmfile {
	const char *param;		/* "kernel", "disk 1", ... */
	const char *path;		/* its path, or its name for messages */
	int idx;			/* the request's descriptor, or -1: a path */
	enum files_mode mode;
	int *(*slot)(struct plan_files *f, const struct vmfile *vf);
	unsigned i;			/* which disk */
};

static int *single_slot(struct plan_files *f, const struct vmfile *vf)
{
	return !strcmp(vf->param, "kernel") ? &f->kernel :
	       !strcmp(vf->param, "initrd") ? &f->initrd : &f->dtb;
}

static int *disk_slot(struct plan_files *f, const struct vmfile *vf)
{
	return &f->disks[vf->i];
}

/*
 * fn for each file parameter of spec that parses (one that does not is
 * the plan's to name): kernel, initrd, dtb, and with disks each disk.
 * The first negative return of fn ends the walk and is returned.
 */
static int each_file(json_t *spec, bool disks, int (*fn)(const struct vmfile *vf, void *arg),
		     void *arg)
{
	char name[PATH_MAX], whyp[160], param[32];
	struct virtio_blk_conf d;
	struct vmfile vf;
	json_t *list, *v;
	size_t i;
	int r = 0;

	for (unsigned k = 0; k < 3 && r >= 0; k++) {
		vf = (struct vmfile){ .param = single[k], .path = name, .mode = FILES_READ,
				      .slot = single_slot };
		if (plan_file_param(json_object_get(spec, single[k]), name, sizeof(name),
				    &vf.idx, whyp, sizeof(whyp)) == 0 && name[0])
			r = fn(&vf, arg);
	}
	if (r < 0 || !disks)
		return r;
	list = plan_list_param(json_object_get(spec, "disks"));
	json_array_foreach(list, i, v) {
		if (i >= VIRTIO_MAX_DISKS)
			break;
		vf = (struct vmfile){ .param = param, .path = d.path, .slot = disk_slot,
				      .i = (unsigned)i };
		if (plan_disk_param(v, &d, &vf.idx, whyp, sizeof(whyp)) < 0)
			continue;
		snprintf(param, sizeof(param), "disk %zu", i);
		vf.mode = d.readonly ? FILES_READ : FILES_READ_WRITE;
		r = fn(&vf, arg);
		if (r < 0)
			break;
	}
	json_decref(list);
	return r;
}

static int take_one(const struct server_peer_cred *who, const char *param, int idx,
		    const char *label, enum files_mode mode, int *fds, unsigned nfds,
		    const struct files_policy *policy, int *slot, struct files_refusal *why)
{
	if (idx < 0)
		return 0;
	if ((unsigned)idx >= nfds || fds[idx] < 0) {
		why->code = ARMVM_E_INVALID_PARAMS;
		snprintf(why->message, sizeof(why->message),
			 "%s: descriptor %d was not passed with the request (%u were%s)",
			 param, idx, nfds, (unsigned)idx < nfds ? "; it is used twice" : "");
		why->data = json_pack("{s:s, s:i, s:i, s:s}", "param", param, "fd", idx,
				      "passed", (int)nfds, "reason", "bad-fd");
		return -1;
	}
	if (files_check_fd(who, param, fds[idx], label, mode, policy, why) < 0)
		return -1;
	*slot = fds[idx];
	fds[idx] = -1;
	return 0;
}

struct take_ctx {
	const struct server_peer_cred *who;
	int *fds;
	unsigned nfds;
	const struct files_policy *policy;
	struct plan_files *kept;
	struct files_refusal *why;
};

static int take_cb(const struct vmfile *vf, void *arg)
{
	struct take_ctx *c = arg;

	return take_one(c->who, vf->param, vf->idx, vf->path, vf->mode, c->fds, c->nfds,
			c->policy, vf->slot(c->kept, vf), c->why);
}

int vmfiles_take(json_t *spec, const struct server_peer_cred *who, int *fds, unsigned nfds,
		 const struct files_policy *policy, struct plan_files *kept,
		 struct files_refusal *why)
{
	struct take_ctx c = { who, fds, nfds, policy, kept, why };

	plan_files_init(kept);
	if (each_file(spec, true, take_cb, &c) < 0) {
		plan_files_close(kept);
		return -1;
	}
	return 0;
}

/* a kept descriptor's copy for this run, moved into the run's files */
static int move_kept(int *from, int *slot)
{
	if (*from < 0)
		return -EBADF;
	*slot = *from;
	*from = -1;
	return 0;
}

int vmfiles_dup(const struct plan_files *kept, struct plan_files *copy)
{
	const int *src = &kept->kernel;
	int *dst = &copy->kernel;
	size_t n = sizeof(*kept) / sizeof(int);

	plan_files_init(copy);
	for (size_t i = 0; i < n; i++) {
		if (src[i] < 0)
			continue;
		dst[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
		if (dst[i] < 0) {
			int r = -errno;

			plan_files_close(copy);
			return r;
		}
	}
	return 0;
}

static void out_of_fds(struct files_refusal *why, const char *param, int err)
{
	if (err == -EBADF) {
		/* a definition from vm.create's descriptors, this daemon
		 * restarted since: nothing to open it from */
		why->code = ARMVM_E_STATE;
		snprintf(why->message, sizeof(why->message), "%s came as a descriptor with "
			 "vm.create, which this daemon no longer holds (it was restarted): "
			 "create the VM again", param);
		why->data = json_pack("{s:s, s:s}", "param", param, "reason", "descriptor-lost");
		return;
	}
	why->code = ARMVM_E_RESOURCE;
	snprintf(why->message, sizeof(why->message), "%s: %s", param, strerror(-err));
	why->data = json_pack("{s:s, s:s}", "param", param, "reason", "error");
}

static int open_files(json_t *spec, const struct server_peer_cred *who,
		      struct plan_files *kept, const struct files_policy *policy,
		      struct plan_files *out, struct files_refusal *why, bool devices);

int vmfiles_open(json_t *spec, const struct server_peer_cred *who,
		 struct plan_files *kept, const struct files_policy *policy,
		 struct plan_files *out, struct files_refusal *why)
{
	return open_files(spec, who, kept, policy, out, why, true);
}

int vmfiles_open_payload(json_t *spec, const struct server_peer_cred *who,
			 struct plan_files *kept, const struct files_policy *policy,
			 struct plan_files *out, struct files_refusal *why)
{
	return open_files(spec, who, kept, policy, out, why, false);
}

struct open_ctx {
	const struct server_peer_cred *who;
	struct plan_files *kept, *out;
	const struct files_policy *policy;
	struct files_refusal *why;
};

static int open_cb(const struct vmfile *vf, void *arg)
{
	struct open_ctx *c = arg;
	int *slot = vf->slot(c->out, vf), r;

	if (vf->idx >= 0) {
		r = move_kept(vf->slot(c->kept, vf), slot);
		if (r < 0)
			out_of_fds(c->why, vf->param, r);
		return r;
	}
	*slot = files_open_as(c->who, vf->param, vf->path, vf->mode, c->policy, c->why);
	return *slot < 0 ? -1 : 0;
}

static int open_files(json_t *spec, const struct server_peer_cred *who,
		      struct plan_files *kept, const struct files_policy *policy,
		      struct plan_files *out, struct files_refusal *why, bool devices)
{
	struct open_ctx c = { who, kept, out, policy, why };
	struct virtio_net_conf n;
	char whyp[160], param[32];
	json_t *list, *v;
	bool mac_given;
	size_t i;

	plan_files_init(out);
	if (each_file(spec, devices, open_cb, &c) < 0)
		goto fail;
	if (!devices)
		goto done;
	list = plan_list_param(json_object_get(spec, "nets"));
	json_array_foreach(list, i, v) {
		if (i >= VIRTIO_MAX_NETS ||
		    plan_net_param(v, &n, &mac_given, whyp, sizeof(whyp)) < 0)
			continue;
		snprintf(param, sizeof(param), "net %zu", i);
		out->nets[i] = files_open_tap(who, param, n.tap, policy, NULL, why);
		if (out->nets[i] < 0) {
			json_decref(list);
			goto fail;
		}
	}
	json_decref(list);
done:
	plan_files_close(kept);	/* copies nobody refers to */
	return 0;
fail:
	plan_files_close(out);
	plan_files_close(kept);
	return -1;
}

static int count_cb(const struct vmfile *vf, void *arg)
{
	unsigned *n = arg;

	n[vf->idx >= 0]++;
	return 0;
}

const char *vmfiles_kind(json_t *spec)
{
	unsigned n[2] = { 0, 0 };	/* paths, descriptors */

	each_file(spec, true, count_cb, n);
	return n[0] && n[1] ? "mixed" : n[1] ? "descriptors" : n[0] ? "paths" : "none";
}
