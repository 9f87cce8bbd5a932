#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# api-check.sh: the public headers are the API (issue 18). Every function
# declared in include/nxpatch/*.h is used by the command line (src/cli/) or
# documented for library users where it is declared: a comment right above
# its declaration, or above the group of declarations it belongs to (no
# blank line between). Prints each offender and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "$@" <<'PY'
import glob, re, sys

cli = "".join(open(p, encoding="utf-8").read() for p in sorted(glob.glob("src/cli/*.[ch]")))
decl = re.compile(r"^[A-Za-z_][\w \*]*\b(nxp_\w+)\s*\(")
bad = 0
total = 0
for h in sorted(glob.glob("include/nxpatch/*.h")):
    lines = open(h, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = decl.match(line)
        if not m or line.startswith(("typedef", "#")) or "(*" in line:
            continue
        name = m.group(1)
        total += 1
        if re.search(r"\b%s\b" % re.escape(name), cli) or "/*" in line:
            continue
        # Up over the declarations of this group (and their continuation
        # lines) to the first other line: it must end a comment.
        j = i - 1
        while j >= 0 and lines[j].strip() and not lines[j].strip().endswith("*/") and \
                not lines[j].lstrip().startswith(("/*", "*")):
            j -= 1
        if j < 0 or not lines[j].strip():
            print(f"{h}:{i + 1}: {name} is not used by src/cli and not documented for "
                  f"library users (a comment above its declaration or its group)")
            bad += 1
print(f"api-check: {total} public functions, {bad} undocumented and unused by the CLI")
sys.exit(1 if bad else 0)
PY
