"""Odoo's sizing against the pod it runs in, over generated plans: every plan that loads
renders memory limits whose sum per pod fits the container's memory limit (numbers read
from the rendered objects: odoo.conf, the cron and init arguments, the containers'
resources), and a plan that cannot fit is refused when it is loaded, naming the field."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests import tenant as manifests
from ansible_collections.odoo_saas.kit.plugins.module_utils.request import spec as specs
from ansible_collections.odoo_saas.kit.plugins.module_utils.errors import SpecError
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.quantity import exact as quantity
from ansible_collections.odoo_saas.kit.plugins.module_utils.manifests.odoo_config import (
    MASTER_ALLOWANCE, MIN_RESIDENT_SHARE, VMS_OVERHEAD,
)
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plan_fit import check_plan_fits, plan_problems
from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import load_plan

from .plans_fixture import raw_plans
from .test_manifests import database_for, find, odoo_conf, secrets_for

MIB = 2**20


def roomy_plan(workers, replicas, memory_mib, strategy):
    """A plan whose quota and connection limit are ample, so only its memory can be wrong."""
    pods = replicas + 3
    return {
        "db_strategy": strategy, "replicas": replicas, "workers": workers, "cpu": "1", "memory": f"{memory_mib}Mi",
        "storage": "5Gi", "db_connection_limit": 1000,
        "quota": {"cpu": str(pods * 2), "memory": f"{pods * memory_mib + 8192}Mi", "pods": pods, "storage": "100Gi"},
        "db_storage": "10Gi", "postgresql_settings": {"max_connections": "1100"},
    }


def processes_of(workers):
    return workers + 1 if workers else 1


def flag(args, name):
    return int(next(a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")))


def rendered_pods(raw, odoo_version="18.0"):
    """(pod, Odoo processes, limit_memory_soft, limit_memory_hard, container memory limit) of
    each Odoo pod, read from the objects a tenant on this plan gets."""
    platform = specs.load_platform({"environment": "test", "base_domain": "saas.example.com", "plans": {"p": raw}})
    spec = specs.build_spec({"name": "acme", "plan": "p", "odoo_version": odoo_version}, platform)
    objects = manifests.tenant_objects(spec, platform, database_for(spec), secrets_for("acme"))
    conf = odoo_conf(objects)
    web = find(objects, "Deployment", "odoo-web")["spec"]["template"]["spec"]["containers"][0]
    pods = [("web", processes_of(int(conf["workers"])), int(conf["limit_memory_soft"]), int(conf["limit_memory_hard"]),
             quantity(web["resources"]["limits"]["memory"]))]
    for kind, name in (("Deployment", "odoo-cron"), ("Job", "odoo-db-init")):
        container = find(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]
        args = container["args"]
        assert "--workers=0" in args
        pods.append((name, 1, flag(args, "limit-memory-soft"), flag(args, "limit-memory-hard"),
                     quantity(container["resources"]["limits"]["memory"])))
    return pods


plans = st.builds(roomy_plan, workers=st.integers(0, 16), replicas=st.integers(1, 3),
                  memory_mib=st.integers(256, 12288), strategy=st.sampled_from(["shared", "dedicated"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=plans)
def test_every_plan_that_loads_fits_its_pods_memory_and_the_others_are_refused(raw):
    try:
        check_plan_fits(load_plan("p", raw, "plans.p"), "plans.p")
    except SpecError as error:
        assert error.field == "plans.p.memory"
        share = (quantity(raw["memory"]) - MASTER_ALLOWANCE) // processes_of(raw["workers"])
        assert share < MIN_RESIDENT_SHARE, error.message
        return
    for pod, processes, soft, hard, limit in rendered_pods(raw):
        # Odoo's limits are virtual sizes; hard minus the virtual overhead is the resident
        # ceiling of one process. All of them at their ceiling, and the master, fit.
        resident = hard - VMS_OVERHEAD
        assert processes * resident + MASTER_ALLOWANCE <= limit, (pod, processes, resident, limit)
        assert resident >= MIN_RESIDENT_SHARE, pod
        assert VMS_OVERHEAD < soft < hard, pod


@settings(max_examples=100, deadline=None)
@given(workers=st.integers(0, 32), memory_mib=st.integers(64, 4096))
def test_a_plan_too_small_for_its_processes_is_refused_with_the_numbers(workers, memory_mib):
    processes = processes_of(workers)
    share_mib = (memory_mib * MIB - MASTER_ALLOWANCE) // processes // MIB
    if share_mib * MIB >= MIN_RESIDENT_SHARE:
        return
    with pytest.raises(SpecError) as refused:
        check_plan_fits(load_plan("tight", roomy_plan(workers, 1, memory_mib, "shared"), "odoo_saas_plans.tight"),
                        "odoo_saas_plans.tight")
    assert refused.value.field == "odoo_saas_plans.tight.memory"
    message = refused.value.message
    assert f"{processes} Odoo process(es)" in message
    assert f" {max(share_mib, 0)} MiB resident" in message
    assert f"at least {MIN_RESIDENT_SHARE // MIB} MiB" in message


def test_the_medium_web_pod_and_the_cron_pod_fit_their_container():
    """The two pods the issue names: before, cron's limit_memory_hard passed its 1Gi (small) and
    the medium web pod's 4 processes were floored past their 2Gi."""
    by_pod = {pod: rest for pod, *rest in rendered_pods(raw_plans()["medium"])}
    processes, soft, hard, limit = by_pod["web"]
    assert (processes, limit) == (4, 2 * 2**30)
    assert processes * (hard - VMS_OVERHEAD) + MASTER_ALLOWANCE <= limit
    processes, soft, hard, limit = dict((pod, rest) for pod, *rest in rendered_pods(raw_plans()["small"]))["odoo-cron"]
    assert hard - VMS_OVERHEAD + MASTER_ALLOWANCE <= limit == 2**30


@pytest.mark.parametrize("name", sorted(raw_plans()))
def test_the_shipped_plans_still_load(name):
    check_plan_fits(load_plan(name, raw_plans()[name], f"odoo_saas_plans.{name}"), f"odoo_saas_plans.{name}")


@pytest.mark.parametrize("change, field, words", [
    (lambda p: p["medium"].update(replicas=4, db_connection_limit=100, quota={**p["medium"]["quota"], "cpu": "8", "memory": "16Gi", "pods": 5}),
     "plans.medium.quota.pods", "pods needs 6 but the quota allows 5"),
    (lambda p: p["medium"].update(replicas=4, db_connection_limit=100, quota={**p["medium"]["quota"], "cpu": "8"}),
     "plans.medium.quota.memory", "requests.memory needs 12Gi but the quota allows 8Gi"),
    (lambda p: p["large"].update(db_connection_limit=20),
     "plans.large.db_connection_limit", "db_connection_limit 20 is too small"),
    (lambda p: p["large"].update(postgresql_settings={"max_connections": "100"}),
     "plans.large.postgresql_settings.max_connections", "max_connections 100"),
    (lambda p: p["small"].update(memory="256Mi"), "plans.small.memory", "at least 384 MiB"),
])
def test_a_plan_that_overflows_its_quota_or_connections_is_refused_when_requested(change, field, words):
    raw = raw_plans()
    change(raw)
    platform = specs.load_platform({"environment": "test", "base_domain": "saas.example.com", "plans": raw})
    plan = field.split(".")[1]
    with pytest.raises(SpecError) as refused:
        specs.build_spec({"name": "acme", "plan": plan}, platform)
    assert refused.value.field == field
    assert words in refused.value.message
    assert [problem for problem in plan_problems(platform.plans) if problem.startswith(f"{field}:")]
    # The other plans' tenants go on, and a tenant of the impossible plan can still be removed.
    other = next(name for name in raw if name != plan)
    assert specs.build_spec({"name": "acme", "plan": other}, platform).plan.name == other
    assert specs.build_spec({"name": "acme", "plan": plan, "state": "absent"}, platform).plan.name == plan


def test_a_request_for_the_other_database_strategy_must_fit_too():
    platform = specs.load_platform({"environment": "test", "base_domain": "saas.example.com", "plans": raw_plans()})
    with pytest.raises(SpecError) as refused:
        specs.build_spec({"name": "acme", "plan": "small", "db_strategy": "dedicated"}, platform)
    assert refused.value.field == "db_strategy"
    assert "plans.small.quota.cpu" in refused.value.message and "requests.cpu needs" in refused.value.message
    # Removing such a tenant (it could never have run) is still possible.
    assert specs.build_spec({"name": "acme", "plan": "small", "db_strategy": "dedicated", "state": "absent"},
                            platform).db_strategy == "dedicated"
    assert specs.build_spec({"name": "acme", "plan": "large", "db_strategy": "shared"}, platform).db_strategy == "shared"
