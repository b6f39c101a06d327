"""The duty-desk console: log in, a live board of the community's open alerts, and the
first steps of the workflow (claim: "I'm going"; on site: the alert is taken).

A person logs in with a password (cloud_sync.server.people); the session cookie is
HttpOnly and SameSite=Strict, and Secure when the page came over HTTPS. Every change the
page asks for carries the session's CSRF token in X-CSRF-Token. The board listens on
/api/stream (server-sent events) and fetches the alerts again when they change.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import threading
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any, Protocol
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from cloud_sync.server.away import asked_until
from cloud_sync.server.duty import Duty
from cloud_sync.server.errors import BatchError, NotAllowed, ReceiverSetupError
from cloud_sync.server.people import SESSION_S, LoginRefused, People, Person

COOKIE = "edge_session"
MAX_LOGIN_BYTES = 4096
STREAM_LIFETIME_S = 60.0  # then the browser reconnects (EventSource does it by itself)


class Changes(Protocol):
    """Something that moves when a community's alerts change (cloud_sync.server.changes)."""

    check_s: float

    def version(self, community: str) -> object: ...


class ConsoleApi(Protocol):
    """What the console asks of the server."""

    def alerts_version(self, community: str) -> tuple[int, float]: ...

    def alert_community(self, alert: str) -> str | None: ...

    def claim(self, alert: str, by: str, for_s: float = ...) -> list[str]: ...

    def acknowledge(self, alert: str, by: str) -> list[str]: ...

    def close(self, alert: str, by: str, outcome: str, note: str = "") -> str: ...

    def text_now(self, alert: str, by: str) -> list[str]: ...

    def report(self, community: str) -> list[dict[str, Any]]: ...

    def alerts_csv(self, community: str) -> str: ...

    def timeline(self, alert: str) -> list[dict[str, Any]]: ...

    def alerts(self, *, open_only: bool = False, community: str | None = None,
               board: bool = False) -> list[dict[str, Any]]: ...

    def resident_away(self, community: str, resident: str, until: float | None,
                      by: str) -> list[str]: ...


def person_of(request: Request, people: People) -> Person | None:
    """Who the request's session cookie belongs to (a blocking call: run it in a thread)."""
    cookie = request.cookies.get(COOKIE, "")
    return people.session(cookie, now=time.time()) if cookie else None


def csrf_ok(request: Request, person: Person) -> bool:
    return hmac.compare_digest(request.headers.get("x-csrf-token", "").encode("utf-8"),
                               person.csrf.encode("utf-8"))


def console_routes(api: ConsoleApi, people: People, changes: Changes,
                   stopping: threading.Event | None = None,
                   duty: Duty | None = None) -> list[Route]:
    """The console's pages and the actions it posts; live streams follow `changes` and end
    when `stopping` is set (the server is stopping: browsers reconnect to another). A
    worker sees and acts on the alerts of their buildings only (`duty`)."""
    stopping = stopping or threading.Event()

    def buildings(person: Person) -> set[str] | None:
        """The hubs a person may see: None for the whole community (desk, admin)."""
        if person.role != "worker":
            return None
        return duty.buildings_of(person.community, person.contact) if duty else set()

    def may_see(person: Person, alert: str) -> bool:
        mine = buildings(person)
        return api.alert_community(alert) == person.community and (
            mine is None or bool(duty is not None and duty.alert_hubs(alert) & mine))

    async def login_page(request: Request) -> Response:
        return HTMLResponse(page("login.html"))

    async def shared_script(request: Request) -> Response:
        return Response(page("console.js"), media_type="text/javascript; charset=utf-8")

    async def log_in(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_LOGIN_BYTES:
            return JSONResponse({"error": f"expected a login form of at most {MAX_LOGIN_BYTES} "
                                 "bytes"}, status_code=413)
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"))
                .items()}
        try:
            session, _ = await run_in_threadpool(
                lambda: people.log_in(form.get("username", ""), form.get("password", ""),
                                      now=time.time(), client=client_of(request)))
        except LoginRefused as refused:
            return HTMLResponse(page("login.html").replace(
                "<!--error-->", f'<p class="error" role="alert">{html.escape(str(refused))}</p>'),
                status_code=401)
        answer = RedirectResponse("/", status_code=303)
        answer.set_cookie(COOKIE, session, max_age=int(SESSION_S), httponly=True,
                          samesite="strict", secure=_secure(request), path="/")
        return answer

    async def log_out(request: Request) -> Response:
        person = await run_in_threadpool(person_of, request, people)
        if person is not None and csrf_ok(request, person):
            await run_in_threadpool(people.log_out, request.cookies.get(COOKIE, ""))
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(COOKIE, path="/")
        return answer

    async def board(request: Request) -> Response:
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return RedirectResponse("/login", status_code=303)
        admin = '<a href="/admin" id="admin-link" data-t="admin">管理</a>' \
            if person.role == "admin" else ""
        return HTMLResponse(page("board.html").replace("{csrf}", person.csrf)
                            .replace("{role}", person.role)
                            .replace("<!--admin-->", admin)
                            .replace("{name}", html.escape(person.name))
                            .replace("{community}", html.escape(person.community)))

    async def stream(request: Request) -> Response:
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return JSONResponse({"error": "not logged in"}, status_code=401)

        async def announce() -> AsyncIterator[str]:
            yield "retry: 500\n\n"
            seen = None
            ends = time.monotonic() + STREAM_LIFETIME_S
            while time.monotonic() < ends and not stopping.is_set() and \
                    not await request.is_disconnected():
                version = await run_in_threadpool(changes.version, person.community)
                if version != seen:
                    seen = version
                    yield "event: alerts\ndata: changed\n\n"
                await asyncio.sleep(changes.check_s)

        return StreamingResponse(announce(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def act(request: Request) -> Response:
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return JSONResponse({"error": "not logged in"}, status_code=401)
        if not csrf_ok(request, person):
            return JSONResponse({"error": "missing or wrong X-CSRF-Token; reload the page"},
                                status_code=403)
        alert, action = request.path_params["alert"], request.path_params["action"]
        if not await run_in_threadpool(may_see, person, alert):
            return JSONResponse({"error": f"no alert {alert[:20]!r} in your community"},
                                status_code=404)
        if action == "claim":
            uids = await run_in_threadpool(api.claim, alert, person.name, 20 * 60.0)
        elif action == "ack":
            uids = await run_in_threadpool(api.acknowledge, alert, person.name)
        elif action == "text-now":
            uids = await run_in_threadpool(api.text_now, alert, person.name)
        else:
            asked = await json_object(request, '{"outcome": "fall", "note": "…"}')
            await run_in_threadpool(api.close, alert, person.name, str(asked.get("outcome", "")),
                                    str(asked.get("note", "")))
            uids = []
        return JSONResponse({"alert": alert, "action": action, "hubs_told": len(uids)})

    async def timeline(request: Request) -> Response:
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return JSONResponse({"error": "not logged in"}, status_code=401)
        alert = request.path_params["alert"]
        if not await run_in_threadpool(may_see, person, alert):
            return JSONResponse({"error": f"no alert {alert[:20]!r} in your community"},
                                status_code=404)
        return JSONResponse(await run_in_threadpool(api.timeline, alert))

    async def desk(request: Request) -> Person | Response:
        """The person asking, if they may read reports (the duty desk and admins), else the
        answer that says why not."""
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return JSONResponse({"error": "not logged in"}, status_code=401)
        if person.role == "worker":
            return JSONResponse({"error": "reports are for the duty desk"}, status_code=403)
        return person

    async def report(request: Request) -> Response:
        person = await desk(request)
        if not isinstance(person, Person):
            return person
        return JSONResponse(await run_in_threadpool(api.report, person.community))

    async def alerts_csv(request: Request) -> Response:
        person = await desk(request)
        if not isinstance(person, Person):
            return person
        text = await run_in_threadpool(api.alerts_csv, person.community)
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="alerts-{person.community}.csv"'})

    async def away(request: Request) -> Response:
        """The desk says a resident is away, or back (`until` null):
        every hub of the community pauses (or resumes) their welfare checks. The console
        sends the day they are back (`back_on`), read in the server's zone."""
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return JSONResponse({"error": "not logged in"}, status_code=401)
        if person.role == "worker":
            return JSONResponse({"error": "the duty desk says who is away"}, status_code=403)
        if not csrf_ok(request, person):
            return JSONResponse({"error": "missing or wrong X-CSRF-Token; reload the page"},
                                status_code=403)
        asked = await json_object(request, '{"back_on": "2026-12-10"}, {"until": 1796000000} '
                                  'or {"until": null} (back)')
        resident = request.path_params["resident"]
        try:
            until = asked_until(asked)
            hubs = await run_in_threadpool(api.resident_away, person.community, resident,
                                           until, person.name)
        except ReceiverSetupError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({"resident": resident, "until": until, "hubs_told": len(hubs)})

    async def board_alerts(request: Request) -> Response:
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return JSONResponse({"error": "not logged in"}, status_code=401)
        alerts = await run_in_threadpool(
            lambda: api.alerts(community=person.community, board=True))
        mine = await run_in_threadpool(buildings, person)
        return JSONResponse([alert for alert in alerts if mine is None
                             or {hub["hub"] for hub in alert["hubs"]} & mine])

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/console.js", shared_script, methods=["GET"]),
        Route("/login", log_in, methods=["POST"]),
        Route("/logout", log_out, methods=["POST"]),
        Route("/", board, methods=["GET"]),
        Route("/api/stream", stream, methods=["GET"]),
        Route("/api/board", board_alerts, methods=["GET"]),
        Route("/api/report", report, methods=["GET"]),
        Route("/api/alerts.csv", alerts_csv, methods=["GET"]),
        Route("/api/alerts/{alert}/timeline", timeline, methods=["GET"]),
        Route("/api/residents/{resident}/away", away, methods=["POST"]),
        Route("/api/alerts/{alert}/{action:str}", _only(act, ("claim", "ack", "close", "text-now")),
              methods=["POST"]),
    ]


def _only(handler: Any, actions: tuple[str, ...]) -> Any:
    async def checked(request: Request) -> Response:
        if request.path_params["action"] not in actions:
            raise NotAllowed(f"unknown action {request.path_params['action'][:20]!r}; expected "
                             f"{' or '.join(actions)}")
        return await handler(request)
    return checked


async def json_object(request: Request, example: str) -> dict[str, Any]:
    """The request's JSON object body, or BatchError saying what is expected (`example`)."""
    try:
        asked = json.loads(await request.body() or b"{}")
    except ValueError:
        asked = None
    if not isinstance(asked, dict):
        raise BatchError(f"expected a JSON object like {example}")
    return asked


def client_of(request: Request) -> str:
    """The address a request came from, for logs and the wrong-password count."""
    return request.client.host if request.client is not None else ""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"  # a trusted proxy's X-Forwarded-Proto sets it


def page(name: str) -> str:
    """One of the console's pages as shipped with the package."""
    return resources.files("cloud_sync.server").joinpath("pages", name).read_text("utf-8")
