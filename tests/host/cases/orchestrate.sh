# hosts: sysd
# timeout: 420
# needs: guests
#
# An orchestration script drives a whole VM lifecycle through the socket
# with socat and jq only (no armvmctl): plan, create without starting,
# start, watch the state through events, read the console, pause, resume,
# stop gracefully, destroy; errors are read as JSON-RPC error objects.

command -v socat >/dev/null || skip "no socat in this host"
command -v jq >/dev/null || skip "no jq in this host"
need_guest
SOCK=${ARMVMD_SOCKET:-/run/armvmd/armvmd.sock}
if [ ! -S "$SOCK" ]; then
	if command -v systemctl >/dev/null && systemctl start armvmd.socket 2>/dev/null; then
		note "armvmd.socket started"
	else
		need_armvmd
		armvmd_start
	fi
fi

id=0
# rpc METHOD JSON-PARAMS: the whole response object on stdout
rpc() {
	id=$((id + 1))
	jq -cn --arg m "$1" --argjson p "$2" --argjson id "$id" \
		'{jsonrpc: "2.0", id: $id, method: $m, params: $p}' |
		socat -t 600 - UNIX-CONNECT:"$SOCK"
}
# ok METHOD PARAMS: the result, or fail with the error
ok() {
	_r=$(rpc "$1" "$2")
	printf '%s %s -> %s\n' "$1" "$2" "$(printf '%s' "$_r" | cut -c1-300)" >&2
	printf '%s' "$_r" | jq -e 'has("result")' >/dev/null ||
		fail "$1: $(printf '%s' "$_r" | jq -c .error)"
	printf '%s' "$_r" | jq -c .result
}

name=orch$$
spec=$(jq -cn --arg n "$name" --arg k "$GUEST_KERNEL" --arg i "$GUEST_INITRD" \
	'{name: $n, kernel: $k, initrd: $i, memory: "256M",
	  cmdline: "console=ttyS0 armvmd.test=powerkey", start: false}')

say "plan first: vm.layout"
bits=$(ok vm.layout "$spec" | jq -r .ipa.bits)
assert_eq "$bits" 32 "IPA bits of the plan"

say "a bad request gets an error object a script can act on"
err=$(rpc vm.create '{"kernel": "/nonexistent", "ipa": 99}' | jq -c .error)
assert_eq "$(printf '%s' "$err" | jq -r .code)" -32004 "error code"
assert_eq "$(printf '%s' "$err" | jq -r .data.requested_bits)" 99 "data.requested_bits"

say "create without starting, then start"
assert_eq "$(ok vm.create "$spec" | jq -r .state)" created "state after create"
# watch state events from now on (the connection stays open)
(jq -cn '{jsonrpc: "2.0", id: 1, method: "events.subscribe",
	 params: {kinds: ["state"]}}'; sleep 400) |
	socat -t 400 - UNIX-CONNECT:"$SOCK" >"$CASE_TMP/events.jsonl" &
evpid=$!
sleep 1
assert_eq "$(ok vm.start "{\"name\": \"$name\"}" | jq -r .state)" running "state after start"

say "wait for the guest through the console"
n=0
until ok vm.console "{\"name\": \"$name\", \"bytes\": 65536}" | jq -r .output |
	grep -q ARMVMD-GUEST-ACPID; do
	n=$((n + 1))
	[ $n -lt 120 ] || fail "the guest did not come up"
	sleep 2
done

say "pause and resume"
assert_eq "$(ok vm.pause "{\"name\": \"$name\"}" | jq -r .state)" paused "paused"
code=$(rpc vm.pause "{\"name\": \"$name\"}" | jq -r .error.code)
assert_eq "$code" -32003 "pausing a paused VM"
assert_eq "$(ok vm.resume "{\"name\": \"$name\"}" | jq -r .state)" running "resumed"

say "graceful stop: the answer comes when the guest has powered off"
res=$(ok vm.stop "{\"name\": \"$name\", \"timeout\": 120}")
assert_eq "$(printf '%s' "$res" | jq -r .state)" stopped "state"
assert_eq "$(printf '%s' "$res" | jq -r .reason)" "guest powered off (power key)" "reason"

say "destroy, and the events a script saw"
ok vm.destroy "{\"name\": \"$name\"}" >/dev/null
sleep 1
kill "$evpid" 2>/dev/null
jq -c 'select(.method == "event") | .params | [.state, .reason]' "$CASE_TMP/events.jsonl"
for s in running paused stopped destroyed; do
	n=$(jq -c --arg s "$s" 'select(.method == "event" and .params.state == $s)' \
		"$CASE_TMP/events.jsonl" | wc -l)
	[ "$n" -ge 1 ] || fail "no $s event"
	note "ok: a $s event"
done
