"""The console's administration pages, for the community's administrators only: the roster
(buildings, residents, watches, activity sensors and contacts, pushed to the community's
hubs on every change), who answers for each building, the people who log in, and the API
tokens.

Secrets are shown once: a watch or sensor key the server generates, a new person's password
and a new API token appear in the answer to the change that made them, and never again.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from cloud_sync.server.access import Access
from cloud_sync.server.console import csrf_ok, json_object, page, person_of
from cloud_sync.server.duty import Duty
from cloud_sync.server.errors import BatchError, ReceiverError, ReceiverSetupError
from cloud_sync.server.people import People, Person
from cloud_sync.server.roster_book import RosterBook

Endpoint = Callable[[Request, Person], Awaitable[Response]]
_log = logging.getLogger("cloud_sync.server.admin")
_NOT_KEPT = {"Cache-Control": "no-store"}  # an answer with a secret: no cache keeps it


class RosterPusher(Protocol):
    """Sends a community's roster to its hubs (cloud_sync.server.service)."""

    def push_roster(self, community: str) -> int: ...


def admin_routes(people: People, access: Access, duty: Duty, rosters: RosterBook,
                 pusher: RosterPusher) -> list[Route]:
    """The administration page and the JSON it reads and changes."""

    async def admin_page(request: Request) -> Response:
        person = await run_in_threadpool(person_of, request, people)
        if person is None:
            return RedirectResponse("/login", status_code=303)
        if person.role != "admin":
            return HTMLResponse("<p>Only the community's administrators may change the roster "
                                "and accounts. <a href=\"/\">Back to the board</a></p>",
                                status_code=403)
        return HTMLResponse(page("admin.html").replace("{csrf}", person.csrf)
                            .replace("{community}", html.escape(person.community)))

    async def admin_script(request: Request) -> Response:
        """The page's script: code only, served like /console.js (the data it shows needs
        an administrator's login, and each change its CSRF token)."""
        return Response(page("admin.js"), media_type="text/javascript; charset=utf-8")

    async def roster(request: Request, person: Person) -> Response:
        view = await run_in_threadpool(rosters.view, person.community)
        view["duty"] = await run_in_threadpool(duty.assignments, person.community)
        return JSONResponse(view)

    async def put_entry(request: Request, person: Person) -> Response:
        asked = await json_object(request, '{"entry": {…}, "key": "keep"}')
        entry = asked.get("entry")
        if not isinstance(entry, dict):
            raise BatchError('entry: expected an object like {"id": "r1", "name": "…", …}')
        kind = request.path_params["kind"]
        saved = await run_in_threadpool(lambda: rosters.put(
            person.community, kind, entry, by=person.name, now=time.time(),
            key=str(asked.get("key", "keep")), key_hex=str(asked.get("key_hex", ""))))
        answer = await sent(person.community, saved.version)
        if saved.new_key is not None:
            answer["key"] = saved.new_key  # shown only now: program it into the device
        return JSONResponse(answer, headers=_NOT_KEPT)

    async def remove_entry(request: Request, person: Person) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        saved = await run_in_threadpool(lambda: rosters.remove(
            person.community, kind, name, by=person.name, now=time.time()))
        return JSONResponse(await sent(person.community, saved.version))

    async def sent(community: str, version: str) -> dict[str, Any]:
        """Push the saved roster; say how many hubs were told, or what it still lacks. The
        roster is saved whatever happens here, so a failed push is said, not raised (the
        answer may carry a generated key: it must reach the person)."""
        answer: dict[str, Any] = {"version": version, "hubs_told": 0}
        try:
            answer["hubs_told"] = await run_in_threadpool(pusher.push_roster, community)
            push = await run_in_threadpool(rosters.push_of, community, version)
        except ReceiverError as error:
            _log.error("Roster %s of %s is saved but could not be sent to its hubs now (%s); "
                       "they get it when they next report in.", version, community, error)
            answer["push_failed"] = str(error)
            return answer
        if push is not None and push.missing:
            answer["waiting_for"] = push.missing
        elif push is not None and push.unreached:
            answer["not_sent"] = push.unreached  # the hubs would refuse it: say why
        return answer

    async def assign(request: Request, person: Person) -> Response:
        asked = await json_object(request, '{"first": "c1", "backup": "c2"}')
        await run_in_threadpool(duty.assign, person.community, request.path_params["hub"],
                                str(asked.get("first", "")), str(asked.get("backup", "")))
        return JSONResponse({"hub": request.path_params["hub"]})

    async def accounts(request: Request, person: Person) -> Response:
        found = await run_in_threadpool(people.accounts, person.community)
        tokens = await run_in_threadpool(access.api_tokens, person.community)
        return JSONResponse({"people": found, "tokens": tokens, "me": person.username})

    async def add_person(request: Request, person: Person) -> Response:
        asked = await json_object(request, '{"username": "…", "name": "…", "role": "desk"}')
        username = str(asked.get("username", ""))
        password = await run_in_threadpool(lambda: people.add(
            username, str(asked.get("name", "")), str(asked.get("role", "")), person.community,
            now=time.time(), contact=str(asked.get("contact", "")), new_only=True))
        return JSONResponse({"username": username, "password": password},  # shown only now
                            headers=_NOT_KEPT)

    async def new_password(request: Request, person: Person) -> Response:
        username = request.path_params["username"]
        password = await run_in_threadpool(lambda: people.new_password(
            username, person.community))
        return JSONResponse({"username": username, "password": password},  # shown only now
                            headers=_NOT_KEPT)

    async def remove_person(request: Request, person: Person) -> Response:
        username = request.path_params["username"]
        if username == person.username:
            raise BatchError("you cannot remove your own account; ask another administrator")
        if await run_in_threadpool(people.community_of, username) != person.community:
            raise BatchError(f"no account {username[:64]!r} in your community")
        await run_in_threadpool(people.remove, username)
        return JSONResponse({"removed": username})

    async def add_token(request: Request, person: Person) -> Response:
        asked = await json_object(request, '{"name": "duty-desk-screen"}')
        secret = await run_in_threadpool(lambda: access.add_api_token(
            str(asked.get("name", "")), person.community, now=time.time()))
        return JSONResponse({"token": secret}, headers=_NOT_KEPT)  # shown only now

    async def revoke_token(request: Request, person: Person) -> Response:
        name = await run_in_threadpool(access.revoke_api_token, person.community,
                                       request.path_params["token"])
        return JSONResponse({"revoked": name})

    def admin_only(endpoint: Endpoint, *, change: bool) -> Callable[[Request], Awaitable[Response]]:
        async def checked(request: Request) -> Response:
            person = await run_in_threadpool(person_of, request, people)
            if person is None:
                return JSONResponse({"error": "not logged in"}, status_code=401)
            if person.role != "admin":
                return JSONResponse({"error": "only the community's administrators may do this"},
                                    status_code=403)
            if change and not csrf_ok(request, person):
                return JSONResponse({"error": "missing or wrong X-CSRF-Token; reload the page"},
                                    status_code=403)
            try:
                return await endpoint(request, person)
            except ReceiverSetupError as error:  # a person's value refused: say which
                raise BatchError(str(error)) from None
        return checked

    return [
        Route("/admin", admin_page, methods=["GET"]),
        Route("/admin.js", admin_script, methods=["GET"]),
        Route("/api/roster", admin_only(roster, change=False), methods=["GET"]),
        Route("/api/roster/{kind}", admin_only(put_entry, change=True), methods=["POST"]),
        Route("/api/roster/{kind}/{name}", admin_only(remove_entry, change=True),
              methods=["DELETE"]),
        Route("/api/buildings/{hub}", admin_only(assign, change=True), methods=["PUT"]),
        Route("/api/people", admin_only(accounts, change=False), methods=["GET"]),
        Route("/api/people", admin_only(add_person, change=True), methods=["POST"]),
        Route("/api/people/{username}", admin_only(remove_person, change=True),
              methods=["DELETE"]),
        Route("/api/people/{username}/password", admin_only(new_password, change=True),
              methods=["POST"]),
        Route("/api/tokens", admin_only(add_token, change=True), methods=["POST"]),
        Route("/api/tokens/{token}", admin_only(revoke_token, change=True), methods=["DELETE"]),
    ]
