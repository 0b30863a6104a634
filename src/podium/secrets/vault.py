"""Credential vault: secrets by name, in the OS keyring or an encrypted file.

Values live only here; the project file, events, transcripts, logs and
archives hold names. The keyring is used when the OS has a working backend;
otherwise (servers, containers) an encrypted file in the user's config dir:
Fernet (AES-128-CBC + HMAC-SHA256) with a key derived by scrypt from
$PODIUM_VAULT_PASSPHRASE when set, else a random key kept in a separate
0600 file. A list of names (never values) sits beside it so `vault list`
works with either backend, since keyrings cannot enumerate.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

from podium.config import user_config_dir
from podium.errors import PodiumError

SERVICE = "podium"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
BACKEND_ENV = "PODIUM_VAULT"  # "keyring" or "file": force a backend
PASSPHRASE_ENV = "PODIUM_VAULT_PASSPHRASE"


class VaultError(PodiumError):
    """A vault operation failed in a way the user can fix."""


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise VaultError(
            f"bad secret name {name!r}: use letters, digits and underscores, starting with a letter"
        )
    return name


class Vault:
    def __init__(self, config_dir: Path | None = None, backend: str | None = None) -> None:
        self.dir = Path(config_dir) if config_dir else user_config_dir()
        choice = (backend or os.environ.get(BACKEND_ENV) or "").strip().lower()
        if choice not in ("", "keyring", "file"):
            raise VaultError(f"{BACKEND_ENV} must be 'keyring' or 'file', not {choice!r}")
        self._keyring = _usable_keyring() if choice in ("", "keyring") else None
        if choice == "keyring" and self._keyring is None:
            raise VaultError("no OS keyring is available here; unset PODIUM_VAULT to use the encrypted file")

    # ------------------------------------------------------------ public

    @property
    def backend(self) -> str:
        if self._keyring is not None:
            return f"OS keyring ({type(self._keyring).__name__})"
        return f"encrypted file {self._file}"

    def set(self, name: str, value: str) -> None:
        check_name(name)
        if not value:
            raise VaultError("a secret cannot be empty")
        if self._keyring is not None:
            try:
                self._keyring.set_password(SERVICE, name, value)
            except Exception as exc:  # keyring backends raise their own types
                raise VaultError(f"the OS keyring refused to store {name}: {exc}") from None
        else:
            data = self._read_file()
            data[name] = value
            self._write_file(data)
        self._save_names(sorted({*self.names(), name}))

    def get(self, name: str) -> str | None:
        check_name(name)
        if self._keyring is not None:
            try:
                return self._keyring.get_password(SERVICE, name)
            except Exception as exc:
                raise VaultError(f"the OS keyring could not read {name}: {exc}") from None
        return self._read_file().get(name)

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise VaultError(f"secret {name} is not in the vault; set it with `podium vault set {name}`")
        return value

    def delete(self, name: str) -> bool:
        check_name(name)
        existed = name in self.names()
        if self._keyring is not None:
            try:
                self._keyring.delete_password(SERVICE, name)
                existed = True
            except Exception:
                pass  # not there: keyring raises PasswordDeleteError
        else:
            data = self._read_file()
            existed = data.pop(name, None) is not None or existed
            self._write_file(data)
        self._save_names([n for n in self.names() if n != name])
        return existed

    def names(self) -> list[str]:
        try:
            names = json.loads(self._names_file.read_text())
        except (OSError, ValueError):
            names = []
        if self._keyring is None:
            names = sorted({*names, *self._read_file()})
        return [n for n in names if isinstance(n, str) and NAME_RE.match(n)]

    # ------------------------------------------------------------ file backend

    @property
    def _file(self) -> Path:
        return self.dir / "vault.enc"

    @property
    def _key_file(self) -> Path:
        return self.dir / "vault.key"

    @property
    def _names_file(self) -> Path:
        return self.dir / "vault-names.json"

    def _save_names(self, names: list[str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_private(self._names_file, json.dumps(names).encode())

    def _fernet(self, salt: bytes) -> Any:
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        passphrase = os.environ.get(PASSPHRASE_ENV)
        if passphrase:
            key = Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(passphrase.encode())
            return Fernet(base64.urlsafe_b64encode(key))
        if not self._key_file.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            _write_private(self._key_file, Fernet.generate_key())
        return Fernet(self._key_file.read_bytes().strip())

    def _read_file(self) -> dict[str, str]:
        if not self._file.exists():
            return {}
        from cryptography.fernet import InvalidToken

        try:
            blob = json.loads(self._file.read_text())
            salt = base64.b64decode(blob["salt"])
            plain = self._fernet(salt).decrypt(blob["token"].encode())
        except InvalidToken:
            raise VaultError(
                f"cannot decrypt {self._file}: wrong {PASSPHRASE_ENV} or a replaced vault.key"
            ) from None
        except (OSError, ValueError, KeyError) as exc:
            raise VaultError(f"the vault file {self._file} is damaged: {exc}") from None
        data = json.loads(plain)
        return {str(k): str(v) for k, v in data.items()}

    def _write_file(self, data: dict[str, str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        salt = os.urandom(16)
        token = self._fernet(salt).encrypt(json.dumps(data).encode()).decode()
        blob = {"format": "podium-vault-1", "salt": base64.b64encode(salt).decode(), "token": token}
        _write_private(self._file, json.dumps(blob).encode())


def _write_private(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _usable_keyring() -> Any | None:
    """The OS keyring backend, or None when there is no real one (the 'fail' or null backends)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring):
        return None
    try:
        if float(backend.priority) <= 0:  # the null backend: accepts nothing
            return None
    except Exception:
        pass
    if getattr(backend, "backends", None) == []:  # a chainer with nothing behind it
        return None
    return backend
