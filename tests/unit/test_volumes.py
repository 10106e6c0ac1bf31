"""Existing volumes keep their size across plan changes; the run warns about the difference."""

from __future__ import annotations

from ansible_collections.odoo_saas.kit.plugins.module_utils.operations.volumes import keep_existing_sizes


class _Run:
    def __init__(self, existing):
        self.existing = existing
        self.warnings = []
        self.kube = self

    def get(self, api_version, kind, name, namespace=None):
        return self.existing.get((kind, name))

    def warn(self, message):
        self.warnings.append(message)


def _claim(size):
    return {"kind": "PersistentVolumeClaim", "metadata": {"name": "odoo-filestore"},
            "spec": {"resources": {"requests": {"storage": size}}}}


def _statefulset(size):
    return {"kind": "StatefulSet", "metadata": {"name": "postgres"},
            "spec": {"volumeClaimTemplates": [{**_claim(size), "metadata": {"name": "data"}}]}}


def test_new_volumes_take_the_plans_size():
    objects = [_claim("20Gi"), _statefulset("50Gi")]
    run = _Run({})
    keep_existing_sizes(run, objects, "tenant-acme")
    assert objects == [_claim("20Gi"), _statefulset("50Gi")] and run.warnings == []


def test_existing_volumes_keep_theirs_with_a_warning():
    objects = [_claim("20Gi"), _statefulset("100Gi")]
    run = _Run({("PersistentVolumeClaim", "odoo-filestore"): _claim("5Gi"),
                ("StatefulSet", "postgres"): _statefulset("50Gi")})
    keep_existing_sizes(run, objects, "tenant-acme")
    assert objects == [_claim("5Gi"), _statefulset("50Gi")]
    assert len(run.warnings) == 2
    assert "tenant-acme/odoo-filestore stays at 5Gi (its plan asks for 20Gi)" in run.warnings[0]
    assert "data volumes of StatefulSet tenant-acme/postgres stays at 50Gi" in run.warnings[1]


def test_equal_sizes_written_differently_are_not_a_change():
    objects = [_claim("5368709120")]
    run = _Run({("PersistentVolumeClaim", "odoo-filestore"): _claim("5Gi")})
    keep_existing_sizes(run, objects, "tenant-acme")
    assert objects == [_claim("5368709120")] and run.warnings == []
