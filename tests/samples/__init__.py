"""Sample applications deployed by the tests, as {path: content} dicts."""
from __future__ import annotations

PY_BASE = "renderlite-base/python:3.11"

HTTP_APP = '''\
import os, time, http.server
VERSION = open("version.txt").read().strip()
HOST = os.environ.get("BIND", "0.0.0.0")
STATUS = int(os.environ.get("STATUS", "200"))   # 500: a version that answers only server errors

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/sleep/"):   # a slow request: /sleep/<seconds>
            time.sleep(float(self.path.rsplit("/", 1)[1]))
        body = f"hello from {VERSION}\\n".encode()
        self.send_response(STATUS)
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


SLOW_APP = '''\
import os, time, http.server
VERSION = open("version.txt").read().strip()
time.sleep(float(os.environ.get("START_DELAY", "10")))   # a slow start: listens only after 10 s

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = f"{VERSION}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
'''

WS_APP = '''\
import asyncio, os, signal
from websockets.asyncio.server import serve
from websockets.http11 import Response
from websockets.datastructures import Headers
VERSION = open("version.txt").read().strip()

async def echo(ws):
    async for message in ws:
        await ws.send(f"{VERSION}:{message}")

def plain_http(connection, request):
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return connection.respond(200, f"{VERSION}\\n")

async def main():
    async with serve(echo, "0.0.0.0", int(os.environ["PORT"]), process_request=plain_http) as server:
        # Stopped at the end of a drain: close open sockets cleanly (1001 going away).
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.close)
        await server.wait_closed()

asyncio.run(main())
'''


def slow_app(version: str) -> dict[str, str]:
    return {"Dockerfile": dockerfile(), "app.py": SLOW_APP, "version.txt": version + "\n"}


def ws_app(version: str) -> dict[str, str]:
    return {"Dockerfile": dockerfile(extra="RUN pip install --no-cache-dir 'websockets>=13,<16'\n"),
            "app.py": WS_APP, "version.txt": version + "\n"}


ENV_APP = '''\
import json, os, http.server

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(dict(os.environ), ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
'''


def env_app() -> dict[str, str]:
    return {"Dockerfile": dockerfile(), "app.py": ENV_APP}


REPOS = __import__("pathlib").Path(__file__).parent / "repos"


def repo(name: str) -> dict[str, str]:
    """A sample repository kept as files under tests/samples/repos/<name> (real lockfiles)."""
    root = REPOS / name
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


HOSTILE_APP = '''\
import http.server, os, subprocess, sys

HOG = None

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global HOG
        if self.path == "/fork":      # a fork bomb, in its own process group
            subprocess.Popen(["sh", "-c", "b() { b | b & }; b"], start_new_session=True)
            body = "forking"
        elif self.path == "/hog":     # a memory hog: 2 GB, one MB at a time
            HOG = subprocess.Popen([sys.executable, "-c", "x = []\\nwhile True: x.append(bytearray(1 << 20))"])
            body = "hogging"
        elif self.path == "/hog-status":
            body = str(HOG.poll() if HOG else None)
        else:
            body = "hostile"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
'''


def hostile_app() -> dict[str, str]:
    return {"Dockerfile": dockerfile(), "app.py": HOSTILE_APP}


FLAKY_APP = '''\
import http.server, os, time
BOOT = str(time.time())
BROKEN = False

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global BROKEN
        if self.path == "/break":
            BROKEN = True
        code = 500 if BROKEN and self.path == "/healthz" else 200
        data = BOOT.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
'''

TCP_APP = '''\
import os, socketserver

class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b"echo " + line)

socketserver.ThreadingTCPServer(("0.0.0.0", int(os.environ["PORT"])), Echo).serve_forever()
'''


def flaky_app() -> dict[str, str]:
    return {"Dockerfile": dockerfile(), "app.py": FLAKY_APP}


def tcp_app() -> dict[str, str]:
    return {"Dockerfile": dockerfile(), "app.py": TCP_APP}
