"""HTTPS fallback for sites that block MQTT: the same batches and rules over requests."""

from __future__ import annotations

import json
from typing import Any

import requests

from edge.errors import UplinkError


class HttpUplink:
    """POSTs event batches to <base>/ingest and GETs queued commands (blocking calls)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0,
                 verify: bool | str = True, cert: tuple[str, str] | None = None,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        self.session.verify = verify
        if cert is not None:
            self.session.cert = cert

    def post_batch(self, payload: bytes) -> int:
        """Send one batch; the server's acknowledged seq (every seq up to it is stored)."""
        body = self._call("POST", "/ingest", data=payload,
                          headers={"Content-Type": "application/json"})
        ack = body.get("ack_seq") if isinstance(body, dict) else None
        if not isinstance(ack, int) or isinstance(ack, bool):
            raise UplinkError(f"{self.base_url}/ingest answered without an integer ack_seq")
        return ack

    def fetch_commands(self, hub: str, community: str) -> list[bytes]:
        """Commands the server queued for this hub, each as the bytes MQTT would carry."""
        body = self._call("GET", "/commands", params={"hub": hub, "community": community})
        commands = body.get("commands") if isinstance(body, dict) else None
        if not isinstance(commands, list):
            raise UplinkError(f"{self.base_url}/commands answered without a commands list")
        return [json.dumps(c, ensure_ascii=False).encode() for c in commands]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        try:
            response = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as error:
            raise UplinkError(f"{url} cannot be reached ({type(error).__name__}); events stay "
                              "stored and the hub tries again") from error
        if response.status_code != 200:
            raise UplinkError(f"{url} answered {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise UplinkError(f"{url} did not answer JSON") from None
