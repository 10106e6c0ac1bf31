"""The tenants module's entries: merged with the shared options, all checked up front."""

from __future__ import annotations

from ansible_collections.odoo_saas.kit.plugins.module_utils.front.fleet import check_entries, run_fleet, tenant_params

from .plans_fixture import raw_plans

SHARED = {"environment": "local", "base_domain": "127.0.0.1.nip.io", "platform_namespace": "saas-dev",
          "plans": raw_plans(), "wait_timeout": 30}


def _platform():
    from .plans_fixture import platform
    return platform()


def test_an_entry_takes_the_shared_options_and_the_tenant_defaults():
    merged = tenant_params(dict(SHARED, tenants=[{}], parallel=4), {"name": "acme", "plan": "small", "image": None})
    assert merged["name"] == "acme" and merged["plan"] == "small"
    assert merged["state"] == "present" and merged["backup"] is True and merged["domains"] == []
    assert merged["wait_timeout"] == 30 and merged["base_domain"] == "127.0.0.1.nip.io"
    assert "tenants" not in merged and "parallel" not in merged


def test_every_bad_entry_is_named_with_its_index_and_option():
    problems = check_entries({**SHARED, "tenants": [
        {"name": "acme", "plan": "small"},
        {"name": "globex", "plan": "gold"},
        {"name": "ab", "plan": "small"},
        {"name": "acme", "plan": "medium"},
        "initech",
        {"name": "hooli", "plan": "small", "domains": ["not a host"]},
        {"name": "gone-co", "state": "absent"},
    ]}, _platform())
    fields = [problem.split(":", 1)[0] for problem in problems]
    assert fields == ["tenants[1].plan", "tenants[2].name", "tenants[3].name", "tenants[4]", "tenants[5].domains[0]"]
    assert "also tenants[0]" in problems[2]


def test_nothing_is_opened_when_an_entry_is_bad():
    # No kubeconfig, ledger or server is given: reaching a connection would fail differently.
    result, failure = run_fleet({**SHARED, "tenants": [{"name": "acme", "plan": "gold"}], "parallel": 2}, False)
    assert failure.startswith("tenants: 1 problem(s), nothing was changed: tenants[0].plan:")
    assert result["tenants"] == [] and result["changed"] is False


def test_parallel_out_of_range_is_refused_by_name():
    _result, failure = run_fleet({**SHARED, "tenants": [], "parallel": 0}, False)
    assert failure.startswith("parallel: must be between 1 and 32")


class _LostFleet:
    """A fleet whose thread connection cannot be opened (a ledger at its connection limit)."""

    def __init__(self):
        self.released = []

    def check_locks(self):
        pass

    def member(self):
        import psycopg
        raise psycopg.OperationalError("FATAL: sorry, too many clients already")

    def release(self, name, namespace):
        self.released.append((name, namespace))


def test_a_fleet_connection_that_fails_fails_that_tenant_and_still_releases_it():
    from ansible_collections.odoo_saas.kit.plugins.module_utils.front.fleet import _one

    fleet = _LostFleet()
    params = dict(SHARED, ledger={"host": "127.0.0.1", "port": 5432, "database": "ledger", "user": "saas",
                                  "password": "ledger-secret"})
    entry, diff = _one(False, {"name": "acme"}, fleet, True, params)
    assert entry["failed"] is True and entry["name"] == "acme" and diff == []
    assert "too many clients" in entry["msg"] and "ledger-secret" not in entry["msg"]
    assert fleet.released == [("acme", "tenant-acme")]
