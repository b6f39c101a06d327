"""The control API of a simulated building: JSON over HTTP, on loopback by default.

A deliberately small HTTP/1.1 server on the hub's own event loop (no thread, so handlers
may touch the hub directly): one request per connection, a JSON body, a JSON answer.
Every request carries `Authorization: Bearer <token>`; the token is written, readable by
its owner only, beside the simulation's database.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

_log = logging.getLogger("edge.simulated.simulate")
MAX_BODY = 64 * 1024
MAX_HEADERS = 64
MAX_CONNECTIONS = 16
REQUEST_TIMEOUT_S = 10.0
Handler = Callable[[dict[str, Any]], Awaitable[tuple[int, Any]]]
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
            500: "Internal Server Error"}


class BadRequest(ValueError):
    """A request the control API cannot take; the message names the field."""


class ControlServer:
    """Routes (METHOD, path) to handlers; answers 401 without the token."""

    def __init__(self, routes: Mapping[tuple[str, str], Handler], token: str) -> None:
        self.routes = dict(routes)
        self._token = token
        self._server: asyncio.Server | None = None
        self._open = asyncio.Semaphore(MAX_CONNECTIONS)

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the address actually bound (port 0 picks a free one)."""
        self._server = await asyncio.start_server(self._serve, host, port)
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open.locked():  # too many at once: a client that holds them gets no more
            writer.close()
            return
        async with self._open:
            await self._one(reader, writer)

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, answer = await asyncio.wait_for(self._answer(reader), REQUEST_TIMEOUT_S)
        except asyncio.TimeoutError:
            status, answer = 408, {"error": f"the request took longer than {REQUEST_TIMEOUT_S:g} s"}
        except BadRequest as error:
            status, answer = 400, {"error": str(error)}
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()
            return
        except Exception as error:  # noqa: BLE001 - a bad handler must not end the API
            _log.exception("The control API failed on a request.")
            status, answer = 500, {"error": f"{type(error).__name__}: {error}"}
        body = json.dumps(answer, ensure_ascii=False).encode()
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                f"Content-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        method, path = _request_line(await reader.readline())
        headers = await _headers(reader)
        if not _authorised(headers.get("authorization", ""), self._token):
            return 401, {"error": "Authorization: expected 'Bearer <token>' with the token "
                                  "from the simulation's .control-token file"}
        body = await _body(reader, headers)
        handler = self.routes.get((method, path))
        if handler is None:
            known = sorted({p for _, p in self.routes})
            if any(p == path for _, p in self.routes):
                return 405, {"error": f"{method} is not allowed on {path}"}
            return 404, {"error": f"no {path}; the API has {', '.join(known)}"}
        return await handler(body)


def _request_line(line: bytes) -> tuple[str, str]:
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest("request line: expected 'METHOD /path HTTP/1.1'")
    return parts[0].upper(), parts[1].split("?", 1)[0]


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = (await reader.readline()).decode("latin-1").strip()
        if not line:
            return headers
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    raise BadRequest(f"headers: at most {MAX_HEADERS}")


async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> dict[str, Any]:
    length_text = headers.get("content-length", "0")
    if not (length_text.isascii() and length_text.isdigit()):
        raise BadRequest("Content-Length: expected a number of bytes")
    length = int(length_text)
    if length > MAX_BODY:
        raise BadRequest(f"body: at most {MAX_BODY} bytes")
    raw = await reader.readexactly(length) if length else b""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest(f"body: expected a JSON object ({error})") from None
    if not isinstance(body, dict):
        raise BadRequest("body: expected a JSON object like {\"resident\": \"r-101\"}")
    return body


def _authorised(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode())
