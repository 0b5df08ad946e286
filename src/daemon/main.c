// SPDX-License-Identifier: MIT
/* armvmd: the supervisor.  One libev loop serving JSON-RPC on a Unix socket. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/server.h"
#include "rpc/methods.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: armvmd [--socket PATH] [--log-level LEVEL]\n"
		"\n"
		"  -s, --socket PATH      listen on PATH (default $ARMVMD_SOCKET or\n"
		"                         " ARMVM_DEFAULT_SOCKET ")\n"
		"  -l, --log-level LEVEL  debug, info, warn or error (default info)\n"
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
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = getenv("ARMVMD_SOCKET");
	struct daemon d = { 0 };
	struct server srv = { .listen_fd = -1 };
	ev_signal sigterm, sigint;
	struct ev_loop *loop;
	enum log_level level;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:l:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket_path = optarg;
			break;
		case 'l':
			if (log_parse_level(optarg, &level) < 0) {
				fprintf(stderr, "armvmd: unknown log level '%s'\n", optarg);
				return 2;
			}
			log_set_level(level);
			break;
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
	if (!socket_path || !*socket_path)
		socket_path = ARMVM_DEFAULT_SOCKET;

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
	log_info("stopped");
	return 0;
}
