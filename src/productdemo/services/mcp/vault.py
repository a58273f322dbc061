"""Sealing host credentials at rest: AES-256-GCM under a key derived from the server's secret.

The key is HKDF-SHA256 of the secret key with a purpose label, so the cookie-signing key is
never used for encryption directly. The host id is the associated data: a sealed key copied
onto another host's row does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"productdemo mcp host credentials v1"
_NONCE = 12


class VaultError(Exception):
    """A sealed value does not open (another secret key, or tampering)."""


class Vault:
    def __init__(self, secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        """Raises:
        VaultError: the value was sealed under another secret key or altered.
        """
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode()).decode()
        except InvalidTag:
            raise VaultError("stored credentials do not open with this server's secret key") from None
