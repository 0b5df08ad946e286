// SPDX-License-Identifier: MIT
/*
 * A plan's files: the descriptors it reads (struct plan_files), the file
 * parameters' two forms (a path, or a descriptor passed with the request),
 * and the one place a plan may open a path itself (tests and tools only:
 * the supervisor always gives descriptors).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arm64/plan.h"
#include "libarmvm.h"

void plan_files_init(struct plan_files *f)
{
	f->kernel = f->initrd = f->dtb = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_DISKS; i++)
		f->disks[i] = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_NETS; i++)
		f->nets[i] = -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void plan_files_close(struct plan_files *f)
{
	close_fd(&f->kernel);
	close_fd(&f->initrd);
	close_fd(&f->dtb);
	for (unsigned i = 0; i < VIRTIO_MAX_DISKS; i++)
		close_fd(&f->disks[i]);
	for (unsigned i = 0; i < VIRTIO_MAX_NETS; i++)
		close_fd(&f->nets[i]);
}

int plan_file_param(json_t *v, char *name, size_t size, int *fd_index,
		    char *why, size_t whylen)
{
	json_t *fd = json_object_get(v, "fd"), *path = json_object_get(v, "path");
	const char *key;
	json_t *x;

	*fd_index = -1;
	name[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (snprintf(name, size, "%s", json_string_value(v)) >= (int)size)
			return snprintf(why, whylen, "path too long"), -1;
		return 0;
	}
	if (!json_is_object(v))
		return snprintf(why, whylen, "a path or {\"fd\": N, \"path\": NAME}"), -1;
	json_object_foreach(v, key, x)
		if (strcmp(key, "fd") && strcmp(key, "path"))
			return snprintf(why, whylen, "unknown key '%s' (fd, path)", key), -1;
	if (!json_is_integer(fd) || json_integer_value(fd) < 0 ||
	    json_integer_value(fd) > 1024)
		return snprintf(why, whylen, "fd must be the index of a descriptor "
				"passed with the request"), -1;
	if (path && !json_is_string(path))
		return snprintf(why, whylen, "path must be a string"), -1;
	*fd_index = (int)json_integer_value(fd);
	if (path && snprintf(name, size, "%s", json_string_value(path)) >= (int)size)
		return snprintf(why, whylen, "path too long"), -1;
	if (!path)
		snprintf(name, size, "descriptor %d", *fd_index);
	return 0;
}

/*
 * The descriptor of one of the plan's files: the one given, or (no files
 * given) the path opened now, in mode, kept until the build ends.
 */
int plan_fd(struct vm_plan *plan, int *slot, const char *path, int mode,
	    struct layout_error *err, const char *what)
{
	memset(err, 0, sizeof(*err));
	if (*slot >= 0)
		return *slot;
	if (!plan->open_paths) {
		err->code = ARMVM_E_INVALID_PARAMS;
		snprintf(err->message, sizeof(err->message), "%s %s: " PLAN_NO_FD, what, path);
		return -1;
	}
	*slot = open(path, mode | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (*slot < 0) {
		err->code = ARMVM_E_IMAGE;
		snprintf(err->message, sizeof(err->message), "%s %s: %s", what, path,
			 strerror(errno));
		return -1;
	}
	return *slot;
}
