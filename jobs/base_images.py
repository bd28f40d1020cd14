"""Local base images for installations without a registry (these machines, air-gapped sites).

debootstrap a minimal Debian from the apt mirror this host already uses, `docker import` it,
then layer Debian's python3 or nodejs on top. Images are cached by tag.
Point RENDERLITE_BASE_IMAGE_<RUNTIME> at them; test sample apps start FROM them.

The host's own extra CA certificates (/usr/local/share/ca-certificates, e.g. a company's
TLS-inspecting proxy) are copied into the images, so `pip install` and `npm install` inside a
build trust the same servers the host trusts. The images carry a label with the hash of the certificates and of
their recipe; when either changes, the images are rebuilt.
"""
from __future__ import annotations

import hashlib
import io
import re
import tarfile
import shutil
import subprocess
import tempfile
from pathlib import Path

DEBIAN = "renderlite-base/debian:bookworm"
PYTHON = "renderlite-base/python:3.11"
NODE_DEBIAN = "renderlite-base/node-debian:18"   # Debian's nodejs and npm: the base of every Node image
NODE_DEFAULT = 24                                   # jobs/detect.py NODE_NEWEST: the version of most apps
NODE = f"renderlite-base/node:{NODE_DEFAULT}"
NODE_TEMPLATE = "renderlite-base/node:{version}"     # any major, built on first use (Node comes from npm)
RUBY = "renderlite-base/ruby:3.1"
GO = "renderlite-base/go:1.19"

APT = ("RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {pkgs} "
       "&& rm -rf /var/lib/apt/lists/*")
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
CA_LABEL = "renderlite.ca-sha"
# Debian's pip and requests read the system bundle; Node needs to be told.
# Tools with their own certificate bundles (uv, Poetry's requests, bun) are pointed at the system one.
BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
TRUST = ("COPY ca/ /usr/local/share/ca-certificates/\nRUN update-ca-certificates >/dev/null\n"
         f"ENV NODE_EXTRA_CA_CERTS={BUNDLE} SSL_CERT_FILE={BUNDLE} REQUESTS_CA_BUNDLE={BUNDLE} UV_NATIVE_TLS=1\n")
# Each image states its runtime's version the way the official images do (PYTHON_VERSION...), so a
# build can say when the app asks for another one (jobs/dockerfile_gen.version_note). Debian
# bookworm's versions.
LAYERS = {
    PYTHON: "FROM {base}\n" + APT.format(pkgs="python3 python3-pip python3-venv ca-certificates") + "\n" + TRUST +
            "RUN ln -sf /usr/bin/python3 /usr/local/bin/python && ln -sf /usr/bin/pip3 /usr/local/bin/pip\n"
            "ENV PIP_BREAK_SYSTEM_PACKAGES=1 PYTHONUNBUFFERED=1 PYTHON_VERSION=3.11\n",
    NODE_DEBIAN: "FROM {base}\n" + APT.format(pkgs="nodejs npm ca-certificates") + "\n" + TRUST,
    # rubygems.org may be unreachable too: rack and puma come from Debian, so a Gemfile needing only
    # them installs offline.
    RUBY: "FROM {base}\n" + APT.format(pkgs="ruby ruby-bundler ruby-rack puma ca-certificates") + "\n" + TRUST +
          "ENV RUBY_VERSION=3.1\n",
    GO: "FROM {base}\n" + APT.format(pkgs="golang-go ca-certificates") + "\n" + TRUST +
        "ENV GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOLANG_VERSION=1.19\n",
}
# RENDERLITE_BASE_IMAGE_<RUNTIME> values that point zero-config builds at these images.
OVERRIDES = {"python": PYTHON, "node": NODE_TEMPLATE, "ruby": RUBY, "go": GO, "static": PYTHON, "run": DEBIAN}
NODE_RE = re.compile(r"^renderlite-base/node:(\d{1,2})$")


def node_recipe(major: int) -> str:
    """The registry-free Node image of one major version: npm's `node` package brings the binary."""
    npm = " npm@10" if major >= 18 else ""   # Debian's npm 9 is older than what current Node ships with
    return (f"FROM {NODE_DEBIAN}\nRUN npm install -g --no-audit --no-fund node@{major}{npm} && node --version\n"
            f"ENV NODE_MAJOR={major} NODE_VERSION={major}\n")


def host_cas() -> dict[str, bytes]:
    """The host's extra CA certificates, by file name (sorted, so the hash is stable)."""
    try:
        return {p.name: p.read_bytes() for p in sorted(HOST_CA_DIR.glob("*.crt")) if p.is_file()}
    except OSError:
        return {}


def ca_sha(cas: dict[str, bytes], recipe: str = "") -> str:
    """Hash of the certificates and the image's recipe: a change to either rebuilds the image."""
    h = hashlib.sha256(recipe.encode())
    for name, data in cas.items():
        h.update(name.encode() + b"\0" + data + b"\0")
    return h.hexdigest()[:16]


def build_context(dockerfile: str, cas: dict[str, bytes]) -> io.BytesIO:
    """A tar build context: the Dockerfile plus ca/<name>.crt for each host certificate."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        files = {"Dockerfile": dockerfile.encode(), "ca/.keep": b""}
        files.update({f"ca/{name}": data for name, data in cas.items()})
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


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


def has(client, tag: str, label: str | None = None) -> bool:
    """The image exists (and, if ``label`` is given, carries that CA hash)."""
    import docker.errors
    try:
        img = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return label is None or (img.labels or {}).get(CA_LABEL) == label


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
    cas = host_cas()
    recipe = LAYERS[tag] if tag in LAYERS else node_recipe(int(NODE_RE.match(tag).group(1)))
    sha = ca_sha(cas, recipe)
    if has(client, tag, sha):
        return tag
    base = debian(client, log)
    if tag not in LAYERS:
        layered(client, NODE_DEBIAN, log)
    log(f"building {tag} from {base} (with {len(cas)} CA certificate(s) from {HOST_CA_DIR})")
    client.images.build(fileobj=build_context(recipe.format(base=base), cas), custom_context=True,
                        tag=tag, rm=True, pull=False, labels={CA_LABEL: sha})
    return tag


def ensure_for(client, image: str, log=print) -> bool:
    """Build ``image`` if it is a local base image this module knows how to make and it is missing
    (a Node major asked for the first time). False for any other image."""
    if image in LAYERS or NODE_RE.match(image):
        if image not in LAYERS and not 14 <= int(NODE_RE.match(image).group(1)) <= 40:
            return False
        layered(client, image, log)
        return True
    return image == DEBIAN and bool(debian(client, log))


def ensure_all(client, log=print) -> dict[str, str]:
    """Every local base image, built if missing: {runtime: tag}, the same keys as OVERRIDES
    (with Node's template: other majors are built on first use)."""
    for tag in [*LAYERS, NODE]:
        layered(client, tag, log)
    return dict(OVERRIDES)


def override_env(images: dict[str, str]) -> dict[str, str]:
    return {f"RENDERLITE_BASE_IMAGE_{kind.upper()}": tag for kind, tag in images.items()}


if __name__ == "__main__":
    import docker
    print(ensure_all(docker.from_env(timeout=600)))
