"""The demo with internet: a broker, the reference receiver, an outage, and the backlog.

The hub reaches the broker through a relay so the outage can be shown even against a
broker the demo does not own; a broker the demo started itself is really stopped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path

from cloud_sync.contract.broker_url import parse_broker_url
from cloud_sync.server.receiver import Receiver
from cloud_sync.uplink.local_broker import LocalMosquitto
from cloud_sync.uplink.relay import TcpRelay
from edge.config.loader import HubConfig
from edge.config.uplink import UplinkSection
from edge.errors import HubError

BROKER_WAIT_S = 10.0


class DemoError(HubError):
    """The demo cannot play as asked (a --broker it cannot reach)."""


@dataclass(slots=True)
class Server:
    """The community server of the demo: a broker (maybe ours), a relay, the receiver."""

    broker_url: str
    relay: TcpRelay
    receiver: Receiver
    own: LocalMosquitto | None = None

    @classmethod
    def start(cls, broker_url: str | None, folder: Path) -> Server:
        own = None
        if broker_url is None:
            own = LocalMosquitto(folder).start()
            broker_url = own.url
        address = parse_broker_url(broker_url)
        relay = TcpRelay(address.host, address.port)
        receiver = Receiver(broker_url, f"sqlite:///{folder}/receiver.db", reconnect_max_s=1)
        if not receiver.start(wait_s=BROKER_WAIT_S, keep_trying=own is not None) and own is None:
            why = receiver.why_not_connected()
            receiver.stop()
            relay.close()
            raise DemoError(f"the broker {broker_url} cannot be reached within "
                            f"{BROKER_WAIT_S:.0f} s: {why}. Check --broker, or run the demo "
                            "without it (it starts its own Mosquitto) or with --offline.")
        return cls(broker_url, relay, receiver, own)

    def hub_config(self, config: HubConfig) -> HubConfig:
        """The building's config with an uplink through the relay and demo-sized waits."""
        uplink = UplinkSection(broker=self.relay.url, confirm_timeout_s=5, receipt_hold_s=60,
                               resend_after_s=10, reconnect_max_s=1)
        return replace(config, uplink=uplink)

    def outage(self) -> str:
        """Take the broker away from the hub; says what was done."""
        if self.own is not None:
            self.own.stop()
            return "the broker is stopped"
        self.relay.cut(block=True)
        return "the hub's link to the broker is cut"

    def restore(self) -> None:
        if self.own is not None:
            self.own.start()
        self.relay.unblock()

    def stop(self) -> None:
        self.receiver.stop()
        self.relay.close()
        if self.own is not None:
            self.own.stop()


async def wait_until(condition: object, timeout: float, step: float = 0.05) -> bool:
    """Poll a zero-argument callable until it is true or `timeout` passes."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(step)
    return False
