"""A Python package index on 127.0.0.1 (PEP 503's simple API) serving one small wheel built here,
for the tests of installing boto3 without the real index: pip fetches from it exactly as from
PyPI. Its downloads can be held back (`hold()`, `release()`) to catch an install midway, and are
counted."""
from __future__ import annotations

import base64
import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

_HOLD_LIMIT_S = 60.0     # a held download is let go after this even if the test never releases it


def wheel_bytes(name: str, version: str, files: dict) -> bytes:
    """A pure-Python wheel of `files` ({path in site-packages: text}), with its dist-info."""
    dist_info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    contents[f"{dist_info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: lambdagate-tests\nRoot-Is-Purelib: true\n" \
                                     "Tag: py3-none-any\n"
    record = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, text in contents.items():
            zf.writestr(path, text)
    return out.getvalue()


class PackageIndex:
    """Serves `/simple/<name>/` and the wheel of one package."""

    def __init__(self, name: str, version: str, files: dict):
        self.name, self.version = name, version
        self.filename = f"{name}-{version}-py3-none-any.whl"
        self.wheel = wheel_bytes(name, version, files)
        self.page_requests = 0
        self.downloads_started = 0
        self.downloads = 0
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple/"

    def hold(self) -> None:
        """Downloads wait from now on until `release()`."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def start(self) -> "PackageIndex":
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.rstrip("/") == f"/simple/{index.name}":
                    with index._lock:
                        index.page_requests += 1
                    sha = hashlib.sha256(index.wheel).hexdigest()
                    body = (f"<!DOCTYPE html><html><body><a href=\"/files/{index.filename}#sha256={sha}\">"
                            f"{index.filename}</a></body></html>").encode()
                    self._send(200, "text/html", body)
                elif self.path == f"/files/{index.filename}":
                    with index._lock:
                        index.downloads_started += 1
                    index._gate.wait(_HOLD_LIMIT_S)
                    self._send(200, "application/octet-stream", index.wheel)
                    with index._lock:
                        index.downloads += 1
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):   # the installer was stopped meanwhile
                    pass

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="package index", daemon=True).start()
        return self

    def close(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# what an installer says when a registry answers badly or not at all (offline, a proxy refusing,
# TLS interception): tests that need the real registries skip on these instead of failing
REGISTRY_TROUBLE = ("cannot be reached", "offers it", "ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN",
                    "certificate", "E403", "E407")
