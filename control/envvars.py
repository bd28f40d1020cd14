"""Per-service environment variables, encrypted at rest. Viewers get names and masks only."""
from __future__ import annotations

import re

from sqlmodel import Session, select

from core import secrets
from core.errors import NotFound, ValidationError
from core.secrets import Secret
from core.settings import Settings
from models.tables import EnvVar, Service, utcnow

KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED = {"PORT"}
MAX_VALUE = 64 * 1024
MASK = "••••••••"


def validate_key(key: str) -> str:
    key = (key or "").strip()
    if not KEY_RE.match(key):
        raise ValidationError(f"variable name {key!r} is not valid: use letters, digits and '_', not starting "
                              "with a digit (e.g. DATABASE_URL)")
    if key in RESERVED:
        raise ValidationError(f"{key} is set by RenderLite (the service's port setting); change the port instead")
    return key


def _aad(service_id: int, key: str) -> str:
    return f"service:{service_id}:env:{key}"


def key_for(settings: Settings, create: bool) -> bytes:
    return secrets.load_key(settings.secret_key, settings.key_file, create=create)


def set_var(db: Session, settings: Settings, svc: Service, key: str, value: str) -> None:
    key = validate_key(key)
    if not isinstance(value, str):
        raise ValidationError(f"the value of {key} must be text")
    if "\x00" in value:
        raise ValidationError(f"the value of {key} contains a NUL byte, which no process environment can hold; "
                              "remove it (encode binary values as base64)")
    if len(value.encode()) > MAX_VALUE:
        raise ValidationError(f"the value of {key} is over {MAX_VALUE // 1024} KiB; store large files elsewhere")
    token = secrets.encrypt(key_for(settings, create=True), value, _aad(svc.id, key))
    row = db.exec(select(EnvVar).where(EnvVar.service_id == svc.id, EnvVar.key == key)).first()
    if row:
        row.value_enc, row.updated_at = token, utcnow()
    else:
        row = EnvVar(service_id=svc.id, key=key, value_enc=token)
    db.add(row)
    db.commit()


def unset_var(db: Session, svc: Service, key: str) -> None:
    row = db.exec(select(EnvVar).where(EnvVar.service_id == svc.id, EnvVar.key == key)).first()
    if not row:
        raise NotFound(f"service '{svc.name}' has no variable {key}")
    db.delete(row)
    db.commit()


def masked(db: Session, svc: Service) -> list[dict]:
    rows = db.exec(select(EnvVar).where(EnvVar.service_id == svc.id).order_by(EnvVar.key)).all()
    return [{"key": r.key, "value": MASK, "updated_at": r.updated_at.isoformat()} for r in rows]


def reveal(db: Session, settings: Settings, svc: Service, key: str) -> str:
    row = db.exec(select(EnvVar).where(EnvVar.service_id == svc.id, EnvVar.key == key)).first()
    if not row:
        raise NotFound(f"service '{svc.name}' has no variable {key}")
    return secrets.decrypt(key_for(settings, create=False), row.value_enc, _aad(svc.id, key)).reveal()


def decrypted(db: Session, settings: Settings, service_id: int) -> dict[str, Secret]:
    """Every variable of a service, decrypted; raises SecretKeyError rather than return a partial env."""
    rows = db.exec(select(EnvVar).where(EnvVar.service_id == service_id)).all()
    if not rows:
        return {}
    key = key_for(settings, create=False)
    return {r.key: secrets.decrypt(key, r.value_enc, _aad(service_id, r.key)) for r in rows}


def rotate_key(db: Session, settings: Settings, new_key_text: str | None = None) -> int:
    """Re-encrypt every variable under a new key, in one transaction; then replace the key file."""
    if settings.secret_key and not new_key_text:
        raise ValidationError("the key comes from RENDERLITE_SECRET_KEY; to rotate, run rotate-key with "
                              "RENDERLITE_NEW_SECRET_KEY set, then put that value in RENDERLITE_SECRET_KEY")
    old = key_for(settings, create=True)
    text = new_key_text or secrets.new_key_text()
    new = secrets.parse_key(text, "the new key")
    rows = db.exec(select(EnvVar)).all()
    for r in rows:
        value = secrets.decrypt(old, r.value_enc, _aad(r.service_id, r.key)).reveal()
        r.value_enc = secrets.encrypt(new, value, _aad(r.service_id, r.key))
        db.add(r)
    if settings.secret_key:
        db.commit()
        return len(rows)
    backup = settings.key_file.with_name("secret.key.previous")
    secrets.write_key_file(backup, settings.key_file.read_text().strip())
    db.flush()
    secrets.write_key_file(settings.key_file, text)
    try:
        db.commit()
    except Exception:
        secrets.write_key_file(settings.key_file, backup.read_text().strip())
        raise
    return len(rows)
