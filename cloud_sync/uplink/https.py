"""HTTPS fallback for sites that block MQTT: the same batches and rules over requests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cloud_sync.uplink.errors import UplinkError

if TYPE_CHECKING:
    import requests


class HttpUplink:
    """POSTs event batches to <base>/ingest and GETs queued commands (blocking calls),
    logged in with HTTP Basic as the hub (its broker user name and secret).

    requests is loaded at the first call, so a hub whose MQTT works never loads it.
    """

    def __init__(self, base_url: str, *, timeout_s: float = 10.0,
                 verify: bool | str = True, cert: tuple[str, str] | None = None,
                 session: requests.Session | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = session
        self._verify, self._cert, self._auth = verify, cert, auth
        self._configured = False

    @property
    def session(self) -> requests.Session:
        """The HTTP session, made at first use with the TLS and login settings."""
        if self._session is None:
            import requests

            self._session = requests.Session()
        if not self._configured:
            self._session.verify = self._verify
            if self._cert is not None:
                self._session.cert = self._cert
            if self._auth is not None:
                self._session.auth = self._auth
            self._configured = True
        return self._session

    def post_batch(self, payload: bytes) -> tuple[int, str]:
        """Send one batch; the server's acknowledged seq and the epoch it belongs to."""
        body = self._call("POST", "/ingest", data=payload,
                          headers={"Content-Type": "application/json"})
        ack = body.get("ack_seq") if isinstance(body, dict) else None
        epoch = body.get("epoch") if isinstance(body, dict) else None
        if not isinstance(ack, int) or isinstance(ack, bool) or not isinstance(epoch, str):
            raise UplinkError(f"{self.base_url}/ingest answered without ack_seq and epoch")
        return ack, epoch

    def fetch_commands(self, hub: str, community: str, after: int) -> tuple[list[bytes], int]:
        """Commands queued for this hub after command `after`, and the cursor for next time.

        Each command comes back as the bytes MQTT would carry (its queue seq removed).
        """
        body = self._call("GET", "/commands",
                          params={"hub": hub, "community": community, "after": after})
        commands = body.get("commands") if isinstance(body, dict) else None
        cursor = body.get("next") if isinstance(body, dict) else None
        if not isinstance(commands, list) or not isinstance(cursor, int):
            raise UplinkError(f"{self.base_url}/commands answered without commands and next")
        return [_without_seq(c) for c in commands], cursor

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        url = self.base_url + path
        try:
            response = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as error:
            raise UplinkError(f"{url} cannot be reached ({type(error).__name__}); events stay "
                              "stored and the hub tries again") from error
        if response.status_code == 401:
            raise UplinkError(f"{url} refused the hub's login (401); check [uplink] username and "
                              "password against the server's add-hub output")
        if response.status_code != 200:
            raise UplinkError(f"{url} answered {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            raise UplinkError(f"{url} did not answer JSON") from None


def _without_seq(command: Any) -> bytes:
    if isinstance(command, dict):
        command = {k: v for k, v in command.items() if k != "seq"}
    return json.dumps(command, ensure_ascii=False).encode()
