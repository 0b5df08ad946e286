# hosts: max61
# timeout: 120
#
# Socket ownership: a socket left behind by a killed armvmd does not stop a
# new one from starting; a second armvmd on a live socket refuses to start
# and leaves the first one serving.

need_armvmd

say "armvmd killed with SIGKILL leaves its socket behind"
armvmd_start
first=$ARMVMD_PID
kill -KILL "$first"
wait_exit "$first" 5 || fail "armvmd survived SIGKILL"
ARMVMD_PID=
assert_socket "$ARMVMD_SOCKET"
assert_fails ctl host

say "a new armvmd starts on the stale socket"
armvmd_start
assert_ok ctl host
live=$ARMVMD_PID

say "a second armvmd on the live socket refuses to start"
assert_fails timeout 10 "$ARMVMD" --socket "$ARMVMD_SOCKET"
proc_alive "$live" || fail "the first armvmd died"
assert_socket "$ARMVMD_SOCKET"

say "the first armvmd still serves"
assert_ok ctl --json host
assert_json kvm true <<JSON
$RUN_OUT
JSON

say "clean stop"
armvmd_stop 5 TERM
assert_eq "$ARMVMD_RC" 0 "armvmd exit status after SIGTERM"
assert_no_file "$ARMVMD_SOCKET"
