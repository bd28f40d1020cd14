"""Sample applications deployed by the tests, as {path: content} dicts."""
from __future__ import annotations

PY_BASE = "renderlite-base/python:3.11"

HTTP_APP = '''\
import os, http.server
VERSION = open("version.txt").read().strip()
HOST = os.environ.get("BIND", "0.0.0.0")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {VERSION}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        print("request", self.path, flush=True)

print(f"listening on {HOST}:{os.environ['PORT']}", flush=True)
http.server.ThreadingHTTPServer((HOST, int(os.environ["PORT"])), Handler).serve_forever()
'''


def dockerfile(extra: str = "", cmd: str = '["python", "app.py"]') -> str:
    return f"FROM {PY_BASE}\nWORKDIR /app\nCOPY . .\n{extra}USER nobody\nCMD {cmd}\n"


def python_app(version: str = "v1", extra: str = "", cmd: str = '["python", "app.py"]') -> dict[str, str]:
    return {"Dockerfile": dockerfile(extra, cmd), "app.py": HTTP_APP, "version.txt": version + "\n"}
