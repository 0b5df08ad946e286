// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/state.h"
#include "daemon/watch.h"
#include "rpc/worker_proto.h"
#include "util/fs.h"

#define STATE_VERSION 1

static void vms_dir(const struct daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s/vms", d->state_dir);
}

int state_init(struct daemon *d)
{
	char dir[PATH_MAX + 8];
	int r;

	vms_dir(d, dir, sizeof(dir));
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return log_errno(r, "state directory %s", dir);
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int state_save(struct vm_entry *e)
{
	char dir[PATH_MAX + 8], path[PATH_MAX + 80], tmp[PATH_MAX + 96];
	json_t *j;
	char *text;
	size_t len;
	int fd, r = 0;

	vms_dir(e->d, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s.json", dir, e->name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.json.tmp", dir, e->name);
	j = json_pack("{s:i, s:s, s:O, s:I}", "version", STATE_VERSION,
		      "name", e->name, "params", e->params,
		      "created_at", (json_int_t)e->created_at);
	text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(text);
		return log_errno(-errno, "writing %s", tmp);
	}
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0)
		r = -errno ? -errno : -EIO;
	close(fd);
	free(text);
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return log_errno(r, "saving the definition of %s", e->name);
	}
	fsync_dir(dir);
	return 0;
}

void state_forget(struct vm_entry *e)
{
	char dir[PATH_MAX + 8], path[PATH_MAX + 80];

	vms_dir(e->d, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s.json", dir, e->name);
	if (unlink(path) == 0)
		fsync_dir(dir);
}

static void set_aside(struct daemon *d, const char *dir, const char *file,
		      const char *why)
{
	char from[PATH_MAX + 300], to[PATH_MAX + 340];

	snprintf(from, sizeof(from), "%s/%s", dir, file);
	snprintf(to, sizeof(to), "%s/%s.corrupt-%ld", dir, file, (long)time(NULL));
	if (rename(from, to) == 0)
		log_error("state file %s: %s; set aside as %s", from, why, to);
	else
		log_error("state file %s: %s (cannot set it aside: %s)", from, why,
			  strerror(errno));
	json_array_append_new(d->state_problems, json_pack("{s:s, s:s, s:s}",
		"file", from, "problem", why, "moved_to", to));
}

static void load_one(struct daemon *d, const char *dir, const char *file)
{
	char path[PATH_MAX + 300], name[64];
	json_error_t jerr;
	json_t *j, *params;
	const char *jname;
	struct vm_entry *e;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	j = json_load_file(path, 0, &jerr);
	if (!j) {
		set_aside(d, dir, file, jerr.text);
		return;
	}
	jname = json_string_value(json_object_get(j, "name"));
	params = json_object_get(j, "params");
	snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) - 5), file);
	if (json_integer_value(json_object_get(j, "version")) != STATE_VERSION ||
	    !jname || strcmp(jname, name) || !json_is_object(params) ||
	    !plan_name_valid(name)) {
		set_aside(d, dir, file, "not an armvmd VM definition (version, name or params)");
		json_decref(j);
		return;
	}
	if (registry_find(d, name)) {
		json_decref(j);
		return;
	}
	e = registry_add(d, name);
	if (!e) {
		json_decref(j);
		return;
	}
	e->params = json_incref(params);
	e->created_at = (time_t)json_integer_value(json_object_get(j, "created_at"));
	e->defined = true;
	e->state = VM_STOPPED;
	snprintf(e->reason, sizeof(e->reason), "defined; not running");
	registry_replan(e);
	json_decref(j);
}

int state_load(struct daemon *d)
{
	char dir[PATH_MAX + 8];
	struct dirent *de;
	DIR *dh;

	vms_dir(d, dir, sizeof(dir));
	dh = opendir(dir);
	if (!dh)
		return -errno;
	while ((de = readdir(dh))) {
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.') {
			/* a temporary file of a write that never finished */
			if (n > 9 && !strcmp(de->d_name + n - 9, ".json.tmp")) {
				char p[PATH_MAX + 300];

				snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
				log_warn("removing half-written %s", p);
				unlink(p);
			}
			continue;
		}
		if (n > 5 && !strcmp(de->d_name + n - 5, ".json"))
			load_one(d, dir, de->d_name);
	}
	closedir(dh);
	return 0;
}
