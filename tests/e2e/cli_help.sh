#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The command line's help and usage errors: `nxpatch help CMD` and `CMD --help`
# are the same text and list every option (one line each, generated from the
# option tables); every option the help lists is parsed; unknown commands,
# subcommands and options get a did-you-mean; every usage error exits 2; the
# man page and the bash completion know every option of every command.
. "$(dirname "$0")/lib.sh"

NX=$NXPATCH
cmds=$("$NX" help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}')
[ "$(wc -w <<<"$cmds")" -ge 12 ] || fail "nxpatch help lists too few commands: $cmds"

# expect_usage WANT-SUBSTRING ARGS...: exit 2, the message on stderr, nothing on stdout
expect_usage() {
  local want=$1; shift
  local rc=0
  "$NX" "$@" >"$T/o" 2>"$T/e" </dev/null || rc=$?
  [ "$rc" -eq 2 ] || fail "nxpatch $*: exit $rc, want 2 (stderr: $(cat "$T/e"))"
  grep -qF -- "$want" "$T/e" || fail "nxpatch $*: stderr lacks '$want': $(cat "$T/e")"
  [ ! -s "$T/o" ] || fail "nxpatch $*: a usage error printed to stdout: $(cat "$T/o")"
}

# long_options CMD: the long options CMD's help lists (the label column only)
long_options() {
  "$NX" help "$1" | awk '/^  +-/ { for (i = 1; i <= NF; i++) { t = $i; if (t !~ /^-/) break;
      sub(/[,=].*/, "", t); sub(/\[.*/, "", t); if (t ~ /^--/) print t } }'
}

for c in $cmds; do
  "$NX" help "$c" >"$T/help.$c" || fail "nxpatch help $c failed"
  case $c in help | version) continue ;; esac
  "$NX" "$c" --help >"$T/dash.$c" || fail "nxpatch $c --help failed"
  cmp -s "$T/help.$c" "$T/dash.$c" || fail "nxpatch help $c differs from nxpatch $c --help"
  grep -q "^usage: nxpatch $c" "$T/help.$c" || fail "$c help has no usage line"
  grep -qE -- '^  -h, --help +show this help$' "$T/help.$c" || fail "$c help does not list -h, --help"
  # one line per option: short and long forms, then the description on the same line
  while IFS= read -r line; do
    [[ $line =~ ^\ \ +-[^\ ] ]] || continue
    [[ $line =~ ^\ \ (-[A-Za-z0-9],\ |\ \ \ \ )?--?[a-z0-9][a-z0-9-]*(\[=[A-Z]+\]|\ [^\ ]+)?\ \ +[^\ ] ]] ||
      fail "$c help: option line without a description: '$line'"
  done <"$T/help.$c"
done

# Every option the help lists is parsed: none is "unknown". Flags are given
# bare, options with an argument "--opt=x" (the command then fails on its
# own terms, never with an unknown option).
for c in $cmds; do
  case $c in help | version | policy | report) continue ;; esac
  for o in $(long_options "$c"); do
    [ "$o" = --help ] && continue
    if grep -qE -- "^  (-[A-Za-z0-9], |    )?$o [^ ]" "$T/help.$c"; then arg="$o=x"; else arg=$o; fi
    rc=0; timeout 20 "$NX" "$c" "$arg" </dev/null >"$T/o" 2>"$T/e" || rc=$?
    grep -q 'unknown option' "$T/e" && fail "nxpatch $c $arg: the help lists it but the parser does not take it: $(cat "$T/e")"
  done
done
# and the report merge subcommand
"$NX" report merge --help >"$T/merge" || fail "report merge --help"
grep -qE -- '^  -o, --output OUT +' "$T/merge" || fail "report merge --help lacks -o, --output"

# --help for the commands with subcommands
"$NX" policy --help >"$T/p" || fail "policy --help exits non-zero"
grep -q 'nxpatch policy check' "$T/p" || fail "policy --help does not describe check"
"$NX" report --help >"$T/p" || fail "report --help exits non-zero"

# did-you-mean: commands, subcommands, options (edit distance)
expect_usage "'pln' is not a command (did you mean 'plan'?)" pln x.exe
expect_usage "'vrify' is not a command (did you mean 'verify'?)" vrify x.exe
expect_usage "'frobnicate' is not a command, see 'nxpatch help'" frobnicate
expect_usage "'pln' is not a command (did you mean 'plan'?)" help pln
expect_usage "unknown option --verison (did you mean --version?)" --verison
expect_usage "'chek' is not a policy subcommand (did you mean 'check'?)" policy chek x.yaml
expect_usage "unknown option --strict" policy check --strict x.yaml
expect_usage "'merg' is not a report subcommand (did you mean 'merge'?)" report merg a b
expect_usage "unknown option --polcy (did you mean --policy?)" plan --polcy x.yaml a.exe
expect_usage "unknown option --inplace (did you mean --in-place?)" apply --inplace a.exe
expect_usage "unknown option --recusive (did you mean --recursive?)" scan --recusive d
expect_usage "unknown option --dryrun (did you mean --dry-run?)" revert --dryrun --journal j
expect_usage "unknown option --trst (did you mean --trust?)" sigcheck --trst ca.pem a.exe
expect_usage "unknown option --timeut (did you mean --timeout?)" trace --timeut 3 a.exe
expect_usage "unknown option --outptu (did you mean --output?)" unsign --outptu o a.exe
expect_usage "unknown option --pass (it begins --pass-env, --pass-file: say which)" sign --pass x a.exe
expect_usage "unknown option -x" scan -x a.exe
expect_usage "see 'nxpatch scan --help'" scan --nonsense a.exe
expect_usage "option --policy needs an argument (FILE)" plan a.exe --policy
expect_usage "option -j needs an argument (N)" scan a.exe -j
expect_usage "option --quiet takes no argument" scan --quiet=yes a.exe
expect_usage "--color takes auto, always or never, not 'blue'" scan --color=blue a.exe

# Exit 2 for every usage error, in every command.
cp "$(sample hello64.exe)" "$T/a.exe"
rc=0; "$NX" >"$T/o" 2>&1 || rc=$?; [ "$rc" -eq 2 ] || fail "nxpatch without a command: exit $rc, want 2"
expect_usage "no input files" plan
expect_usage "no input files" verify
expect_usage "say where the output goes" apply "$T/a.exe"
expect_usage "-o takes one input" apply "$T/a.exe" "$T/a.exe" -o "$T/x.exe"
expect_usage "--backup goes with --in-place" apply "$T/a.exe" -o "$T/x.exe" --backup .orig
expect_usage "-j takes a number" scan -j 0 "$T/a.exe"
expect_usage "--shard takes K/N" scan --shard 3/2 "$T/a.exe"
expect_usage "unknown format 'xml'" scan --format xml "$T/a.exe"
expect_usage "unknown format 'sarif'" apply --format sarif --in-place "$T/a.exe"
expect_usage "No such file" plan --policy "$T/missing.yaml" "$T/a.exe"
expect_usage "no input file" sign -o "$T/x.exe" --pkcs12 p.p12
expect_usage "one input file at a time" unsign "$T/a.exe" "$T/a.exe" -o "$T/x.exe"
expect_usage "no output file" unsign "$T/a.exe"
expect_usage "--trust CA.pem is required" sigcheck "$T/a.exe"
expect_usage "--journal FILE is required" revert
expect_usage "unexpected argument" revert --journal j extra
expect_usage "no program to trace" trace
expect_usage "--timeout takes seconds" trace --timeout -1 a.exe
expect_usage "no files to merge" report merge
expect_usage "help takes one command" help plan scan
expect_usage "version takes no arguments" version extra
[ "$(sha "$T/a.exe")" = "$(sha "$(sample hello64.exe)")" ] || fail "a usage error changed an input"

# The man page and the bash completion know every option of every command.
man=$NXP_SOURCE_DIR/man/nxpatch.1
for c in $cmds; do
  case $c in help | version) continue ;; esac
  grep -q "^\.SS $c\$" "$man" || fail "man/nxpatch.1 has no section for $c"
  for o in $(long_options "$c"); do
    grep -q "^  .*$o.*test hook:" "$T/help.$c" && continue # test builds only, not documented
    grep -qF -- "$(sed 's/-/\\-/g' <<<"$o")" "$man" || fail "man/nxpatch.1 does not describe $c $o"
  done
done
comp=$NXP_SOURCE_DIR/completions/nxpatch.bash
for c in scan plan apply verify sign revert trace; do
  want=$(long_options "$c" | sort -u)
  got=$(NX="$NX" bash -c '
    . "$1"
    COMP_WORDS=("$NX" "$2" --); COMP_CWORD=2; COMP_LINE="$NX $2 --"; COMP_POINT=${#COMP_LINE}
    _nxpatch; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$c" | sort -u)
  missing=$(comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$got"))
  [ -z "$missing" ] || fail "bash completion of 'nxpatch $c --' lacks: $missing"
  extra=$(comm -13 <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep -v '^-[a-zA-Z0-9]$' || true)
  [ -z "$extra" ] || fail "bash completion of 'nxpatch $c --' offers what $c does not take: $extra"
done
# Text that tells people what to type names real commands (rules/legacy-dep.yaml
# said `nxpatch patch`): in the shipped rules, the docs and the README.
used=$(cd "$NXP_SOURCE_DIR" && grep -ohE '(`|Use: +|^\$ |^    )nxpatch [a-z][a-z-]*' rules/*.yaml docs/*.md README.md |
  sed -E 's/.*nxpatch //' | sort -u)
for w in $used; do
  grep -qx -- "$w" <<<"$cmds" || fail "the docs or rules tell people to run 'nxpatch $w', which is not a command"
done

# Each batch command's summary says what its row in the command table says.
summary_is() { # want, command...
  local want=$1 out; shift
  out=$("$NX" "$@" -q "$T/a.exe" 2>&1 | tail -1) || true
  grep -q -- "$want" <<<"$out" || fail "nxpatch $1: summary '$out', want '$want'"
}
summary_is "1 image scanned, 0 failed, 0 skipped;" scan
summary_is "1 image scanned, 0 to change, 1 unchanged, 0 refused, 0 failed" plan
summary_is "1 image scanned, 1 compliant, 0 not compliant, 0 failed" verify
summary_is "1 image scanned, 0 changed, 1 unchanged, 0 refused, 0 failed" apply -o "$T/s.exe"

echo "ok: help, did-you-mean, usage errors, man page and completion for: $(tr '\n' ' ' <<<"$cmds")"
