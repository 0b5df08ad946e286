// SPDX-License-Identifier: MIT
/* armvmd: the supervisor.  One libev loop serving JSON-RPC on a Unix socket. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/jobs.h"
#include "rpc/server.h"
#include "daemon/state.h"
#include "arm64/hostinfo.h"
#include "daemon/adopt.h"
#include "daemon/main.h"
#include "daemon/pool.h"
#include "daemon/scope.h"
#include "daemon/systemd.h"
#include "daemon/watch.h"
#include "daemon/api.h"
#include "util/fs.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: armvmd [--socket PATH] [--runtime-dir DIR] [--state-dir DIR]\n"
		"              [--group NAME] [--admin-group NAME] [--log-level LEVEL]\n"
		"              [--limit NAME=VALUE]... [--no-sandbox] [--worker-ids FIRST:COUNT]\n"
		"              [--worker-binary PATH] [--allow-block-devices] [--allow-tap NAME]...\n"
		"              [--pool N]\n"
		"\n"
		"  -s, --socket PATH      listen on PATH (default $ARMVMD_SOCKET or\n"
		"                         " ARMVM_DEFAULT_SOCKET ")\n"
		"  -r, --runtime-dir DIR  per-VM sockets and logs (default $ARMVMD_RUNTIME_DIR\n"
		"                         or /run/armvmd)\n"
		"  -d, --state-dir DIR    VM definitions (default $ARMVMD_STATE_DIR or\n"
		"                         /var/lib/armvmd)\n"
		"  -g, --group NAME       group of the socket, mode 0660 (default armvm)\n"
		"      --admin-group NAME its members may drive and see inside every VM,\n"
		"                         not only their own (default: nobody but root)\n"
		"  -l, --log-level LEVEL  debug, info, warn or error (default info)\n"
		"  -L, --limit NAME=VALUE set a bound (repeatable); --limit help lists\n"
		"                         them with their defaults (see armvmd(8))\n"
		"      --no-sandbox       run workers as root, unconfined (debugging only;\n"
		"                         logged; see docs/SECURITY.md)\n"
		"      --worker-ids FIRST:COUNT  the uids (and gids) jailed workers get, one\n"
		"                         per live VM (default %u:%u)\n"
		"      --worker-binary PATH  armvmd-worker (default: beside armvmd, or\n"
		"                         ../libexec/armvmd/armvmd-worker)\n"
		"      --pool N           keep N jailed workers warm, waiting for a VM\n"
		"                         (default %u, at most %u; 0: none)\n"
		"      --allow-block-devices  block devices as disks (for callers who may\n"
		"                         open them); refused otherwise\n"
		"      --allow-tap NAME   an existing TAP any caller may use (repeatable);\n"
		"                         otherwise only its owner's, or a new one\n"
		"      --test-seccomp-trip  (tests only) every worker makes one forbidden\n"
		"                         call, to check the seccomp report\n"
		"      --foreground       accepted; armvmd never forks\n"
		"  -V, --version          print the version\n"
		"  -h, --help             this text\n", WORKER_IDS_FIRST, WORKER_IDS_COUNT,
		POOL_SIZE_DEFAULT, POOL_SIZE_MAX);
}

/* armvmd-worker: --worker-binary, beside us, or in ../libexec/armvmd/;
 * held open (O_PATH) so that what runs is what was checked */
static int open_worker_binary(struct daemon *d, const char *given)
{
	char cand[2][PATH_MAX + 64];
	const char *slash = strrchr(d->self_exe, '/');
	int dirlen = slash ? (int)(slash - d->self_exe) : 1;
	struct stat st;

	snprintf(cand[0], sizeof(cand[0]), "%.*s/armvmd-worker", dirlen, d->self_exe);
	snprintf(cand[1], sizeof(cand[1]), "%.*s/../libexec/armvmd/armvmd-worker", dirlen,
		 d->self_exe);
	for (int i = given ? -1 : 0; i < 2; i++) {
		const char *path = i < 0 ? given : cand[i];
		int fd = open(path, O_PATH | O_CLOEXEC);

		if (fd < 0) {
			if (given)
				break;
			continue;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXOTH)) {
			log_error("worker binary %s: not an executable file for everyone", path);
			close(fd);
			return -1;
		}
		/* root execs it: nobody else may change it */
		if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
			log_error("worker binary %s: must be root's and writable by root only "
				  "(uid %u, mode %04o)", path, (unsigned)st.st_uid,
				  (unsigned)(st.st_mode & 07777));
			close(fd);
			return -1;
		}
		snprintf(d->worker_exe, sizeof(d->worker_exe), "%s", path);
		d->worker_exe_fd = fd;
		return 0;
	}
	log_error("cannot find armvmd-worker (%s; tried %s and %s): give --worker-binary",
		  given ? given : "not given", cand[0], cand[1]);
	return -1;
}

static int parse_ids(const char *s, uid_t *first, unsigned *count)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10), b;

	if (end == s || *end != ':')
		return -1;
	s = end + 1;
	b = strtoul(s, &end, 10);
	if (end == s || *end || a == 0 || b == 0 || b > 1u << 20 || a + b > 0xfffffffeUL)
		return -1;
	*first = (uid_t)a;
	*count = (unsigned)b;
	return 0;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("signal %d: shutting down", w->signum);
	sd_notifyf("STOPPING=1");
	ev_break(loop, EVBREAK_ALL);
}

/* every worker a previous daemon left is adopted or given up on */
static void adopted(struct daemon *d)
{
	log_info("workers re-adopted; ready");
	sd_notifyf("READY=1");
}

static void client_closed(struct server *srv, void *conn)
{
	struct daemon *d = srv->ctx;

	events_client_closed(d, conn);
	/* the last console subscriber gone: the console links close */
	if (!d->stopping)
		for (struct vm_entry *e = d->vms; e; e = e->next)
			watch_console_update(e);
}

/* the systemd status line: how many VMs in which state */
static void notify_status(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct daemon *d = t->data;
	unsigned n = 0, running = 0;

	for (struct vm_entry *e = d->vms; e; e = e->next) {
		n++;
		running += e->state == VM_RUNNING;
	}
	sd_notifyf("STATUS=%u VMs, %u running", n, running);
}

int daemon_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "group", required_argument, NULL, 'g' },
		{ "admin-group", required_argument, NULL, 'A' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "limit", required_argument, NULL, 'L' },
		{ "no-sandbox", no_argument, NULL, 'N' },
		{ "worker-ids", required_argument, NULL, 'I' },
		{ "worker-binary", required_argument, NULL, 'W' },
		{ "allow-block-devices", no_argument, NULL, 'B' },
		{ "allow-tap", required_argument, NULL, 'T' },
		{ "test-seccomp-trip", no_argument, NULL, 'S' },
		{ "pool", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = getenv("ARMVMD_SOCKET");
	const char *runtime_dir = getenv("ARMVMD_RUNTIME_DIR");
	const char *state_dir = getenv("ARMVMD_STATE_DIR");
	const char *group = "armvm";
	const char *admin_group = NULL, *worker_binary = NULL;
	static const char *allow_taps[64];
	ev_timer status_timer;
	int listen_fd;
	ssize_t n;
	struct daemon d = { .log_level = LOG_INFO, .sandbox = true, .worker_exe_fd = -1,
			    .worker_id_first = WORKER_IDS_FIRST,
			    .worker_id_count = WORKER_IDS_COUNT,
			    .pool_size = POOL_SIZE_DEFAULT };
	struct server srv = { .listen_fd = -1 };
	ev_signal sigterm, sigint;
	struct ev_loop *loop;
	enum log_level level;
	int c, r;

	char why[256];

	limits_default(&d.limits);
	while ((c = getopt_long(argc, argv, "s:r:d:g:l:L:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			if (!strcmp(optarg, "help")) {
				limits_print(stdout);
				return 0;
			}
			if (limits_parse(&d.limits, optarg, why, sizeof(why)) < 0) {
				fprintf(stderr, "armvmd: --limit: %s\n", why);
				return 2;
			}
			break;
		case 'd':
			state_dir = optarg;
			break;
		case 'g':
			group = optarg;
			break;
		case 'A':
			admin_group = optarg;
			break;
		case 'N':
			d.sandbox = false;
			break;
		case 'I':
			if (parse_ids(optarg, &d.worker_id_first, &d.worker_id_count) < 0) {
				fprintf(stderr, "armvmd: --worker-ids: FIRST:COUNT, both above 0\n");
				return 2;
			}
			break;
		case 'W':
			worker_binary = optarg;
			break;
		case 'S':
			d.test_seccomp_trip = true;
			break;
		case 'P': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (!*optarg || *end || v > POOL_SIZE_MAX) {
				fprintf(stderr, "armvmd: --pool: a count from 0 to %u\n",
					POOL_SIZE_MAX);
				return 2;
			}
			d.pool_size = (unsigned)v;
			break;
		}
		case 'B':
			d.files_policy.allow_block_devices = true;
			break;
		case 'T':
			if (d.files_policy.n_allow_taps == sizeof(allow_taps) / sizeof(allow_taps[0])) {
				fprintf(stderr, "armvmd: --allow-tap: at most 64\n");
				return 2;
			}
			allow_taps[d.files_policy.n_allow_taps++] = optarg;
			d.files_policy.allow_taps = allow_taps;
			break;
		case 'r':
			runtime_dir = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'l':
			if (log_parse_level(optarg, &level) < 0) {
				fprintf(stderr, "armvmd: unknown log level '%s'\n", optarg);
				return 2;
			}
			log_set_level(level);
			d.log_level = level;
			break;
		case 'F':
			break;		/* armvmd never forks: the option states intent */
		case 'V':
			printf("armvmd %s\n", ARMVMD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "armvmd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (limits_check(&d.limits, why, sizeof(why)) < 0) {
		fprintf(stderr, "armvmd: --limit: %s\n", why);
		return 2;
	}
	if (!socket_path || !*socket_path)
		socket_path = ARMVM_DEFAULT_SOCKET;
	if (!runtime_dir || !*runtime_dir)
		runtime_dir = "/run/armvmd";
	if (strlen(runtime_dir) > RUNTIME_DIR_MAX) {
		log_error("runtime dir %s: longer than %d bytes (socket paths must fit)",
			  runtime_dir, RUNTIME_DIR_MAX);
		return 2;
	}
	snprintf(d.runtime_dir, sizeof(d.runtime_dir), "%s", runtime_dir);
	snprintf(d.state_dir, sizeof(d.state_dir), "%s",
		 state_dir && *state_dir ? state_dir : "/var/lib/armvmd");
	/* the socket's group also gets the VMs' runtime directories; their
	 * consoles are the owner's and the admins' (authz.h) */
	d.have_group = group_lookup(group, &d.group) == 0;
	/* who may drive every VM besides root (authz.h): a name that does not
	 * resolve would leave the admins out without a word */
	if (admin_group) {
		if (strlen(admin_group) >= sizeof(d.admin_group_name) ||
		    group_lookup(admin_group, &d.admin_group) < 0) {
			fprintf(stderr, "armvmd: --admin-group: no group named '%s' in /etc/group\n",
				admin_group);
			return 2;
		}
		d.have_admin_group = true;
		snprintf(d.admin_group_name, sizeof(d.admin_group_name), "%s", admin_group);
	}
	d.state_problems = json_array();
	d.started = time(NULL);
	n = readlink("/proc/self/exe", d.self_exe, sizeof(d.self_exe) - 1);
	if (n <= 0) {
		log_error("cannot find my own executable: %s", strerror(errno));
		return 1;
	}
	d.self_exe[n] = '\0';
	if (geteuid() != 0 && d.sandbox) {
		/* a test or a developer's daemon: nobody to jail workers for */
		log_warn("not running as root (uid %u): workers are not jailed, and "
			 "files are opened as uid %u only", (unsigned)geteuid(),
			 (unsigned)geteuid());
		d.sandbox = false;
	}
	/* without arm64 KVM no worker is ever spawned: a missing binary is
	 * then only worth a word */
	if (open_worker_binary(&d, worker_binary) < 0 && (worker_binary || ARMVMD_KVM))
		return 1;
	if (d.test_seccomp_trip)
		log_warn("--test-seccomp-trip: every worker makes a forbidden call once it "
			 "runs (a test of the seccomp report)");
	if (!d.sandbox)
		log_warn("--no-sandbox: workers run as root with every capability, no "
			 "namespaces, no seccomp (debugging only)");

	signal(SIGPIPE, SIG_IGN);
	/* not libev's default loop: that one reaps every child on SIGCHLD,
	 * and the worker watch (pidfd + waitpid) needs their exit status */
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		log_error("cannot initialise the event loop");
		return 1;
	}
	d.loop = loop;
	listen_fd = sd_listen_fd();
	if (listen_fd >= 0) {
		/* socket activation: systemd made the socket and owns it */
		r = server_adopt(&srv, loop, listen_fd, &armvmd_methods, &d);
		srv.socket_activated = true;
		socket_path = "(systemd socket)";
	} else {
		r = server_listen(&srv, loop, socket_path, 0660, &armvmd_methods, &d);
		if (r >= 0)
			server_set_group(&srv, group, d.have_group ? &d.group : NULL);
	}
	if (r < 0) {
		log_error("cannot serve on %s: %s", socket_path, strerror(-r));
		return 1;
	}
	srv.on_close = client_closed;
	/* every bound a client meets; room in the fd limit for them */
	srv.limits = &d.limits;
	limits_fit_nofile(&d.limits);

	/* the host is probed once, before any client waits for it */
	hostinfo_get();
	/* slow work (plans, definitions on disk) runs off the loop */
	d.jobs = jobs_new(loop, 1);
	if (!d.jobs) {
		log_error("cannot start the job thread");
		return 1;
	}
	/* definitions, then the workers a previous daemon left running:
	 * adopted asynchronously, READY=1 once every one has answered */
	if (runtime_init(&d) < 0 || state_init(&d) < 0) {
		/* the directories are not fit for root (said why) */
		server_close(&srv);
		jobs_free(d.jobs);
		return 1;
	}
	/* the workers' cgroups: below ours (a delegated subtree under
	 * systemd); without them the jail has no memory or pids bound */
	if (d.sandbox && cgroup_init(&d.cgroup, "/sys/fs/cgroup") < 0) {
		/* systemd may make them instead: a scope per worker */
		d.scopes = scope_available();
		if (d.scopes)
			log_info("workers' cgroups: transient systemd scopes in %s (%s)",
				 SCOPE_SLICE, d.cgroup.why);
		else
			log_warn("no cgroups for the workers: %s", d.cgroup.why);
	} else if (d.sandbox) {
		log_info("workers' cgroups in %s", d.cgroup.path);
	}
	state_load(&d, registry_add_defined);
	d.adopted = adopted;
	restore_workers(&d);
	/* warm workers, spawned once the loop runs, between the requests */
	if (hostinfo_get()->kvm && pool_init(&d, d.pool_size) < 0)
		log_warn("no warm pool of workers");
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	log_info("armvmd %s listening on %s (state %s, runtime %s)", ARMVMD_VERSION,
		 socket_path, d.state_dir, d.runtime_dir);
	ev_timer_init(&status_timer, notify_status, 5., 5.);
	status_timer.data = &d;
	ev_timer_start(loop, &status_timer);
	notify_status(loop, &status_timer, 0);

	ev_run(loop, 0);

	d.stopping = true;
	pool_free(&d);
	server_close(&srv);
	jobs_free(d.jobs);
	/* VMs are not destroyed: their workers keep running (a new armvmd
	 * finds them in the runtime directory); only our hold on them ends */
	registry_forget_all(&d);
	watch_reapers_free(&d);
	state_close(&d);
	json_decref(d.state_problems);
	ev_loop_destroy(loop);
	log_info("stopped");
	return 0;
}
