"""What a newcomer can do with the demo tenant on this machine (`make demo` runs it last).

No Odoo container runs on the local platform (kwok starts none), so a tenant's URL gets no
Odoo page here. What is real is the route: the tenant's Ingress, Traefik's router and the
tenant's pods at loopback addresses. This sends one real HTTPS request through Traefik to a
stand-in (not Odoo, see standin.py) bound to the web pods' addresses for the duration of the
request, prints who answered, and prints the commands to look further.

    python -m tests.cluster.demo_route [TENANT]
"""

from __future__ import annotations

import sys
import time

from kubernetes import client

from . import bootstrap, build, control_plane, settings, standin, through_traefik
from .progress import step


def _pods(api, namespace, service, timeout=30):
    """The web pods behind the tenant's Service, once their addresses are published."""
    deadline = time.monotonic() + timeout
    while True:
        pods = through_traefik.serving_pods(api, namespace, service)
        if pods or time.monotonic() > deadline:
            return pods
        time.sleep(1)


def main(tenant: str = "demo") -> int:
    kubeconfig = control_plane.layout().kubeconfig
    namespace = f"tenant-{tenant}"
    with bootstrap.api_client(kubeconfig) as api:
        ingress = client.NetworkingV1Api(api).read_namespaced_ingress("odoo", namespace)
        hosts = [rule.host for rule in ingress.spec.rules]
        service = ingress.spec.rules[0].http.paths[-1].backend.service.name  # the `/` path's
        pods = _pods(api, namespace, service)
    port = settings.PORTS.traefik_websecure
    step("demo", f"tenant {tenant}: hosts {', '.join(hosts)}; Traefik's websecure entry point is 127.0.0.1:{port}")
    if not pods:
        step("demo", f"no ready web pod in {namespace} (suspended?): no request sent")
        return 1
    for pod in pods:
        step("demo", f"  web pod {pod.name} at {pod.ip}, ports {', '.join(map(str, pod.ports))}")
    with standin.serving(pods):
        answer = through_traefik.https(hosts[0], "/web/login")
    reply = answer.standin()
    if reply is None:
        step("demo", f"HTTPS https://{hosts[0]}:{port}/web/login through Traefik: {answer.status}, not from a stand-in")
        return 1
    step("demo", f"HTTPS https://{hosts[0]}:{port}/web/login through Traefik: {answer.status}, answered by the "
                 f"{standin.IDENTITY} on pod {reply.get('pod')} port {reply.get('port')}; headers it got: "
                 f"{reply.get('forwarded')}")
    step("demo", "no Odoo container runs on this machine (kwok starts none): without the stand-in that URL gets "
                 "Traefik's 502/503, never an Odoo page. A real cluster (inventories/dev) runs the same objects.")
    step("demo", f"look further: export KUBECONFIG={kubeconfig} PATH={build.binary('kubectl').parent}:$PATH; "
                 f"kubectl -n {namespace} get all,ingress,networkpolicy; "
                 f"curl -k --resolve {hosts[0]}:{port}:127.0.0.1 https://{hosts[0]}:{port}/ (502/503: no Odoo here)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
