# hosts: max61
# timeout: 900
#
# Soak (issue 11, item 6).  rpc-soak against one armvmd: SOAK_CYCLES
# (default 100; `make soak`: 1000) vm.create / vm.start / vm.destroy cycles
# of the bare-metal boot-timer guest, in turn as built (it powers off at
# once) and patched to wait for interrupts (destroy then stops it), then
# SOAK_CALLS (default 2000; `make soak`: 10000) calls from SOAK_CLIENTS (50)
# concurrent clients, with subscribers connecting, subscribing and leaving
# all along.  After a warm-up of the same shape the daemon's fd count and
# RSS are taken; at the end (clients gone, a short settle) the fds must be
# the same and RSS within 1 MiB, and no answer may be other than expected.
# "FIGURE soak ..." lines give the figures (also on the host console, so in
# build/host/LABEL/console.log).

tool=$(need_tool rpc-soak) || exit $?
need_armvmd
img=$GUEST_DIR/boottimer.img
[ -f "$img" ] || skip "no bare-metal guest $img (make guests)"
cycles=${SOAK_CYCLES:-100}
calls=${SOAK_CALLS:-2000}
clients=${SOAK_CLIENTS:-50}

figure() {
	printf 'FIGURE %s\n' "$*"
	[ "${ARMVMD_HOST_LIVE:-0}" = 1 ] || printf 'FIGURE %s\n' "$*" >/dev/console 2>/dev/null
	return 0
}

# the same guest, waiting for interrupts after its marks (offset 0x48 = 1)
hold=$CASE_TMP/boottimer-hold.img
cp "$img" "$hold" || fail "cannot copy $img"
printf '\001' | dd of="$hold" bs=1 seek=72 conv=notrunc 2>/dev/null || fail "cannot patch $hold"

armvmd_start
say "rpc-soak: $cycles VM cycles, $calls calls from $clients clients"
run "$tool" --socket "$ARMVMD_SOCKET" \
	--pid "$ARMVMD_PID" --cycles "$cycles" --kernel "$img" --kernel "$hold" \
	--calls "$calls" --clients "$clients" --settle 20
printf '%s\n' "$RUN_OUT" | grep '^FIGURE soak ' | sed 's/^FIGURE //' | while IFS= read -r l; do
	figure "$l host=${ARMVMD_HOST_LABEL:-?}"
done
proc_alive "$ARMVMD_PID" || { show_log "$ARMVMD_LOG" 40; fail "armvmd died during the soak"; }
[ "$RUN_RC" = 0 ] || fail "$(printf '%s\n' "$RUN_OUT" | grep '^rpc-soak: ' | tail -n 1 || echo "rpc-soak exit $RUN_RC")"

say "nothing left behind"
ctl --json call vm.list >"$CASE_TMP/list.json"
assert_eq "$(tr -d ' \n' <"$CASE_TMP/list.json")" "[]" "vm.list after the soak"
left=$(ls "$ARMVMD_RUNTIME_DIR/vms" 2>/dev/null | tr '\n' ' ')
assert_eq "$left" "" "VM directories left in $ARMVMD_RUNTIME_DIR/vms"
armvmd_stop 10
assert_eq "$ARMVMD_RC" 0 "armvmd exit status after SIGTERM"
