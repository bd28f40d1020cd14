"""Encrypted environment variables: unit tests of the cipher and key handling, and an end-to-end
round trip of awkward values into a container, with the secrets grepped for where they must not be."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from core import secrets
from core.secrets import Secret, SecretKeyError
from tests import samples
from tests.conftest import ROOT, edge_get, wait_deploy

AWKWARD = {
    "SPACES": "  two  spaces  ",
    "QUOTES": "it's \"quoted\" `tick`",
    "DOLLAR": "$HOME ${PATH} $(id)",
    "HASH": "#not a comment",
    "TRAILING_EQ": "abc==",
    "BACKSLASH": "C:\\new\\table \\n",
    "UNICODE": "żółć 東京 🚀",
    "PEM": "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\nAT8wggE7AgEAAkEAq7\n-----END PRIVATE KEY-----\n",
    "EMPTY": "",
}


def test_secret_is_redacted():
    s = Secret("hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{[s]}"
    assert s.reveal() == "hunter2"


def test_encrypt_roundtrip_binds_aad_and_key(tmp_path):
    key = secrets.load_key(None, tmp_path / "k", create=True)
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    for value in AWKWARD.values():
        token = secrets.encrypt(key, value, "service:1:env:X")
        assert value.encode() not in token.encode() or value == ""
        assert secrets.decrypt(key, token, "service:1:env:X").reveal() == value
    token = secrets.encrypt(key, "v", "service:1:env:X")
    with pytest.raises(SecretKeyError):
        secrets.decrypt(key, token, "service:2:env:X")  # a value copied to another service does not decrypt
    with pytest.raises(SecretKeyError, match="wrong key"):
        secrets.decrypt(os.urandom(32), token, "service:1:env:X")


def test_missing_key_is_not_silently_created(tmp_path):
    with pytest.raises(SecretKeyError, match="restore the key"):
        secrets.load_key(None, tmp_path / "none", create=False)
    with pytest.raises(SecretKeyError, match="32-byte"):
        secrets.load_key("short", tmp_path / "none", create=False)


@pytest.mark.e2e
def test_env_roundtrip_masking_rotation_and_wrong_key(test_env, api, project, git_server, platform_up):
    url = git_server.create("envy", samples.env_app())
    api.post("/api/services", {"project": project, "name": "envy", "repo_url": url})
    for k, v in AWKWARD.items():
        api.call("PUT", f"/api/services/envy/env/{k}", json={"value": v})
    for bad in ("1ABC", "A-B", "PORT", "A B"):
        with pytest.raises(Exception):
            api.call("PUT", f"/api/services/envy/env/{bad}", json={"value": "x"})

    listed = api.get("/api/services/envy/env")
    assert {r["key"] for r in listed} == set(AWKWARD) and all(r["value"] == "••••••••" for r in listed)
    assert api.get("/api/services/envy/env/PEM/reveal")["value"] == AWKWARD["PEM"]

    d = wait_deploy(api, api.post("/api/services/envy/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    seen = edge_get(platform_up, "envy").json()
    for k, v in AWKWARD.items():
        assert seen[k] == v, k

    # Secrets appear nowhere a viewer or a log reader can see them.
    dep = api.get(f"/api/deployments/{d['id']}")
    texts = [str(dep), str(api.get("/api/services/envy")), str(api.get("/api/services/envy/deployments")), str(listed)]
    logs = os.path.join(test_env["RENDERLITE_DATA_DIR"], "logs")
    texts += [open(os.path.join(logs, f), errors="replace").read() for f in os.listdir(logs)]
    for blob in texts:
        for k in ("PEM", "UNICODE", "QUOTES"):
            assert AWKWARD[k].strip() not in blob, k

    # rotate-key re-encrypts everything; the next deploy still gets every value.
    r = subprocess.run([sys.executable, "-m", "cli", "admin", "rotate-key"], cwd=ROOT, env=test_env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and f"re-encrypted" in r.stdout, r.stderr
    d = wait_deploy(api, api.post("/api/services/envy/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert edge_get(platform_up, "envy").json()["PEM"] == AWKWARD["PEM"]

    # A wrong key fails the deploy loudly, and the running version keeps serving.
    key_file = os.path.join(test_env["RENDERLITE_DATA_DIR"], "secret.key")
    good = open(key_file).read()
    secrets.write_key_file(__import__("pathlib").Path(key_file), secrets.new_key_text())
    try:
        d = wait_deploy(api, api.post("/api/services/envy/deploy")["id"])
        assert d["status"] == "FAILED" and d["failure_stage"] == "config"
        assert "cannot decrypt" in d["failure_reason"] and "not started" in d["failure_reason"]
        assert edge_get(platform_up, "envy").json()["PEM"] == AWKWARD["PEM"]
    finally:
        secrets.write_key_file(__import__("pathlib").Path(key_file), good.strip())


@pytest.mark.e2e
def test_env_roundtrip_through_a_zero_config_build(api, project, git_server, platform_up, test_env):
    """The same awkward values reach an app built without a Dockerfile (generated Dockerfile, Procfile
    start command run by /bin/sh), and stay out of its build plan, log and the live Redis log."""
    import redis

    files = {"app.py": samples.ENV_APP, "requirements.txt": "", "Procfile": "web: python app.py\n"}
    api.post("/api/services", {"project": project, "name": "envzc", "repo_url": git_server.create("envzc", files)})
    for k, v in AWKWARD.items():
        api.call("PUT", f"/api/services/envzc/env/{k}", json={"value": v})
    d = wait_deploy(api, api.post("/api/services/envzc/deploy")["id"])
    assert d["status"] == "SUCCESS", d["failure_reason"]
    assert d["build_plan"] and "no Dockerfile: zero-config build" in "\n".join(
        api.get(f"/api/deployments/{d['id']}")["log_lines"])
    seen = edge_get(platform_up, "envzc").json()
    for k, v in AWKWARD.items():
        assert seen[k] == v, k
    live_log = "\n".join(redis.Redis.from_url(test_env["REDIS_URL"], decode_responses=True)
                         .lrange(f"{platform_up.redis_prefix}log:{d['id']}", 0, -1))
    for blob in (d["build_plan"], live_log, str(api.get(f"/api/deployments/{d['id']}"))):
        for k in ("PEM", "UNICODE", "QUOTES", "DOLLAR"):
            assert AWKWARD[k].strip() not in blob, k
