"""Voice calls on the modem: dial, list the calls, hang up, and how a call ended.

ATD<number>; starts a voice call and answers OK at once on the modems we use (SIM7600,
EC25, SIM800), so other commands run while it rings. Its progress is read with AT+CLCC
(dialling, ringing, active) and its end from the result code the modem then says on
its own: BUSY, NO ANSWER, NO DIALTONE or NO CARRIER. ATH hangs up; a SIMCom modem set to
AT+CVHU=1 ignores ATH for voice calls, so AT+CHUP follows when a call is still listed.
AT+CLCC, ATH and AT+CHUP answer at once on a working modem: they wait only the short
probe time, so a modem that stopped answering holds the AT channel for seconds, not
minutes.
"""

from __future__ import annotations

import re

from firmware_bridge.errors import ModemError
from firmware_bridge.modem.at_replies import CallLine, parse_clcc
from firmware_bridge.modem.link import ModemLink

# The result codes that end a call, as the outcome the hub records.
CALL_ENDINGS = {"NO CARRIER": "dropped", "BUSY": "busy", "NO ANSWER": "no_answer",
                "NO DIALTONE": "no_dialtone"}
_DIALLABLE = re.compile(r"\+?[0-9]{3,20}")


def dial(modem: ModemLink, number: str) -> str:
    """Start a voice call: "dialling" once it is under way, else how it ended at once
    ("busy", "no_dialtone", ...). A refused ATD raises ModemError."""
    if not _DIALLABLE.fullmatch(number):
        raise ModemError(f"The number {number!r} cannot be dialled; expected an optional "
                         f"'+' then 3-20 digits.", kind="malformed")
    command = f"ATD{number};"
    reply = modem.command(command)
    if reply.final.ok:
        return "dialling"
    if reply.final.text in CALL_ENDINGS:
        return CALL_ENDINGS[reply.final.text]
    raise modem.refusal(command, reply.final)


def calls(modem: ModemLink) -> list[CallLine]:
    """The calls the modem has now (AT+CLCC); empty when the line is free."""
    return parse_clcc(modem.check("AT+CLCC", modem.probe_timeout_s))


def hang_up(modem: ModemLink) -> None:
    """End our voice call: ATH, then AT+CHUP if an outgoing call is still listed."""
    modem.command("ATH", modem.probe_timeout_s)
    if any(call.outgoing and call.voice for call in calls(modem)):
        modem.check("AT+CHUP", modem.probe_timeout_s)
