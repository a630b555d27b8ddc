"""Encryption at rest of second-factor secrets (Fernet: AES-128-CBC with HMAC-SHA256).

The key is MFA_ENCRYPTION_KEY, or, when unset, one derived from SECRET_KEY: in
either case the configured string goes through HKDF-SHA256 with a label of its
own, so the encryption key is never the key that signs cookies. Every key in
MFA_ENCRYPTION_KEYS_OLD still decrypts (a rotation: the new key first, the old
ones kept until `flask --app app rotate-mfa-key` has re-encrypted every secret;
a secret is also re-encrypted with the new key the next time it is used).
With no MFA_ENCRYPTION_KEY set, SECRET_KEY_FALLBACKS (the former SECRET_KEYs of
a rotation) decrypt as well.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_INFO = b"flask-auth/mfa-secrets/v1"


class SecretUnreadable(Exception):
    """No configured key decrypts the stored secret."""


@lru_cache(maxsize=32)
def _fernet(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys() -> MultiFernet:
    config = current_app.config
    current = config.get("MFA_ENCRYPTION_KEY") or config["SECRET_KEY"]
    old = list(config.get("MFA_ENCRYPTION_KEYS_OLD", ()))
    if not config.get("MFA_ENCRYPTION_KEY"):  # the key comes from SECRET_KEY, so do the former ones
        old += reversed(config.get("SECRET_KEY_FALLBACKS", ()))
    return MultiFernet([_fernet(current)] + [_fernet(key) for key in old])


def encrypt(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode("ascii")


def decrypt(ciphertext: str) -> str:
    try:
        return _keys().decrypt(ciphertext.encode("ascii")).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured MFA key decrypts this secret") from None


def needs_reencryption(ciphertext: str) -> bool:
    """True when the current key does not decrypt it (an old key does, or none)."""
    config = current_app.config
    current = _fernet(config.get("MFA_ENCRYPTION_KEY") or config["SECRET_KEY"])
    try:
        current.decrypt(ciphertext.encode("ascii"))
    except InvalidToken:
        return True
    return False


def reencrypt(ciphertext: str) -> str:
    """The same secret under the current key (raises SecretUnreadable)."""
    return encrypt(decrypt(ciphertext))
