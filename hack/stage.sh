#!/usr/bin/env bash
# Runs one stage of `make test` and records its wall time; `hack/stage.sh --report` prints the
# stages' times (make test ends with it, so CI's log shows where the time went).
#   hack/stage.sh NAME COMMAND [ARG ...]
#   hack/stage.sh --report | --reset
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
times="${ODOO_SAAS_STATE:-$repo/.local}/stage-times"
case "${1:-}" in
  --reset) mkdir -p "$(dirname "$times")"; : > "$times"; exit 0 ;;
  --report)
    total=0
    echo "[stages] wall time of each stage of this run:" >&2
    while IFS=$'\t' read -r seconds status name; do
      printf '[stages] %6ds  %-6s %s\n' "$seconds" "$status" "$name" >&2
      total=$((total + seconds))
    done < "$times"
    printf '[stages] %6ds  total\n' "$total" >&2
    exit 0 ;;
esac
name="$1"; shift
started=$SECONDS
"$@"
code=$?
mkdir -p "$(dirname "$times")"
printf '%s\t%s\t%s\n' $((SECONDS - started)) "$([ $code -eq 0 ] && echo ok || echo failed)" "$name" >> "$times"
if [ $code -ne 0 ]; then
  "$0" --report
fi
exit $code
