# Tiny JSON reader for host tests (busybox has no jq).  POSIX sh + awk.
#
#   json_flat [FILE]          every scalar as "PATH<TAB>TYPE<TAB>VALUE"
#   json_get PATH [FILE]      print the value at PATH; status 1 if absent
#   json_type PATH [FILE]     s (string) n (number) b (bool) z (null), or
#                             o / a for an empty object / array
#   assert_json PATH VALUE [FILE]
#
# PATH is dotted: "kvm", "features.sve", "vms.0.name" (array indices count
# from 0).  FILE defaults to standard input.  The parser is a real (small)
# recursive-descent one, so pretty-printed and compact JSON both work.
# Strings are printed with \" \\ \/ decoded; \n, \t and \uXXXX stay escaped.

json_flat() {
	cat "${1:--}" | awk '
function fail(m) { printf "json: %s at offset %d\n", m, pos > "/dev/stderr"; bad = 1; exit 2 }
function ws() { while (pos <= n && index(" \t\r\n", substr(s, pos, 1))) pos++ }
function join(p, k) { return p == "" ? k : p "." k }
function emit(p, t, v) { printf "%s\t%s\t%s\n", p, t, v }
function str(   c, out) {
	pos++                                   # opening quote
	out = ""
	while (pos <= n) {
		c = substr(s, pos, 1)
		if (c == "\"") { pos++; return out }
		if (c == "\\") {
			c = substr(s, pos + 1, 1)
			if (c == "\"" || c == "\\" || c == "/") out = out c
			else out = out "\\" c
			pos += 2
			continue
		}
		out = out c
		pos++
	}
	fail("unterminated string")
}
function value(p,   c, k, i, lit) {
	ws()
	c = substr(s, pos, 1)
	if (c == "{") {
		pos++; ws()
		if (substr(s, pos, 1) == "}") { pos++; emit(p, "o", "{}"); return }
		while (1) {
			ws()
			if (substr(s, pos, 1) != "\"") fail("expected key")
			k = str(); ws()
			if (substr(s, pos, 1) != ":") fail("expected :")
			pos++
			value(join(p, k)); ws()
			c = substr(s, pos, 1); pos++
			if (c == "}") return
			if (c != ",") fail("expected , or }")
		}
	}
	if (c == "[") {
		pos++; ws()
		if (substr(s, pos, 1) == "]") { pos++; emit(p, "a", "[]"); return }
		for (i = 0; ; i++) {
			value(join(p, i)); ws()
			c = substr(s, pos, 1); pos++
			if (c == "]") return
			if (c != ",") fail("expected , or ]")
		}
	}
	if (c == "\"") { emit(p, "s", str()); return }
	if (match(substr(s, pos, 40), /^(true|false|null|-?[0-9][0-9.eE+-]*)/)) {
		lit = substr(s, pos, RLENGTH)
		pos += RLENGTH
		emit(p, lit == "null" ? "z" : (lit == "true" || lit == "false") ? "b" : "n", lit)
		return
	}
	fail("unexpected character \"" c "\"")
}
{ s = s $0 "\n" }
END {
	if (bad) exit 2
	n = length(s); pos = 1
	ws()
	if (pos > n) { print "json: empty input" > "/dev/stderr"; exit 2 }
	value("")
}'
}

json_get() {
	json_flat "${2:-}" | awk -F '\t' -v k="$1" '
		$1 == k { sub(/^[^\t]*\t[^\t]*\t/, ""); print; found = 1; exit }
		END { exit found ? 0 : 1 }'
}

json_type() {
	json_flat "${2:-}" | awk -F '\t' -v k="$1" '
		$1 == k { print $2; found = 1; exit }
		END { exit found ? 0 : 1 }'
}

# assert_json PATH EXPECTED [FILE]
assert_json() {
	_jv=$(json_get "$1" "${3:-}") || fail "JSON key '$1' missing"
	[ "$_jv" = "$2" ] || fail "JSON $1: expected '$2', got '$_jv'"
	note "ok: JSON $1 = $_jv"
}
