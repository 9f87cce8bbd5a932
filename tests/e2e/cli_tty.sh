#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On a terminal: the progress bar never shares a line with a report line
# (stdout and stderr on the same pty: the bar is erased before each line and
# drawn again after), and text reports are coloured only when the output is
# a terminal, honouring NO_COLOR and --color=auto|always|never. Pipes and
# files get the plain bytes.
. "$(dirname "$0")/lib.sh"

for s in hello64.exe nonx32.exe thunk_data64.exe norelocs64.exe calldll64.exe; do
  cp "$(sample "$s")" "$T/"
done
ls "$T"/*.exe >"$T/list"

# on_pty OUT ARGS...: run nxpatch with stdin, stdout and stderr on one new pty;
# OUT gets the raw bytes the terminal received, OUT.screen what a terminal
# shows (\r returns to column 0, ESC[K erases to the end of the line, colour
# sequences take no room). Extra environment: PTY_ENV="A=1 B=2".
on_pty() {
  local out=$1; shift
  "$PYTHON" - "$out" "$@" <<'PY'
import os, pty, re, subprocess, sys
out, args = sys.argv[1], sys.argv[2:]
env = dict(os.environ)
env.pop("NO_COLOR", None)
env["TERM"] = "xterm"
for kv in os.environ.get("PTY_ENV", "").split():
    k, v = kv.split("=", 1)
    env[k] = v
master, slave = pty.openpty()
p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
os.close(slave)
raw = b""
while True:
    try:
        b = os.read(master, 65536)
    except OSError:
        break
    if not b:
        break
    raw += b
rc = p.wait()
open(out, "wb").write(raw)
text = raw.decode("utf-8", "replace")
lines, cur, col, i = [], [], 0, 0
while i < len(text):
    if text.startswith("\x1b[K", i):
        del cur[col:]
        i += 3
        continue
    m = re.match(r"\x1b\[[0-9;]*m", text[i:])
    if m:
        i += len(m.group(0))
        continue
    ch = text[i]
    if ch == "\r":
        col = 0
    elif ch == "\n":
        lines.append("".join(cur))
        cur, col = [], 0
    else:
        if col < len(cur):
            cur[col] = ch
        else:
            cur.append(ch)
        col += 1
    i += 1
if cur:
    lines.append("".join(cur))
open(out + ".screen", "w").write("\n".join(lines) + "\n")
sys.exit(rc)
PY
}

# check_screen FILE CMD: the bar was drawn, every image has its report line,
# and no line (raw or as shown) holds both bar text and report text.
check_screen() {
  local f=$1 cmd=$2
  grep -aq "$cmd: [0-9]*/5 images" "$f" || fail "$cmd: no progress bar was drawn on the pty"
  for s in "$T"/*.exe; do
    grep -q "^$s" "$f.screen" || fail "$cmd: the report line of $s is not on the screen: $(cat "$f.screen")"
  done
  if grep -n "ETA" "$f.screen" | grep -E "\.exe|summary"; then
    fail "$cmd: a line shows both the progress bar and a report line"
  fi
  # raw bytes: after the bar's text, only the erase sequence may follow on its line
  "$PYTHON" - "$f" "$cmd" <<'PY' || fail "$cmd: report text written right after the bar, without erasing it"
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
for m in re.finditer(r"ETA (\d\d:\d\d|--:--)", raw):
    rest = raw[m.end():]
    if rest and not rest.startswith("\r\x1b[K"):
        print("after the bar:", repr(rest[:60]))
        sys.exit(1)
PY
}

for j in 1 2; do
  rc=0; on_pty "$T/plan$j" "$NXPATCH" plan -j $j "$T"/*.exe || rc=$?
  [ "$rc" -le 1 ] || fail "plan -j $j on a pty exited $rc: $(cat "$T/plan$j.screen")"
  check_screen "$T/plan$j" plan
  grep -q '^summary: 5 images' "$T/plan$j.screen" || fail "plan -j $j: no summary on the screen"
done
rc=0; on_pty "$T/scan" "$NXPATCH" scan -j 1 --from "$T/list" || rc=$?
check_screen "$T/scan" scan
rc=0; on_pty "$T/verify" "$NXPATCH" verify -j 1 "$T"/*.exe || rc=$?
check_screen "$T/verify" verify
# -q: no bar at all
on_pty "$T/quiet" "$NXPATCH" plan -q -j 1 "$T"/*.exe || true
grep -aq "images  " "$T/quiet" && fail "plan -q drew a progress bar"

# Colour: on the terminal by default; never with NO_COLOR or --color=never;
# --color=always wins over NO_COLOR; never in a pipe unless always.
esc=$'\033['
on_pty "$T/c-auto" "$NXPATCH" plan -q "$T"/*.exe || true
grep -aqF "${esc}31mrefused" "$T/c-auto" || fail "no red 'refused' on a terminal: $(cat -v "$T/c-auto" | head -5)"
grep -aqF "${esc}33m2 changes" "$T/c-auto" || fail "no yellow change count on a terminal"
grep -aqF "${esc}32mnothing to do" "$T/c-auto" || fail "no green 'nothing to do' on a terminal"
PTY_ENV="NO_COLOR=1" on_pty "$T/c-no" "$NXPATCH" plan -q "$T"/*.exe || true
grep -aqF "${esc}3" "$T/c-no" && fail "NO_COLOR=1 still coloured: $(cat -v "$T/c-no" | head -3)"
PTY_ENV="NO_COLOR=" on_pty "$T/c-empty" "$NXPATCH" plan -q "$T"/*.exe || true
grep -aqF "${esc}31m" "$T/c-empty" || fail "an empty NO_COLOR disabled colour (it must not)"
on_pty "$T/c-never" "$NXPATCH" plan -q --color=never "$T"/*.exe || true
grep -aqF "${esc}3" "$T/c-never" && fail "--color=never still coloured"
PTY_ENV="NO_COLOR=1" on_pty "$T/c-always" "$NXPATCH" plan -q --color=always "$T"/*.exe || true
grep -aqF "${esc}31m" "$T/c-always" || fail "--color=always did not win over NO_COLOR"
PTY_ENV="TERM=dumb" on_pty "$T/c-dumb" "$NXPATCH" plan -q "$T"/*.exe || true
grep -aqF "${esc}3" "$T/c-dumb" && fail "TERM=dumb still coloured"
# the screen text is the plain report's
"$NXPATCH" plan -q -j 1 "$T"/*.exe >"$T/plain" 2>/dev/null || true
on_pty "$T/c-j1" "$NXPATCH" plan -q -j 1 "$T"/*.exe || true
tr -d '\r' <"$T/c-j1.screen" | grep -v '^summary:' >"$T/shown"
grep -v '^summary:' "$T/plain" | diff "$T/shown" - >/dev/null ||
  fail "the coloured report's text differs from the plain one: $(grep -v '^summary:' "$T/plain" | diff "$T/shown" - | head)"

# pipes and files: plain bytes (auto), coloured only with always
out=$("$NXPATCH" plan -q "$T"/*.exe 2>&1 | cat) || true
[[ $out == *"$esc"* ]] && fail "colour in a pipe under --color=auto"
out=$("$NXPATCH" plan -q --color "$T"/*.exe 2>/dev/null | cat) || true
[[ $out == *"${esc}31m"* ]] || fail "--color (always) gave no colour in a pipe"
"$NXPATCH" plan -q --color=always --format json "$T"/*.exe >"$T/j.json" 2>/dev/null || true
grep -qF "$esc" "$T/j.json" && fail "colour in a JSON report"
"$PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/j.json" || fail "--color=always broke the JSON"
# verify and apply colour their verdicts too
on_pty "$T/v" "$NXPATCH" verify -q "$T"/*.exe || true
grep -aqF "${esc}32mok" "$T/v" || fail "verify: no green ok"
grep -aqF "${esc}31mdoes not comply" "$T/v" || fail "verify: no red 'does not comply'"
mkdir "$T/out"
on_pty "$T/a" "$NXPATCH" apply -q --no-cross-check --out-dir "$T/out" "$T"/*.exe || true
grep -aqF "${esc}32m  written:" "$T/a" || fail "apply: no green 'written'"

# -v adds the rules that matched and the posture findings to text reports only
"$NXPATCH" plan -q -v "$T/thunk_data64.exe" >"$T/pv" 2>&1 || true
grep -q '^  rules matched: default-code-in-data$' "$T/pv" || fail "plan -v: no rules matched line: $(cat "$T/pv")"
grep -q '^  warning: .*\[code-in-data\]$' "$T/pv" || fail "plan -v: no posture finding"
"$NXPATCH" plan -q "$T/thunk_data64.exe" >"$T/p" 2>&1 || true
grep -q 'rules matched' "$T/p" && fail "plan without -v shows the rules matched"
"$NXPATCH" scan -q -v "$T/thunk_data64.exe" >"$T/sv" 2>&1 || true
grep -q '^  warning: .*\[code-in-data\]$' "$T/sv" || fail "scan -v: no findings"
"$NXPATCH" plan -q -v --format json "$T/thunk_data64.exe" >"$T/pvj" 2>/dev/null || true
"$NXPATCH" plan -q --format json "$T/thunk_data64.exe" >"$T/pj" 2>/dev/null || true
diff <(grep -v '"seconds"' "$T/pvj") <(grep -v '"seconds"' "$T/pj") >/dev/null || fail "-v changed the JSON report"
echo "ok: progress bar and report lines apart on a pty (-j 1, -j 2), colour rules, -v"
