"""The campaign's building: the demo building with no cancel window and slow escalation,
so that every press is texted at once and the texts of one run are easy to tell apart."""

from __future__ import annotations

import re
from pathlib import Path

from edge.config.loader import load_config
from edge.sms.escalation import tiers
from tests.simulated import CONFIG


def campaign_config(folder: Path) -> Path:
    """A copy of the demo building for the campaign, written into `folder`."""
    text = CONFIG.read_text(encoding="utf-8")
    text = re.sub(r"cancel_window_s = \d+", "cancel_window_s = 0", text)
    text = re.sub(r"tier_wait_s = \[[^\]]*\]", "tier_wait_s = [600, 600]", text)
    text = re.sub(r"repeat_fast_s = \d+", "repeat_fast_s = 600", text)
    path = folder / "campaign.toml"
    path.write_text(text, encoding="utf-8")
    return path


def tier_one(config: Path) -> dict[str, set[str]]:
    """Each resident's first texts: the lowest tier of their contacts and always-SMS ones."""
    loaded = load_config(config)
    found: dict[str, set[str]] = {}
    for resident in loaded.roster.residents:
        contacts = [c for c in loaded.roster.contacts
                    if c.resident_id in (None, resident.id)]
        first = tiers(contacts)[0]
        found[resident.id] = {c.phone for c in contacts if c.tier == first or c.always_sms}
    return found


def desk_phone(config: Path) -> str:
    """The building-wide duty desk: texted about every alert, so its "1" takes any."""
    loaded = load_config(config)
    return next(c.phone for c in loaded.roster.contacts
                if c.role.value == "duty_desk" and c.resident_id is None)
