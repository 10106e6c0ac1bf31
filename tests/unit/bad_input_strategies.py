"""Hypothesis strategies that corrupt a valid set of tenant module parameters.

Each corruption is a `Corruption(field, apply)`: `apply(params)` breaks one option (a deep
copy is taken by the caller), and `field` is the option path the refusal must name, or a
prefix of it ("plans.small" for any field of the small plan, "shared_servers[1]" for any key
of the second server). Used by tests/unit/test_bad_input.py (the core, no services) and by
tests/proof/test_bad_input.py (the same inputs through run_tenant and ansible-playbook
against the local platform).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Callable

from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.request.plans import PLAN_KEYS

STATES = ("present", "suspended", "absent")
PLANS = ("small", "medium", "large")

# What an operator or a job-template survey could plausibly type by mistake, or an attacker on
# purpose: SQL and shell injection, path traversal, template and log injection, control and
# look-alike characters.
INJECTIONS = (
    "x'; DROP ROLE postgres; --", '"; DROP DATABASE saas_ledger; --', "acme' OR '1'='1", "../", "../../etc/passwd",
    "/etc/shadow", "a\nb", "a\r\nInjected: header", "$(reboot)", "`id`", "{{ lookup('env', 'HOME') }}",
    "{% raw %}", "\u0000", "acme\u0000", "<script>alert(1)</script>", "acme;rm -rf /", "ácme", "ａｃｍｅ",
    "acme\u200b", "\U0001f642", "acme\t", " acme", "acme ", "%00", "${jndi:ldap://x}", "\\\\server\\share",
)
# Characters no DNS label, PostgreSQL-safe name, Kubernetes name or image reference may hold.
POISON = ("'", '"', ";", " ", "\n", "\t", "/", "\\", "$", "`", "*", "%", "(", "@", "é", "ß", "\u200b", "\u0000",
          "\U0001f642", "!", "#", "&", "|", "<", "=", "?", ",", "+", "~", "^")
NOT_TEXT = st.one_of(
    st.integers(-10, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
    st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.sampled_from("abc"), st.integers(0, 9), max_size=2),
)
NOT_MAPPING = st.one_of(st.integers(), st.booleans(), st.text(max_size=20), st.lists(st.integers(0, 9), max_size=3))
HUGE = st.integers(300, 20_000).map(lambda n: "a" * n)
VALID_LABEL = st.from_regex(r"^[a-z][a-z0-9]{2,12}$", fullmatch=True)


DELETED = object()
# A refusal says what is allowed: one of these phrases follows the option's name.
EXPLAINS = re.compile(r"must|is required|is not|one of|at most|such as|needs|missing|allowed|reserved|unknown")
MAX_MESSAGE = 600


@dataclass(frozen=True)
class Corruption:
    field: str
    apply: Callable[[dict], None]
    what: str = ""
    value: object = DELETED

    def __repr__(self):
        return f"Corruption({self.field!r}, {self.what})"


def poisoned(valid, poison=POISON):
    """A valid value with a forbidden character inserted somewhere."""
    return st.tuples(valid, st.sampled_from(poison), st.integers(0, 100)).map(
        lambda parts: parts[0][:parts[2] % (len(parts[0]) + 1)] + parts[1] + parts[0][parts[2] % (len(parts[0]) + 1):])


def _set(path, value):
    """An apply() that sets params[path[0]][path[1]]... = value."""
    def apply(params):
        target = params
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return apply


def _delete(path):
    def apply(params):
        target = params
        for key in path[:-1]:
            target = target[key]
        target.pop(path[-1], None)
    return apply


def _replace(path, field, values, what=""):
    return values.map(lambda value: Corruption(field, _set(path, value), what or f"{field}={_short(value)}", value))


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text)} chars)"


# --- the tenant request -------------------------------------------------------------------

BAD_NAMES = st.one_of(
    NOT_TEXT.filter(lambda v: v is not None), st.just(""), st.sampled_from(INJECTIONS), HUGE,
    poisoned(st.from_regex(r"^[a-z][a-z0-9]{2,20}$", fullmatch=True), POISON + ("_", ".", "A", "Z", "--")),
    st.from_regex(r"^[a-z]{1,2}$", fullmatch=True),  # too short
    st.from_regex(r"^[a-z]{41,80}$", fullmatch=True),  # too long
    st.from_regex(r"^[0-9-][a-z0-9]{2,10}$", fullmatch=True),  # not starting with a letter
    st.from_regex(r"^[a-z][a-z0-9]{2,10}-$", fullmatch=True),  # trailing hyphen
    st.sampled_from(["default", "kube-system", "saas-system", "saas-dev", "postgres", "template1", "admin",
                     "kube-anything", "saas-billing", "postgres-shared-9", "pg-admin", "system-x", "traefik"]),
)


def bad_name():
    return _replace(["name"], "name", BAD_NAMES)


def bad_state():
    return _replace(["state"], "state", st.one_of(
        st.text(max_size=12).filter(lambda s: s not in STATES and s != ""), st.sampled_from(INJECTIONS),
        st.sampled_from(["Present", "deleted", "active", "ABSENT", "present "]),
        st.lists(st.sampled_from(STATES), min_size=1, max_size=2), st.integers(1, 9), st.just(True)))


def bad_plan():
    return _replace(["plan"], "plan", st.one_of(
        st.text(min_size=1, max_size=20).filter(lambda s: s not in PLANS), st.sampled_from(INJECTIONS), HUGE,
        st.sampled_from(["Small", "SMALL", "small ", "gold", "enterprise"]),
        st.lists(st.sampled_from(PLANS), min_size=1, max_size=2), st.dictionaries(st.sampled_from(PLANS), st.integers(), min_size=1),
        st.integers(1, 9), st.just(True)))


def bad_db_strategy():
    return _replace(["db_strategy"], "db_strategy", st.one_of(
        st.text(min_size=1, max_size=20).filter(lambda s: s not in ("auto", "shared", "dedicated")),
        st.sampled_from(INJECTIONS), st.sampled_from(["Shared", "sharded", "cloud", "auto "]),
        st.lists(st.just("shared"), min_size=1, max_size=2), st.integers(1, 9), st.just(True)))


def bad_odoo_version():
    return _replace(["odoo_version"], "odoo_version", st.one_of(
        st.text(min_size=1, max_size=12).filter(lambda s: s not in ("16.0", "17.0", "18.0", "19.0")),
        st.sampled_from(INJECTIONS), st.sampled_from(["12.0", "18", "18.0.1", "latest", "v18.0", "18.0 ", "20.0"]),
        st.floats(min_value=1, max_value=99).filter(lambda f: str(f) not in ("16.0", "17.0", "18.0", "19.0")),
        st.lists(st.just("18.0"), min_size=2, max_size=2), st.dictionaries(st.just("v"), st.just("18.0"), min_size=1)))


def bad_image():
    return _replace(["image"], "image", st.one_of(
        poisoned(st.sampled_from(["odoo:18.0", "localhost:32000/odoo:18.0-custom", "registry.example.com/team/odoo:19.0"]),
                 tuple(p for p in POISON if p not in ("@", "/"))),
        st.sampled_from(INJECTIONS).filter(lambda s: s not in ("ácme", "ａｃｍｅ") and not s.startswith("/")),
        st.sampled_from(["odoo/../etc:1", "../odoo:18.0", "odoo//x:1", "odoo:", ":18.0", "-odoo:18.0", "odoo:18.0:19.0",
                         "odoo@sha256:xyz", "ODOO:18.0", "odoo:.bad", "odoo..x:1"]),
        HUGE.map(lambda s: "odoo:" + s),
        st.lists(st.just("odoo:18.0"), min_size=1, max_size=2), st.integers(1, 9), st.just(True)))


BAD_HOSTS = st.one_of(
    poisoned(st.sampled_from(["shop.acme.example", "erp.example.com", "a.b.c.example.org"]),
             tuple(p for p in POISON if p not in ("/",)) + ("_", "..", ":8080", "/path")),
    st.sampled_from(["*.example.com", "example", "localhost", "-shop.example.com", "shop-.example.com", "shop.example.com.",
                     ".example.com", "bücher.example", "shop..example.com", "127.0.0.1:80", "http://shop.example.com",
                     "a" * 64 + ".example.com", ("abcdefgh." * 30) + "com", ""]),
    st.sampled_from(INJECTIONS),
    NOT_TEXT.filter(lambda v: not isinstance(v, str)),
)


def bad_domains():
    one_bad_item = st.tuples(st.lists(st.sampled_from(["a.example.com", "b.example.org"]), max_size=3), BAD_HOSTS).map(
        lambda parts: Corruption(f"domains[{len(parts[0])}]", _set(["domains"], parts[0] + [parts[1]]),
                                 f"domains[{len(parts[0])}]={_short(parts[1])}", parts[1]))
    not_a_list = _replace(["domains"], "domains", st.one_of(
        st.text(min_size=1, max_size=40), st.integers(), st.booleans(),
        st.dictionaries(st.sampled_from(["a.example.com"]), st.integers(), min_size=1)))
    too_many = st.integers(21, 200).map(
        lambda n: Corruption("domains", _set(["domains"], [f"h{i}.example.com" for i in range(n)]), f"{n} domains",
                             [f"h{i}.example.com" for i in range(n)]))
    return st.one_of(one_bad_item, not_a_list, too_many)


def bad_wait_timeout():
    return _replace(["wait_timeout"], "wait_timeout", st.one_of(
        st.integers(max_value=0), st.integers(min_value=86401), st.text(max_size=10), st.booleans(),
        st.floats(allow_nan=False).filter(lambda f: f != int(f) if abs(f) < 1e15 else True), st.lists(st.integers(), max_size=2)))


# --- the platform settings (module_defaults from the inventory) ------------------------------

BAD_DNS_NAMES = st.one_of(
    poisoned(st.sampled_from(["127.0.0.1.nip.io", "saas.example.com", "tenants.example.org"]),
             tuple(p for p in POISON if p not in ("/",)) + ("_", "..", "A", ":443")),
    st.sampled_from(["example", "", "-saas.example.com", "saas.example.com.", "*.example.com", "a" * 64 + ".com",
                     ("abcdefgh." * 30) + "com"]),
    st.sampled_from(INJECTIONS), NOT_TEXT.filter(lambda v: not isinstance(v, str) and v is not None),
)
BAD_K8S_NAMES = st.one_of(
    poisoned(st.sampled_from(["traefik", "saas-system", "microk8s-hostpath", "selfsigned"]),
             POISON + ("_", "A", "..")),
    st.sampled_from(["-traefik", "traefik-", "Traefik", "a" * 254]), st.sampled_from(INJECTIONS), HUGE,
    # Empty values (None, "", 0, [], False) stand for the option's default.
    NOT_TEXT.filter(lambda v: not isinstance(v, str) and bool(v)),
)


def bad_platform_setting():
    label_fields = ("platform_namespace", "ingress_namespace", "environment")
    subdomain_fields = ("ingress_class", "cert_issuer", "storage_class")
    return st.one_of(
        _replace(["base_domain"], "base_domain", BAD_DNS_NAMES),
        st.sampled_from(label_fields + subdomain_fields).flatmap(lambda f: _replace([f], f, BAD_K8S_NAMES)),
        st.sampled_from(label_fields).flatmap(lambda f: _replace([f], f, st.from_regex(r"^[a-z]{64,80}$", fullmatch=True))),
        _replace(["shared_server_capacity"], "shared_server_capacity", st.one_of(
            st.integers(max_value=0), st.integers(min_value=1001), st.text(max_size=6), st.booleans(),
            st.floats(allow_nan=False), st.lists(st.integers(), max_size=2))),
        _replace(["backup_dir"], "backup_dir", st.one_of(
            st.sampled_from(["backups", "../backups", "./x", "~user/x", "a/../../b", "\u0000", "/var/backups\u0000x",
                             "/var/backups\nx"]),
            st.integers(min_value=1), st.just(True), st.lists(st.just("/tmp"), min_size=1, max_size=2))),
    )


# --- the plans (odoo_saas_plans) ------------------------------------------------------------

BAD_QUANTITIES = st.one_of(
    st.sampled_from(["lots", "-1", "1.5.5", "1 Gi", "1gb", "Gi", "", "0x10", "1,5", "∞", "1e", "NaN", "1GB", "2 cores",
                     "500mi", "1..0", ".5Gi"]),
    poisoned(st.sampled_from(["500m", "2", "4Gi", "10Gi"]), POISON + ("x", "GB")),
    st.sampled_from(INJECTIONS), st.integers(max_value=-1), st.booleans(),
    st.lists(st.just("1"), min_size=1, max_size=2), st.dictionaries(st.just("cpu"), st.just("1"), min_size=1),
)


def _bad_int(minimum, maximum):
    return st.one_of(
        st.integers(max_value=minimum - 1), st.integers(min_value=maximum + 1),
        st.text(max_size=8).filter(lambda s: not re.fullmatch(r"[0-9]+", s) or not minimum <= int(s) <= maximum),
        st.booleans(), st.floats(allow_nan=False).filter(lambda f: not f.is_integer() or not minimum <= f <= maximum),
        st.lists(st.integers(), max_size=2), st.sampled_from(["1_0", "+3", " 3", "٣", "3.0", "0x3", "1e1"]),
    )


PLAN_INTEGERS = {"replicas": (1, 20), "workers": (0, 64), "db_connection_limit": (1, 1000)}
PLAN_QUANTITIES = ("cpu", "memory", "storage", "db_storage")
BACKUP_INTEGERS = {"hour": (0, 23), "keep_daily": (1, 366), "keep_weekly": (0, 520), "keep_monthly": (0, 240)}
KNOWN_PLAN_KEYS = set(PLAN_KEYS)


def bad_plans():
    plan = st.sampled_from(PLANS)
    whole = _replace(["plans"], "plans", st.one_of(NOT_MAPPING, st.just({}), st.none()))

    def plan_field(name, key, values):
        return _replace(["plans", name, key], f"plans.{name}", values, f"plans.{name}.{key}")

    cases = [
        whole,
        plan.flatmap(lambda name: _replace(["plans", name], f"plans.{name}", st.one_of(NOT_MAPPING, st.none()))),
        plan.flatmap(lambda name: plan_field(name, "db_strategy", st.one_of(
            st.text(max_size=10).filter(lambda s: s not in ("shared", "dedicated")), st.sampled_from(INJECTIONS), NOT_TEXT))),
        plan.flatmap(lambda name: st.sampled_from(PLAN_QUANTITIES).flatmap(
            lambda key: plan_field(name, key, BAD_QUANTITIES))),
        plan.flatmap(lambda name: st.sampled_from(sorted(PLAN_INTEGERS)).flatmap(
            lambda key: plan_field(name, key, _bad_int(*PLAN_INTEGERS[key])))),
        plan.flatmap(lambda name: st.sampled_from(["cpu", "memory", "storage"]).flatmap(
            lambda key: _replace(["plans", name, "quota", key], f"plans.{name}.quota", BAD_QUANTITIES,
                                 f"plans.{name}.quota.{key}"))),
        plan.flatmap(lambda name: _replace(["plans", name, "quota", "pods"], f"plans.{name}.quota", _bad_int(1, 1000),
                                           f"plans.{name}.quota.pods")),
        plan.flatmap(lambda name: st.sampled_from(["cpu", "memory", "storage", "pods"]).map(
            lambda key: Corruption(f"plans.{name}.quota", _delete(["plans", name, "quota", key]), f"no quota.{key}"))),
        plan.flatmap(lambda name: st.sampled_from(["cpu", "memory", "storage", "db_strategy", "quota"]).map(
            lambda key: Corruption(f"plans.{name}", _delete(["plans", name, key]), f"no plans.{name}.{key}"))),
        plan.flatmap(lambda name: plan_field(name, "quota", st.one_of(NOT_MAPPING, st.none()))),
        plan.flatmap(lambda name: plan_field(name, "db_resources", st.one_of(
            NOT_MAPPING.filter(lambda v: v not in ("", 0, False, [])),
            st.fixed_dictionaries({"cpu": BAD_QUANTITIES}), st.fixed_dictionaries({"memory": BAD_QUANTITIES})))),
        plan.flatmap(lambda name: plan_field(name, "postgresql_settings", st.one_of(
            NOT_MAPPING.filter(lambda v: v not in ("", 0, False, [])),
            st.dictionaries(poisoned(st.sampled_from(["shared_buffers", "work_mem"]), POISON + ("A", "-")),
                            st.just("1MB"), min_size=1, max_size=1),
            st.dictionaries(st.sampled_from(["shared_buffers", "work_mem"]),
                            st.one_of(st.sampled_from(INJECTIONS), HUGE, poisoned(st.just("64MB"))), min_size=1, max_size=1)))),
        plan.flatmap(lambda name: plan_field(name, "backups", NOT_MAPPING)),
        plan.flatmap(lambda name: st.sampled_from(sorted(BACKUP_INTEGERS)).flatmap(
            lambda key: _replace(["plans", name, "backups"], f"plans.{name}.backups",
                                 _bad_int(*BACKUP_INTEGERS[key]).map(lambda value: {key: value})))),
        # A typo in a plan key must not be silently ignored (the plan would get a default instead).
        plan.flatmap(lambda name: st.one_of(
            st.sampled_from(["replica", "cpus", "Memory", "worker", "db-strategy", "storage_size", "quotas"]),
            st.text(min_size=1, max_size=15).filter(lambda k: k not in KNOWN_PLAN_KEYS)).map(
            lambda key: Corruption(f"plans.{name}", _set(["plans", name, key], 1), f"unknown key plans.{name}.{key!r}"))),
        plan.flatmap(lambda name: st.sampled_from(["cpus", "pod", "Storage", "memory_limit"]).map(
            lambda key: Corruption(f"plans.{name}.quota", _set(["plans", name, "quota", key], "1"),
                                   f"unknown key plans.{name}.quota.{key}"))),
        st.one_of(poisoned(st.sampled_from(["gold", "premium"]), POISON + ("A", ".")), st.sampled_from(INJECTIONS), HUGE,
                  st.integers(0, 9), st.just("")).map(
            lambda key: Corruption("plans", _set(["plans", key], {"db_strategy": "shared"}), f"plan named {_short(key)}")),
    ]
    return st.one_of(cases)


# --- the connections (ledger and shared servers) ---------------------------------------------

BAD_PORTS = st.one_of(st.integers(max_value=0), st.integers(min_value=65536), st.sampled_from(["abc", "", "5432x", "1e3"]),
                      st.sampled_from(INJECTIONS), st.booleans(), st.floats(allow_nan=False).filter(lambda f: not f.is_integer()),
                      st.lists(st.integers(), max_size=2))
BAD_DB_HOSTS = st.one_of(
    poisoned(st.sampled_from(["127.0.0.1", "db.example.com", "localhost"]),
             tuple(p for p in POISON if p not in ("/", "@"))),
    st.sampled_from(INJECTIONS).filter(lambda s: not s.startswith("/") or "\u0000" in s), HUGE,
    NOT_TEXT.filter(lambda v: not isinstance(v, str) and v is not None),
)


def bad_connection():
    server = st.integers(0, 1)
    return st.one_of(
        _replace(["ledger"], "ledger", st.one_of(NOT_MAPPING, st.just({}))),
        st.sampled_from(["host", "port", "user", "password"]).map(
            lambda key: Corruption("ledger", _delete(["ledger", key]), f"no ledger.{key}")),
        _replace(["ledger", "port"], "ledger", BAD_PORTS, "ledger.port"),
        _replace(["ledger", "host"], "ledger", BAD_DB_HOSTS, "ledger.host"),
        _replace(["ledger", "database"], "ledger", st.one_of(st.sampled_from(INJECTIONS[:4]), HUGE,
                                                             st.lists(st.just("x"), min_size=1)), "ledger.database"),
        _replace(["shared_servers"], "shared_servers", st.one_of(
            st.text(min_size=1, max_size=10), st.integers(1, 9), st.dictionaries(st.just("name"), st.just("x"), min_size=1))),
        server.flatmap(lambda i: _replace(["shared_servers", i], f"shared_servers[{i}]", NOT_MAPPING)),
        server.flatmap(lambda i: st.sampled_from(["name", "host", "admin_user", "admin_password"]).map(
            lambda key: Corruption(f"shared_servers[{i}]", _delete(["shared_servers", i, key]), f"no shared_servers[{i}].{key}"))),
        server.flatmap(lambda i: st.sampled_from(["port", "cluster_port"]).flatmap(
            lambda key: _replace(["shared_servers", i, key], f"shared_servers[{i}]", BAD_PORTS, f"shared_servers[{i}].{key}"))),
        server.flatmap(lambda i: st.sampled_from(["host", "cluster_host"]).flatmap(
            lambda key: _replace(["shared_servers", i, key], f"shared_servers[{i}]", BAD_DB_HOSTS, f"shared_servers[{i}].{key}"))),
        server.flatmap(lambda i: _replace(["shared_servers", i, "name"], f"shared_servers[{i}]", BAD_K8S_NAMES.filter(
            lambda v: v not in ("", None)), f"shared_servers[{i}].name")),
    )


REQUEST = (bad_name, bad_state, bad_plan, bad_db_strategy, bad_odoo_version, bad_image, bad_domains, bad_wait_timeout)
EVERY_KIND = REQUEST + (bad_platform_setting, bad_plans, bad_connection)


def corruption():
    return st.one_of([kind() for kind in EVERY_KIND])


def corruptions(max_size=3):
    """One or more corruptions of different options."""
    return st.lists(corruption(), min_size=1, max_size=max_size, unique_by=lambda c: c.field.split(".")[0].split("[")[0])


def corrupted(params, chosen):
    broken = copy.deepcopy(params)
    for item in chosen:
        item.apply(broken)
    return broken


def assert_clear(failure, fields, secrets=()):
    """failure names one of `fields` (or a key below one), says what is allowed, is short,
    holds no traceback and none of `secrets`."""
    field, _colon, message = failure.partition(": ")
    assert any(field == f or field.startswith(f + ".") or field.startswith(f + "[") for f in fields), \
        f"{failure!r} does not name one of {fields}"
    assert EXPLAINS.search(message), f"{failure!r} does not say what is allowed"
    assert len(failure) <= MAX_MESSAGE, f"a {len(failure)}-character message"
    assert "Traceback" not in failure
    for secret in secrets:
        assert secret not in failure


# "5" becomes a valid int on the way in; "inf" or "NaN" makes ansible-core's int conversion fail
# with "cannot convert Infinity to integer", a message without the option's name (not ours).
NUMERIC_LOOKING = re.compile(r"\s*[-+]?([0-9][0-9._eE+-]*|inf|infinity|nan)\s*", re.IGNORECASE)


def survives_ansible_conversion(item):
    """Whether a corruption stays broken after the module's argument spec converts types: a
    number given to a `str` option, or "5" to an `int` option, becomes valid on the way in, and
    a deleted ledger port gets the spec's default. Also left out: a string where ledger or a
    shared server wants a mapping, which ansible-core refuses as "dictionary requested, could
    not parse JSON or key=value" without naming the option (its message, not the collection's)."""
    if item.what == "no ledger.port":
        return False
    if item.field in ("ledger", "shared_servers", "shared_servers[0]", "shared_servers[1]") \
            and isinstance(item.value, str) and not re.match(r"(ledger|shared_servers\[\d\])\.", item.what):
        return False
    if item.field.startswith("plans") or item.value is DELETED:
        return True
    if item.field == "domains":
        return isinstance(item.value, list)
    return isinstance(item.value, str) and not NUMERIC_LOOKING.fullmatch(item.value)
