"""Module start-up, measured: a child process that does what a module does under Ansible after
its interpreter starts (import the core, read its parameters, run) and reports, from the
process's start, when the core was imported and when its first API request left. The run is
tenant_info for one tenant (read only). Nothing but the standard library is imported before the
core, so the figures are the core's own (Ansible's AnsiballZ unpacking is not in them)."""

from __future__ import annotations

import json
import os
import sys
import time


def process_age():
    """Seconds since this process started (/proc: its start in clock ticks since boot)."""
    with open("/proc/self/stat", encoding="ascii") as handle:
        started_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="ascii") as handle:
        uptime = float(handle.read().split()[0])
    return uptime - started_ticks / os.sysconf("SC_CLK_TCK")


def main():
    module_params = json.load(sys.stdin)
    from ansible_collections.odoo_saas.kit.plugins.module_utils.engines.kube import Kube
    from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant_info import run_tenant_info

    imported = process_age()
    first_request = []
    send = Kube.request

    def request(self, *args, **kwargs):  # notes when the first request leaves, then sends it
        if not first_request:
            first_request.append(process_age())
        return send(self, *args, **kwargs)

    Kube.request = request
    started = time.monotonic()
    _result, failure = run_tenant_info(module_params)
    print(json.dumps({"imported_s": imported, "first_request_s": first_request[0] if first_request else None,
                      "run_s": time.monotonic() - started, "failure": failure}))


if __name__ == "__main__":
    main()
