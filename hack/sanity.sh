#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible-test requires
# (.../ansible_collections/odoo_saas/kit), with the tests that need no container of their own.
# ansible-test pins its own linters (pylint, pycodestyle, yamllint, voluptuous...), so they go
# into a virtualenv of their own, outside the repository, made once and reused.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${ODOO_SAAS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/odoo-saas-kit}"
core="$(python -c 'import ansible.release as r; print(r.__version__)')"
venv="$cache/venv-sanity-$core"
if [ ! -f "$venv/.complete" ]; then
  echo "[sanity] creating $venv with ansible-core $core and ansible-test's pinned linters" >&2
  rm -rf "$venv"
  python -m venv "$venv"
  "$venv/bin/pip" install -q "ansible-core==$core" >&2
  req="$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_data", "requirements"))')"
  for test in ansible-doc import pep8 pylint runtime-metadata validate-modules yamllint; do
    "$venv/bin/pip" install -q -r "$req/sanity.$test.txt" >&2
  done
  touch "$venv/.complete"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/odoo_saas/kit"
mkdir -p "$dest"
cd "$repo"
# Tracked and new (not ignored) files, without the self-link and the Go build modules.
git ls-files -z --cached --others --exclude-standard \
  | grep -zv -e '^collections/ansible_collections/' -e '^tests/cluster/build/' \
  | xargs -0 cp --parents -t "$dest" 2>/dev/null || true
# ansible-test bootstraps pip in its per-test virtualenvs with a get-pip script it downloads
# from a host we cannot reach. This stand-in does the same from the interpreter's own
# ensurepip, then installs the pinned pip from the package index.
pip_pin="$(grep -ohP "pip='\K[0-9.]+" "$("$venv/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)"
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_pin//./_}.py"
if [ ! -f "$get_pip" ]; then
  mkdir -p "$(dirname "$get_pip")"
  cat > "$get_pip" <<'PY'
"""Offline stand-in for get-pip.py (written by odoo-saas-kit's hack/sanity.sh)."""
import ensurepip
import os
import ssl
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
# ansible-test runs this with a filtered environment: trust the system's CA bundle, as the
# pip it installs (truststore) will.
bundle = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
if os.path.isfile(bundle):
    args = ["--cert", bundle, *args]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q", *args]))
PY
fi
cd "$dest"
git init -q && git add -A >/dev/null  # ansible-test lists the files git knows
python="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
PATH="$venv/bin:$PATH" exec "$venv/bin/ansible-test" sanity --color no --python "$python" --local \
  --skip-test shellcheck --skip-test pslint "$@"
