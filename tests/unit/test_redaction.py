"""One redaction for every text that may quote a secret: module results (redact_text), PostgreSQL
errors (pg) and the backup tools' stderr (backup)."""

from __future__ import annotations

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import backup, pg
from ansible_collections.odoo_saas.kit.plugins.module_utils.redact import REDACTED, redact_text


def test_a_secret_that_contains_another_is_replaced_whole():
    # Shortest first would leave "def" of the longer one in the text.
    assert redact_text("pw=abc-abcdef", ["abc", "abcdef"]) == f"pw={REDACTED}-{REDACTED}"


def test_postgres_error_reasons_hide_every_secret_given():
    error = RuntimeError('password authentication failed for "tenant_a" with s3cr3t-longer and s3cr3t')
    reason = pg._reason(error, "s3cr3t", "s3cr3t-longer", None)
    assert "s3cr3t" not in reason and "-longer" not in reason and reason.count(REDACTED) == 2


def test_backup_tool_stderr_hides_the_password_and_keeps_one_line():
    tail = backup._tail("pg_dump: error:\n  connection to server failed: p4ss p4ss-2\n", "p4ss", "p4ss-2")
    assert "p4ss" not in tail and "-2" not in tail and "\n" not in tail and tail.endswith(REDACTED)
