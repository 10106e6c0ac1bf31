# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-side encryption of backup parts with the platform key, in the age format.

age (age-encryption.org/v1, through pyrage, the Python binding of rage) encrypts to a public
"recipient" (age1...) and decrypts with the matching secret "identity" (AGE-SECRET-KEY-1...).
So a backup Job holds only the recipient: whoever reads its namespace, its pod or the object
store learns nothing readable, and only a restore gets the identity. age streams in 64 KiB
authenticated chunks, so a changed byte fails decryption; an operator can also decrypt a part
by hand with the `age` or `rage` command and the same identity.
"""

from __future__ import annotations

import os

from ..errors import SaasError

SUFFIX = ".age"


class EncryptionError(SaasError):
    """A key is malformed, or a part cannot be decrypted with it. Never holds a key."""


def _pyrage():
    try:
        import pyrage
    except ImportError:
        raise EncryptionError("backup encryption needs the Python package pyrage on this host "
                              "(pip install -r requirements.txt)") from None
    return pyrage


def recipient(text: str, field: str = "backup_encryption.recipient"):
    try:
        return _pyrage().x25519.Recipient.from_str(text.strip())
    except EncryptionError:
        raise
    except Exception:  # noqa: BLE001 - pyrage raises RecipientError or ValueError by version
        raise EncryptionError(f"{field}: not an age public key (age1 followed by 58 characters); make one with "
                              "`age-keygen` or `rage-keygen` and give its public half here") from None


def identity(text: str, field: str = "backup_encryption.identity"):
    try:
        return _pyrage().x25519.Identity.from_str(text.strip())
    except EncryptionError:
        raise
    except Exception:  # noqa: BLE001
        raise EncryptionError(f"{field}: not an age secret key (AGE-SECRET-KEY-1...): give the key whose public half "
                              "the backups were encrypted to") from None


def public_of(identity_text: str) -> str:
    return str(identity(identity_text).to_public())


def new_identity() -> str:
    return str(_pyrage().x25519.Identity.generate())


def encrypt_file(source: str, target: str, recipient_text: str) -> None:
    pyrage = _pyrage()
    with open(source, "rb") as plain, open(target, "wb") as sealed:
        pyrage.encrypt_io(plain, sealed, [recipient(recipient_text)])
        sealed.flush()
        os.fsync(sealed.fileno())


def decrypt_file(source: str, target: str, identity_text: str, what: str) -> None:
    """Decrypt into target; on failure target is removed (age may have written the chunks
    that authenticated before the one that did not)."""
    pyrage = _pyrage()
    key = identity(identity_text)
    try:
        with open(source, "rb") as sealed, open(target, "wb") as plain:
            pyrage.decrypt_io(sealed, plain, [key])
    except Exception as error:  # noqa: BLE001 - DecryptError for a wrong key, OSError for a changed byte
        if os.path.exists(target):
            os.unlink(target)
        if "No matching keys" in str(error):
            raise EncryptionError(f"{what} was encrypted to another key than the platform key given "
                                  f"(its public half is {public_of(identity_text)}): give the identity the backup "
                                  "was taken with; nothing was restored") from None
        raise EncryptionError(f"{what} cannot be decrypted ({type(error).__name__}: {error}): it is damaged; restore "
                              "another backup; nothing was restored") from None
