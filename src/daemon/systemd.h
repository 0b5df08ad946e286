/* SPDX-License-Identifier: MIT */
/*
 * The two small systemd protocols, spoken directly: sd_notify(3) datagrams
 * to $NOTIFY_SOCKET and socket activation through $LISTEN_FDS/$LISTEN_PID.
 * Both are no-ops without systemd.
 */
#ifndef ARMVMD_SYSTEMD_H
#define ARMVMD_SYSTEMD_H

#define SD_LISTEN_FDS_START 3

/* Send "READY=1", "STOPPING=1", "STATUS=..." ...; 0 when not under systemd. */
int sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The first socket systemd passed us (fd 3), or -1; clears the variables. */
int sd_listen_fd(void);

#endif
