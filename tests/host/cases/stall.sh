# hosts: max61
# timeout: 420
#
# A hung worker keeps nobody else waiting (issue 11, item 1).  A Linux
# guest (armvmd.test=hold) boots; its worker is stopped with SIGSTOP.  One
# client then calls vm.pause and another vm.info on it, while a third makes
# 100 host.info / vm.list calls (rpc-latency), each of which must be
# answered within 2 s, all of them while the worker is still stopped and
# before vm.pause gives up.  vm.pause fails with -32010 after about the
# deadline (armvmd --limit worker-call-timeout-s=STALL_DEADLINE, default
# 10 s), vm.info asking the worker (fresh: true; a plain one answers at
# once from the state the worker pushed last) still answers (live.error),
# vm.info, vm.list and a state
# event say "unresponsive": true; after SIGCONT the VM answers again
# (unresponsive false, another state event) and stops.  The latency of the
# 100 calls is a figure, not an assertion: "FIGURE stall-latency ..." (also
# on the host console, so in build/host/LABEL/console.log).

lat=$(need_tool rpc-latency) || exit $?
need_armvmd
need_guest
deadline=${STALL_DEADLINE:-10}

figure() {
	printf 'FIGURE %s\n' "$*"
	[ "${ARMVMD_HOST_LIVE:-0}" = 1 ] || printf 'FIGURE %s\n' "$*" >/dev/console 2>/dev/null
	return 0
}

# answer FILE: the JSON answer rpc-latency --show printed into FILE
answer() {
	sed -n 's/^answer 1 [^ ]* [^ ]* //p' "$1"
}

# lcall METHOD JSON: one call; its answer (result or error object) on stdout
lcall() {
	"$lat" --socket "$ARMVMD_SOCKET" --count 1 --show --timeout 60 "$1=$2" >"$CASE_TMP/lcall.out" 2>&1
	answer "$CASE_TMP/lcall.out"
}

armvmd_start --limit "worker-call-timeout-s=$deadline"
assert_ok ctl --json call vm.create "{\"name\":\"stall\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",
	\"cmdline\":\"console=ttyS0 armvmd.test=hold\"}"
wait_console stall 'ARMVMD-GUEST-SHELL' 240
ctl --json call vm.info '{"name":"stall"}' >"$CASE_TMP/info.json"
pid=$(json_get pid "$CASE_TMP/info.json")
[ -n "$pid" ] || fail "no worker pid for stall"
note "before SIGSTOP: unresponsive=$(json_get unresponsive "$CASE_TMP/info.json")"

ctl --json events --vm stall >"$CASE_TMP/events.log" 2>&1 &
epid=$!
sleep 1

say "SIGSTOP the worker (pid $pid); vm.pause and vm.info on it, 100 calls from another client"
kill -STOP "$pid"
("$lat" --socket "$ARMVMD_SOCKET" --count 1 --show --timeout 120 --expect-error -32010 \
	'vm.pause={"name":"stall"}' >"$CASE_TMP/pause.out" 2>&1
echo $? >"$CASE_TMP/pause.rc") &
pause_job=$!
("$lat" --socket "$ARMVMD_SOCKET" --count 1 --show --timeout 120 \
	'vm.info={"name":"stall","fresh":true}' >"$CASE_TMP/vminfo.out" 2>&1
echo $? >"$CASE_TMP/vminfo.rc") &
info_job=$!
sleep 0.5
run "$lat" --socket "$ARMVMD_SOCKET" --count 100 --timeout 2 host.info vm.list
lrc=$RUN_RC
pause_pending=yes
[ -e "$CASE_TMP/pause.rc" ] && pause_pending=no
wstate=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
med=$(printf '%s\n' "$RUN_OUT" | sed -n 's/^median_ms=//p')
p99=$(printf '%s\n' "$RUN_OUT" | sed -n 's/^p99_ms=//p')
max=$(printf '%s\n' "$RUN_OUT" | sed -n 's/^max_ms=//p')
figure "stall-latency host=${ARMVMD_HOST_LABEL:-?} calls=100 median_ms=${med:-?} p99_ms=${p99:-?} max_ms=${max:-?} (host.info/vm.list while a worker is SIGSTOPped)"
[ "$lrc" = 0 ] || { kill -CONT "$pid"; fail "the 100 calls while the worker is stopped: $(printf '%s\n' "$RUN_OUT" | grep -m 1 '^call ' || echo "exit $lrc")"; }
assert_eq "$wstate" T "the worker's state during the 100 calls (stopped)"
assert_eq "$pause_pending" yes "vm.pause still waiting when the 100 calls were answered"

say "vm.pause fails with -32010 after about $deadline s"
wait "$pause_job" "$info_job"
cat "$CASE_TMP/pause.out"
pans=$(answer "$CASE_TMP/pause.out")
pms=$(sed -n 's/^answer 1 vm.pause \([^ ]*\) .*/\1/p' "$CASE_TMP/pause.out")
[ "$(cat "$CASE_TMP/pause.rc")" = 0 ] || { kill -CONT "$pid"; fail "vm.pause on the stopped worker: expected -32010, got $pans"; }
[ -n "$pms" ] && awk -v ms="$pms" -v d="$deadline" 'BEGIN { exit !(ms >= d * 800 && ms <= d * 1000 + 10000) }' ||
	{ kill -CONT "$pid"; fail "vm.pause failed after ${pms:-?} ms, expected about $deadline s"; }
note "ok: vm.pause failed after $pms ms"
assert_contains "$pans" pause "the timeout error names the worker method"

say "vm.info answers all the same; vm.info, vm.list and an event say unresponsive"
iinfo=$(answer "$CASE_TMP/vminfo.out")
printf '%s\n' "$iinfo"
printf '%s' "$iinfo" | grep -qE '"live":\{[^}]*"error":' ||
	{ kill -CONT "$pid"; fail "vm.info of the stopped worker: no live.error"; }
ctl --json call vm.info '{"name":"stall"}' >"$CASE_TMP/info.json"
assert_eq "$(json_get unresponsive "$CASE_TMP/info.json")" true "vm.info unresponsive while stopped"
ctl --json call vm.list >"$CASE_TMP/list.json"
assert_eq "$(json_get 0.unresponsive "$CASE_TMP/list.json")" true "vm.list unresponsive while stopped"

say "SIGCONT: the VM answers again"
kill -CONT "$pid"
n=0
until ctl --json call vm.info '{"name":"stall"}' >"$CASE_TMP/info.json" 2>/dev/null &&
	[ "$(json_get unresponsive "$CASE_TMP/info.json")" = false ]; do
	n=$((n + 1))
	[ "$n" -lt 60 ] || fail "still unresponsive 30 s after SIGCONT: $(cat "$CASE_TMP/info.json")"
	sleep 0.5
done
note "ok: unresponsive false again"
state=$(json_get state "$CASE_TMP/info.json")
note "state after SIGCONT: $state (a pause that timed out may still have been applied)"
[ "$state" = running ] || [ "$state" = paused ] || fail "state after SIGCONT: $state"
sleep 1
kill "$epid" 2>/dev/null
wait "$epid" 2>/dev/null
cat "$CASE_TMP/events.log"
grep -q '"unresponsive":true' "$CASE_TMP/events.log" || fail "no state event with unresponsive true"
grep -q '"unresponsive":false' "$CASE_TMP/events.log" || fail "no state event with unresponsive false"
note "ok: state events with unresponsive true, then false"

say "the VM stops"
assert_ok ctl --json call vm.stop '{"name":"stall","force":true}'
wait_state stall stopped 30
assert_ok ctl --json call vm.destroy '{"name":"stall"}'
armvmd_stop 10
assert_eq "$ARMVMD_RC" 0 "armvmd exit status after SIGTERM"
