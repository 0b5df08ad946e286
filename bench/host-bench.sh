# hosts: none (bench/run boots a host for it; make check runs bench-smoke)
# timeout: 1500
# needs: guests
#
# The inside of `make bench`: a host case (tests/host/README.md) that runs
# armvmd-bench against a fresh armvmd and writes its JSON to the serial
# console, where bench/run finds it.  Progress lines go to the console too.
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
		--nosandbox-socket "$SECOND_SOCKET" ${BENCH_ARGS:-}
	_rc=$?
	bench_emit armvmd "$CASE_TMP/armvmd.json" "$_rc"
	return "$_rc"
}

need_armvmd
need_guest
armvmd_start --log-level warn
# the sandbox's cost (figure 7): the same VMs through an unjailed daemon
armvmd_start_second nosb --log-level warn --no-sandbox
rc=0
bench_armvmd || rc=1
armvmd_stop_second
armvmd_stop
[ "$rc" = 0 ] || fail "armvmd-bench reported errors (see its JSON)"
