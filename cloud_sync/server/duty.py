"""Who answers for each building, and the claim deadline.

Each building (a hub) has a first worker (A) and a backup (B), named by their contact id
in the community's roster, so that the hub can text them. An alert nobody has claimed
within the deadline (five minutes by default, from when the server received it) turns
overdue: the hubs that heard it are asked to text the building's backup at once. It
counts as told only once the requests went out, so a failure is tried again.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud_sync.contract.ids import is_id
from cloud_sync.server.db import Db, Tx
from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.logic import alert_number, public_alert_id

DEFAULT_DEADLINE_S = 300.0
DEFAULT_CLAIM_S = 1200.0  # a worker's "I'm going" holds SMS this long unless they ack


@dataclass(frozen=True, slots=True)
class Overdue:
    """An alert that just turned overdue, and the backup of each hub that heard it."""

    alert: str
    resident: str
    backups: tuple[tuple[str, str, str], ...]  # (community, hub, backup contact id)


class Duty:
    """Building assignments and overdue alerts in the server's database."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def assign(self, community: str, hub: str, first: str, backup: str) -> None:
        """Name a building's first worker and backup (roster contact ids)."""
        for what, value in (("community", community), ("hub", hub), ("first", first),
                            ("backup", backup)):
            if not is_id(value):
                raise ReceiverSetupError(f"{what} {value!r}: expected an id (a contact's id as "
                                         "the roster has it, for first and backup)")
        if first == backup:
            raise ReceiverSetupError("backup: expected someone other than the first worker")
        with self.db.transaction(write=True) as tx:
            tx.run("DELETE FROM buildings WHERE community = ? AND hub = ?", [community, hub])
            tx.run("INSERT INTO buildings (community, hub, first_contact, backup_contact) "
                   "VALUES (?, ?, ?, ?)", [community, hub, first, backup])

    def assignments(self, community: str) -> list[dict[str, str]]:
        """Each building of the community with its first worker and backup."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT hub, first_contact, backup_contact FROM buildings WHERE "
                           "community = ? ORDER BY hub", [community])
        return [{"hub": str(hub), "first": str(first), "backup": str(backup)}
                for hub, first, backup in rows]

    def buildings_of(self, community: str, contact: str) -> set[str]:
        """The hubs whose building has this contact as first worker or backup."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT hub FROM buildings WHERE community = ? AND (first_contact = ? "
                           "OR backup_contact = ?)", [community, contact, contact])
        return {str(row[0]) for row in rows}

    def alert_hubs(self, alert: str) -> set[str]:
        """The hubs that heard an alert given by its id (C12)."""
        number = alert_number(alert)
        if number is None:
            return set()
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT hub FROM alert_hubs WHERE alert_id = ?", [number])
        return {str(row[0]) for row in rows}

    def turn_overdue(self, now: float, deadline_s: float) -> list[Overdue]:
        """The alerts nobody claimed within the deadline whose backups are not told yet,
        marked overdue (once), with the backups to text; call told() after telling."""
        return self._turn(_OVERDUE, [now - deadline_s], "overdue_at", now)

    def turn_lapsed(self, now: float) -> list[Overdue]:
        """The alerts whose claim ran out with nobody on site (the claimer did not come or
        did not say so) whose backups are not told yet, marked (once), with the backups to
        text; call told(..., lapsed=True) after telling. A new claim clears the mark."""
        return self._turn(_LAPSED, [now], "claim_lapsed_at", now)

    def _turn(self, due: str, params: list[float], mark: str, now: float) -> list[Overdue]:
        with self.db.transaction(write=False) as tx:  # most checks find nothing: no write lock
            if not tx.rows(due, params):
                return []
        with self.db.transaction(write=True) as tx:
            rows = tx.rows(due, params)
            found = []
            for number, resident in rows:
                if tx.run(f"UPDATE alerts SET {mark} = ?, updated_at = ? WHERE id = ? AND "
                          f"{mark} IS NULL", [now, now, number]):
                    add_step(tx, number, _STEPS[mark], now, by_claimer=mark == "claim_lapsed_at")
                backups = tx.rows("SELECT h.community, h.hub, b.backup_contact FROM alert_hubs h "
                                  "JOIN buildings b ON b.community = h.community AND "
                                  "b.hub = h.hub WHERE h.alert_id = ?", [number])
                found.append(Overdue(public_alert_id(int(number)), str(resident or "?"),
                                     tuple((str(c), str(h), str(b)) for c, h, b in backups)))
        return found

    def told(self, alert: str, now: float, *, lapsed: bool = False) -> None:
        """The overdue (or lapsed) alert's hubs were asked to tell its backup."""
        column = "lapse_told_at" if lapsed else "overdue_told_at"
        still = " AND claim_lapsed_at IS NOT NULL" if lapsed else ""  # not a claim made since
        with self.db.transaction(write=True) as tx:
            tx.run(f"UPDATE alerts SET {column} = ? WHERE id = ?{still}",
                   [now, alert_number(alert)])


_STEPS = {"overdue_at": "overdue", "claim_lapsed_at": "claim_lapsed"}


def add_step(tx: Tx, number: int, what: str, at: float, who: str | None = None, *,
             by_claimer: bool = False) -> None:
    """A step in an alert's timeline (claimed, claim lapsed, overdue): each one kept, so a
    new claim does not hide an earlier claim or its lapse. `by_claimer`: who claimed it."""
    if by_claimer:
        (who,), = tx.rows("SELECT claimed_by FROM alerts WHERE id = ?", [number])
    tx.run("INSERT INTO alert_steps (alert_id, at, what, who) VALUES (?, ?, ?, ?)",
           [number, at, what, who])


_WAITING = ("SELECT id, resident_name FROM alerts WHERE state IN ('raised', 'active') AND "
            "closed_at IS NULL AND ")
_OVERDUE = _WAITING + ("claimed_at IS NULL AND overdue_told_at IS NULL AND "
                       "COALESCE(received_at, first_at) <= ?")
_LAPSED = _WAITING + "claim_until <= ? AND lapse_told_at IS NULL"
