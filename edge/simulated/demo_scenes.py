"""The demo's scripted scenes: without internet, and with a server and an outage."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from edge.clock import Clock
from edge.config.welfare import WelfareResident, WelfareSection
from edge.simulated.demo_building import Building, check_ins, say
from edge.simulated.demo_online import wait_until
from edge.supervision.welfare import WelfareChecks


async def offline_scene(building: Building) -> None:
    """Offline: an SOS texted and escalated until a reply, a cancel, a stranger, a replay,
    and a welfare check."""
    air, config = building.air, building.app.config
    window, wait = config.alerts.cancel_window_s, config.sms.tier_wait_s[0]
    await check_ins(building)
    first, first_mac = building.resident(0)

    say(f"{first.name} presses SOS; the watch repeats the press 3 times. There is no "
         "internet: after the cancel window the hub texts tier 1 through the GSM modem.")
    air.press(first_mac, repeats=3)
    await building.settle(window + 1.5)
    for son in (c for c in config.roster.contacts if c.call.value == "always"):
        say(f"{son.name} asked for a ring call after each SOS text, so a phone silent for "
            "texts still rings: the hub calls once his text is out and he answers. That is "
            "recorded for the server, but it is not an acknowledgement.")
    await building.settle(3.0)
    say(f"Nobody replies within {wait:.0f} s: the hub escalates to tier 2.")
    await building.settle(wait - 3.0 + 1.0)

    grid = next(c for c in config.roster.contacts if c.role.value == "grid_worker")
    say(f"{grid.name} replies \"1\" from {grid.phone}: the alert is taken, the others are told.")
    building.reply(grid.phone, "1")
    await building.settle(2.0)

    second, second_mac = building.resident(1)
    say(f"{second.name} presses SOS by mistake, then holds the button to cancel: no texts.")
    air.press(second_mac, repeats=2)
    await building.settle()
    air.long_press(second_mac)
    await building.settle()

    say("A stranger texts \"1\" to the hub's number: it changes nothing.")
    building.reply("+8613999999999", "1")
    await building.settle(1.0)

    third, third_mac = building.resident(2)
    say(f"{third.name} presses SOS at home; the watch has no GPS fix, so the texts give "
         "the home address.")
    air.press(third_mac, repeats=2)
    await building.settle(window + 1.5)
    say(f"{grid.name} arrives at the door and closes the alert on the hub.")
    alert = building.app.store.open_alert_for(third.id)
    if alert is not None:
        building.app.hub.acknowledge(alert.ref, grid.name)
        building.app.hub.resolve(alert.ref, grid.name)
    await building.settle(1.0)

    say("Someone replays an old frame of the first watch (an attack): it is refused.")
    air.replay(first_mac, index=0)
    await building.settle()
    await welfare_scene(building)



async def online_scene(building: Building) -> None:
    """With a server: confirmed SOS (no SMS), a worker acks there, an outage, the backlog."""
    server, app, air = building.server, building.app, building.air
    assert server is not None and app.uplink is not None
    window = app.config.alerts.cancel_window_s
    await check_ins(building)
    first, first_mac = building.resident(0)
    say(f"{first.name} presses SOS. The internet is up: the alert goes to the community "
        "server, which confirms it, so nobody needs a text (only those who asked for every "
        "alert get one).")
    air.press(first_mac, repeats=3)
    await building.settle(window + 2.0)
    alert = app.store.alerts()[0]
    grid = next(c for c in app.config.roster.contacts if c.role.value == "grid_worker")
    say(f"At the community server, {grid.name} takes alert {alert.ref}: the hub closes it.")
    server.receiver.acknowledge(alert.ref, grid.name)
    await building.settle(1.5)

    what = server.outage()
    say(f"Outage: {what}. Events stay stored on the hub.")
    await wait_until(lambda: not app.uplink.sync.connected, 10)  # type: ignore[union-attr]
    second, second_mac = building.resident(1)
    say(f"{second.name} presses SOS during the outage: it goes out by SMS at once.")
    air.press(second_mac, repeats=2)
    await building.settle(window + 1.5)
    say(f"{grid.name} replies \"1\": the alert is taken, the others are told.")
    building.reply(grid.phone, "1")
    await building.settle(2.0)
    for index, person in enumerate(building.residents):
        air.battery(building.watch_of[person.id], 80 - index)
    waiting = app.store.outbox_depth()

    say(f"The broker is back; {waiting} stored events drain to the server, alerts first.")
    server.restore()
    await wait_until(lambda: app.store.outbox_depth() == 0, 20)
    await building.settle(1.0)
    say("Someone replays an old frame of the first watch (an attack): it is refused.")
    air.replay(first_mac, index=0)
    await building.settle()
    await welfare_scene(building)


class _NextMorning:
    """The hub's clock, read as if it were 10:05 tomorrow: the welfare rules are asked
    what they would say then, and the check they raise goes out now."""

    def __init__(self, clock: Clock, zone: ZoneInfo) -> None:
        tomorrow = datetime.fromtimestamp(clock.now(), zone) + timedelta(days=1)
        self._at = tomorrow.replace(hour=10, minute=5, second=0, microsecond=0).timestamp()
        self._clock = clock

    def now(self) -> float:
        return self._at

    def monotonic(self) -> float:
        return self._clock.monotonic()


async def welfare_scene(building: Building) -> None:
    """A welfare check: nobody has moved in the first resident's flat by 10:00. Offline the
    duty desk is texted and replies; with the server up, the server confirms the check and
    the duty desk takes it on the console (texts wait for a person there, as for an SOS)."""
    app = building.app
    first, _ = building.resident(0)
    zone = ZoneInfo(app.config.sms.timezone)
    rules = WelfareSection(quiet_hours=0, door_open_at_night_min=0, up_by="off",
                           residents=(WelfareResident(first.id, up_by="10:00"),))
    WelfareChecks(app.hub, rules, app.config.sms.timezone).check()  # watching from now
    online = building.server is not None and app.uplink is not None \
        and app.uplink.sync.connected
    say(f"The next morning (played now): the sensors in {first.name}'s flat have seen "
        "nobody since the night. At 10:00 the hub raises a welfare check, lower than an SOS: "
        + ("the community server confirms it, so the duty desk sees it on the console (only "
           "those who asked for every alert get a text)." if online else
           "the duty desk is texted first, then family."))
    WelfareChecks(app.hub, rules, app.config.sms.timezone,
                  clock=_NextMorning(app.clock, zone)).check()
    await building.settle(2.0)
    desk = next(c for c in app.config.roster.contacts if c.role.value == "duty_desk")
    check = app.store.open_alert_for(first.id)
    if online and building.server is not None and check is not None:
        say(f"At the community server, {desk.name} takes check {check.ref}: they will phone "
            f"{first.name} and look in.")
        building.server.receiver.acknowledge(check.ref, desk.name)
    else:
        say(f"{desk.name} replies \"1\": they will phone {first.name} and look in.")
        building.reply(desk.phone, "1")
    await building.settle(2.0)
