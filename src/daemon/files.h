/* SPDX-License-Identifier: MIT */
/*
 * The files a VM uses, opened for its caller and only as the caller could.
 *
 * armvmd runs as root; a client names a kernel, an initrd, a DTB, disks
 * and TAPs.  Either it passes descriptors it opened itself (checked here
 * with files_check_fd: access mode and file type), or it sends paths and
 * the daemon opens them with the caller's filesystem credentials
 * (files_open_as), so that nothing reaches a VM that its owner could not
 * have opened.  Only regular files are accepted, and block devices when
 * the daemon runs with --allow-block-devices.
 *
 * Opening blocks (NFS, a slow disk): these run on the job thread
 * (daemon/jobs.h), never on the loop.  The credential switch is the
 * calling thread's alone.
 *
 * A refusal is a JSON-RPC error to hand on as it is:
 *   code    ARMVM_E_PERMISSION: reason "permission", "block-device",
 *           "not-owner", "credentials" (the switch failed; nothing opened)
 *           ARMVM_E_IMAGE (kernel, initrd, dtb) or ARMVM_E_INVALID_PARAMS
 *           (the rest): "missing", "not-a-file", "relative-path",
 *           "fd-mode", "bad-fd", "error"
 *           ARMVM_E_RESOURCE: out of descriptors or memory ("error")
 *   message "kernel /etc/shadow: uid 1000 cannot open it for reading:
 *           Permission denied"
 *   data    {"param", "path", "mode": "read"|"read-write", "uid",
 *           "errno": "EACCES" (when there is one), "reason"}
 * Nothing of a file's contents is ever quoted.
 */
#ifndef ARMVMD_FILES_H
#define ARMVMD_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "rpc/server.h"

enum files_mode { FILES_READ, FILES_READ_WRITE };

struct files_policy {
	bool allow_block_devices;	/* --allow-block-devices */
	/* --allow-tap NAME...: existing TAPs anyone may use (their owner
	 * aside); NULL with n_allow_taps 0 for none */
	const char *const *allow_taps;
	size_t n_allow_taps;
};

struct files_refusal {
	int code;			/* ARMVM_E_* */
	char message[300];
	json_t *data;			/* owned */
};

/*
 * Open path (absolute) for who exactly as who could: the calling thread's
 * supplementary groups, fsgid and fsuid become who's for the open, then
 * its own again.  who->uid 0, or the uid the daemon itself runs as, opens
 * as the daemon.  Opened O_NOCTTY|O_NONBLOCK|O_CLOEXEC (a FIFO never
 * blocks: and it is refused before it is opened), then O_NONBLOCK cleared.
 * param names it in messages ("kernel", "disk 1").  The fd, or -1 with
 * *why filled (whatever it held is overwritten: clear it first).
 */
int files_open_as(const struct server_peer_cred *who, const char *param, const char *path,
		  enum files_mode mode, const struct files_policy *policy,
		  struct files_refusal *why);

/*
 * Check a descriptor a client passed: open for mode (F_GETFL: readable;
 * O_RDWR for read-write, and not O_APPEND, which would turn every pwrite
 * into an append) and of a type files_open_as accepts.  label is its
 * "path" for messages (NULL: "descriptor").  0 or -1 with *why filled.
 */
int files_check_fd(const struct server_peer_cred *who, const char *param, int fd,
		   const char *label, enum files_mode mode, const struct files_policy *policy,
		   struct files_refusal *why);

/*
 * The credentials of uid from /etc/passwd and /etc/group (for autostart
 * and restarts, with no client connected): its primary gid and every group
 * that lists its name (the first SERVER_PEER_GROUPS).  A uid without a
 * passwd entry gets gid = uid and no groups.  0 or -errno (then *out is
 * uid's with no groups: it grants no more than that).
 */
int files_cred_of_uid(uid_t uid, struct server_peer_cred *out);

/*
 * A TAP for who: /dev/net/tun (O_RDWR|O_NONBLOCK|O_CLOEXEC) attached with
 * TUNSETIFF IFF_TAP|IFF_NO_PI|IFF_VNET_HDR to name.  A name that does not
 * exist (or "" or one with %d: the kernel picks) is created for who
 * (TUNSETOWNER who->uid), non-persistent: it goes when the fd closes.  An
 * existing one only when who owns it (/sys/class/net/NAME/owner, or its
 * group is one of who's) or the policy lists it; root may use any.  The fd
 * (still to get TUNSETVNETHDRSZ and offloads from its user), the name the
 * kernel gave in ifname (IFNAMSIZ; may be NULL), or -1 with *why filled:
 * ARMVM_E_PERMISSION {param, tap, uid, owner, group, reason "not-owner"}.
 */
int files_open_tap(const struct server_peer_cred *who, const char *param, const char *name,
		   const struct files_policy *policy, char *ifname, struct files_refusal *why);

void files_refusal_clear(struct files_refusal *why);

#endif
