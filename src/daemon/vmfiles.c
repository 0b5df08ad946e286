// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/vmfiles.h"

/* The three single-file parameters and their slots. */
static const char *const single[] = { "kernel", "initrd", "dtb" };

static int *single_slot(struct plan_files *f, unsigned i)
{
	return i == 0 ? &f->kernel : i == 1 ? &f->initrd : &f->dtb;
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

int vmfiles_take(json_t *spec, const struct server_peer_cred *who, int *fds, unsigned nfds,
		 const struct files_policy *policy, struct plan_files *kept,
		 struct files_refusal *why)
{
	char name[PATH_MAX], whyp[160], param[32];
	struct virtio_blk_conf d;
	json_t *list, *v;
	size_t i;
	int idx;

	plan_files_init(kept);
	for (unsigned k = 0; k < 3; k++) {
		if (plan_file_param(json_object_get(spec, single[k]), name, sizeof(name), &idx,
				    whyp, sizeof(whyp)) < 0)
			continue;	/* the plan says what is wrong with it */
		if (take_one(who, single[k], idx, name, FILES_READ, fds, nfds, policy,
			     single_slot(kept, k), why) < 0)
			goto fail;
	}
	list = plan_list_param(json_object_get(spec, "disks"));
	json_array_foreach(list, i, v) {
		if (i >= VIRTIO_MAX_DISKS ||
		    plan_disk_param(v, &d, &idx, whyp, sizeof(whyp)) < 0)
			continue;
		snprintf(param, sizeof(param), "disk %zu", i);
		if (take_one(who, param, idx, d.path,
			     d.readonly ? FILES_READ : FILES_READ_WRITE, fds, nfds, policy,
			     &kept->disks[i], why) < 0) {
			json_decref(list);
			goto fail;
		}
	}
	json_decref(list);
	return 0;
fail:
	plan_files_close(kept);
	return -1;
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

static int open_files(json_t *spec, const struct server_peer_cred *who,
		      struct plan_files *kept, const struct files_policy *policy,
		      struct plan_files *out, struct files_refusal *why, bool devices)
{
	char name[PATH_MAX], whyp[160], param[32];
	struct virtio_blk_conf d;
	struct virtio_net_conf n;
	json_t *list, *v;
	bool mac_given;
	size_t i;
	int idx, r;

	plan_files_init(out);
	for (unsigned k = 0; k < 3; k++) {
		int *slot = single_slot(out, k);
		int *have = single_slot(kept, k);

		if (plan_file_param(json_object_get(spec, single[k]), name, sizeof(name), &idx,
				    whyp, sizeof(whyp)) < 0 || !name[0])
			continue;
		if (idx >= 0) {
			if ((r = move_kept(have, slot)) < 0) {
				out_of_fds(why, single[k], r);
				goto fail;
			}
			continue;
		}
		*slot = files_open_as(who, single[k], name, FILES_READ, policy, why);
		if (*slot < 0)
			goto fail;
	}
	if (!devices)
		goto done;
	list = plan_list_param(json_object_get(spec, "disks"));
	json_array_foreach(list, i, v) {
		if (i >= VIRTIO_MAX_DISKS ||
		    plan_disk_param(v, &d, &idx, whyp, sizeof(whyp)) < 0)
			continue;
		snprintf(param, sizeof(param), "disk %zu", i);
		if (idx >= 0) {
			if ((r = move_kept(&kept->disks[i], &out->disks[i])) < 0) {
				out_of_fds(why, param, r);
				json_decref(list);
				goto fail;
			}
			continue;
		}
		out->disks[i] = files_open_as(who, param, d.path,
					      d.readonly ? FILES_READ : FILES_READ_WRITE,
					      policy, why);
		if (out->disks[i] < 0) {
			json_decref(list);
			goto fail;
		}
	}
	json_decref(list);
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

const char *vmfiles_kind(json_t *spec)
{
	char name[PATH_MAX], whyp[160];
	struct virtio_blk_conf d;
	unsigned fds = 0, paths = 0;
	json_t *list, *v;
	size_t i;
	int idx;

	for (unsigned k = 0; k < 3; k++) {
		if (plan_file_param(json_object_get(spec, single[k]), name, sizeof(name), &idx,
				    whyp, sizeof(whyp)) < 0 || !name[0])
			continue;
		fds += idx >= 0;
		paths += idx < 0;
	}
	list = plan_list_param(json_object_get(spec, "disks"));
	json_array_foreach(list, i, v) {
		if (plan_disk_param(v, &d, &idx, whyp, sizeof(whyp)) < 0)
			continue;
		fds += idx >= 0;
		paths += idx < 0;
	}
	json_decref(list);
	return fds && paths ? "mixed" : fds ? "descriptors" : paths ? "paths" : "none";
}
