#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The zsh completion (completions/_nxpatch) offers what nxpatch takes: the
# commands of `nxpatch help`, every long option of each command's help, the
# policy names of `nxpatch policy list`, the formats. The completion
# function runs in zsh as compinit would run it, with the completion
# system's builtins (compadd, _describe, _values, ...) replaced by functions
# that print what they were given.
. "$(dirname "$0")/lib.sh"
require_cmd zsh zsh

NX=$NXPATCH
comp=$NXP_SOURCE_DIR/completions/_nxpatch
zsh -n "$comp" || fail "completions/_nxpatch: zsh syntax error"

# complete CURRENT WORD...: what the completion offers for word CURRENT.
complete() {
  local current=$1
  shift
  zsh -f -c '
    compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }
    _describe() { print -l -- ${${(P)4}%%:*} }
    _values() { shift; [[ $1 == , ]] && shift; print -l -- "$@" }
    _alternative() { print -l -- "$@" }
    _files() { print -- "<files>" }
    _message() { print -- "<message>" }
    comp=$1 CURRENT=$2
    shift 2
    words=("$@")
    PREFIX=${words[CURRENT]}
    source "$comp"' _ "$comp" "$current" "$@"
}

cmds=$("$NX" help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {print $1}' | sort -u)
got=$(complete 2 "$NX" "" | sort -u)
[ "$got" = "$cmds" ] || fail "commands offered: $(tr '\n' ' ' <<<"$got"), want $(tr '\n' ' ' <<<"$cmds")"

long_options() {
  "$NX" help "$1" | awk '/^  +-/ { for (i = 1; i <= NF; i++) { t = $i; if (t !~ /^-/) break;
      sub(/[,=].*/, "", t); sub(/\[.*/, "", t); if (t ~ /^--/) print t } }' | sort -u
}
n=0
for c in scan plan apply verify sign unsign revert trace report; do
  want=$(long_options "$c")
  got=$(complete 3 "$NX" "$c" -- | grep '^--' | sort -u || true)
  [ "$got" = "$want" ] || fail "'nxpatch $c --<TAB>': $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
  n=$((n + $(wc -l <<<"$want")))
done
echo "ok: the commands and $n long options of 9 commands"
got=$(complete 3 "$NX" policy "" | tr '\n' ' ')
[ "$got" = "check list show show-default " ] || fail "'nxpatch policy <TAB>' offers: $got"

got=$(complete 4 "$NX" plan --policy "")
for name in $("$NX" policy list | awk '{print $1}'); do
  grep -q -- "$name" <<<"$got" || fail "--policy offers no $name: $got"
done
got=$(complete 4 "$NX" scan --format "" | tr '\n' ' ')
[ "$got" = "text json jsonl sarif html " ] || fail "--format offers: $got"
echo "ok: policy names and formats"
echo "completion_zsh: all checks passed"
