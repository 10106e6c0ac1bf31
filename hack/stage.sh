#!/usr/bin/env bash
# Runs one stage of `make test` and records its wall time; `hack/stage.sh --report` prints the
# stages' times and the run's wall time (make test ends with it, so CI's log shows where the time
# went). A stage that needs neither the local platform nor the other stages' results (the host
# scenarios boot their own hosts) can run beside the others: `--beside` starts it in the
# background with its output in a log file, and `--join` waits for it, prints the end of its log
# and fails when it failed. A foreground stage that fails stops the background ones.
#   hack/stage.sh NAME COMMAND [ARG ...]
#   hack/stage.sh --beside NAME COMMAND [ARG ...]
#   hack/stage.sh --join | --stop | --report | --reset
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="${ODOO_SAAS_STATE:-$repo/.local}"
times="$state/stage-times"
beside="$state/stage-beside"  # pid, log file and name of each background stage

stop_beside() {
  [ -f "$beside" ] || return 0
  while IFS=$'\t' read -r pid log name; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "[stages] stopping '$name', which ran beside (log: $log)" >&2
      kill -TERM -- "-$pid" 2>/dev/null || true
    fi
  done < "$beside"
}

case "${1:-}" in
  --reset)
    mkdir -p "$state"; : > "$times"; : > "$beside"; date +%s > "$state/stage-start"; exit 0 ;;
  --report)
    total=0
    echo "[stages] wall time of each stage of this run:" >&2
    while IFS=$'\t' read -r seconds status name; do
      printf '[stages] %6ds  %-6s %s\n' "$seconds" "$status" "$name" >&2
      total=$((total + seconds))
    done < "$times"
    printf '[stages] %6ds  the stages added up\n' "$total" >&2
    if [ -f "$state/stage-start" ]; then
      printf '[stages] %6ds  wall time of the run (stages marked beside ran alongside the others)\n' \
        $(($(date +%s) - $(cat "$state/stage-start"))) >&2
    fi
    exit 0 ;;
  --stop)
    stop_beside; exit 0 ;;
  --beside)
    shift; name="$1"; shift
    mkdir -p "$state"
    log="$state/stage-$(printf '%s' "$name" | tr -c 'a-zA-Z0-9' '-' | cut -c1-60).log"
    # its own session, so that a failure elsewhere can stop it and everything it started
    setsid bash "$0" "$name (beside)" "$@" > "$log" 2>&1 < /dev/null &
    printf '%s\t%s\t%s\n' "$!" "$log" "$name" >> "$beside"
    echo "[stages] started beside the next stages: $name (log: $log)" >&2
    exit 0 ;;
  --join)
    code=0
    [ -f "$beside" ] || exit 0
    while IFS=$'\t' read -r pid log name; do
      started=$SECONDS
      while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        if (( (SECONDS - started) % 60 < 5 )); then
          echo "[stages] waiting for '$name' ($((SECONDS - started))s so far): $(tail -n 1 "$log" | cut -c1-120)" >&2
        fi
      done
      if grep -q $'\tok\t'"$name (beside)"'$' "$times"; then
        echo "[stages] '$name' passed; the end of its log ($log):" >&2
        tail -n 5 "$log" >&2
      else
        echo "[stages] '$name' FAILED; the end of its log ($log):" >&2
        tail -n 150 "$log" >&2
        code=1
      fi
    done < "$beside"
    : > "$beside"
    [ $code -eq 0 ] || "$0" --report
    exit $code ;;
esac
name="$1"; shift
started=$SECONDS
"$@"
code=$?
mkdir -p "$state"
printf '%s\t%s\t%s\n' $((SECONDS - started)) "$([ $code -eq 0 ] && echo ok || echo failed)" "$name" >> "$times"
if [ $code -ne 0 ]; then
  case "$name" in *" (beside)") ;; *) stop_beside ;; esac
  "$0" --report
fi
exit $code
