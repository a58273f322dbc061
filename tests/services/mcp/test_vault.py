"""Vault: host credentials sealed with a key derived from the server's secret."""

from __future__ import annotations

import pytest

from productdemo.services.mcp.vault import Vault, VaultError


def test_sealed_text_opens_only_with_the_same_secret_and_host() -> None:
    """The ciphertext hides the key; another secret or another host id cannot open it."""
    vault = Vault(b"secret one")
    sealed = vault.seal("-----BEGIN OPENSSH PRIVATE KEY-----\nabc", "h_1")
    assert b"OPENSSH" not in sealed and b"abc" not in sealed
    assert vault.open(sealed, "h_1").endswith("abc")
    with pytest.raises(VaultError):
        Vault(b"secret two").open(sealed, "h_1")
    with pytest.raises(VaultError):
        vault.open(sealed, "h_2")
    assert vault.seal("same", "h_1") != vault.seal("same", "h_1")
