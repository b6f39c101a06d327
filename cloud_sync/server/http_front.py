"""The receiver's HTTP front: POST /ingest and GET /commands for hubs, a JSON API for people."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from cloud_sync.server.errors import BatchError, ReceiverError, ReceiverSetupError
from cloud_sync.server.store import CommandPage
from cloud_sync.server.wire import MAX_SEQ

MAX_BODY = 16 * 1024 * 1024
_log = logging.getLogger("cloud_sync.server.receiver.http")


class HttpApi(Protocol):
    """What the HTTP front asks of the receiver."""

    def ingest(self, payload: bytes) -> tuple[int, str]: ...

    def commands_after(self, hub: str, community: str, after: int) -> CommandPage: ...

    def hubs(self) -> list[dict[str, Any]]: ...

    def alerts(self, *, open_only: bool = False) -> list[dict[str, Any]]: ...

    def watches(self) -> list[dict[str, Any]]: ...


class ReceiverHttpServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the receiver it serves."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: HttpApi) -> None:
        super().__init__(address, _Handler)
        self.api = api


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverHttpServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/ingest":
            self._reply(404, {"error": "not found; hubs POST event batches to /ingest"})
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._reply(411, {"error": "expected a Content-Length header"})
            return
        if int(length) > MAX_BODY:
            self._reply(413, {"error": f"batch too large; expected at most {MAX_BODY} bytes"})
            self.close_connection = True
            return
        body = self.rfile.read(int(length))
        self._answer(lambda: self._ingest(body))

    def _ingest(self, body: bytes) -> dict[str, Any]:
        ack_seq, epoch = self.server.api.ingest(body)
        return {"ack_seq": ack_seq, "epoch": epoch}

    def _commands(self, query: dict[str, str]) -> dict[str, Any]:
        after = query.get("after", "0")
        if not (after.isascii() and after.isdigit() and len(after) <= 19 and int(after) <= MAX_SEQ):
            raise BatchError(f"after is {after[:30]!r}; expected a whole number >= 0, the `next` "
                             "of the previous answer (0 the first time)")
        page = self.server.api.commands_after(query.get("hub", ""), query.get("community", ""),
                                              int(after))
        return {"commands": list(page.commands), "next": page.next}

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        api = self.server.api
        routes: dict[str, Callable[[], object]] = {
            "/commands": lambda: self._commands(query),
            "/api/hubs": api.hubs,
            "/api/alerts": lambda: api.alerts(open_only=query.get("open", "") in ("1", "true", "yes")),
            "/api/watches": api.watches,
        }
        route = routes.get(url.path.rstrip("/") or "/")
        if route is None:
            self._reply(404, {"error": "not found; try /api/hubs, /api/alerts or /api/watches"})
            return
        self._answer(route)

    def _answer(self, work: Callable[[], object]) -> None:
        try:
            self._reply(200, work())
        except BatchError as error:
            self._reply(400, {"error": str(error)})
        except ReceiverError as error:
            _log.error("HTTP %s %s failed: %s", self.command, self.path, error)
            self._reply(503, {"error": f"{error}; try again later"})
        except Exception:  # noqa: BLE001 -- a bug must not leave the hub without an answer
            _log.exception("HTTP %s %s failed unexpectedly", self.command, self.path)
            self._reply(500, {"error": "internal error; see the receiver's log"})

    def _reply(self, code: int, value: object) -> None:
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("HTTP %s: " + format, self.client_address[0], *args)


class HttpFront:
    """Runs the HTTP front on its own thread."""

    def __init__(self, api: HttpApi, host: str, port: int) -> None:
        try:
            self.server = ReceiverHttpServer((host, port), api)
        except OSError as error:
            raise ReceiverSetupError(f"cannot listen on {host}:{port} ({error.strerror}); "
                                     "choose a free port with --http HOST:PORT") from None
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.1,),
                                        name="receiver-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        _log.info("HTTP front listening on http://%s:%d (POST /ingest, GET /commands, /api/…).",
                  *self.address)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
