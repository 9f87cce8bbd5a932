# SPDX-License-Identifier: Apache-2.0
# bash completion for nxpatch. Commands come from `nxpatch help`, each command's
# options from `nxpatch CMD --help`, policy names from `nxpatch policy list`,
# so the completion follows the installed binary.
_nxpatch() {
  local cur prev cword
  local -a words
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion || return
  else
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
  fi
  local nx=${words[0]}
  if [ "$cword" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$("$nx" help 2>/dev/null | awk '/^  [a-z]/ {print $1}')" -- "$cur"))
    return
  fi
  local cmd=${words[1]}
  if [[ $cur == --color=* ]]; then
    COMPREPLY=($(compgen -P --color= -W "auto always never" -- "${cur#--color=}")); return
  fi
  case $prev in
    -p | --policy)
      COMPREPLY=($(compgen -W "$("$nx" policy list 2>/dev/null | awk '{print $1}')" -- "$cur")
                 $(compgen -f -- "$cur"))
      return ;;
    -f | --format)
      COMPREPLY=($(compgen -W "text json jsonl sarif html" -- "$cur")); return ;;
    -C | --cwd)
      COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --digest)
      COMPREPLY=($(compgen -W "sha256 sha384 sha512 sha1" -- "$cur")); return ;;
    --signature)
      COMPREPLY=($(compgen -W "refuse strip resign sign" -- "$cur")); return ;;
    --checksum)
      COMPREPLY=($(compgen -W "auto always" -- "$cur")); return ;;
    --set | --clear) # a comma-separated list: complete the name after the last comma
      local flags="high_entropy_va dynamic_base force_integrity nx_compat no_isolation no_seh no_bind appcontainer wdm_driver guard_cf terminal_server_aware"
      COMPREPLY=($(compgen -P "${cur%"${cur##*,}"}" -W "$flags" -- "${cur##*,}"))
      compopt -o nospace 2>/dev/null
      return ;;
    --section)
      COMPREPLY=($(compgen -W "@code-in-data: .thunk: .data:" -- "$cur")); compopt -o nospace 2>/dev/null; return ;;
    --out-dir)
      COMPREPLY=($(compgen -d -- "$cur")); return ;;
    -o | --output | --cert | --key | --pkcs12 | --pass-file | --journal | --from | --trust | --evidence)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -j | --jobs | --shard | --pass-env | --signing-time | --program-name | --url | --timestamp-url | --backup | --timeout)
      return ;;
  esac
  case $cmd in
    help)
      [ "$cword" -eq 2 ] &&
        COMPREPLY=($(compgen -W "$("$nx" help 2>/dev/null | awk '/^  [a-z]/ {print $1}')" -- "$cur"))
      return ;;
    policy)
      if [ "$cword" -eq 2 ]; then
        COMPREPLY=($(compgen -W "check list show show-default --help" -- "$cur"))
        return
      fi
      if [ "${words[2]}" = show ]; then
        COMPREPLY=($(compgen -W "$("$nx" policy list 2>/dev/null | awk '{print $1}')" -- "$cur"))
        return
      fi ;;
  esac
  if [[ $cur == -* ]]; then
    # the option column of the generated help: "  -p, --policy FILE  ..."
    COMPREPLY=($(compgen -W "$("$nx" "$cmd" --help 2>/dev/null | awk '/^  +-/ { for (i = 1; i <= NF; i++) {
        t = $i; if (t !~ /^-/) break; sub(/[,=].*/, "", t); sub(/\[.*/, "", t); print t } }')" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -o bashdefault -F _nxpatch nxpatch
