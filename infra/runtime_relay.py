"""The Lambda runtime API between the local function processes and `cargo lambda watch`.

Why it exists: `cargo lambda watch` (1.9.2) answers a function's
`POST .../runtime/invocation/{id}/response` as soon as the headers arrive, and reads the
body (the function's answer) only when the next request comes on that same connection. When
the function's HTTP client sends its next request on another connection and closes this
one, the answer is lost and the caller gets the emulator's own
`500 {"type":"https://httpstatuses.com/500",...}`, with nothing logged anywhere. Measured on
a busy machine: 23 of 1,500 MCP `tools/list` calls (a 15 KB answer) failed so, none of
1,500 `ping`s. AWS Lambda's runtime API has no such window.

So each request a function makes is read whole here, sent upstream on a connection kept
for that function's connection, and, when it carried a body, followed on the same
connection by a request the emulator answers at once and without effect (the answer to an
invocation id it never gave). HTTP/1.1 answers in order, so that second answer means the
first body was read in full; only then is the function answered. The functions see the
runtime API they would see in AWS; nothing in them knows about this. The hop costs about
1.5 ms a call on the 2-core machine the suite runs on (docs/OPERATING.md).

    python infra/runtime_relay.py LISTEN_PORT UPSTREAM_PORT
"""
from __future__ import annotations

import http.client
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# An invocation id no function is ever given: the emulator's answer to it changes nothing.
FLUSH_PATH = "/.rt/_relay/2018-06-01/runtime/invocation/relay-flush/response"
# Hop-by-hop headers: each side of the relay has its own connection.
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def log(level: str, message: str, **fields) -> None:
    print(json.dumps({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "level": level, "message": message, **fields}), flush=True)


class Upstream:
    """One keep-alive connection to the emulator's runtime API."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def exchange(self, method: str, path: str, headers: dict[str, str], body: bytes | None):
        """(status, headers, body) of one request; a kept connection the emulator closed
        meanwhile is replaced once, before anything of this request was answered."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = self._connect()
            try:
                chunked = headers.get("Transfer-Encoding") == "chunked"
                if chunked:
                    self.conn.request(method, path, body=iter([body] if body else []), headers=headers,
                                      encode_chunked=True)
                else:
                    self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, resp.getheaders(), data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    upstream_port = 0

    def setup(self) -> None:
        super().setup()
        self.upstream = Upstream(self.upstream_port)

    def finish(self) -> None:
        super().finish()
        self.upstream.close()

    def log_message(self, *args) -> None:
        pass

    def relay(self) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            # A streamed answer (response mode `streaming`) is read whole too; the emulator
            # tells it by its chunked encoding, so it is sent on chunked.
            body = self.read_chunked()
            headers["Transfer-Encoding"] = "chunked"
        else:
            size = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(size) if size else None
        try:
            status, answer_headers, data = self.upstream.exchange(self.command, self.path, headers, body)
            if body:
                # Answered in order: this answer means the body above was read whole.
                self.upstream.exchange("POST", FLUSH_PATH, {}, b"")
        except OSError as e:
            log("ERROR", "runtime API not reachable", path=self.path, error=str(e))
            self.send_error(502)
            return
        self.send_response(status)
        for k, v in answer_headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PUT = relay


def main() -> None:
    listen, upstream = int(sys.argv[1]), int(sys.argv[2])
    Relay.upstream_port = upstream
    ThreadingHTTPServer.daemon_threads = True
    # Every function connects at once when the stack starts.
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", listen), Relay)
    log("INFO", "runtime API relay listening", port=listen, upstream=upstream)
    server.serve_forever()


if __name__ == "__main__":
    main()
