"""Secrets are a type. Environment values are stored encrypted with AES-256-GCM under a
per-installation key, and decrypted only where a container is started or a member asks to see one."""
from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import RenderLiteError


class SecretKeyError(RenderLiteError):
    pass


class Secret:
    """A value whose repr and str are redacted; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def parse_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode() + b"=" * (-len(text.strip()) % 4))
    except (ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise SecretKeyError(f"{source} is not a base64-encoded 32-byte key; generate one with "
                             "`python -c \"import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode())\"`")
    return key


def new_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def load_key(env_value: str | None, key_file: Path, create: bool) -> bytes:
    """The installation's key: RENDERLITE_SECRET_KEY, else the key file (created 0600 if allowed)."""
    if env_value:
        return parse_key(env_value, "RENDERLITE_SECRET_KEY")
    if key_file.exists():
        return parse_key(key_file.read_text(), str(key_file))
    if not create:
        raise SecretKeyError(f"no secret key: RENDERLITE_SECRET_KEY is unset and {key_file} does not exist; "
                             "restore the key this installation's variables were encrypted with")
    write_key_file(key_file, new_key_text())
    return parse_key(key_file.read_text(), str(key_file))


def write_key_file(key_file: Path, text: str) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = key_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, key_file)


def encrypt(key: bytes, plaintext: str, aad: str) -> str:
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), aad.encode())
    return "v1:" + base64.b64encode(nonce + ct).decode()


def decrypt(key: bytes, token: str, aad: str) -> Secret:
    if not token.startswith("v1:"):
        raise SecretKeyError("stored value has an unknown format")
    raw = base64.b64decode(token[3:])
    try:
        return Secret(AESGCM(key).decrypt(raw[:12], raw[12:], aad.encode()).decode("utf-8"))
    except InvalidTag:
        raise SecretKeyError("the secret key does not decrypt the stored variables (wrong key?); restore the key "
                             "they were encrypted with, or set the variables again") from None
