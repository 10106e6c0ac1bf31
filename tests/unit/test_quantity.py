"""The kit's one quantity grammar (quantity.py) against the Kubernetes client's own parser."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st
from kubernetes.utils import parse_quantity

from ansible_collections.odoo_saas.kit.plugins.module_utils.request import quantity

plain_quantities = st.builds(
    lambda whole, fraction, suffix: f"{whole}{'.' + fraction if fraction else ''}{suffix}",
    st.integers(min_value=0, max_value=10**6), st.from_regex(r"\A[0-9]{0,3}\Z"), st.sampled_from(sorted(quantity.SUFFIXES)),
)


@given(plain_quantities)
def test_values_agree_with_the_kubernetes_clients_parser(text):
    assert quantity.is_plain(text)
    assert quantity.parse(text) == parse_quantity(text)
    assert quantity.exact(text) == Fraction(parse_quantity(text))


@pytest.mark.parametrize("text", ["NaN", "Infinity", " 1", "1 ", "1Gb", "1gi", "", "Gi", "1.5.5"])
def test_what_is_not_a_quantity_is_refused(text):
    assert quantity.parse(text) is None
    assert not quantity.is_plain(text)
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        quantity.exact(text)


@pytest.mark.parametrize("text", ["1e3", "-1", "+2", ".5", "1."])
def test_plans_take_only_the_plain_form_of_a_valid_quantity(text):
    assert quantity.parse(text) == parse_quantity(text)
    assert not quantity.is_plain(text)
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        quantity.exact(text)


def test_manifest_quantities_are_exact_whatever_their_digits():
    # Past Decimal's 28-digit default precision.
    assert quantity.exact("12345678901234567890123456789") == 12345678901234567890123456789
    assert quantity.exact("100000000000000000000000000001m") == Fraction(100000000000000000000000000001, 1000)
    assert quantity.exact("1.5Gi") == Fraction(3, 2) * 2**30


def test_equal_compares_values():
    assert quantity.equal("1Gi", "1073741824") and quantity.equal("1000m", "1")
    assert not quantity.equal("1G", "1Gi") and not quantity.equal("x", "x ")
    assert quantity.parse("1.5G") == Decimal("1.5e9")
