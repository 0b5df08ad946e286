# hosts: max61b
# timeout: 420
# needs: guests
#
# The VM lifecycle with a Debian guest: events with reasons, pause/resume
# (console readable, the guest frozen), forced reboot in place, graceful
# stop through the power key, a guest that ignores the key forced after
# the timeout, guest-initiated reset and power-off under each policy, and
# `armvmctl wait` for scripts.

need_armvmd
need_guest
armvmd_start --state-dir "$CASE_TMP/state"
j=$CASE_TMP
ev=$CASE_TMP/events.log

say "armvmctl events --json in the background"
"$ARMVMCTL" --socket "$ARMVMD_SOCKET" events --json >"$ev" 2>&1 &
evpid=$!
sleep 1

create() {	# NAME TESTMODE [EXTRA JSON]
	jctl_ok $j/c-$1.json call vm.create "{\"name\":\"$1\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",\"cmdline\":\"console=ttyS0 armvmd.test=$2\"${3:-}}"
}

say "a guest that answers the power key"
create pk powerkey
wait_console pk 'ARMVMD-GUEST-ACPID' 240
grep -q ARMVMD-GUEST-NOINPUT "$(vm_console_log pk)" && fail "no input device for the power key"

say "pause: the guest is frozen, its console still readable"
jctl_ok $j/p.json call vm.pause '{"name":"pk"}'
assert_json state paused $j/p.json
n1=$(grep -c ARMVMD-GUEST-ALIVE "$(vm_console_log pk)")
sleep 12
n2=$(grep -c ARMVMD-GUEST-ALIVE "$(vm_console_log pk)")
assert_eq "$n2" "$n1" "heartbeats while paused"
jctl_ok $j/pc.json call vm.console '{"name":"pk","bytes":200}'
jctl_fails $j/pp.json call vm.pause '{"name":"pk"}'
assert_json code -32003 $j/pp.json
assert_json data.state paused $j/pp.json
say "resume: the heartbeat comes back"
jctl_ok $j/r.json call vm.resume '{"name":"pk"}'
assert_json state running $j/r.json
wait_until 20 sh -c "[ \$(grep -c ARMVMD-GUEST-ALIVE $(vm_console_log pk)) -gt $n2 ]" ||
	fail "no heartbeat after resume"

say "forced reboot: reset in place, the kernel boots again"
boots=$(grep -c 'Booting Linux' "$(vm_console_log pk)")
jctl_ok $j/rb.json call vm.reboot '{"name":"pk","force":true}'
wait_until 120 sh -c "[ \$(grep -c 'Booting Linux' $(vm_console_log pk)) -gt $boots ]" ||
	fail "no second boot after the forced reboot"
wait_until 240 sh -c "[ \$(grep -c ARMVMD-GUEST-ACPID $(vm_console_log pk)) -ge 2 ]" ||
	fail "the guest did not come back after the reboot"
jctl_ok $j/ri.json call vm.info '{"name":"pk"}'
assert_json live.resets 1 $j/ri.json

say "graceful stop: the power key, the guest powers itself off"
jctl_ok $j/s.json stop pk --timeout 120
assert_json state stopped $j/s.json
assert_json reason "guest powered off (power key)" $j/s.json
grep -q ARMVMD-GUEST-POWERKEY "$(vm_console_log pk)" || fail "the guest's key handler did not run"

say "a guest that ignores the power key is forced after the timeout"
create deaf hold
wait_console deaf 'ARMVMD-GUEST-SHELL' 240
jctl_ok $j/sd.json call vm.stop '{"name":"deaf","timeout":5}'
assert_json state stopped $j/sd.json
assert_contains "$(json_get reason $j/sd.json)" "ignored the power key" "reason"

say "guest reset with on_reboot=stop: stopped, with the reason"
create rs reboot ',"on_reboot":"stop"'
assert_ok ctl wait rs --state stopped --timeout 240
jctl_ok $j/rs.json call vm.info '{"name":"rs"}'
assert_json reason "guest reset; on_reboot=stop" $j/rs.json

say "guest power-off with on_poweroff=destroy: the VM is gone"
create gone done ',"on_poweroff":"destroy"'
wait_until 240 sh -c "! $ARMVMCTL --socket $ARMVMD_SOCKET --json list | grep -q '\"gone\"'" ||
	fail "the VM with on_poweroff=destroy is still listed"

say "armvmctl wait times out with exit 4"
assert_exit 4 ctl wait deaf --state running --timeout 2

say "the events arrived with their reasons"
kill "$evpid" 2>/dev/null
cat "$ev"
for want in '"state":"paused"' '"reason":"resumed"' '"reason":"forced reset"' \
	'"reason":"guest powered off (power key)"' 'ignored the power key' \
	'"reason":"guest reset; on_reboot=stop"' 'policy destroy'; do
	grep -q "$want" "$ev" || fail "no event with $want"
	note "ok: event $want"
done
for n in pk deaf rs; do jctl_ok $j/d.json call vm.destroy "{\"name\":\"$n\"}"; done
armvmd_stop
