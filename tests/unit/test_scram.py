"""Unit tests of the SCRAM-SHA-256 comparison: PostgreSQL's and libpq's own verifiers check, wrong
passwords do not, SASLprep matches PostgreSQL's (the vectors below were hashed by the local
PostgreSQL 15 server)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.odoo_saas.kit.plugins.module_utils.engines import scram

from .libpq import libpq_verifier

# (password, the verifier PostgreSQL 15 stored for it with password_encryption = scram-sha-256)
SERVER_VECTORS = [
    ('secret',
     'SCRAM-SHA-256$4096:bhEkqJu/DJuhd+2dR9dKfw==$TDj/cd16LsDxN1QIjMv562/fsqF7zILKFIXqFpXKCwA=:Iu/aWFibkfwAM8pRzEW6fSNyUuUNVZe0bF1E7cpzla4='),
    ('it\'s a "pass";--',
     'SCRAM-SHA-256$4096:nQLhTz+q+8kkJuVDxQv09Q==$FNvRbTF+jCkbV76AIZnXKqvg2ZXzwbRVXtvQ+32hw+Q=:+Lnk584MxZX1Bhf8tjineYaEmD9xLWhdMMCjVib36dg='),
    ('\xa0x\xa0',
     'SCRAM-SHA-256$4096:0uqM7zEBcjzSGstNzyPZBQ==$W+MDFt6ZFqpHRRwUnNvNKr/BEQhO45c7DkmzHqC3CZ4=:3NyZLZhvMt0BeToMpmbZbvCsMHiSwj8dm9h08krgKYs='),
    ('I\xadX',
     'SCRAM-SHA-256$4096:QPcQ9I/vn//tQBvVdwqQyw==$H68NojYtFd5sdp4uM5c9d4FrcxgjcVxKuUsicOerYjc=:WnZF2L/1OgvWXMGBaob0RzD/ClohlgaZ53HC7FSEerk='),
    ('\u2168',
     'SCRAM-SHA-256$4096:yPRRAMT9TxN9en9BzI4Pbg==$hG9VIGZaB078dRvpk5lmZi3Z6Yii2SXSC5ypBxbx+oQ=:f/T/cYZvwohGLb+pR+tB3Y9maABsQoOinQsuW9CChak='),
    ('\u06271',
     'SCRAM-SHA-256$4096:UwE10u0jp3nq2+0upsTdBQ==$J0xmTiSBeBcJiHopAy+T5eyh0tCD5Ho8VYkbMcL6yDY=:rIXfNTDlJ9jQX2jNxPC1rUonnEjKjr0GXWz0lfu2xzU='),
    ('\u06271\u0628',
     'SCRAM-SHA-256$4096:Ar9ZwdxC6a3KqV1+VAcwvA==$xm76kIht8vq6CvbkB/2alp2yvWK2RyWsmBVcARCNz0U=:DR/Hwt+8k6JtyP8JAnKLWCrRhBwYGaGg/ej3wLpyyjQ='),
    ('\x07\xe9',
     'SCRAM-SHA-256$4096:r7PO/2EFFAaPQ76cn0aAgA==$Jy/6nJPvfNEvkY58lAf5CF9R2BRzRF7gPZmNhnbqrRY=:kTN/emXrnUsLRK5V0JmgPAfYDn6KM7wf77gffEthLsw='),
    ('\ufb01le',
     'SCRAM-SHA-256$4096:vdIpcS/XtPg0RDq6NU2gyA==$ic7NSMRoD1YAiZqHJ+MLGB5zEaMlkH3FNw5ovF7UTzk=:sN0UX3PTyTZepi6GeWUvsTDGXNGSq+cGoR5JS/REnRs='),
    ('p\xe4ss\xf6rd',
     'SCRAM-SHA-256$4096:8EFRJAyGrVxtmXcQpa9sWw==$wB4bYtDDCLhiNyobbxvRogfaTM1++I7kP6Y922GmaSc=:xSowVKBZk7g5LxQrVPjnNmXBkjzFaBNwx3omttvcPyY='),
    ('\U0001f600',
     'SCRAM-SHA-256$4096:yZanh7+LX2PXvOnzVPwylw==$DsN3AWsyNdplxVGVqt6hnwCkFlY0Zns47b70HE9PfEc=:vedFn/ZIPtIw0v5s436lJ3UHFx7N5oHQndtZuUHk1JQ='),
    ('a\u200bb',
     'SCRAM-SHA-256$4096:sVYAuwGU+VdqFyUE63ek5A==$5eMzhSlfpCpTHHKEy7P/TsjNJezQ7adK+qvaq/CqH/s=:gUxLYpEN6VYWwxqL8qQW17blJpMvfIn7FSkJ30ot+qs='),
    ('\u0627a\u0628',
     'SCRAM-SHA-256$4096:xwHnvgVO6I3O3RQzIT/ttA==$h0mK27EKTdqwpcv0EfmjMUXi2Cxlx35CoAZbwJcbAUA=:ZpHTmNo3AxPuUX6RCAWCdY8jgs3IPld7hkD0EUzk+/0='),
]


@pytest.mark.parametrize("password, verifier", SERVER_VECTORS, ids=lambda value: ascii(value)[:24])
def test_verifiers_made_by_postgresql_verify(password, verifier):
    assert scram.verify_password(password, verifier)


@pytest.mark.parametrize("password, verifier", SERVER_VECTORS, ids=lambda value: ascii(value)[:24])
def test_a_wrong_password_does_not_verify(password, verifier):
    assert not scram.verify_password(password + "x", verifier)
    assert not scram.verify_password("x" + password, verifier)


@pytest.mark.parametrize("password, prepared", [
    ("plain ASCII\x07 kept as is", b"plain ASCII\x07 kept as is"),
    ("\u00a0x\u00a0", b" x "),  # non-ASCII spaces become spaces
    ("I\u00adX", b"IX"),  # soft hyphen is mapped to nothing
    ("a\u200bb", b"a b"),  # in both tables: PostgreSQL maps it to a space first
    ("\u2168", b"IX"),  # NFKC
    ("\ufb01le", b"file"),
    ("\u0627\u0031", "\u0627\u0031".encode()),  # bidi rule broken: the raw bytes
    ("\x07\u00e9", "\x07\u00e9".encode()),  # a control character: the raw bytes
    ("\U0001f600", "\U0001f600".encode()),  # unassigned in Unicode 3.2: the raw bytes
])
def test_saslprep_follows_postgresql(password, prepared):
    assert scram.saslprep(password) == prepared


@pytest.mark.parametrize("value", [
    None, "", "secret", "md5" + "0" * 32, "SCRAM-SHA-256$4096:c2FsdA==$onlyonekey",
    "SCRAM-SHA-256$x:c2FsdA==$a2V5:a2V5", "SCRAM-SHA-256$0:c2FsdA==$a2V5:a2V5",
    "SCRAM-SHA-256$4096:not base64!$a2V5:a2V5", "SCRAM-SHA-1$4096:c2FsdA==$a2V5:a2V5",
])
def test_anything_but_a_scram_verifier_never_verifies(value):
    assert not scram.is_verifier(value)
    assert not scram.verify_password("secret", value)


@settings(max_examples=60, deadline=None)
@given(password=st.text(min_size=1, max_size=40).filter(lambda text: "\x00" not in text),
       other=st.text(min_size=1, max_size=40))
def test_a_verifier_libpq_makes_verifies_its_password_only(password, other):
    """Our comparison agrees with the builder the modules use (libpq's PQencryptPasswordConn),
    SASLprep included."""
    verifier = libpq_verifier(password)
    assert scram.verify_password(password, verifier)
    if scram.saslprep(other) != scram.saslprep(password):
        assert not scram.verify_password(other, verifier)


def test_a_tampered_server_key_does_not_verify():
    password, verifier = SERVER_VECTORS[0]
    head, server_key = verifier.rsplit(":", 1)
    tampered = base64.b64encode(bytes(32)).decode()
    assert server_key != tampered
    assert not scram.verify_password(password, f"{head}:{tampered}")
