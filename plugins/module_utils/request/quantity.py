# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes resource quantities: the one grammar the kit reads them with.

'1Gi' and '1073741824' compare equal; plans take the plain form ('500m', '2', '4Gi', '1.5G':
no sign, no exponent). Our own grammar rather than kubernetes.utils.parse_quantity, which
also takes 'NaN', 'Infinity' and surrounding blanks, and which the pure layers (plans,
manifests) would otherwise import the Kubernetes client for."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

SUFFIXES = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_SUFFIX = "|".join(sorted((s for s in SUFFIXES if s), key=lambda s: (-len(s), s)))
_QUANTITY = re.compile(rf"^([+-]?[0-9]+(?:\.[0-9]*)?|[+-]?\.[0-9]+)(?:([eE][+-]?[0-9]+)|({_SUFFIX}))?\Z")
_PLAIN = re.compile(rf"^([0-9]+(?:\.[0-9]+)?)({_SUFFIX})?\Z")


def parse(text):
    """The quantity's value as a Decimal, or None when text is not a quantity."""
    match = _QUANTITY.match(str(text))
    if not match:
        return None
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number)
        if exponent:
            return value * (Decimal(10) ** int(exponent[1:]))
        return value * SUFFIXES[suffix or ""]
    except InvalidOperation:
        return None


def is_plain(text):
    """Whether text is a quantity in the plain form plans take."""
    return bool(_PLAIN.match(str(text)))


def exact(text):
    """The value of a quantity in the plain form as an exact Fraction (no rounding, whatever its
    digits); ValueError for anything else."""
    match = _PLAIN.match(str(text))
    if not match:
        raise ValueError(f"{str(text)!r} is not a Kubernetes quantity")
    number, suffix = match.groups()
    return Fraction(number) * Fraction(SUFFIXES[suffix or ""])


def equal(left, right):
    if left == right:
        return True
    a, b = parse(left), parse(right)
    return a is not None and a == b
