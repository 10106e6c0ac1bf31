# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors the core raises. Each says what is wrong and what to do next, never a secret."""

from __future__ import annotations


SHOWN_LENGTH = 80


def shown(value):
    """A value as an error message quotes it: repr (so newlines and control characters stay
    visible and cannot forge log lines), cut short when it is long."""
    text = repr(value)
    if len(text) <= SHOWN_LENGTH:
        return text
    return f"{text[:SHOWN_LENGTH - 20]}... ({len(str(value))} characters)"


class SaasError(Exception):
    """Base of every error the core raises on purpose; modules turn it into fail_json."""


class SpecError(SaasError):
    """Bad input, found before anything is touched. `field` names the offending option."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DependencyError(SaasError):
    """A platform dependency (API server, ledger, a database server) cannot be reached."""

    def __init__(self, dependency, message):
        super().__init__(f"{dependency}: {message}")
        self.dependency = dependency


class CapacityError(SaasError):
    """No shared server has room for another tenant."""


class ConflictError(SaasError):
    """The request conflicts with what exists (a domain owned by another tenant, ...)."""
