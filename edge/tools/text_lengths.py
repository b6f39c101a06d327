"""What `edge-hub check-config` says of the texts the hub will send: every kind of alert
text, written for each resident with the longest values that resident's alerts can
carry (an old GPS fix, a press shown with its date, the names of their contacts' largest
tier, the longest welfare check), and a warning where one takes more than two SMS parts,
or where the SOS leaves out the home address to fit them (edge.sms.messages.render gives
up the address, which responders know already, before it takes a third part).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import groupby

from edge.config.loader import HubConfig
from edge.domain import Contact, Fix, Location, Resident
from edge.sms.messages import (
    KINDS,
    MessageContext,
    callable_number,
    compact,
    render,
    welfare_text,
)
from firmware_bridge.sms.text import count_parts

MAX_PARTS = 2
OLD_FIX = Fix("", 39.90421, 116.40739, 10, 0.0, 0.0)  # as long as a fix in China is
OLD_FIX_AGE_S = 7200.0
LONG_WAIT_S = 3900.0  # "1小时5分钟": how long an escalation says nobody answered
PRESSED = {"zh": "11月28日23:50", "en": "28 Nov 23:50"}  # a press of another day


def long_texts(config: HubConfig) -> list[str]:
    """A warning for each resident's text that takes more than MAX_PARTS parts, and for an
    SOS that leaves out the home address; [] when every text fits."""
    found, roster = [], config.roster
    own: dict[str | None, list[Contact]] = {}
    for contact in roster.contacts:
        own.setdefault(contact.resident_id, []).append(contact)
    places: dict[str, list[str]] = {}
    for sensor in roster.sensors:
        places.setdefault(sensor.resident_id, []).append(sensor.place)
    for resident in roster.residents:
        theirs = own.get(None, []) + own.get(resident.id, [])
        for kind, text in texts_for(config, resident, theirs, places.get(resident.id, [])):
            if (parts := count_parts(text)) > MAX_PARTS:
                found.append(f"resident {resident.id}: the {kind} text can take {parts} SMS "
                             f"parts (with their longest names and an old GPS fix); shorten "
                             f"the [sms.templates] {kind} text")
            elif kind == "sos" and compact(resident.address) not in compact(text):
                found.append(f"resident {resident.id}: an SOS with an old GPS fix leaves out "
                             "the home address to fit two SMS parts (134 Chinese or 306 Latin "
                             "characters); shorten the address (leave out city and district)")
    return found


def texts_for(config: HubConfig, resident: Resident, contacts: Sequence[Contact],
              places: Sequence[str]) -> list[tuple[str, str]]:
    """Each kind of text for `resident`'s alerts, with the longest values they can carry
    (`contacts` serve them, `places` are where their sensors are); the SOS with the
    press's time of day, as it is sent at once."""
    sms = config.sms
    theirs = sorted(contacts, key=lambda contact: contact.tier)
    tiers = ["、".join(c.name for c in tier) for _, tier in groupby(theirs, lambda c: c.tier)]
    checks = [welfare_text(rule, detail, resident.name, sms.language)
              for rule, detail in (("not_up", "10:00"), ("quiet", "12"),
                                   ("door_at_night", f"{max(places, key=len, default='')}|45"),
                                   ("no_check_in", "10:00"))]
    context = MessageContext(
        "A001", resident.name, config.hub.building, resident.room, resident.address,
        PRESSED[sms.language],
        Location(resident.address, resident.room, OLD_FIX, OLD_FIX_AGE_S, stale=True),
        by=max((c.name for c in theirs), key=len, default=""),
        reason="closed while the hub restarted", next=max(tiers, key=len, default=""),
        waited_s=LONG_WAIT_S, phone=callable_number(resident.phone, sms.country_code),
        check=max(checks, key=len, default=""))
    templates, pressed_today = sms.templates.as_dict(), replace(context, time="23:59")
    return [(kind, render(kind, pressed_today if kind == "sos" else context, templates,
                          sms.language, sms.map_url)) for kind in KINDS]
