# hosts: none (bench/run boots a host for it; make check runs bench-smoke)
# timeout: 1500
# needs: guests
#
# The inside of `make bench`: a host case (tests/host/README.md) that runs
# armvmd-bench against fresh daemons -- the default one (jailed workers, a
# warm pool), one with --no-sandbox and one with --pool 0, their state
# directories on the ext4 image bench/run's bench-ext4 case mounted -- and
# writes its JSON to the serial console, where bench/run finds it.
# Progress lines go to the console too.
#
# Blobs: every line of one is "=ARMVMD-BENCH= NAME TEXT"; then
# "=ARMVMD-BENCH-END= NAME BYTES RC".  bench/run concatenates the TEXTs of
# NAME and merges the figures of every blob into build/bench/results.json.
# To add a figure measured by another tool, add a function like
# bench_armvmd below that ends with bench_emit, and call it at the end.
#
# BENCH_ARGS (run-host --env) are passed to armvmd-bench.

# bench_emit NAME FILE RC: one blob on the console, in 200-byte lines
bench_emit() {
	fold -w 200 "$2" | sed "s/^/=ARMVMD-BENCH= $1 /" >/dev/console
	echo "=ARMVMD-BENCH-END= $1 $(wc -c <"$2") $3" >/dev/console
}

# bench_run NAME FILE CMD...: run CMD, its stdout into FILE, its stderr to
# the console (progress) and the case log; returns CMD's status
bench_run() {
	_name=$1 _file=$2
	shift 2
	{ "$@" >"$_file"; echo $? >"$_file.rc"; } 2>&1 | tee -a "$CASE_TMP/$_name.log" >/dev/console
	return "$(cat "$_file.rc")"
}

bench_armvmd() {
	_tool=$(need_tool armvmd-bench)
	# shellcheck disable=SC2086
	bench_run armvmd-bench "$CASE_TMP/armvmd.json" \
		"$_tool" --daemon-pid "$ARMVMD_PID" --workdir "$CASE_TMP" \
		--nosandbox-socket "$NOSB_SOCKET" \
		--nopool-socket "$NOPOOL_SOCKET" --nopool-pid "$NOPOOL_PID" \
		--state-dir "$STATE_ROOT" ${BENCH_ARGS:-}
	_rc=$?
	bench_emit armvmd "$CASE_TMP/armvmd.json" "$_rc"
	return "$_rc"
}

need_armvmd
need_guest
# the daemons' state directories: on the ext4 image bench/run's bench-ext4
# case mounted (BENCH_EXT4), else on this host's tmpfs (armvmd-bench says
# which: params.state_dir_fs)
STATE_ROOT=$CASE_TMP
if [ -n "${BENCH_EXT4:-}" ] && grep -q " $BENCH_EXT4 ext4 " /proc/mounts; then
	STATE_ROOT=$BENCH_EXT4/$$
	mkdir -p "$STATE_ROOT"
else
	echo "armvmd-bench: no ext4 image mounted: the state directories are on tmpfs" >/dev/console
fi
# syscall counts: perf_event_open on the raw_syscalls tracepoint
[ -d /sys/kernel/tracing/events ] || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
armvmd_start --log-level warn --state-dir "$STATE_ROOT/state"
# the sandbox's cost (figure 7): the same VMs through an unjailed daemon
armvmd_start_second nosb --log-level warn --no-sandbox --state-dir "$STATE_ROOT/state-nosb"
NOSB_SOCKET=$SECOND_SOCKET NOSB_PID=$SECOND_PID
# without the warm pool (figures 1, 3 and 4): vm.create forks
armvmd_start_second nopool --log-level warn --pool 0 --state-dir "$STATE_ROOT/state-nopool"
NOPOOL_SOCKET=$SECOND_SOCKET NOPOOL_PID=$SECOND_PID
rc=0
bench_armvmd || rc=1
armvmd_stop_second
SECOND_PID=$NOSB_PID
armvmd_stop_second
armvmd_stop
[ "$rc" = 0 ] || fail "armvmd-bench reported errors (see its JSON)"
