"""Local base images for installations without a registry (these machines, air-gapped sites).

debootstrap a minimal Debian from the apt mirror this host already uses, `docker import` it,
then layer Debian's python3 or nodejs on top. Images are cached by tag.
Point RENDERLITE_BASE_IMAGE_<RUNTIME> at them; test sample apps start FROM them.
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

DEBIAN = "renderlite-base/debian:bookworm"
PYTHON = "renderlite-base/python:3.11"
NODE = "renderlite-base/node:18"

APT = ("RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {pkgs} "
       "&& rm -rf /var/lib/apt/lists/*")
LAYERS = {
    PYTHON: "FROM {base}\n" + APT.format(pkgs="python3 python3-pip python3-venv ca-certificates") + "\n"
            "RUN ln -sf /usr/bin/python3 /usr/local/bin/python && ln -sf /usr/bin/pip3 /usr/local/bin/pip\n"
            "ENV PIP_BREAK_SYSTEM_PACKAGES=1 PYTHONUNBUFFERED=1\n",
    NODE: "FROM {base}\n" + APT.format(pkgs="nodejs npm ca-certificates") + "\n",
}


def mirror() -> str:
    """The Debian mirror apt already uses (the URIs: line, not the snapshot comment)."""
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]:
        try:
            text = f.read_text()
        except OSError:
            continue
        for m in re.finditer(r"^URIs:\s*(\S+)", text, re.M):
            if "security" not in m.group(1) and "debian" in m.group(1):
                return m.group(1)
        for m in re.finditer(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", text, re.M):
            return m.group(1)
    return "http://deb.debian.org/debian"


def has(client, tag: str) -> bool:
    import docker.errors
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def debian(client, log=print) -> str:
    if has(client, DEBIAN):
        return DEBIAN
    tmp = Path(tempfile.mkdtemp(prefix="rl-debootstrap-"))
    try:
        log(f"building {DEBIAN} with debootstrap from {mirror()} (about 30 s)")
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(tmp / "root"), mirror()],
                       check=True, stdout=subprocess.DEVNULL)
        tar = subprocess.Popen(["tar", "-C", str(tmp / "root"), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", DEBIAN], stdin=tar.stdout, check=True, stdout=subprocess.DEVNULL)
        tar.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return DEBIAN


def layered(client, tag: str, log=print) -> str:
    if has(client, tag):
        return tag
    base = debian(client, log)
    log(f"building {tag} from {base}")
    dockerfile = LAYERS[tag].format(base=base).encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True, pull=False)
    return tag


def ensure_all(client, log=print) -> dict[str, str]:
    return {"python": layered(client, PYTHON, log), "node": layered(client, NODE, log)}


if __name__ == "__main__":
    import docker
    print(ensure_all(docker.from_env(timeout=600)))
