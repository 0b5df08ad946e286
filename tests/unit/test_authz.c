// SPDX-License-Identifier: MIT
/* Who may do what to a VM (daemon/authz.c), the method table's classes, and
 * console events only for those who may see inside the VM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/authz.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "rpc/limits.h"
#include "rpc/server.h"

#define OWNER	4001
#define OTHER	4002
#define ADMIN	4003		/* in the admin group as a supplementary group */
#define ADMIN1	4004		/* the admin group is its primary group */
#define USERS	4100		/* everyone's group (the socket's) */
#define ADMINS	4200

static struct server_peer_cred peer(uid_t uid, gid_t gid, unsigned n, const gid_t *groups)
{
	struct server_peer_cred p = { .pid = 1234, .uid = uid, .gid = gid, .known = true };

	for (unsigned i = 0; i < n; i++)
		p.groups[p.ngroups++] = groups[i];
	return p;
}

static void daemon_init(struct daemon *d, bool admins)
{
	memset(d, 0, sizeof(*d));
	limits_default(&d->limits);
	d->state_dirfd = d->runtime_dirfd = d->vms_dirfd = -1;
	snprintf(d->runtime_dir, sizeof(d->runtime_dir), "/nonexistent");
	if (admins) {
		d->have_admin_group = true;
		d->admin_group = ADMINS;
		snprintf(d->admin_group_name, sizeof(d->admin_group_name), "armvm-admin");
	}
}

static const enum authz_action actions[] = {
	AUTHZ_READ, AUTHZ_DRIVE, AUTHZ_CONTENTS, AUTHZ_UNSET,
};

/* the whole rule, per caller and action */
static void test_may(void **state)
{
	static struct daemon d, plain;
	const gid_t users[] = { USERS }, both[] = { USERS, ADMINS }, only_users[] = { USERS };
	struct server_peer_cred owner = peer(OWNER, USERS, 1, users);
	struct server_peer_cred other = peer(OTHER, USERS, 1, users);
	struct server_peer_cred root = peer(0, 0, 0, NULL);
	struct server_peer_cred admin = peer(ADMIN, USERS, 2, both);
	struct server_peer_cred admin1 = peer(ADMIN1, ADMINS, 1, only_users);
	struct server_peer_cred unknown = peer(OWNER, USERS, 1, users);

	unknown.known = false;
	daemon_init(&d, true);
	daemon_init(&plain, false);
	for (unsigned i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		enum authz_action a = actions[i];
		bool open = a == AUTHZ_READ;

		/* the owner, root and an internal call: everything */
		assert_true(authz_may(&d, &owner, OWNER, a));
		assert_true(authz_may(&d, &root, OWNER, a));
		assert_true(authz_may(&d, NULL, OWNER, a));
		assert_true(authz_may(&plain, &owner, OWNER, a));
		assert_true(authz_may(&plain, &root, OWNER, a));
		/* another uid: reading only */
		assert_int_equal(authz_may(&d, &other, OWNER, a), open);
		assert_int_equal(authz_may(&plain, &other, OWNER, a), open);
		/* the admin group, as a supplementary or the primary group */
		assert_true(authz_may(&d, &admin, OWNER, a));
		assert_true(authz_may(&d, &admin1, OWNER, a));
		/* ... is nothing when the daemon has none */
		assert_int_equal(authz_may(&plain, &admin, OWNER, a), open);
		assert_int_equal(authz_may(&plain, &admin1, OWNER, a), open);
		/* unknown credentials: reading only, even with the owner's uid */
		assert_int_equal(authz_may(&d, &unknown, OWNER, a), open);
		/* a VM of unknown owner ((uid_t)-1) is nobody's */
		assert_int_equal(authz_may(&plain, &owner, (uid_t)-1, a), open);
	}
	assert_string_equal(authz_action_name(AUTHZ_READ), "read");
	assert_string_equal(authz_action_name(AUTHZ_DRIVE), "drive");
	assert_string_equal(authz_action_name(AUTHZ_CONTENTS), "contents");
	assert_string_equal(authz_action_name(AUTHZ_UNSET), "contents");
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void call_reset(struct rpc_call *call, const struct rpc_method *m)
{
	json_decref(call->err_data);
	memset(call, 0, sizeof(*call));
	call->method = m;
}

/* the refusal: code, message, data */
static void test_check(void **state)
{
	static struct daemon d;
	const gid_t users[] = { USERS };
	struct server_peer_cred owner = peer(OWNER, USERS, 1, users);
	struct server_peer_cred other = peer(OTHER, USERS, 1, users);
	struct server_peer_cred unknown = other;
	struct rpc_call call = { 0 };
	struct vm_entry *e;

	unknown.known = false;
	daemon_init(&d, true);
	e = registry_add(&d, "web");
	assert_non_null(e);
	e->owner = OWNER;

	call_reset(&call, &rpc_vm_stop);
	assert_int_equal(authz_check_peer(&call, e, &owner, AUTHZ_DRIVE), 0);
	assert_int_equal(call.err_code, 0);
	assert_int_equal(authz_check_peer(&call, e, NULL, AUTHZ_DRIVE), 0);
	assert_int_equal(authz_check(&call, e, AUTHZ_DRIVE), 0);	/* no connection */
	assert_int_equal(authz_check_peer(&call, e, &other, AUTHZ_READ), 0);

	assert_int_equal(authz_check_peer(&call, e, &other, AUTHZ_DRIVE), -1);
	assert_int_equal(call.err_code, ARMVM_E_PERMISSION);
	assert_int_equal(call.err_code, -32011);
	assert_string_equal(call.err_message, "VM web: owned by uid 4001; uid 4002 may not stop "
			    "it (not in the admin group armvm-admin)");
	assert_string_equal(jstr(call.err_data, "name"), "web");
	assert_int_equal(json_integer_value(json_object_get(call.err_data, "owner")), OWNER);
	assert_int_equal(json_integer_value(json_object_get(call.err_data, "uid")), OTHER);
	assert_string_equal(jstr(call.err_data, "method"), "vm.stop");
	assert_string_equal(jstr(call.err_data, "reason"), "not-owner");
	assert_string_equal(jstr(call.err_data, "admin_group"), "armvm-admin");

	call_reset(&call, &rpc_vm_console);
	assert_int_equal(authz_check_peer(&call, e, &other, AUTHZ_CONTENTS), -1);
	assert_string_equal(call.err_message, "VM web: owned by uid 4001; uid 4002 may not see "
			    "inside it with vm.console (not in the admin group armvm-admin)");

	call_reset(&call, &rpc_vm_destroy);
	assert_int_equal(authz_check_peer(&call, e, &unknown, AUTHZ_DRIVE), -1);
	assert_string_equal(jstr(call.err_data, "reason"), "unknown-caller");
	assert_int_equal(json_integer_value(json_object_get(call.err_data, "uid")), -1);
	assert_string_equal(call.err_message, "VM web: owned by uid 4001; a caller of unknown uid "
			    "may not destroy it (its credentials could not be read)");

	/* without an admin group the message says who may */
	d.have_admin_group = false;
	call_reset(&call, &rpc_vm_pause);
	assert_int_equal(authz_check_peer(&call, e, &other, AUTHZ_DRIVE), -1);
	assert_string_equal(call.err_message, "VM web: owned by uid 4001; uid 4002 may not pause "
			    "it (only its owner and root may; no --admin-group)");
	assert_null(json_object_get(call.err_data, "admin_group"));
	call_reset(&call, NULL);
	d.loop = ev_loop_new(EVFLAG_AUTO);
	registry_forget(e);
	ev_loop_destroy(d.loop);
}

/* the rule table: what each method does to a VM */
static void test_method_table(void **state)
{
	static const struct { const char *name; enum authz_action a; } want[] = {
		{ "vm.start", AUTHZ_DRIVE }, { "vm.stop", AUTHZ_DRIVE },
		{ "vm.pause", AUTHZ_DRIVE }, { "vm.resume", AUTHZ_DRIVE },
		{ "vm.reboot", AUTHZ_DRIVE }, { "vm.destroy", AUTHZ_DRIVE },
		{ "vm.set", AUTHZ_DRIVE }, { "vm.console", AUTHZ_CONTENTS },
		{ "vm.info", AUTHZ_READ }, { "vm.list", AUTHZ_READ },
	};
	const struct rpc_method *const *m;

	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct rpc_method *r = rpc_find(&armvmd_methods, want[i].name);

		assert_non_null(r);
		if (r->authz != want[i].a)
			fail_msg("%s: authz %s, expected %s", want[i].name,
				 authz_action_name(r->authz), authz_action_name(want[i].a));
	}
	/* every method on a named VM says what it does */
	for (m = armvmd_methods.methods; *m; m++)
		if ((*m)->states && (*m)->authz == AUTHZ_UNSET)
			fail_msg("%s works on a VM but has no .authz", (*m)->name);
}

static void run_loop_briefly(struct ev_loop *loop)
{
	for (int i = 0; i < 50; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

/* everything waiting on fd */
static const char *drain(int fd, struct ev_loop *loop)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;

	run_loop_briefly(loop);
	while ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

static void closed(struct server *srv, void *conn)
{
	events_client_closed(srv->ctx, conn);
}

/* console lines go to those who may see inside the VM; state events to all */
static void test_console_events(void **state)
{
	enum { NSUB = 5 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	static struct daemon d;
	struct server srv = { .loop = loop, .table = &armvmd_methods, .listen_fd = -1, .ctx = &d,
			      .on_close = closed };
	const gid_t users[] = { USERS }, both[] = { USERS, ADMINS };
	struct server_peer_cred who[NSUB] = {
		peer(OTHER, USERS, 1, users), peer(OWNER, USERS, 1, users),
		peer(ADMIN, USERS, 2, both), peer(0, 0, 0, NULL), peer(OWNER, USERS, 1, users),
	};
	bool sees[NSUB] = { false, true, true, true, false };
	int sv[NSUB][2];
	struct vm_entry *e;

	who[4].known = false;
	daemon_init(&d, true);
	d.loop = loop;
	e = registry_add(&d, "web");
	e->owner = OWNER;
	assert_false(events_want_console(&d, "web", e->owner));
	for (int i = 0; i < NSUB; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		assert_int_equal(server_add_client(&srv, sv[i][0]), 0);
		assert_int_equal(events_subscribe_as(&d, srv.clients, &who[i], NULL,
						     EVENT_STATE | EVENT_CONSOLE), 0);
		/* the other uid alone wants them, and may not: no console link */
		if (i == 0)
			assert_false(events_want_console(&d, "web", e->owner));
	}
	assert_true(events_want_console(&d, "web", e->owner));
	events_emit(&d, "web", e->owner, EVENT_CONSOLE, json_pack("{s:s}", "line", "SECRET-LINE"));
	events_emit(&d, "web", e->owner, EVENT_STATE, json_pack("{s:s}", "state", "running"));
	/* a console line of a VM nobody knows (gone): nobody but internal */
	events_emit(&d, "gone", EVENTS_NO_OWNER, EVENT_CONSOLE, json_pack("{s:s}", "line", "GONE-LINE"));
	for (int i = 0; i < NSUB; i++) {
		const char *got = drain(sv[i][1], loop);

		if (!strstr(got, "\"running\""))
			fail_msg("subscriber %d got no state event: %s", i, got);
		if ((strstr(got, "SECRET-LINE") != NULL) != sees[i])
			fail_msg("subscriber %d: console line %s: %s", i,
				 sees[i] ? "missing" : "leaked", got);
		if (strstr(got, "GONE-LINE"))
			fail_msg("subscriber %d got a line of a VM that is gone", i);
	}
	/* a subscription without credentials is internal: it sees all */
	assert_int_equal(events_subscribe(&d, srv.clients, "web", EVENT_CONSOLE), 0);
	events_emit(&d, "web", e->owner, EVENT_CONSOLE, json_pack("{s:s}", "line", "LINE-TWO"));
	assert_non_null(strstr(drain(sv[NSUB - 1][1], loop), "LINE-TWO"));

	server_close(&srv);
	assert_null(d.subscribers);
	for (int i = 0; i < NSUB; i++)
		close(sv[i][1]);
	registry_forget(e);
	ev_loop_destroy(loop);
}

/* ---- through a real socket, from processes of other uids (root only) ---- */

/* One request, its answer (blocking; in the child) */
static json_t *ask(int fd, const char *req)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || write(fd, "\n", 1) != 1)
		return NULL;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		if (buf[len - 1] == '\n')
			break;
	}
	return json_loadb(buf, len, 0, NULL);
}

/* the error code of an answer, 0 for a result */
static int code_of(json_t *a)
{
	json_t *err = json_object_get(a, "error");

	if (!a)
		return 1;
	return err ? (int)json_integer_value(json_object_get(err, "code")) : 0;
}

struct expect {
	const char *req;
	int code;
	const char *reason;		/* data.reason of an error, or NULL */
};

/* a child as uid/gid/groups connects to path and checks each answer */
static int as_user(const char *path, uid_t uid, gid_t gid, unsigned n, const gid_t *groups,
		   const struct expect *x, unsigned nx)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;

		if (setgroups(n, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(90);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(91);
		for (unsigned i = 0; i < nx; i++) {
			json_t *ans = ask(fd, x[i].req);
			json_t *data = json_object_get(json_object_get(ans, "error"), "data");
			const char *reason = json_string_value(json_object_get(data, "reason"));

			if (code_of(ans) != x[i].code ||
			    (x[i].reason && (!reason || strcmp(reason, x[i].reason)))) {
				char *s = ans ? json_dumps(ans, JSON_COMPACT) : NULL;

				fprintf(stderr, "uid %u: %s: expected %d %s, got %s\n", (unsigned)uid,
					x[i].req, x[i].code, x[i].reason ? x[i].reason : "",
					s ? s : "nothing");
				_exit(1 + (int)i);
			}
			json_decref(ans);
		}
		_exit(0);
	}
	return pid;
}

/* SO_PEERGROUPS tells a peer's groups here (qemu-user gets it wrong) */
static bool peergroups_work(void)
{
	const gid_t mine[] = { USERS, ADMINS };
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		gid_t g[SERVER_PEER_GROUPS];
		socklen_t len = sizeof(g);
		int sv[2];

		if (setgroups(2, mine) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
		    getsockopt(sv[0], SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0)
			_exit(1);
		_exit(len == sizeof(mine) && g[0] == USERS && g[1] == ADMINS ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

static int serve_until_exit(struct ev_loop *loop, pid_t pid)
{
	int status = 0;

	for (int i = 0; i < 20000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(500);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void test_socket_peers(void **state)
{
	struct ev_loop *loop;
	static struct daemon d;
	struct server srv = { .listen_fd = -1 };
	char dir[] = "/tmp/test_authz.XXXXXX", path[128];
	const gid_t users[] = { USERS }, both[] = { USERS, ADMINS };
	static const struct expect other[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.stop\",\"params\":{\"name\":\"web\"}}",
		  ARMVM_E_PERMISSION, "not-owner" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.destroy\",\"params\":{\"name\":\"web\"}}",
		  ARMVM_E_PERMISSION, "not-owner" },
		/* refused in any state: who may not drive it learns that first */
		{ "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"vm.pause\",\"params\":{\"name\":\"web\"}}",
		  ARMVM_E_PERMISSION, "not-owner" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"vm.console\",\"params\":{\"name\":\"web\"}}",
		  ARMVM_E_PERMISSION, "not-owner" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"vm.set\",\"params\":{\"name\":\"web\",\"autostart\":true}}",
		  ARMVM_E_PERMISSION, "not-owner" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"events.subscribe\",\"params\":{\"vm\":\"web\",\"kinds\":[\"console\"]}}",
		  ARMVM_E_PERMISSION, "not-owner" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"vm.info\",\"params\":{\"name\":\"web\"}}", 0, NULL },
		{ "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"vm.list\"}", 0, NULL },
		{ "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"events.subscribe\",\"params\":{\"vm\":\"web\"}}", 0, NULL },
	};
	/* past the owner check: the state's error, or the console's output */
	static const struct expect allowed[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.pause\",\"params\":{\"name\":\"web\"}}",
		  ARMVM_E_STATE, NULL },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"vm.console\",\"params\":{\"name\":\"web\"}}", 0, NULL },
		{ "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"events.subscribe\",\"params\":{\"vm\":\"web\",\"kinds\":[\"console\"]}}", 0, NULL },
	};
	struct vm_entry *e;

	if (geteuid() != 0)
		skip();
	loop = ev_loop_new(EVFLAG_AUTO);
	daemon_init(&d, true);
	d.loop = loop;
	e = registry_add(&d, "web");
	e->owner = OWNER;
	e->state = VM_STOPPED;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	assert_int_equal(server_listen(&srv, loop, path, 0666, &armvmd_methods, &d), 0);
	assert_int_equal(chmod(path, 0666), 0);
	srv.on_close = closed;

	assert_int_equal(serve_until_exit(loop, as_user(path, OTHER, USERS, 1, users, other,
							  sizeof(other) / sizeof(other[0]))), 0);
	assert_int_equal(serve_until_exit(loop, as_user(path, OWNER, USERS, 1, users, allowed,
							  sizeof(allowed) / sizeof(allowed[0]))), 0);
	if (peergroups_work())
		assert_int_equal(serve_until_exit(loop, as_user(path, ADMIN, USERS, 2, both, allowed,
								  sizeof(allowed) / sizeof(allowed[0]))), 0);
	else
		print_message("no SO_PEERGROUPS here: the supplementary admin group is not tried\n");
	/* the admin group as the primary group, no supplementary ones */
	assert_int_equal(serve_until_exit(loop, as_user(path, ADMIN1, ADMINS, 0, NULL, allowed,
							  sizeof(allowed) / sizeof(allowed[0]))), 0);
	assert_int_equal(serve_until_exit(loop, as_user(path, 0, 0, 0, NULL, allowed,
							  sizeof(allowed) / sizeof(allowed[0]))), 0);
	/* without --admin-group, its members are like anyone else */
	d.have_admin_group = false;
	assert_int_equal(serve_until_exit(loop, as_user(path, ADMIN, USERS, 2, both, other,
							  sizeof(other) / sizeof(other[0]))), 0);

	server_close(&srv);
	assert_null(d.subscribers);
	registry_forget(e);
	rmdir(dir);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_may),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_method_table),
		cmocka_unit_test(test_console_events),
		cmocka_unit_test(test_socket_peers),
	};

	log_set_level(LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
