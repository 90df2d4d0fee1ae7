"""A small HTTP server on 127.0.0.1 for download tests: Range support and fault injection."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    files: dict[str, bytes]
    cut_after: int | None = None  #: close the connection after this many body bytes (once)
    ignore_range: bool = False
    lie_length: int | None = None  #: announce this Content-Length instead of the real one
    range_start: int | None = None  #: answer the next Range request from this byte instead (once)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  #: (path, Range)


def _handler(b: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            b.requests.append((self.path, rng))
            data = b.files.get(self.path.lstrip("/"))
            if data is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            if rng and not b.ignore_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if b.range_start is not None:
                    start, b.range_start = b.range_start, None
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            length = b.lie_length if b.lie_length is not None else len(body)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if b.cut_after is not None:
                self.wfile.write(body[: b.cut_after])
                self.wfile.flush()
                b.cut_after = None
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(behaviour: Behaviour) -> Iterator[str]:
    """Serve ``behaviour.files`` at http://127.0.0.1:PORT/<name>; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
