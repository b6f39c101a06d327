"""The simulated building's control API server: tokens, bad requests, slow clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from edge.simulated import simulate_control
from edge.simulated.simulate_control import ControlServer

TOKEN = "0123456789abcdef0123456789abcdef"


async def echo(body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"got": body}


async def exchange(port: int, raw: bytes) -> tuple[int, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def request(body: bytes, token: str = TOKEN, extra: str = "") -> bytes:
    return (f"POST /echo HTTP/1.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode("utf-8") + body


def serve(check: Any) -> None:
    async def main() -> None:
        server = ControlServer({("POST", "/echo"): echo}, TOKEN)
        _, port = await server.start("127.0.0.1", 0)
        try:
            await check(port)
        finally:
            await server.stop()
    asyncio.run(main())


def test_a_request_with_the_token_is_answered_and_others_are_refused() -> None:
    async def check(port: int) -> None:
        assert await exchange(port, request(b'{"a": 1}')) == (200, {"got": {"a": 1}})
        status, answer = await exchange(port, request(b"{}", token="wrong"))
        assert status == 401 and "Bearer" in answer["error"]
        status, _ = await exchange(port, request(b"{}", token="ключ-ключ"))
        assert status == 401  # not a crash on a token that is not ASCII
    serve(check)


def test_bad_bodies_are_refused_naming_what_is_expected() -> None:
    async def check(port: int) -> None:
        for body, words in ((b"[1, 2]", "JSON object"), (b"{nope", "JSON object")):
            status, answer = await exchange(port, request(body))
            assert status == 400 and words in answer["error"]
        big = b"{" + b" " * (simulate_control.MAX_BODY + 1) + b"}"
        status, answer = await exchange(port, request(big))
        assert status == 400 and "at most" in answer["error"]
    serve(check)


def test_a_client_that_sends_nothing_is_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulate_control, "REQUEST_TIMEOUT_S", 0.3)

    async def check(port: int) -> None:
        status, answer = await exchange(port, b"POST /echo HTTP/1.1\r\n")  # and then silence
        assert status == 408 and "longer than" in answer["error"]
    serve(check)
