"""edge-hub simulate: the production hub on a simulated building, driven from outside.

The hub is built by the same composition as on a Pi (edge.app.build_hub). Its watches
are on the virtual air, its modem is the AT emulator behind a pty (reached through a
symlink, so a vanished port can come back), and it runs until SIGTERM. The control API
(edge.simulated.simulate_control) presses buttons, changes batteries, delivers texts, injects
modem faults and scripts the activity sensors (edge.simulated.simulate_activity); fault tests kill the process and start it again on the same database, and
the watches' counters, kept beside it, go on counting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge.app import HubApp
from edge.config.loader import HubConfig
from edge.config.uplink import UplinkSection
from edge.errors import PduError
from edge.simulated.simulate_activity import ActivityScript
from edge.simulated.simulate_control import BadRequest
from firmware_bridge.simulators.modem_emulator import ModemEmulator
from firmware_bridge.simulators.modem_emulator_catalogue import CATALOGUE, inject
from firmware_bridge.simulators.virtual_air import VirtualAir, VirtualWatch
from firmware_bridge.sms.pdu import encode_deliver

_log = logging.getLogger("edge.simulated.simulate")
KINDS = {"press": "press", "long": "long_press", "hold": "hold_press",
         "double": "double_press"}


class SavedCounters:
    """The virtual watches' counters, in a JSON file replaced atomically before each frame
    goes on the air: a killed simulation never sends a counter twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failing = False
        self.saved: dict[str, dict[str, int]] = {}
        if path.exists():
            self.saved = json.loads(path.read_text(encoding="utf-8"))

    def of(self, mac: str) -> tuple[int, int]:
        found = self.saved.get(mac.upper(), {})
        return int(found.get("counter", 1)), int(found.get("packet_id", 0))

    def save(self, watch: VirtualWatch) -> None:
        """Keep the watch's counter; a disk that cannot take it (a full-disk test) is said
        once and the watch sends anyway, as a real one would."""
        self.saved[watch.mac] = {"counter": watch.counter, "packet_id": watch.packet_id}
        temporary = self.path.with_name(self.path.name + ".new")
        try:
            temporary.write_text(json.dumps(self.saved, sort_keys=True), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as error:
            if not self.failing:
                _log.warning("Cannot keep the virtual watches' counters in %s (%s); after a "
                             "restart their next frames may be refused as replays.",
                             self.path, error)
            self.failing = True
            return
        self.failing = False


@dataclasses.dataclass(slots=True)
class Simulation:
    """A simulated building: the hub, its air, its modem, and what the API may do to them."""

    app: HubApp
    air: VirtualAir
    modem: ModemEmulator
    link: Path
    folder: Path

    async def press(self, body: dict[str, Any]) -> tuple[int, Any]:
        mac, resident = self._watch(body)
        kind = body.get("kind", "press")
        if kind not in KINDS:
            raise BadRequest(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        repeats = _int_field(body, "repeats", 3, 1, 10)
        self.air.press(mac, KINDS[kind], repeats)
        alert = self.app.store.open_alert_for(resident)
        return 200, {"mac": mac, "resident": resident, "kind": kind,
                     "counter": self.air.watches[mac].counter - 1,
                     "alert": None if alert is None else {"ref": alert.ref,
                                                          "state": alert.state.value}}

    async def battery_swap(self, body: dict[str, Any]) -> tuple[int, Any]:
        mac, _ = self._watch(body)
        counter = _int_field(body, "counter", 1, 0, 1000)
        self.air.battery_swap(mac, counter)
        return 200, {"mac": mac, "counter": counter}

    async def sms(self, body: dict[str, Any]) -> tuple[int, Any]:
        sender, text = body.get("from"), body.get("text")
        if not isinstance(sender, str) or not isinstance(text, str) or not text:
            raise BadRequest('from, text: expected {"from": "+8613800138001", "text": "1"}')
        try:
            parts = encode_deliver(sender, text, timestamp=datetime.now(timezone.utc))
        except PduError as error:
            raise BadRequest(f"from: {error}") from None
        for pdu in parts:
            self.modem.deliver_pdu(pdu)
        return 200, {"from": sender, "parts": len(parts)}

    async def faults(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, [fault.to_json() for fault in CATALOGUE.values()]

    async def fault(self, body: dict[str, Any]) -> tuple[int, Any]:
        name = body.get("name")
        params = {k: v for k, v in body.items() if k != "name"}
        try:
            injected = inject(self.modem, str(name), params, self.link)
        except ValueError as error:
            raise BadRequest(str(error)) from None
        if injected.clear is not None:
            asyncio.get_running_loop().call_later(injected.for_s, _logged(injected.clear,
                                                                         str(name)))
        _log.warning("Modem fault %s injected (%s)%s.", name, injected.params,
                     f"; it clears in {injected.for_s:g} s" if injected.clear else "")
        return 200, {"name": name, "params": injected.params,
                     "clears_in_s": injected.for_s if injected.clear else 0}

    async def state(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, state_of(self.app)

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("POST", "/press"): self.press, ("POST", "/battery-swap"): self.battery_swap,
                ("POST", "/sms"): self.sms, ("GET", "/modem/faults"): self.faults,
                ("POST", "/modem/fault"): self.fault, ("GET", "/state"): self.state,
                ("POST", "/activity"): ActivityScript(self.app, self.air).handle}

    def _watch(self, body: dict[str, Any]) -> tuple[str, str]:
        """(MAC, resident) of the watch the body names by "mac" or "resident"."""
        watches = {w.watch.mac: w.watch.resident_id for w in self.app.store.watch_records()}
        if "mac" in body:
            mac = str(body["mac"]).upper()
            if mac not in watches or mac not in self.air.watches:
                raise BadRequest(f"mac: {mac!r} is not a watch of this building")
            return mac, watches[mac]
        resident = body.get("resident")
        found = [mac for mac, rid in watches.items() if rid == resident]
        if not found:
            raise BadRequest(f'resident: expected a resident with a watch, like '
                             f'{{"resident": "{next(iter(watches.values()), "r-101")}"}}')
        return found[0], str(resident)


def state_of(app: HubApp) -> dict[str, Any]:
    """Open alerts, texts, watches, modem, storage and uplink, as the API shows them."""
    store = app.store
    alerts = [{"ref": a.ref, "resident": a.resident_id, "state": a.state.value,
               "raised_at": a.raised_at, "presses": a.press_count}
              for a in store.open_alerts()]
    texts = [{"id": i, "to": phone, "kind": kind, "state": state, "text": text}
             for i, phone, kind, state, text in app.sms.outgoing()]
    watches = [{"mac": r.watch.mac, "resident": r.watch.resident_id, "counter": r.last_counter}
               for r in store.watch_records()]
    store.flush_telemetry()
    activity = [{"resident": rid, "sensor": mac, "kind": kind, "at": at} for rid, mac, kind, at
                in store.recent_activity(20)]
    worker = app.worker
    return {"alerts": alerts, "texts": texts, "watches": watches, "activity": activity,
            "recent_alerts": [{"ref": a.ref, "resident": a.resident_id, "state": a.state.value}
                              for a in store.alerts(limit=50)],
            "modem": {"ready": bool(worker and worker.ready), "fault": worker.fault if worker
                      else "no modem", "sent": worker.sent if worker else 0},
            "storage": store.storage_health(),
            "uplink": "none" if app.uplink is None else
            ("connected" if app.uplink.sync.connected else "down")}


def _int_field(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name}: expected a whole number from {low} to {high}, got {value!r}")
    return value


def _logged(action: Callable[[], None], name: str) -> Callable[[], None]:
    def clear() -> None:
        try:
            action()
            _log.warning("Modem fault %s cleared.", name)
        except Exception:  # noqa: BLE001 - a failed undo must not stop the loop
            _log.exception("Clearing modem fault %s failed.", name)
    return clear


def simulation_config(config: HubConfig, broker: str | None, offline: bool) -> HubConfig:
    """The building's config with the uplink the command line asked for."""
    if offline:
        return dataclasses.replace(config, uplink=None)
    if broker is None:
        return config
    uplink = config.uplink or UplinkSection(broker=broker)
    return dataclasses.replace(config, uplink=dataclasses.replace(uplink, broker=broker))


def control_address(text: str) -> tuple[str, int]:
    """HOST:PORT of the control API; ValueError says what is expected."""
    host, _, port = text.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT like 127.0.0.1:8765, got {text!r}")
    return host.strip("[]"), int(port)
