"""A real HTTP server on 127.0.0.1 serving model-pack zips built from the offline pack."""

from __future__ import annotations

import functools
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kiosk.inference.packs import get_pack_spec
from tests.kiosk.conftest import vectron_dir


class PackServer:
    """Serves ``routes[path] = (body, declared_length)`` on a free loopback port."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, int]] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path not in routes:
                    self.send_error(404)
                    return
                body, length = routes[self.path]
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes, declared_length: int | None = None) -> str:
        self.routes[path] = (body, len(body) if declared_length is None else declared_length)
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@functools.cache
def pack_zip(folder: str = "", tamper: str | None = None) -> bytes:
    """A release-style zip of the offline pack's two files (optionally one altered)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        for model in get_pack_spec("vectron").files:
            data = (vectron_dir() / model.filename).read_bytes()
            if model.filename == tamper:
                data = data[:-1] + bytes([data[-1] ^ 1])
            bundle.writestr(folder + model.filename, data)
        bundle.writestr(folder + "readme.txt", "not needed")
    return buffer.getvalue()
