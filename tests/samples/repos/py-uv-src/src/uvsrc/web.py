from importlib.metadata import version
from pathlib import Path

from flask import Flask

from uvsrc import print_version  # noqa: F401 - the package imports itself by name: it must be installed or on the path

app = Flask(__name__)
VERSION = (Path(__file__).resolve().parents[2] / "version.txt").read_text().strip()


@app.get("/")
def index():
    return (f"hello from py-uv-src {VERSION} (flask {version('flask')}, installed uvsrc {version('uvsrc')})\n",
            200, {"Content-Type": "text/plain"})
