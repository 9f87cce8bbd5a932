#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The public headers are the API (issue 18): scripts/api-check.sh passes on
# the tree, and fails on a public function that the command line does not
# use and its header does not document.
. "$(dirname "$0")/lib.sh"
out=$(bash "$NXP_SOURCE_DIR/scripts/api-check.sh") || fail "api-check: $out"
echo "$out"
# The check itself: a copy of the tree with one undocumented, unused function.
mkdir -p "$T/t/scripts" "$T/t/include/nxpatch" "$T/t/src/cli"
cp "$NXP_SOURCE_DIR/scripts/api-check.sh" "$T/t/scripts/"
cp "$NXP_SOURCE_DIR"/include/nxpatch/*.h "$T/t/include/nxpatch/"
cp "$NXP_SOURCE_DIR"/src/cli/*.[ch] "$T/t/src/cli/"
printf '\nint nxp_unused_thing(int x);\n' >>"$T/t/include/nxpatch/pe.h"
rc=0; out=$(bash "$T/t/scripts/api-check.sh") || rc=$?
[ $rc -eq 1 ] || fail "an undocumented public function passed api-check ($rc): $out"
grep -q "nxp_unused_thing is not used by src/cli" <<<"$out" || fail "not named: $out"
echo "api_check: all checks passed"
