# hosts: max61
# timeout: 300
# needs: guests
#
# make bench still works: armvmd-bench --quick (a few runs of each figure,
# one Linux boot) against a live armvmd prints well-formed JSON with all seven
# figures, a median for each row and no errors.  No time is asserted: a
# benchmark is not a test (make bench measures; docs/PERFORMANCE.md).

need_armvmd
need_guest
tool=$(need_tool armvmd-bench)
need_tool kvm-floor >/dev/null
[ -f "$GUEST_DIR/boottimer.img" ] || fail "no $GUEST_DIR/boottimer.img (make guests)"
armvmd_start
armvmd_start_second nosb --no-sandbox

say "the floor alone runs the guest to power-off"
assert_ok "$ARMVMD_TESTS/kvm-floor" --loops 10 "$GUEST_DIR/boottimer.img"
printf '%s\n' "$RUN_OUT" >"$CASE_TMP/floor.json"
assert_json ended poweroff "$CASE_TMP/floor.json"
assert_json mmio_reads 10 "$CASE_TMP/floor.json"
assert_match "$(json_get marks_ns.1 "$CASE_TMP/floor.json")" '^[0-9]+$' "second mark"

say "armvmd-bench --quick"
"$tool" --quick --daemon-pid "$ARMVMD_PID" --workdir "$CASE_TMP" \
	--nosandbox-socket "$SECOND_SOCKET" \
	>"$CASE_TMP/bench.json" 2>"$CASE_TMP/bench-progress.log"
rc=$?
cat "$CASE_TMP/bench-progress.log"
cat "$CASE_TMP/bench.json"
echo
json_flat "$CASE_TMP/bench.json" >"$CASE_TMP/flat.txt" || fail "armvmd-bench printed malformed JSON"
grep -q '^errors	a	' "$CASE_TMP/flat.txt" ||
	fail "armvmd-bench reported errors: $(grep '^errors\.' "$CASE_TMP/flat.txt" | head -n 3 | cut -f3 | tr '\n' ' ')"
assert_eq "$rc" 0 "armvmd-bench exit status"

i=0
for id in start linux memory rate rpc exit sandbox; do
	assert_json "figures.$i.id" "$id" "$CASE_TMP/bench.json"
	# every row has a median: the figure was measured, whatever its value
	rows=$(grep -c "^figures\.$i\.rows\.[0-9]*\.label	" "$CASE_TMP/flat.txt")
	[ "$rows" -gt 0 ] || fail "figure $id has no rows"
	r=0
	while [ "$r" -lt "$rows" ]; do
		assert_match "$(json_get "figures.$i.rows.$r.armvmd.median" "$CASE_TMP/bench.json")" \
			'^[0-9.e+-]+$' "figure $id row $r median"
		r=$((r + 1))
	done
	i=$((i + 1))
done
for r in 0 1; do
	assert_match "$(json_get "figures.0.rows.$r.ratio" "$CASE_TMP/bench.json")" '^[0-9.e+-]+$' \
		"figure 1 row $r ratio to the floor"
done
assert_json figures.5.notes.armvmd_mmio_exits 102 "$CASE_TMP/bench.json"
assert_match "$(json_get figures.6.rows.0.ratio "$CASE_TMP/bench.json")" '^[0-9.e+-]+$' \
	"figure 7: the sandbox's cost as a ratio"
armvmd_stop_second
armvmd_stop
assert_eq "$ARMVMD_RC" 0 "armvmd exit status"
