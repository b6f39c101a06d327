"""[supervision]: when a silent watch, a weak battery, a faulty modem, a lost uplink or
lost mains power is reported, and how often the hub sends its test report."""

from __future__ import annotations

from dataclasses import dataclass, field

from cloud_sync.contract.schema import Rule, above, meta

SECONDS = "a number of seconds"


def _percent(value: int) -> int:
    if not 0 <= value <= 100:
        raise ValueError(value)
    return value


def _count(value: int) -> int:
    if value < 1:
        raise ValueError(value)
    return value


PERCENT = Rule("a whole percentage from 0 to 100", _percent)
COUNT = Rule("a whole number of at least 1", _count)


@dataclass(frozen=True, slots=True)
class SupervisionSection:
    """[supervision]: thresholds of the hub's self-checks; every time is in seconds."""

    watch_silent_after_s: float = field(
        default=3600.0,
        metadata=meta("a watch not heard for this long is reported silent", above(0, SECONDS)))
    sensor_silent_after_s: float = field(
        default=86400.0,
        metadata=meta("an activity sensor not heard for this long is reported silent (a door "
                      "sensor may send only when the door moves)", above(0, SECONDS)))
    low_battery_percent: int = field(
        default=20, metadata=meta("a battery at or below this is reported low", PERCENT))
    modem_check_s: float = field(
        default=600.0, metadata=meta("how often the modem is checked", above(0, SECONDS)))
    modem_failures_for_fault: int = field(
        default=3, metadata=meta("failed modem checks in a row before a fault is reported",
                                 COUNT))
    uplink_down_sms_after_s: float = field(
        default=1800.0,
        metadata=meta("the duty desk is texted when the server is unreachable this long",
                      above(0, SECONDS)))
    mains_lost_after_s: float = field(
        default=180.0,
        metadata=meta("mains power lost this long without a break is reported",
                      above(0, SECONDS)))
    mains_restored_after_s: float = field(
        default=300.0,
        metadata=meta("mains power back and stable this long is reported restored",
                      above(0, SECONDS)))
    test_report_s: float = field(
        default=86400.0, metadata=meta("how often the hub sends its test report",
                                       above(0, SECONDS)))
