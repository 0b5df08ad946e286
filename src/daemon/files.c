// SPDX-License-Identifier: MIT
/*
 * Opening a VM's files as its caller.
 *
 * The daemon is root; a path from a client is opened with the client's
 * filesystem credentials on this thread only: its supplementary groups
 * (the raw setgroups system call: glibc's wrapper changes every thread of
 * the process), fsgid and fsuid.  When fsuid leaves 0, Linux drops
 * CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the thread's effective
 * set (and raises them again when it comes back), so the open is checked
 * exactly as the client's own would be.  That is verified, not assumed: a
 * daemon whose secure bits keep those capabilities opens nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/if_tun.h>

#include "daemon/files.h"
#include "libarmvm.h"
#include "util/log.h"

/* the request being answered, for refusals */
struct req {
	const struct server_peer_cred *who;
	const char *param;
	const char *path;		/* or a descriptor's label, a TAP's name */
	const char *path_key;		/* its key in the data: NULL for "path" */
	enum files_mode mode;
	bool no_mode;			/* a TAP: no "mode" in the data */
	struct files_refusal *why;
};

static const char *mode_name(enum files_mode mode)
{
	return mode == FILES_READ_WRITE ? "read-write" : "read";
}

static const char *mode_doing(enum files_mode mode)
{
	return mode == FILES_READ_WRITE ? "reading and writing" : "reading";
}

static const char *errno_name(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "EUNKNOWN";
}

/* a boot image that is missing or no file was ARMVM_E_IMAGE before
 * anything was opened as the caller; disks were invalid parameters */
static int nonfile_code(const char *param)
{
	static const char *const images[] = { "kernel", "initrd", "dtb" };

	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		if (param && !strcmp(param, images[i]))
			return ARMVM_E_IMAGE;
	return ARMVM_E_INVALID_PARAMS;
}

static void refusal_init(struct files_refusal *why)
{
	why->code = 0;
	why->message[0] = '\0';
	why->data = NULL;
}

void files_refusal_clear(struct files_refusal *why)
{
	if (!why)
		return;
	json_decref(why->data);
	refusal_init(why);
}

static void data_set(json_t *data, const char *key, json_t *v)
{
	if (v)
		json_object_set_new(data, key, v);
}

/*
 * Fill q->why: "PARAM PATH: " and the rest from fmt, data {param, path,
 * mode, uid, errno (err != 0), reason}.  Returns -1.
 */
static int __attribute__((format(printf, 5, 6)))
refuse(const struct req *q, int code, const char *reason, int err, const char *fmt, ...)
{
	struct files_refusal *why = q->why;
	int n;
	va_list ap;

	why->code = code;
	n = snprintf(why->message, sizeof(why->message), "%s %s: ", q->param ? q->param : "file",
		     q->path ? q->path : "");
	if (n >= 0 && (size_t)n < sizeof(why->message)) {
		va_start(ap, fmt);
		vsnprintf(why->message + n, sizeof(why->message) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	why->data = json_object();
	if (!why->data)
		return -1;
	data_set(why->data, "param", json_string(q->param ? q->param : ""));
	if (q->path)
		data_set(why->data, q->path_key ? q->path_key : "path", json_string(q->path));
	if (!q->no_mode)
		data_set(why->data, "mode", json_string(mode_name(q->mode)));
	if (q->who && q->who->known)
		data_set(why->data, "uid", json_integer((json_int_t)q->who->uid));
	if (err)
		data_set(why->data, "errno", json_string(errno_name(err)));
	data_set(why->data, "reason", json_string(reason));
	return -1;
}

static int refuse_errno(const struct req *q, int err)
{
	const char *reason = "error";
	int code = nonfile_code(q->param);

	switch (err) {
	case EACCES:
	case EPERM:
	case EROFS:
	case ETXTBSY:
		code = ARMVM_E_PERMISSION;
		reason = "permission";
		break;
	case ENOENT:
	case ENOTDIR:
		reason = "missing";
		break;
	case EISDIR:
	case ENXIO:
	case ENODEV:
		reason = "not-a-file";
		break;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		code = ARMVM_E_RESOURCE;
		break;
	}
	return refuse(q, code, reason, err, "uid %u cannot open it for %s: %s",
		      (unsigned)q->who->uid, mode_doing(q->mode), strerror(err));
}

static const char *type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a file";
}

/* 0 when a VM may have a file of type m, else the refusal (-1) */
static int check_type(const struct req *q, mode_t m, const struct files_policy *policy)
{
	bool blk_ok = policy && policy->allow_block_devices;

	if (S_ISREG(m) || (S_ISBLK(m) && blk_ok))
		return 0;
	if (S_ISBLK(m))
		return refuse(q, ARMVM_E_PERMISSION, "block-device", 0,
			      "a block device, and armvmd does not run with "
			      "--allow-block-devices");
	return refuse(q, nonfile_code(q->param), "not-a-file", 0, "%s, not a regular file%s",
		      type_name(m), blk_ok ? " or block device" : "");
}

/* --- the thread's filesystem credentials --- */

struct fs_creds {
	uid_t fsuid;
	gid_t fsgid;
	gid_t *groups;
	int ngroups;
	bool groups_set;
};

/* Does this thread still hold a capability that bypasses file modes? */
static bool dac_caps_effective(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	/* pid 0: the calling thread */
	if (syscall(SYS_capget, &h, d) < 0)
		return true;
	return d[0].effective & ((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
}

static void creds_restore(struct fs_creds *old)
{
	setfsuid(old->fsuid);
	setfsgid(old->fsgid);
	if (old->groups_set &&
	    syscall(SYS_setgroups, (size_t)old->ngroups, old->groups) < 0)
		log_error("cannot restore the thread's groups: %s", strerror(errno));
	/* setfsuid(-1) changes nothing and tells the current one */
	if ((uid_t)setfsuid((uid_t)-1) != old->fsuid ||
	    (gid_t)setfsgid((gid_t)-1) != old->fsgid)
		log_error("cannot restore the thread's filesystem credentials");
	free(old->groups);
	old->groups = NULL;
}

/* This thread takes who's filesystem credentials: 0 or -errno (then it
 * has its own). */
static int creds_become(const struct server_peer_cred *who, struct fs_creds *old)
{
	int n, r;

	memset(old, 0, sizeof(*old));
	old->fsuid = (uid_t)setfsuid((uid_t)-1);
	old->fsgid = (gid_t)setfsgid((gid_t)-1);
	n = getgroups(0, NULL);
	if (n < 0)
		return -errno;
	old->groups = malloc(((size_t)n + 1) * sizeof(gid_t));
	if (!old->groups)
		return -ENOMEM;
	n = getgroups(n, old->groups);
	if (n < 0) {
		r = -errno;
		free(old->groups);
		return r;
	}
	old->ngroups = n;
	if (syscall(SYS_setgroups, (size_t)who->ngroups, who->groups) < 0) {
		r = -errno;
		free(old->groups);
		return r;
	}
	old->groups_set = true;
	setfsgid(who->gid);
	setfsuid(who->uid);
	if ((gid_t)setfsgid((gid_t)-1) != who->gid || (uid_t)setfsuid((uid_t)-1) != who->uid ||
	    (who->uid != 0 && dac_caps_effective())) {
		creds_restore(old);
		return -EPERM;
	}
	return 0;
}

int files_open_as(const struct server_peer_cred *who, const char *param, const char *path,
		  enum files_mode mode, const struct files_policy *policy,
		  struct files_refusal *why)
{
	struct req q = { .who = who, .param = param, .path = path, .mode = mode, .why = why };
	int flags = (mode == FILES_READ_WRITE ? O_RDWR : O_RDONLY) |
		    O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	struct fs_creds old;
	struct stat st;
	bool as_self;
	int fd = -1, err = 0, r;

	refusal_init(why);
	if (!path || !*path)
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "missing", 0, "no path");
	if (path[0] != '/')
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "relative-path", 0,
			      "not an absolute path (armvmd's working directory is "
			      "not the caller's)");
	if (!who || !who->known)
		return refuse(&q, ARMVM_E_PERMISSION, "credentials", 0,
			      "the caller's credentials are unknown");
	/* root, or the user an unprivileged daemon runs as: nothing to take */
	as_self = who->uid == geteuid();
	if (!as_self) {
		r = creds_become(who, &old);
		if (r < 0)
			return refuse(&q, ARMVM_E_PERMISSION, "credentials", -r,
				      "cannot take uid %u's credentials to open it: %s",
				      (unsigned)who->uid, strerror(-r));
	}
	/*
	 * The type is looked at first: opening a FIFO or a device can do
	 * something (a tape rewinds, a watchdog arms).  The fstat below is
	 * what counts; the path may change in between.
	 */
	if (stat(path, &st) < 0) {
		err = errno;
	} else if (S_ISREG(st.st_mode) ||
		   (S_ISBLK(st.st_mode) && policy && policy->allow_block_devices)) {
		fd = open(path, flags);
		if (fd < 0)
			err = errno;
	}
	if (!as_self)
		creds_restore(&old);

	if (err)
		return refuse_errno(&q, err);
	if (fd < 0)
		return check_type(&q, st.st_mode, policy);
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		return refuse_errno(&q, err);
	}
	if (check_type(&q, st.st_mode, policy) < 0) {
		close(fd);
		return -1;
	}
	/* kept blocking for its user (a regular file never waits anyway) */
	r = fcntl(fd, F_GETFL);
	if (r < 0 || fcntl(fd, F_SETFL, r & ~O_NONBLOCK) < 0) {
		err = errno;
		close(fd);
		return refuse_errno(&q, err);
	}
	return fd;
}

int files_check_fd(const struct server_peer_cred *who, const char *param, int fd,
		   const char *label, enum files_mode mode, const struct files_policy *policy,
		   struct files_refusal *why)
{
	struct req q = { .who = who, .param = param, .path = label ? label : "descriptor",
			 .mode = mode, .why = why };
	struct stat st;
	int fl;

	refusal_init(why);
	fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
	if (fl < 0)
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "bad-fd", EBADF,
			      "not an open descriptor");
	if ((fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY)
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "fd-mode", 0,
			      "the descriptor passed is not open for reading");
	if (mode == FILES_READ_WRITE && (fl & O_ACCMODE) != O_RDWR)
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "fd-mode", 0,
			      "the descriptor passed is open read-only; a read-write "
			      "disk needs one opened O_RDWR");
	/* pwrite() on an O_APPEND file appends, whatever the offset */
	if (mode == FILES_READ_WRITE && (fl & O_APPEND))
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "fd-mode", 0,
			      "the descriptor passed is open O_APPEND; every write "
			      "would land at the end");
	if (fstat(fd, &st) < 0)
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "bad-fd", errno,
			      "fstat: %s", strerror(errno));
	return check_type(&q, st.st_mode, policy);
}

/* --- a uid's credentials, without a client --- */

/*
 * From the files, as util/fs.c's group_lookup does: the static arm64
 * build has no NSS modules to load, and getpwuid_r there would need the
 * host's shared glibc.  fgetpwent_r/fgetgrent_r parse a stream, no NSS.
 * On ERANGE they leave the stream at that entry: the buffer grows.
 */
#define ENT_BUF_MAX	(1u << 20)

static int passwd_gid(uid_t uid, char **name, gid_t *gid)
{
	FILE *f = fopen("/etc/passwd", "re");
	size_t len = 4096;
	char *buf = NULL, *nb;
	struct passwd pw, *res;
	int r;

	if (!f)
		return -errno;
	for (;;) {
		nb = realloc(buf, len);
		if (!nb) {
			r = ENOMEM;
			break;
		}
		buf = nb;
		r = fgetpwent_r(f, &pw, buf, len, &res);
		if (r == ERANGE && len < ENT_BUF_MAX) {
			len *= 2;
			continue;
		}
		if (r)
			break;
		if (pw.pw_uid == uid) {
			*gid = pw.pw_gid;
			*name = strdup(pw.pw_name);
			r = *name ? 0 : ENOMEM;
			break;
		}
	}
	free(buf);
	fclose(f);
	return -r;
}

static void add_group(struct server_peer_cred *out, gid_t gid)
{
	for (unsigned i = 0; i < out->ngroups; i++)
		if (out->groups[i] == gid)
			return;
	if (out->ngroups < SERVER_PEER_GROUPS)
		out->groups[out->ngroups++] = gid;
}

static int member_groups(const char *name, struct server_peer_cred *out)
{
	FILE *f = fopen("/etc/group", "re");
	size_t len = 4096;
	char *buf = NULL, *nb;
	struct group gr, *res;
	int r;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		nb = realloc(buf, len);
		if (!nb) {
			r = ENOMEM;
			break;
		}
		buf = nb;
		r = fgetgrent_r(f, &gr, buf, len, &res);
		if (r == ERANGE && len < ENT_BUF_MAX) {
			len *= 2;
			continue;
		}
		if (r)
			break;
		for (char **m = gr.gr_mem; m && *m; m++) {
			if (!strcmp(*m, name)) {
				add_group(out, gr.gr_gid);
				break;
			}
		}
	}
	free(buf);
	fclose(f);
	return r == ENOENT ? 0 : -r;
}

int files_cred_of_uid(uid_t uid, struct server_peer_cred *out)
{
	char *name = NULL;
	gid_t gid = (gid_t)uid;
	int r;

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->uid = uid;
	out->gid = (gid_t)uid;
	out->known = true;
	r = passwd_gid(uid, &name, &gid);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	out->gid = gid;
	/* as initgroups() makes them: the primary group among them */
	add_group(out, gid);
	r = member_groups(name, out);
	free(name);
	if (r < 0)
		out->ngroups = 0;
	return r;
}

/* --- TAP devices --- */

/* /sys/class/net/NAME/KEY as a number: 0, -ENOENT, or -errno */
static int sysfs_net_long(const char *name, const char *key, long *v)
{
	char path[64 + IFNAMSIZ], text[32], *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, key);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	text[n] = '\0';
	errno = 0;
	*v = strtol(text, &end, 0);
	return errno || end == text ? -EINVAL : 0;
}

/*
 * May who attach the existing TAP name?  The kernel's own rule (tun.c
 * tun_not_capable: the owner, when set, must be who; the group, when set,
 * one of who's), except that a TAP with neither is root's, not everyone's;
 * or the policy lists it.  1 yes, 0 no (*owner, *group for the refusal),
 * -ENOENT no such interface, -ENOTTY an interface that is not a TUN/TAP.
 */
static int tap_may_attach(const struct server_peer_cred *who, const char *name,
			  const struct files_policy *policy, long *owner, long *group)
{
	char path[64 + IFNAMSIZ];
	struct stat st;
	int r;

	*owner = *group = -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	if (stat(path, &st) < 0)
		return -errno;
	r = sysfs_net_long(name, "owner", owner);
	if (r == 0)
		r = sysfs_net_long(name, "group", group);
	if (r < 0)
		return r == -ENOENT ? -ENOTTY : r;
	for (size_t i = 0; policy && i < policy->n_allow_taps; i++)
		if (policy->allow_taps[i] && !strcmp(policy->allow_taps[i], name))
			return 1;
	if (*owner == -1 && *group == -1)
		return 0;
	if (*owner != -1 && (uid_t)*owner != who->uid)
		return 0;
	if (*group != -1 && !server_peer_in_group(who, (gid_t)*group))
		return 0;
	return 1;
}

static int tap_refuse(const struct req *q, int r, long owner, long group)
{
	if (r == -ENOTTY)
		return refuse(q, ARMVM_E_INVALID_PARAMS, "not-a-tap", 0,
			      "an interface that is not a TAP");
	if (r < 0)
		return refuse(q, ARMVM_E_INVALID_PARAMS, "error", -r, "%s", strerror(-r));
	refuse(q, ARMVM_E_PERMISSION, "not-owner", 0,
	       "uid %u may not use this TAP (owner %ld, group %ld; armvmd --allow-tap %s "
	       "would let it)", (unsigned)q->who->uid, owner, group, q->path);
	data_set(q->why->data, "owner", json_integer(owner));
	data_set(q->why->data, "group", json_integer(group));
	return -1;
}

int files_open_tap(const struct server_peer_cred *who, const char *param, const char *name,
		   const struct files_policy *policy, char *ifname, struct files_refusal *why)
{
	struct req q = { .who = who, .param = param ? param : "tap", .path_key = "tap",
			 .no_mode = true, .why = why };
	struct ifreq ifr;
	bool root, picked;
	long owner, group;
	int fd, r;

	refusal_init(why);
	if (!name)
		name = "";
	q.path = *name ? name : "(new)";
	/* it becomes a path under /sys/class/net */
	if (strlen(name) >= IFNAMSIZ || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return refuse(&q, ARMVM_E_INVALID_PARAMS, "bad-name", 0,
			      "not an interface name");
	if (!who || !who->known)
		return refuse(&q, ARMVM_E_PERMISSION, "credentials", 0,
			      "the caller's credentials are unknown");
	root = who->uid == 0;
	picked = !*name || strchr(name, '%');
	/* checked before attaching too: attaching brings a persistent TAP's
	 * carrier up, which its owner would see */
	if (!root && !picked) {
		r = tap_may_attach(who, name, policy, &owner, &group);
		if (r == 0 || (r < 0 && r != -ENOENT))
			return tap_refuse(&q, r, owner, group);
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		return refuse(&q, r == EMFILE || r == ENFILE ? ARMVM_E_RESOURCE
			      : ARMVM_E_INVALID_PARAMS, "error", r, "/dev/net/tun: %s%s",
			      strerror(r), r == ENOENT ? " (is the tun module loaded?)" : "");
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	/* virtio_net.c's flags; EXCL: a new TAP, or EBUSY when the name exists */
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0) {
		/* non-persistent: it goes when the VM's descriptor closes */
		if (!root && ioctl(fd, TUNSETOWNER, (unsigned long)who->uid) < 0)
			goto fail;
	} else if (errno == EBUSY && !picked) {
		ifr.ifr_flags &= ~IFF_TUN_EXCL;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0)
			goto fail;
		/* again now that it is attached: the name may have changed hands */
		if (!root) {
			r = tap_may_attach(who, ifr.ifr_name, policy, &owner, &group);
			if (r != 1) {
				close(fd);
				return tap_refuse(&q, r, owner, group);
			}
		}
	} else {
		goto fail;
	}
	if (ifname)
		snprintf(ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	return fd;

fail:
	r = errno;
	close(fd);
	if (r == EPERM || r == EACCES)
		return refuse(&q, ARMVM_E_PERMISSION, "permission", r, "TUNSETIFF: %s",
			      strerror(r));
	return refuse(&q, ARMVM_E_INVALID_PARAMS, r == EBUSY ? "busy" : "error", r,
		      "TUNSETIFF: %s%s", strerror(r),
		      r == EBUSY ? " (in use by another process)" :
		      r == EINVAL ? " (not a TAP)" : "");
}
