"""An npm registry on 127.0.0.1 serving small packages built here (a packument per name and its
tarball), for the tests of installing the AWS SDK for JavaScript without the real registry: npm
fetches from it exactly as from the public one. Tarball downloads are counted."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


def tarball(files: dict) -> bytes:
    """An npm package tarball: `files` ({path: text}) under package/."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"package/{path}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def dual_package(name: str, version: str, origin: str) -> dict:
    """A package that ES modules import and CommonJS requires, saying where it came from."""
    return {"package.json": json.dumps({"name": name, "version": version,
                                        "exports": {".": {"import": "./index.mjs", "require": "./index.cjs"}}}),
            "index.mjs": f"export const origin = {origin!r};\n",
            "index.cjs": f"exports.origin = {origin!r};\n"}


class NpmRegistry:
    """Serves every package of `names` at `version`, each built by dual_package."""

    def __init__(self, names, version: str, origin: str):
        self.version = version
        self.tarballs = {name: tarball(dual_package(name, version, origin)) for name in names}
        self.tarball_downloads = 0
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def _packument(self, name: str) -> bytes:
        data = self.tarballs[name]
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
        dist = {"tarball": f"{self.url}-/tarball/{urllib.parse.quote(name, safe='')}.tgz",
                "integrity": integrity, "shasum": hashlib.sha1(data).hexdigest()}
        return json.dumps({"name": name, "dist-tags": {"latest": self.version},
                           "versions": {self.version: {"name": name, "version": self.version, "dist": dist}}}).encode()

    def start(self) -> "NpmRegistry":
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                if path.startswith("/-/tarball/") and path[len("/-/tarball/"):-len(".tgz")] in registry.tarballs:
                    with registry._lock:
                        registry.tarball_downloads += 1
                    self._send(200, "application/octet-stream", registry.tarballs[path[len("/-/tarball/"):-4]])
                elif path[1:] in registry.tarballs:
                    self._send(200, "application/json", registry._packument(path[1:]))
                else:
                    self._send(404, "application/json", b'{"error": "Not found"}')

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="npm registry", daemon=True).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
