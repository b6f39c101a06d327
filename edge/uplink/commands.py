"""Commands from the community server: checked, applied, answered; bad ones change nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from cloud_sync.contract import wire
from cloud_sync.contract.roster_file import parse_roster, unreached
from edge import __version__
from edge.alerts.hub import Hub
from edge.errors import AlertError, CommandError, ConfigError
from edge.sms.away import record_away
from edge.storage.store import ALERT_PRIORITY
from edge.uplink.sync import OutboxSync


class ServerConfirmations(Protocol):
    """Who holds SMS back for the server (edge.sms.responders.Responders): briefly for its
    automatic receipt, for as long as a person's claim lasts."""

    def server_confirmed(self, alert_uid: str) -> bool: ...

    def server_claimed(self, alert_uid: str, by: str, for_s: float) -> bool: ...

    def server_text_now(self, alert_uid: str, by: str) -> bool: ...

    def server_notify(self, alert_uid: str, contact_id: str, by: str) -> bool | None: ...


class CommandHandler:
    """Applies one command at a time on the event loop and publishes the reply."""

    def __init__(self, hub: Hub, sync: OutboxSync, reply: Callable[[bytes], None], *,
                 default_address: str, confirmations: ServerConfirmations | None = None,
                 sms_status: Callable[[], str] = lambda: "no modem",
                 log: logging.Logger | None = None) -> None:
        self.hub = hub
        self.sync = sync
        self._reply = reply
        self.default_address = default_address
        self.confirmations = confirmations
        self.sms_status = sms_status
        self._log = log or logging.getLogger("edge.uplink.commands")

    def handle(self, payload: bytes) -> None:
        """Check the whole command, then apply it; every outcome but a good events_ack gets
        a reply, and anything unforeseen is logged and dropped, never raised."""
        try:
            self._handle(payload)
        except Exception:  # noqa: BLE001 - a command must never take the uplink down
            self._log.exception("A command from the server could not be handled; it was "
                                "dropped.")

    def _handle(self, payload: bytes) -> None:
        try:
            command = wire.parse_command(payload)
        except CommandError as error:
            self._log.warning("Refused a command from the server: %s. Nothing changed.", error)
            self._reply(wire.reply(wire.command_id_of(payload), ok=False, error=str(error)))
            return
        try:
            result = self._apply(command)
        except (CommandError, AlertError, ConfigError) as error:
            self._log.warning("Refused command %s (%s): %s. Nothing changed.", command.id,
                              command.type, error)
            self._reply(wire.reply(command.id, ok=False, error=str(error)))
            return
        except Exception as error:  # noqa: BLE001 - the server is told, the hub goes on
            self._log.exception("Command %s (%s) could not be applied; its transaction was "
                                "rolled back and the server is told.", command.id, command.type)
            self._reply(wire.reply(command.id, ok=False, error=f"the hub could not apply it: "
                                   f"{type(error).__name__}: {error}"[:300]))
            return
        if command.type != "events_ack":
            self._reply(wire.reply(command.id, ok=True, result=result))

    def _apply(self, command: wire.Command) -> dict[str, Any]:
        handlers: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "events_ack": self._events_ack, "alert_received": self._alert_received,
            "alert_claimed": self._alert_claimed, "alert_ack": self._alert_ack,
            "alert_text_now": self._alert_text_now, "alert_notify": self._alert_notify,
            "roster": self._roster, "resident_away": self._resident_away,
            "test_alarm": self._test_alarm, "ping": self._ping,
        }
        return handlers[command.type](command.fields)

    def _events_ack(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        self.sync.acknowledged(int(fields["seq"]), str(fields["epoch"]))
        return {}

    def _alert_received(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        uid = str(fields["alert"])
        if self.hub.store.alert(uid) is None:
            raise CommandError(f"alert_received.alert: no alert {uid!r} on this hub")
        waiting = self.confirmations.server_confirmed(uid) if self.confirmations else False
        return {"alert": uid, "sms_held_back": waiting}

    def _alert_claimed(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        uid, by, for_s = str(fields["alert"]), str(fields["by"]), float(fields["for_s"])
        if self.hub.store.alert(uid) is None:
            raise CommandError(f"alert_claimed.alert: no alert {uid!r} on this hub")
        held = self.confirmations.server_claimed(uid, by, for_s) if self.confirmations \
            else False
        return {"alert": uid, "sms_held_back": held, "for_s": for_s}

    def _alert_text_now(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        uid, by = str(fields["alert"]), str(fields["by"])
        if self.hub.store.alert(uid) is None:
            raise CommandError(f"alert_text_now.alert: no alert {uid!r} on this hub")
        texting = self.confirmations.server_text_now(uid, by) if self.confirmations else False
        return {"alert": uid, "texting_now": texting}

    def _alert_notify(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        uid, contact, by = str(fields["alert"]), str(fields["contact"]), str(fields["by"])
        if self.hub.store.alert(uid) is None:
            raise CommandError(f"alert_notify.alert: no alert {uid!r} on this hub")
        if self.confirmations is None:
            return {"alert": uid, "contact": contact, "texted": False}
        texted = self.confirmations.server_notify(uid, contact, by)
        if texted is None:  # not in this hub's roster: nobody named is told, so text now
            self._log.warning("The server asks that contact %r be texted about alert %s, but "
                              "the roster has no such contact for its resident; texting the "
                              "tiers now instead.", contact, uid)
            return {"alert": uid, "contact": contact, "texted": False, "unknown_contact": True,
                    "texting_now": self.confirmations.server_text_now(uid, by)}
        return {"alert": uid, "contact": contact, "texted": texted}

    def _alert_ack(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        alert = self.hub.acknowledge(str(fields["alert"]), str(fields["by"]))
        return {"alert": alert.uid, "ref": alert.ref, "state": alert.state.value}

    def _roster(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        roster = parse_roster(dict(fields), source="roster command",
                              default_address=self.default_address)
        for name, entries, without in (("watches", roster.watches, "every watch unheard"),
                                       ("contacts", roster.contacts, "nobody to text")):
            if not entries:
                raise CommandError(f"roster.{name}: empty; expected the community's {name} "
                                   f"(a roster without any would leave {without}); the "
                                   "roster in use stays")
        nobody = unreached(roster)
        if nobody is not None:
            raise CommandError(f"roster.{nobody}; the roster in use stays")
        store = self.hub.store
        with store.transaction():
            store.apply_roster(roster)
            store.set_meta("roster_source", "server")
            store.set_meta("roster_version", str(fields["version"]))
        self.hub.gate.reload(store.watch_records())
        self._log.warning("The server sent roster %s: %d residents, %d watches, %d contacts; "
                          "now in use (hub.toml's roster is ignored from now on).",
                          fields["version"], len(roster.residents), len(roster.watches),
                          len(roster.contacts))
        return {"version": fields["version"], "residents": len(roster.residents),
                "watches": len(roster.watches), "contacts": len(roster.contacts)}

    def _resident_away(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        store, now = self.hub.store, self.hub.clock.now()
        resident, until = str(fields["resident"]), fields.get("until")
        if store.resident(resident) is None:
            raise CommandError(f"resident_away.resident: no resident {resident!r} on this hub")
        if until is not None and until <= now:
            raise CommandError(f"resident_away.until: {until} has passed; expected a time "
                               "still to come, or no until for back")
        record_away(store, resident, until, str(fields["by"]), now)
        self._log.warning("The server says resident %s is %s (by %s); the welfare rules %s.",
                          resident, "back" if until is None else "away", fields["by"],
                          "watch again" if until is None else "pause until then")
        return {"resident": resident, "away_until": until}

    def _test_alarm(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        paths = {"uplink": "connected" if self.sync.connected else "down",
                 "sms": self.sms_status()}
        body = {"hub": self.hub.hub_id, "paths": paths, "requested_by": fields.get("by", "")}
        store = self.hub.store
        with store.transaction():
            store.append_event("hub.test", self.hub.clock.now(), body, ALERT_PRIORITY)
        self.sync.pump()
        self._log.warning("Test alarm requested by the server: uplink %s, SMS %s.",
                          paths["uplink"], paths["sms"])
        return {"paths": paths}

    def _ping(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"version": __version__, "queue_depth": self.hub.store.outbox_depth(),
                "open_alerts": len(self.hub.store.open_alerts()), "sms": self.sms_status()}
