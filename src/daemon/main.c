// SPDX-License-Identifier: MIT
/* armvmd: the supervisor.  One libev loop serving JSON-RPC on a Unix socket. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/server.h"
#include "rpc/methods.h"
#include "util/log.h"
#if ARMVMD_KVM
#include "vm/worker.h"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: armvmd [--socket PATH] [--log-level LEVEL]\n"
		"\n"
		"  -s, --socket PATH      listen on PATH (default $ARMVMD_SOCKET or\n"
		"                         " ARMVM_DEFAULT_SOCKET ")\n"
		"  -r, --runtime-dir DIR  per-VM sockets and logs (default $ARMVMD_RUNTIME_DIR\n"
		"                         or /run/armvmd)\n"
		"  -l, --log-level LEVEL  debug, info, warn or error (default info)\n"
		"      --foreground       accepted; armvmd never forks\n"
		"  -V, --version          print the version\n"
		"  -h, --help             this text\n");
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	log_info("signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "worker", required_argument, NULL, 'W' },
		{ "status-fd", required_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = getenv("ARMVMD_SOCKET");
	const char *runtime_dir = getenv("ARMVMD_RUNTIME_DIR");
	const char *worker_dir = NULL;
	int status_fd = -1;
	ssize_t n;
	struct daemon d = { .log_level = LOG_INFO };
	struct server srv = { .listen_fd = -1 };
	ev_signal sigterm, sigint;
	struct ev_loop *loop;
	enum log_level level;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:r:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			runtime_dir = optarg;
			break;
		case 'W':
			worker_dir = optarg;
			break;
		case 'S':
			status_fd = atoi(optarg);
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
	if (worker_dir) {
#if ARMVMD_KVM
		return worker_main(worker_dir, status_fd);
#else
		fprintf(stderr, "armvmd: this build has no KVM support for "
			"--worker (status fd %d)\n", status_fd);
		return 2;
#endif
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
	n = readlink("/proc/self/exe", d.self_exe, sizeof(d.self_exe) - 1);
	if (n <= 0) {
		log_error("cannot find my own executable: %s", strerror(errno));
		return 1;
	}
	d.self_exe[n] = '\0';

	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	if (!loop) {
		log_error("cannot initialise the event loop");
		return 1;
	}
	d.loop = loop;
	r = server_listen(&srv, loop, socket_path, &armvmd_methods, &d);
	if (r < 0) {
		log_error("cannot serve on %s: %s", socket_path, strerror(-r));
		return 1;
	}
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	log_info("armvmd %s listening on %s", ARMVMD_VERSION, socket_path);

	ev_run(loop, 0);

	server_close(&srv);
	/* workers keep running: a new armvmd can find them in the runtime dir */
	log_info("stopped");
	return 0;
}
