"""The server's HTTP front on Starlette, served by uvicorn on its own thread: POST /ingest
and GET /commands for hubs, the JSON API for people and their programs.

Nothing is answered to a caller the server does not know. A hub logs in with HTTP Basic
as "<community>/<hub>" and its secret (`edge-hub server add-hub`), and may post and read
only as itself. The API asks for a bearer token (`edge-hub server api-token`) and shows
only the token's community.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cloud_sync.server.access import Access
from cloud_sync.server.admin import admin_routes
from cloud_sync.server.console import (
    Changes,
    ConsoleApi,
    client_of,
    console_routes,
    person_of,
)
from cloud_sync.server.credentials import ApiCaller, HubLogin
from cloud_sync.server.duty import Duty
from cloud_sync.server.errors import (
    BatchError,
    NotAllowed,
    ReceiverError,
    ReceiverSetupError,
)
from cloud_sync.server.people import People
from cloud_sync.server.roster_book import RosterBook
from cloud_sync.server.settings import LOOPBACK
from cloud_sync.server.store import CommandPage
from cloud_sync.server.wire import MAX_SEQ

MAX_BODY = 16 * 1024 * 1024
_log = logging.getLogger("cloud_sync.server.receiver.http")
_HUB_LOGIN = {"WWW-Authenticate": 'Basic realm="edge-hub hubs"'}
_API_LOGIN = {"WWW-Authenticate": 'Bearer realm="edge-hub api"'}


class HttpApi(ConsoleApi, Protocol):
    """What the HTTP front asks of the server."""

    def ingest(self, payload: bytes, *, sender: HubLogin | None = None) -> tuple[int, str]: ...

    def commands_after(self, hub: str, community: str, after: int) -> CommandPage: ...

    def hubs(self, community: str | None = None) -> list[dict[str, Any]]: ...

    def watches(self, community: str | None = None) -> list[dict[str, Any]]: ...

    def push_roster(self, community: str) -> int: ...


Handler = Callable[[Request], Awaitable[JSONResponse]]


def build_app(api: HttpApi, access: Access, people: People, changes: Changes,
              stopping: threading.Event | None = None, duty: Duty | None = None,
              rosters: RosterBook | None = None) -> Starlette:
    """The ASGI application: every route checks who is calling before anything else."""

    async def ingest(request: Request) -> JSONResponse:
        hub = await _hub_of(request, access)
        if hub is None:
            return _refused(_HUB_LOGIN, "hubs log in with HTTP Basic as <community>/<hub> and "
                            "their secret (edge-hub server add-hub)")
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return _error(411, "expected a Content-Length header")
        if int(length) > MAX_BODY:
            return _error(413, f"batch too large; expected at most {MAX_BODY} bytes")
        body = await request.body()
        ack_seq, epoch = await run_in_threadpool(api.ingest, body, sender=hub)
        return JSONResponse({"ack_seq": ack_seq, "epoch": epoch})

    async def commands(request: Request) -> JSONResponse:
        hub = await _hub_of(request, access)
        if hub is None:
            return _refused(_HUB_LOGIN, "hubs log in with HTTP Basic as <community>/<hub> and "
                            "their secret (edge-hub server add-hub)")
        query = request.query_params
        for key, mine in (("hub", hub.hub), ("community", hub.community)):
            if query.get(key, mine) != mine:
                raise NotAllowed(f"{hub.username} may read only its own commands, not those of "
                                 f"{key} {query.get(key, '')[:70]!r}")
        after = query.get("after", "0")
        if not (after.isascii() and after.isdigit() and len(after) <= 19 and int(after) <= MAX_SEQ):
            raise BatchError(f"after is {after[:30]!r}; expected a whole number >= 0, the `next` "
                             "of the previous answer (0 the first time)")
        page = await run_in_threadpool(api.commands_after, hub.hub, hub.community, int(after))
        return JSONResponse({"commands": list(page.commands), "next": page.next})

    def listing(read: Callable[[Request, str], list[dict[str, Any]]],
                hubs_of: Callable[[dict[str, Any]], set[str]]) -> Handler:
        """A community's rows; a worker's console gets those of their buildings only."""
        async def answer(request: Request) -> JSONResponse:
            caller = await _caller_of(request, access)
            person = None if caller is not None else await run_in_threadpool(
                person_of, request, people)
            community = caller.community if caller is not None else \
                person.community if person is not None else None
            if community is None:
                return _refused(_API_LOGIN, "the API needs a console login or Authorization: "
                                "Bearer <token> (edge-hub server api-token)")
            rows = await run_in_threadpool(read, request, community)
            if person is not None and person.role == "worker":
                mine = await run_in_threadpool(
                    lambda: duty.buildings_of(community, person.contact) if duty else set())
                rows = [row for row in rows if hubs_of(row) & mine]
            return JSONResponse(rows)
        return answer

    routes = [
        Route("/ingest", _guarded(ingest), methods=["POST"]),
        Route("/commands", _guarded(commands), methods=["GET"]),
        Route("/api/hubs", _guarded(listing(lambda _, community: api.hubs(community),
                                            lambda row: {row["hub"]})), methods=["GET"]),
        Route("/api/alerts", _guarded(listing(lambda request, community: api.alerts(
            open_only=request.query_params.get("open", "") in ("1", "true", "yes"),
            community=community), lambda row: {hub["hub"] for hub in row["hubs"]})),
            methods=["GET"]),
        Route("/api/watches", _guarded(listing(lambda _, community: api.watches(community),
                                               lambda row: {row["last_hub"]})), methods=["GET"]),
        *(Route(route.path, _guarded(route.endpoint), methods=route.methods)
          for route in console_routes(api, people, changes, stopping, duty)),
        *(Route(route.path, _guarded(route.endpoint), methods=route.methods)
          for route in (admin_routes(people, access, duty, rosters, api)
                        if duty is not None and rosters is not None else [])),
    ]
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})


async def _hub_of(request: Request, access: Access) -> HubLogin | None:
    login = _basic(request.headers.get("authorization", ""))
    if login is None:
        return None
    found = await run_in_threadpool(access.hub_login, *login)
    if found is None:
        _log.warning("HTTP %s %s from %s: wrong hub login %r; refused.", request.method,
                     request.url.path, client_of(request), login[0][:70])
    return found


async def _caller_of(request: Request, access: Access) -> ApiCaller | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    found = await run_in_threadpool(access.api_caller, token.strip())
    if found is None:
        _log.warning("HTTP %s %s from %s: unknown API token; refused.", request.method,
                     request.url.path, client_of(request))
    return found


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, colon, secret = base64.b64decode(encoded.strip(), validate=True) \
            .decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, secret) if colon and username and secret else None


def _guarded(handler: Handler) -> Handler:
    """Turn the server's errors into answers a hub or a person can act on."""

    async def answer(request: Request) -> JSONResponse:
        try:
            return await handler(request)
        except BatchError as error:
            return _error(400, str(error))
        except NotAllowed as error:
            _log.warning("HTTP %s %s from %s refused: %s.", request.method, request.url.path,
                         client_of(request), error)
            return _error(403, str(error))
        except ReceiverError as error:
            _log.error("HTTP %s %s failed: %s", request.method, request.url.path, error)
            return _error(503, f"{error}; try again later")
        except Exception:  # noqa: BLE001 -- a bug must not leave the hub without an answer
            _log.exception("HTTP %s %s failed unexpectedly", request.method, request.url.path)
            return _error(500, "internal error; see the server's log")

    return answer


async def _not_found(request: Request, _exc: Exception) -> JSONResponse:
    return _error(404, "not found; hubs use POST /ingest and GET /commands, people "
                  "/api/hubs, /api/alerts and /api/watches")


def _refused(headers: dict[str, str], how: str) -> JSONResponse:
    return JSONResponse({"error": f"not logged in; {how}"}, status_code=401, headers=headers)


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=code)


class HttpFront:
    """Runs the HTTP front (uvicorn) on its own thread, on a socket bound at once."""

    def __init__(self, api: HttpApi, access: Access, people: People, changes: Changes,
                 host: str, port: int, *, duty: Duty | None = None,
                 rosters: RosterBook | None = None,
                 trusted_proxies: tuple[str, ...] = LOOPBACK) -> None:
        try:
            self._socket = socket.create_server((host, port), reuse_port=False)
        except OSError as error:
            raise ReceiverSetupError(f"cannot listen on {host}:{port} ({error.strerror}); "
                                     "choose a free port with --http HOST:PORT") from None
        self._stopping = threading.Event()
        self.app = build_app(api, access, people, changes, self._stopping, duty, rosters)
        # Behind an HTTPS proxy, uvicorn takes the person's address and the scheme from the
        # proxy's X-Forwarded-For and X-Forwarded-Proto, from these addresses only.
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5, proxy_headers=True,
                                forwarded_allow_ips=list(trusted_proxies))
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="server-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    def _serve(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self, wait_s: float = 10.0) -> None:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(wait_s / 0.02)):
            if self._server.started or not self._thread.is_alive():
                break
            deadline.wait(0.02)
        _log.info("HTTP front listening on http://%s:%d (POST /ingest, GET /commands, /api/…).",
                  *self.address)

    def stop(self) -> None:
        self._stopping.set()  # live streams end, so the server need not wait for them
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
        self._socket.close()
