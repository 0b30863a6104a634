"""The credential vault: OS keyring when there is one, else an encrypted file; names only listed."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend

from podium.secrets.vault import Vault, VaultError

SECRET = "sk-vault-PLANTED-9876543210"


def test_file_backend_round_trip_is_encrypted(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_VAULT", "file")
    vault = Vault(tmp_path)
    vault.set("SEARCH_API_KEY", SECRET)
    vault.set("OTHER", "x" * 10)
    assert vault.get("SEARCH_API_KEY") == SECRET
    assert Vault(tmp_path).names() == ["OTHER", "SEARCH_API_KEY"]
    for path in tmp_path.iterdir():
        assert SECRET.encode() not in path.read_bytes(), path
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    assert vault.delete("OTHER") and not vault.delete("OTHER")
    assert vault.names() == ["SEARCH_API_KEY"] and vault.get("OTHER") is None


def test_passphrase_protects_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_VAULT", "file")
    monkeypatch.setenv("PODIUM_VAULT_PASSPHRASE", "correct horse")
    Vault(tmp_path).set("TOKEN", SECRET)
    assert not (tmp_path / "vault.key").exists()
    assert Vault(tmp_path).get("TOKEN") == SECRET
    monkeypatch.setenv("PODIUM_VAULT_PASSPHRASE", "wrong")
    with pytest.raises(VaultError, match="cannot decrypt"):
        Vault(tmp_path).get("TOKEN")


def test_bad_names_and_missing_secrets_are_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("PODIUM_VAULT", "file")
    vault = Vault(tmp_path)
    for bad in ("", "has space", "1LEADING", "semi;colon"):
        with pytest.raises(VaultError, match="bad secret name"):
            vault.set(bad, "v")
    with pytest.raises(VaultError, match="podium vault set NOPE"):
        vault.require("NOPE")
    with pytest.raises(VaultError, match="empty"):
        vault.set("EMPTY", "")


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps passwords in memory, standing in for the OS one."""

    priority = 10

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def get_password(self, service, username):
        return self.store.get((service, username))

    def delete_password(self, service, username):
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.store:
            raise PasswordDeleteError(username)
        del self.store[(service, username)]


def test_os_keyring_is_used_when_available(tmp_path, monkeypatch):
    monkeypatch.delenv("PODIUM_VAULT", raising=False)
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        vault = Vault(tmp_path)
        assert vault.backend.startswith("OS keyring")
        vault.set("GH_TOKEN", SECRET)
        assert backend.store[("podium", "GH_TOKEN")] == SECRET
        assert vault.get("GH_TOKEN") == SECRET and vault.names() == ["GH_TOKEN"]
        assert not (tmp_path / "vault.enc").exists()
        assert SECRET.encode() not in (tmp_path / "vault-names.json").read_bytes()
        assert vault.delete("GH_TOKEN") and vault.names() == []
    finally:
        keyring.set_keyring(previous)


def test_forcing_a_missing_keyring_is_an_error(tmp_path, monkeypatch):
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        monkeypatch.setenv("PODIUM_VAULT", "keyring")
        with pytest.raises(VaultError, match="no OS keyring"):
            Vault(tmp_path)
        monkeypatch.delenv("PODIUM_VAULT")
        assert Vault(tmp_path).backend.startswith("encrypted file")
    finally:
        keyring.set_keyring(previous)
