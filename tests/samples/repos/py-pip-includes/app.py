import os
from importlib.metadata import version

from flask import Flask

app = Flask(__name__)
VERSION = open(os.path.join(os.path.dirname(__file__), "version.txt")).read().strip()


@app.get("/")
def index():
    return f"hello from py-pip-includes {VERSION} (flask {version('flask')})\n", 200, {"Content-Type": "text/plain"}
