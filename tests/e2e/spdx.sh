#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Licence: LICENSE is the Apache-2.0 text and every tracked source file carries
# an SPDX identifier (scripts/spdx.sh adds it; a new file without one fails here).
. "$(dirname "$0")/lib.sh"
cd "$NXP_SOURCE_DIR"
[ -f LICENSE ] || fail "no LICENSE file"
grep -q 'Apache License' LICENSE && grep -q 'Version 2.0, January 2004' LICENSE ||
  fail "LICENSE is not the Apache-2.0 text"
grep -q 'Apache-2.0' README.md || fail "README does not state the licence"
bash scripts/spdx.sh --check || fail "source files without an SPDX identifier (run: bash scripts/spdx.sh)"

# The checker itself catches a file without one (copy of the tree's script on a scratch repo).
mkdir -p "$T/repo/scripts" "$T/repo/src"
cp scripts/spdx.sh "$T/repo/scripts/"
printf '/* SPDX-License-Identifier: Apache-2.0 */\nint a;\n' >"$T/repo/src/a.c"
printf 'int b;\n' >"$T/repo/src/b.c"
printf '#!/bin/sh\necho hi\n' >"$T/repo/scripts/x.sh"
rc=0
bash "$T/repo/scripts/spdx.sh" --check 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "--check exit $rc on a tree with unlicensed files, want 1"
grep -q 'src/b.c' "$T/err" && grep -q 'scripts/x.sh' "$T/err" || fail "not named: $(cat "$T/err")"
grep -q 'src/a.c' "$T/err" && fail "a.c has one: $(cat "$T/err")"
# the fixer adds it after a shebang, and then --check passes
bash "$T/repo/scripts/spdx.sh" >/dev/null
[ "$(head -n 1 "$T/repo/scripts/x.sh")" = '#!/bin/sh' ] || fail "shebang moved"
[ "$(sed -n 2p "$T/repo/scripts/x.sh")" = '# SPDX-License-Identifier: Apache-2.0' ] || fail "x.sh: $(cat "$T/repo/scripts/x.sh")"
[ "$(head -n 1 "$T/repo/src/b.c")" = '/* SPDX-License-Identifier: Apache-2.0 */' ] || fail "b.c"
bash "$T/repo/scripts/spdx.sh" --check || fail "--check after fixing"
echo "ok: LICENSE and SPDX identifiers"
