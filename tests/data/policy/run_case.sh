#!/bin/bash
# run_case.sh DIR: one data-driven policy case (registered by tests/CMakeLists.txt
# as policy_case.<name>). DIR holds policy.yaml and expected:
#   - expected "ok (N rules)": `nxpatch policy check` must exit 0 and print
#     "policy.yaml: ok (N rules)" with nothing on stderr;
#   - otherwise expected lists every diagnostic as "line:col: message", in
#     order: the check must exit 2, print nothing on stdout, and print exactly
#     those diagnostics, each followed by its source line and a caret under
#     the column.
. "$NXP_SOURCE_DIR/tests/e2e/lib.sh"

dir=${1:?usage: run_case.sh CASE_DIR}
cd "$dir"
[ -f policy.yaml ] && [ -f expected ] || fail "$dir: needs policy.yaml and expected"

rc=0
"$NXPATCH" policy check policy.yaml >"$T/out" 2>"$T/err" || rc=$?

if grep -q '^ok (' expected; then
  [ "$rc" -eq 0 ] || { cat "$T/err" >&2; fail "exit $rc, expected 0"; }
  [ ! -s "$T/err" ] || { cat "$T/err" >&2; fail "unexpected output on stderr"; }
  sed 's/^policy\.yaml: //' "$T/out" >"$T/got"
else
  [ "$rc" -eq 2 ] || { cat "$T/err" >&2; fail "exit $rc, expected 2"; }
  [ ! -s "$T/out" ] || fail "unexpected output on stdout: $(cat "$T/out")"
  # Check the quoted source line and the caret of every diagnostic, and
  # reduce the diagnostics to "line:col: message".
  "$PYTHON" - "$T/err" policy.yaml "$T/got" <<'PY' || fail "badly formed diagnostics"
import re, sys
err = open(sys.argv[1], encoding="utf-8", errors="surrogateescape").read().split("\n")
src = open(sys.argv[2], encoding="utf-8", errors="surrogateescape").read().split("\n")
head = re.compile(r"^policy\.yaml:(\d+):(\d+): (.*)$")
out, i, ok = [], 0, True
while i < len(err):
    m = head.match(err[i])
    if not m:
        if err[i] != "":
            print("unexpected line %d: %r" % (i + 1, err[i])); ok = False
        i += 1
        continue
    line, col = int(m.group(1)), int(m.group(2))
    out.append("%d:%d: %s" % (line, col, m.group(3)))
    want = src[line - 1] if line - 1 < len(src) else None
    if want is not None:
        want = "".join("?" if (ord(c) < 32 and c != "\t") or ord(c) == 127 else c for c in want)
        if i + 2 >= len(err) or err[i + 1] != want:
            print("line %d: source line not quoted: %r" % (i + 1, err[i + 1:i + 2])); ok = False
        else:
            caret = err[i + 2]
            if not re.fullmatch(r"[ \t]*\^", caret) or len(caret) - 1 != min(col - 1, len(want)):
                print("line %d: caret %r not under column %d" % (i + 3, caret, col)); ok = False
            # tabs of the source line are kept so the caret lines up
            for k, c in enumerate(caret[:-1]):
                if (c == "\t") != (want[k] == "\t"):
                    print("line %d: caret prefix does not keep tabs" % (i + 3)); ok = False
                    break
        i += 3
    else:
        i += 1
open(sys.argv[3], "w").write("".join(s + "\n" for s in out))
sys.exit(0 if ok else 1)
PY
fi
diff -u expected "$T/got" || fail "$(basename "$dir"): output differs from expected"
