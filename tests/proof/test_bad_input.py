"""Bad input against the real platform: generated invalid tenant requests, platform settings,
plans and connection settings through run_tenant and through the real module with
ansible-playbook, and broken inventories through playbooks/validate.yml and
playbooks/tenant_provision.yml. Every one fails with a message naming the option or variable,
without a traceback, and nothing is created: no namespace, no role or database on the shared
servers, no ledger row, no backup."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.request import naming
from ansible_collections.odoo_saas.kit.plugins.module_utils.front.tenant import run_tenant
from tests.integration import tenants
from tests.unit import bad_input_strategies as bad
from tests.unit.plans_fixture import raw_plans

from .ansible_runs import Template, ansible_playbook, copy_project, dump_playbook, scratch_ledger_vars, write_extra_vars

SUITE = "bad input"
BASE_NAME = tenants.unique("bad")
SLOW = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
# Every tenant name a case used: whatever a case could have created is named after one of them.
NAMES_TRIED: set[str] = {BASE_NAME}


@pytest.fixture(scope="module")
def scratch(ledger_db, tmp_path_factory):
    """A scratch ledger (its tenants removed after the module) and a backup directory."""
    return ledger_db, tmp_path_factory.mktemp("bad-input-backups")


def platform_secrets():
    return [server.password() for server in (tenants.LEDGER, tenants.SHARED_1, tenants.SHARED_2)]


def remember_name(params):
    if isinstance(params, dict) and isinstance(params.get("name"), str):
        NAMES_TRIED.add(params["name"])


def created_objects(core, ledger_db, backup_dir):
    """What exists that one of the tried names could have made, anywhere."""
    found = []
    with tenants.connect(tenants.LEDGER, ledger_db) as conn:
        for table in ("tenants", "tenant_hosts", "events"):
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
            found += [f"ledger {table} row"] * count
    namespaces = {item.metadata.name for item in core.list_namespace().items}
    found += [name for name in namespaces if name in {naming.namespace_for(n) for n in NAMES_TRIED}]
    found += [name for name in namespaces if BASE_NAME in name]
    databases = {naming.database_for(n) for n in NAMES_TRIED}
    for server in (tenants.SHARED_1, tenants.SHARED_2):
        with tenants.connect(server) as conn:
            roles = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
            datnames = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        found += [f"role {r} on {server.name}" for r in roles & databases]
        found += [f"database {d} on {server.name}" for d in datnames & databases]
    found += [f"backup {path.name}" for path in backup_dir.iterdir()]
    return found


def assert_nothing_created(core, scratch, figures):
    created = created_objects(core, *scratch)
    figures.set(SUITE, "objects created (namespaces, roles, databases, ledger rows, backups)", len(created))
    assert created == []


# --- run_tenant, in this process --------------------------------------------------------------

@settings(SLOW, max_examples=300)
@given(chosen=bad.corruptions(max_size=3), state=st.sampled_from(["present", "suspended"]), check_mode=st.booleans())
def test_run_tenant_refuses_generated_bad_input(scratch, figures, chosen, state, check_mode):
    params = bad.corrupted(tenants.params(*scratch, name=BASE_NAME, plan="small", state=state), chosen)
    remember_name(params)
    figures.add(SUITE, "run_tenant: invalid requests generated")
    figures.add(SUITE, "run_tenant: tracebacks", 0)
    try:
        result, failure = run_tenant(params, check_mode)
    except Exception:
        figures.add(SUITE, "run_tenant: tracebacks")
        raise
    assert failure, f"accepted: {chosen}"
    bad.assert_clear(failure, [c.field for c in chosen], platform_secrets())
    assert "api_requests" not in result and result["actions"] == []
    figures.add(SUITE, "run_tenant: refused naming the option")


@settings(SLOW, max_examples=100)
@given(chosen=st.one_of(bad.bad_name(), bad.bad_platform_setting(), bad.bad_plans(), bad.bad_connection()))
def test_run_tenant_refuses_bad_input_for_removal(scratch, figures, chosen):
    params = bad.corrupted(tenants.params(*scratch, name=BASE_NAME, state="absent", confirm=BASE_NAME), [chosen])
    remember_name(params)
    figures.add(SUITE, "run_tenant: invalid requests generated")
    result, failure = run_tenant(params, False)
    assert failure, f"accepted: {chosen}"
    bad.assert_clear(failure, [chosen.field], platform_secrets())
    assert "api_requests" not in result
    figures.add(SUITE, "run_tenant: refused naming the option")


def test_nothing_was_created_by_run_tenant(core, scratch, figures):
    assert_nothing_created(core, scratch, figures)


# --- the real module, through ansible-playbook ---------------------------------------------

def drawn_once(build):
    """The cases build(data) draws in one Hypothesis example: a generated sample for the
    ansible-playbook runs, which cost seconds each."""
    found = []

    @settings(max_examples=1, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data):
        found[:] = list(build(data))
    draw()
    return found


UNKNOWN_OPTIONS = [("nmae", "acme"), ("plan_name", "small"), ("DROP ROLE postgres", "x"), ("../", "x")]


def module_args(ledger_db, chosen):
    """The tenant task's arguments for one corruption: name and plan, plus every platform
    option the corruption changed (the others come from module_defaults)."""
    base = {"name": BASE_NAME, "plan": "small", "state": "present", "db_strategy": "auto", "domains": [],
            "odoo_version": "18.0", "wait_timeout": 120, "base_domain": "127.0.0.1.nip.io", "platform_namespace": "saas-dev",
            "environment": "local", "ingress_class": "traefik", "ingress_namespace": "traefik", "cert_issuer": "selfsigned",
            "storage_class": "microk8s-hostpath", "shared_server_capacity": 50, "backup_dir": "/var/backups/odoo-saas",
            "plans": raw_plans(),
            "ledger": {"host": "127.0.0.1", "port": 15432, "database": ledger_db, "user": "postgres",
                       "password": Template("{{ odoo_saas_ledger.password }}")},
            "shared_servers": [{"name": f"postgres-shared-{i + 1}", "host": "127.0.0.1", "port": 15433 + i,
                                "admin_user": "postgres",
                                "admin_password": Template(f"{{{{ odoo_saas_shared_servers[{i}].admin_password }}}}")}
                               for i in range(2)]}
    broken = bad.corrupted(base, [chosen])
    args = {"name": broken["name"], "plan": broken["plan"]}
    args.update({key: value for key, value in broken.items() if key not in base or value != base[key]})
    return args


def test_the_real_module_refuses_a_sample_through_ansible_playbook(core, scratch, figures, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bad-input-playbook")

    def two_of_every_kind(data):
        for kind in bad.EVERY_KIND:
            drawn = (data.draw(kind()) for _attempt in range(200))
            yield from itertools.islice(filter(bad.survives_ansible_conversion, drawn), 2)
    cases = drawn_once(two_of_every_kind)

    tasks = []
    expected = []
    for index, chosen in enumerate(cases):
        args = module_args(scratch[0], chosen)
        remember_name(args)
        tasks.append({"name": f"case {index}", "odoo_saas.kit.tenant": args, "ignore_errors": True})
        expected.append(chosen.field.split(".")[0].split("[")[0])
    for option, value in UNKNOWN_OPTIONS:
        tasks.append({"name": f"case {len(tasks)}", "odoo_saas.kit.tenant": {"name": BASE_NAME, "plan": "small", option: value},
                      "ignore_errors": True})
        expected.append(option)
    play = [{"name": "Bad input through the tenant module", "hosts": "saas_controller", "gather_facts": False,
             "module_defaults": {"group/odoo_saas.kit.platform": Template("{{ odoo_saas_module_defaults }}")},
             "tasks": tasks}]
    playbook = workdir / "bad_input.yml"
    playbook.write_text(dump_playbook(play))
    extra = write_extra_vars(workdir / "scratch.yml", scratch_ledger_vars(*scratch))
    run = ansible_playbook(playbook, "-e", extra, json_output=True)

    figures.add(SUITE, "ansible-playbook: module cases", len(tasks))
    assert "Traceback" not in run.output and "MODULE FAILURE" not in run.output, run.output[-3000:]
    results = [result for name, result in run.results() if name.startswith("case ")]
    assert len(results) == len(tasks), run.output[-3000:]
    for task, option, result in zip(tasks, expected, results):
        assert result.get("failed"), f"accepted: {task}"
        # ansible-core 2.19 puts "(traceback unavailable)" in every failed result that has none.
        assert result.get("exception", "(traceback unavailable)") == "(traceback unavailable)", result
        assert "module_stderr" not in result, result
        assert option in result["msg"], f"{result['msg']!r} does not name {option!r}"
        assert "api_requests" not in result
        for secret in platform_secrets():
            assert secret not in run.output
        figures.add(SUITE, "ansible-playbook: refused naming the option")
    figures.set(SUITE, "ansible-playbook: tracebacks", run.output.count("Traceback"))
    assert_nothing_created(core, scratch, figures)


# --- broken inventories ---------------------------------------------------------------------

def _strings(values):
    return values.filter(lambda v: isinstance(v, str))


# variable -> (broken values, the playbook that must refuse it, what its message must name)
INVENTORY_BREAKS = {
    "odoo_saas_environment": (st.sampled_from(["production", "Prod", "x'; DROP ROLE postgres; --", "local\nprod"]),
                              "validate.yml", "odoo_saas_environment"),
    "odoo_saas_base_domain": (_strings(bad.BAD_DNS_NAMES), "validate.yml", "odoo_saas_base_domain"),
    "odoo_saas_platform_namespace": (_strings(bad.BAD_K8S_NAMES), "validate.yml", "odoo_saas_platform_namespace"),
    "odoo_saas_shared_server_count": (st.sampled_from([0, -1, "two", "1.5", "1; reboot"]), "validate.yml",
                                      "odoo_saas_shared_server_count"),
    "odoo_saas_shared_server_capacity": (st.sampled_from([0, -5, "lots", "50x", [50]]), "validate.yml",
                                         "odoo_saas_shared_server_capacity"),
    "odoo_saas_cert_issuer": (_strings(bad.BAD_K8S_NAMES), "validate.yml", "odoo_saas_cert_issuer"),
    "odoo_saas_plans": (st.sampled_from([{}, "small", ["small"]]), "validate.yml", "odoo_saas_plans"),
    # The tenant playbooks hand these to the module, whose core refuses them by option name.
    "odoo_saas_ingress_namespace": (_strings(bad.BAD_K8S_NAMES), "tenant_provision.yml", "ingress_namespace"),
    "odoo_saas_storage_class": (_strings(bad.BAD_K8S_NAMES), "tenant_provision.yml", "storage_class"),
    "odoo_saas_backup_dir": (st.sampled_from(["backups", "../backups", "/var/backups\nx"]), "tenant_provision.yml",
                             "backup_dir"),
}


def broken_plans():
    """The base plans with one field broken, as an inventory would override odoo_saas_plans."""
    return bad.bad_plans().filter(lambda c: c.field != "plans").map(
        lambda c: (bad.corrupted({"plans": raw_plans()}, [c])["plans"], c.field))


def test_broken_inventories_fail_fast_naming_the_variable(core, scratch, figures, tmp_path_factory):
    def every_variable_and_two_plans(data):
        for variable, (values, playbook, named) in sorted(INVENTORY_BREAKS.items()):
            yield variable, data.draw(values), playbook, named
        for _case in range(2):
            plans, field = data.draw(broken_plans())
            yield "odoo_saas_plans", plans, "tenant_provision.yml", field
    cases = drawn_once(every_variable_and_two_plans)

    for variable, value, playbook, named in cases:
        project = tmp_path_factory.mktemp("broken-inventory")
        inventory = copy_project(project)
        # Sorted after the inventory's own files: the scratch ledger, then the broken variable.
        (inventory / "group_vars" / "all" / "y_scratch.yml").write_text(dump_playbook(scratch_ledger_vars(*scratch)))
        (inventory / "group_vars" / "all" / "zz_broken.yml").write_text(dump_playbook({variable: value}))
        name = tenants.unique("bad")
        NAMES_TRIED.add(name)
        run = ansible_playbook(f"playbooks/{playbook}", "-e", f"tenant_name={name}", "-e", "tenant_plan=small",
                               "-e", '{"validate_scopes": ["common"]}', inventory=inventory, json_output=True)
        figures.add(SUITE, "inventories: broken variables tried")
        assert run.returncode != 0, f"{variable}={value!r} passed {playbook}"
        assert "Traceback" not in run.output, run.output[-3000:]
        failed = [result for _task, result in run.results() if result.get("failed")]
        assert len(failed) == 1, run.output[-3000:]
        messages = [failed[0].get("msg", "")] + [item.get("msg", "") for item in failed[0].get("results", [])]
        assert any(named in message for message in messages), f"{variable}={value!r}: {messages!r} do not name {named!r}"
        assert "api_requests" not in failed[0]
        figures.add(SUITE, "inventories: refused naming the variable")
    assert_nothing_created(core, scratch, figures)


@pytest.mark.parametrize(("env_file", "named"), [
    ("ODOO_SAAS_BASE_DOMAIN=not a domain\n", "odoo_saas_base_domain"),
    ("ODOO_SAAS_SHARED_SERVER_CAPACITY=lots\n", "odoo_saas_shared_server_capacity"),
    ("ODOO_SAAS_BASE_DOMAIN\n", ".env:1: expected KEY=VALUE"),
])
def test_a_broken_dotenv_fails_fast(core, scratch, figures, tmp_path_factory, env_file, named):
    project = tmp_path_factory.mktemp("broken-dotenv")
    inventory = copy_project(project)
    (project / ".env").write_text(env_file)
    run = ansible_playbook("playbooks/validate.yml", "-e", '{"validate_scopes": ["common"]}', inventory=inventory)
    figures.add(SUITE, "inventories: broken variables tried")
    assert run.returncode != 0
    assert named in run.output, run.output[-3000:]
    assert "Traceback" not in run.output
    figures.add(SUITE, "inventories: refused naming the variable")
    assert_nothing_created(core, scratch, figures)
