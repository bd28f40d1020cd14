"""The static file server of zero-config static sites: `python3 static_server.py DIR`, on $PORT.

Copied into the image of a static site (it needs only Python's standard library). Better than
`python -m http.server` where it matters for real sites:
- clean URLs: /about serves about.html (or about/index.html);
- single-page apps: a path without a file extension that matches nothing serves /index.html, so
  client-side routes (/users/42) load the app instead of a 404;
- dotfiles (.env, .git/...) are never served (.well-known is), nor directory listings;
- a site's own 404.html answers unknown paths, with status 404 (then it is no single-page app);
- RenderLite's health probes are not logged (they would drown the app's output).
"""
from __future__ import annotations

import functools
import http.server
import os
import sys
import urllib.parse


class Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "renderlite-static"
    sys_version = ""

    def send_head(self):
        path, _, query = self.path.partition("?")
        # Decoded first, as translate_path will: /%2eenv is /.env
        parts = [p for p in urllib.parse.unquote(path.split("#", 1)[0]).replace("\\", "/").split("/") if p]
        if any(p.startswith(".") and p != ".well-known" for p in parts):
            return self._not_found()
        target = self.translate_path(path)
        if os.path.isdir(target) and not os.path.isfile(os.path.join(target, "index.html")):
            target = ""                         # no directory listings
        if not target or not os.path.exists(target):
            found = self._fallback(path, parts)
            if found is None:
                return self._not_found()
            self.path = found + (f"?{query}" if query else "")
        return super().send_head()

    def _fallback(self, path: str, parts: list[str]) -> str | None:
        """The clean-URL or single-page-app file for a path that matches no file; None for a 404."""
        if parts and os.path.isfile(self.translate_path(path.rstrip("/") + ".html")):
            return path.rstrip("/") + ".html"
        if os.path.isfile(self.translate_path("/404.html")):
            return None                         # a site with its own 404 page is not a single-page app
        last = parts[-1] if parts else ""
        if "." not in last and os.path.isfile(self.translate_path("/index.html")):
            return "/index.html"
        return None

    def _not_found(self):
        page = self.translate_path("/404.html")
        if not os.path.isfile(page):
            self.send_error(404, "Not Found")
            return None
        f = open(page, "rb")
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(os.fstat(f.fileno()).st_size))
        self.end_headers()
        return f

    def log_message(self, fmt, *args):
        if self.headers and self.headers.get("User-Agent", "").startswith("renderlite-health"):
            return
        super().log_message(fmt, *args)


def main(argv: list[str]) -> None:
    root = os.path.realpath(argv[1] if len(argv) > 1 else ".")
    port = int(os.environ.get("PORT", "3000"))
    server = http.server.ThreadingHTTPServer(("0.0.0.0", port), functools.partial(Handler, directory=root))
    print(f"serving {root} on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
