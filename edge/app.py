"""Composition: one function builds the whole hub from its configuration."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.alerts.dispatch import Dispatcher, FanOut, LogDispatcher
from edge.alerts.hub import Hub
from edge.calls.ringer import RingCalls
from edge.calls.store import CallStore
from edge.clock import Clock, ClockSyncProbe, SystemClock, parse_span, utc_text
from edge.config.loader import HubConfig
from edge.config.messaging import ModemSection
from edge.errors import HubError
from edge.sms.away import AwayBook, AwayRules
from edge.sms.conversation import Conversation, ReplyRules
from edge.sms.escalation import EscalationPlan
from edge.sms.notices import undeliverable_notice
from edge.sms.replies import Replies
from edge.sms.responders import Responders, ServerWait, TextStyle
from edge.sms.texts import SmsStore
from edge.sms.worker import SmsWorker
from edge.storage.disk import StorageLimits
from edge.storage.live import LIVE_EVERY_S, LIVE_KEY
from edge.storage.store import ALERT_PRIORITY, Store
from edge.supervision.checks import Supervisor
from edge.supervision.jobs import Jobs
from edge.supervision.systemd_notify import SystemdNotifier
from edge.supervision.welfare import WelfareChecks
from edge.wakeup import Wakeup, due_of, earliest
from firmware_bridge.ble.bleak_radio import BleakRadio

if TYPE_CHECKING:
    from bleak.backends.scanner import BaseBleakScanner

    from edge.panel.driver import HubPanel
    from edge.uplink.service import Uplink

TICK_S = 0.5  # a failed timer job, or work still due after a turn, is tried again this soon
MAX_SLEEP_S = 30.0  # the longest the loop sleeps without checking every part's timers
HISTORY_PRUNE_S = 3600.0
_log = logging.getLogger("edge.alerts.hub")


@dataclass(slots=True)
class HubApp:
    """The running parts of one hub, wired together."""

    config: HubConfig
    store: Store
    hub: Hub
    radio: BleakRadio
    clock: Clock
    sms: SmsStore
    responders: Responders | None = None
    worker: SmsWorker | None = None
    uplink: Uplink | None = None
    jobs: Jobs | None = None
    panel: HubPanel | None = None
    notifier: SystemdNotifier | None = None
    wakeup: Wakeup = field(default_factory=Wakeup)
    turns: int = 0  # how often the loop ran its timer jobs (tests count wake-ups)
    _live_at: float = -1e18
    _watchdog_at: float = -1e18

    async def run(self, stop: asyncio.Event) -> None:
        """Resume open alerts, scan, text, sync and keep time until `stop` is set."""
        self.hub.start()
        self.wakeup.bind()
        self._changed_elsewhere()  # from here on, other processes' writes are noticed
        if self.wakeup.listen_to_kernel(self.store.file, self._changed_elsewhere):
            self.store.committed = self.wakeup.committed  # our own writes: no turn for them
        tasks = [asyncio.create_task(self.radio.run(stop), name="radio")]
        if self.worker is not None:
            tasks.append(asyncio.create_task(self.worker.run(stop), name="sms"))
        if self.uplink is not None:
            tasks.append(asyncio.create_task(self.uplink.run(stop), name="uplink"))
        if self.panel is not None:
            self.panel.bridge.loop = asyncio.get_running_loop()
        gc.freeze()  # start-up's objects live as long as the hub: full collections skip them
        if self.notifier is not None:
            self.notifier.ready(f"hub {self.config.hub.id} running")
        try:
            while not stop.is_set():
                self.wakeup.event.clear()
                self.turns += 1
                failed = self.tick()
                await self.wakeup.sleep_until(self.next_due(failed), self.clock, stop,
                                              self._changed_elsewhere)
        finally:
            stop.set()
            gc.unfreeze()  # a process that goes on (tests, tools) collects them again
            if self.notifier is not None:
                self.notifier.stopping()
            await asyncio.gather(*tasks)
            self.wakeup.unbind()
            try:
                self._publish_live(stopped=True)
            except Exception:  # the disk may be what failed: stopping must not
                _log.exception("Could not record that the hub stopped; edge-hub status tells "
                               "it from the age of the last state instead.")

    def _changed_elsewhere(self) -> bool:
        """Another process wrote (a text queued by `edge-hub test-alarm`, an alert
        acknowledged by `alerts ack`): the worker looks at its queue, the loop turns."""
        try:
            changed = self.store.changed_elsewhere()
        except Exception:  # noqa: BLE001 - a failing disk: turn, the jobs say what failed
            return True
        if changed and self.worker is not None:
            self.worker.wake()
        return changed

    def tick(self) -> bool:
        """Alert timers, escalation, uplink; a failure is logged and retried TICK_S later.
        Returns True when a job failed."""
        jobs = (self.hub.tick, self.responders.tick if self.responders else None,
                self.uplink.tick if self.uplink else None, self._publish_live,
                self.jobs.run_pending if self.jobs else None,
                self.panel.tick if self.panel else None, self._watchdog)
        failed = False
        for job in jobs:
            if job is None:
                continue
            try:
                job()
            except Exception:  # one failing job must not stop the others
                failed = True
                _log.exception("A timer job failed (%s); retrying in %.1f s.", job, TICK_S)
        return failed

    def next_due(self, failed: bool = False) -> float:
        """When the loop must turn next (monotonic): the earliest time a part has work,
        at most MAX_SLEEP_S away (a safety net); TICK_S away when a job failed or work
        that was due is still due (it is tried again, as often as before)."""
        now = self.clock.monotonic()
        interval = None if self.notifier is None else self.notifier.watchdog_interval_s
        parts = (self.hub, self.responders, self.uplink, self.jobs, self.panel)
        due = earliest((
            *(due_of(part, now, TICK_S) for part in parts if part is not None),
            self._live_at + LIVE_EVERY_S,
            None if interval is None else self._watchdog_at + interval,
            now + MAX_SLEEP_S))
        assert due is not None
        return now + TICK_S if failed or due <= now else due

    def _watchdog(self) -> None:
        """Tell systemd the loop is alive, each time its watchdog interval passes."""
        interval = None if self.notifier is None else self.notifier.watchdog_interval_s
        now = self.clock.monotonic()
        if self.notifier is None or interval is None or now - self._watchdog_at < interval:
            return
        self._watchdog_at = now
        self.notifier.watchdog()

    def _publish_live(self, stopped: bool = False) -> None:
        """Every 10 s, the hub's live state into the store, for `edge-hub status`; once
        more when it stops, saying so."""
        now = self.clock.monotonic()
        if now - self._live_at < LIVE_EVERY_S and not stopped:
            return
        self._live_at = now
        live = {"at": utc_text(self.clock.now()), "stopped": stopped,
                "modem": _sms_status_of(self.worker),
                "uplink": "none" if self.uplink is None else
                ("connected" if self.uplink.sync.connected else "down"),
                "radio": f"{self.radio.mode} scanning on {self.radio.adapter}"}
        with self.store.transaction(durable=False):
            self.store.set_meta(LIVE_KEY, json.dumps(live, ensure_ascii=False))

    def close(self) -> None:
        if self.panel is not None:
            self.panel.close()
        self.store.close()


def build_hub(
    config: HubConfig, *, clock: Clock | None = None,
    backend: type[BaseBleakScanner] | None = None, database: Path | None = None,
    dispatcher: Dispatcher | None = None, modem_port: str | None = None,
    serial_factory: Any = None, pin_factory: Any = None,
) -> HubApp:
    """Open the store, load the roster, and wire hub, radio and (with a modem) texting."""
    clock, wakeup = clock or SystemClock(), Wakeup()
    store = Store.open(database or config.hub.database, limits=storage_limits(config))
    store.clock_synced = ClockSyncProbe()
    store.fallback_roster = lambda: config.roster
    _load_roster(store, config)
    sms = SmsStore(store)
    section = config.modem
    if modem_port is not None:
        section = (ModemSection(port=modem_port) if section is None
                   else replace(section, port=modem_port))
    worker_box: list[SmsWorker] = []
    responders = None
    if section is not None:
        responders = Responders(store, sms, clock, plan_of(config), style_of(config),
                                on_queued=lambda: worker_box[0].wake() if worker_box else None)
        responders.country_code = config.sms.country_code
        responders.calls, responders.night = CallStore(store), parse_span(config.calls.night)
    paths: list[Dispatcher] = [d for d in (dispatcher, responders) if d is not None]
    fan_out = FanOut(paths)
    hub = Hub(config.hub.id, store, clock, config.alerts, fan_out)
    if section is not None:
        worker_box.append(_worker(config, section, sms, hub, clock, responders,
                                  serial_factory, wakeup))
    uplink = None
    if config.uplink is not None:
        from edge.uplink.service import SEND_TELEMETRY_S, build_uplink

        uplink = build_uplink(config, config.uplink, hub, clock, responders,
                              lambda: _sms_status_of(worker_box[0] if worker_box else None))
        # The server hears of an alert before its texts are worked out: the publish is a
        # read of the outbox (the alert's event is already committed); the SMS bookkeeping
        # is a second durable commit and the rendering of every text.
        paths.insert(paths.index(responders) if responders in paths else len(paths), uplink)
        uplink.wake = wakeup.set
        store.on_events = lambda telemetry: wakeup.set_after(SEND_TELEMETRY_S if telemetry else TICK_S)
        if responders is not None:
            responders.server = uplink.sync
            responders.server_wait = ServerWait(config.uplink.confirm_timeout_s,
                                                config.uplink.receipt_hold_s)
    if not paths:
        paths.append(LogDispatcher())
    fan_out.set(paths)
    report = reporter(store, clock, config.hub.id)
    if worker_box:
        worker_box[0].set_reporter(report)
        worker_box[0].set_undeliverable(
            undeliverable_notice(store, sms, clock, config.hub.id, config.sms.language))
    radio = BleakRadio(
        hub.on_advert, adapter=config.radio.adapter, scanning=config.radio.scanning,
        watchdog_s=config.radio.watchdog_s, backoff_max_s=config.radio.backoff_max_s,
        clock=clock, backend=backend, on_report=report,
    )
    worker = worker_box[0] if worker_box else None
    panel = _panel(config, hub, clock, pin_factory, uplink, worker)
    if panel is not None:
        paths.append(panel)
    fan_out.set([*paths, wakeup])  # last: the timers move after every path has acted
    jobs = Jobs(clock)
    supervisor = supervise(config, store, sms, clock, worker, uplink, panel)
    supervisor.replayed_sos = hub.refusals.take_replayed_sos
    supervisor.register(jobs)
    jobs.every(HISTORY_PRUNE_S, "frame history", store.prune_frame_history)
    welfare = WelfareChecks(hub, config.welfare, config.sms.timezone)
    hub.checks_in = welfare.takes_check_in
    jobs.every(config.welfare.check_every_s, "welfare checks", welfare.check)
    jobs.every(HISTORY_PRUNE_S, "activity history", welfare.forget_old_activity)
    return HubApp(config, store, hub, radio, clock, sms, responders, worker, uplink, jobs,
                  panel, wakeup=wakeup)


def startup_line(app: HubApp, version: str) -> str:
    """The one line that says what this hub is running with: version, configuration,
    watches, modem and uplink."""
    config, store = app.config, app.store
    watches = store.db.execute("SELECT count(*) FROM watches WHERE active = 1").fetchone()[0]
    roster = (f"roster {store.meta('roster_version')} from the server"
              if store.meta("roster_source") == "server" else "roster from the configuration")
    modem = (f"modem on {config.modem.port}" if config.modem is not None
             else "no modem (no [modem] section: no SMS)")
    uplink = "no uplink (no [uplink] section: SMS only)"
    if config.uplink is not None:
        uplink = f"uplink to {config.uplink.broker}" + (
            f" (HTTPS fallback {config.uplink.http_url})" if config.uplink.http_url else "")
    return (f"edge-hub {version} starting as hub {config.hub.id} ({config.hub.building}) "
            f"from {config.path}: {watches} watch{'' if watches == 1 else 'es'} ({roster}), {modem}, {uplink}, "
            f"database {config.hub.database}.")


def storage_limits(config: HubConfig) -> StorageLimits:
    """How the store guards the disk, from [hub]."""
    hub = config.hub
    return StorageLimits(hub.storage_reserve_mb, hub.low_space_mb, hub.max_database_mb)


def _panel(config: HubConfig, hub: Hub, clock: Clock, pin_factory: Any, uplink: Uplink | None,
           worker: SmsWorker | None) -> HubPanel | None:
    """The GPIO panel, if configured; a panel that cannot be opened does not stop the hub."""
    if config.panel is None:
        return None
    from edge.panel.driver import HubPanel

    try:
        panel = HubPanel(config.panel, hub, clock, config.sms.timezone, pin_factory)
    except HubError as error:
        _log.error("The hub's panel cannot be used (%s); the hub runs without lights, buzzer "
                   "and buttons.", error)
        return None
    panel.online = lambda: True if uplink is None else uplink.sync.connected
    panel.fault = lambda: _sms_status_of(worker) not in ("ready", "no modem")
    return panel


def supervise(config: HubConfig, store: Store, sms: SmsStore, clock: Clock,
              worker: SmsWorker | None, uplink: Uplink | None,
              panel: HubPanel | None = None) -> Supervisor:
    """The hub's self-checks, fed by what the running parts know."""
    def modem_fault() -> str | None:
        if worker is None:
            return None  # no modem configured: nothing to supervise
        return None if worker.ready and not worker.fault else (worker.fault or "not ready")

    def uplink_up() -> bool:
        return True if uplink is None else uplink.sync.connected

    wired = panel is not None and config.panel is not None and config.panel.mains_good is not None
    return Supervisor(store, sms, clock, config.supervision, uplink_connected=uplink_up,
                      modem_check=modem_fault, timezone=config.sms.timezone,
                      mains_present=panel.mains_present if panel is not None and wired else None)


def _load_roster(store: Store, config: HubConfig) -> None:
    """hub.toml's roster, unless the server has pushed one (it then stays in charge)."""
    store.set_home_building(config.hub.id)
    if store.meta("roster_source") == "server":
        _log.warning("Using roster %s pushed by the community server; the residents, watches "
                     "and contacts in %s are ignored.", store.meta("roster_version"),
                     config.path)
        return
    store.apply_roster(config.roster)


def _sms_status_of(worker: SmsWorker | None) -> str:
    return "no modem" if worker is None else "ready" if worker.ready else worker.fault or "starting"


def reporter(store: Store, clock: Clock, hub_id: str) -> Callable[[str, dict[str, object]], None]:
    """What the radio watchdog and the modem recovery did, as events for the server."""
    def report(kind: str, details: dict[str, object]) -> None:
        store.write(lambda: store.append_event(kind, clock.now(), {"hub": hub_id, **details},
                                               ALERT_PRIORITY))
    return report


def plan_of(config: HubConfig) -> EscalationPlan:
    s = config.sms
    return EscalationPlan(s.tier_wait_s, s.repeat_fast_s, s.repeat_fast_count, s.repeat_slow_s)


def style_of(config: HubConfig) -> TextStyle:
    s = config.sms
    return TextStyle(config.hub.building, s.language, tuple(s.templates.as_dict().items()),
                     s.map_url, s.timezone, config.alerts.fix_stale_after_s)


def _worker(config: HubConfig, section: ModemSection, sms: SmsStore, hub: Hub,
            clock: Clock, responders: Responders | None,
            serial_factory: Any = None, wakeup: Wakeup | None = None) -> SmsWorker:
    s = config.sms
    rules = ReplyRules(s.ack_keywords, s.accept_phrases, s.country_code, s.language)
    conversation = Conversation(
        sms, hub.acknowledge, clock, rules, hub_id=config.hub.id,
        declined=responders.declined if responders is not None else lambda alert_id: None)
    conversation.away = AwayBook(sms, clock, AwayRules(s.country_code, s.language, s.timezone))
    replies = Replies(sms, conversation, clock)
    box: list[SmsWorker] = []
    modem = open_modem(section, on_event=lambda event: box[0].on_modem_event(event),
                       serial_factory=serial_factory)
    worker = SmsWorker(sms, modem, replies, clock, status_report=config.sms.status_report,
                       inbox_poll_s=section.inbox_poll_s,
                       health_check_s=config.supervision.modem_check_s)
    worker.ringer = RingCalls(CallStore(sms.store), modem, clock, config.calls.ring_s)
    if wakeup is not None:
        worker.replied = wakeup.set  # a whole tier declining brings the next step forward
    box.append(worker)
    return worker


def open_modem(section: ModemSection, on_event: Any = None, serial_factory: Any = None) -> Any:
    """The pyserial modem driver for [modem], with its power key when one is wired."""
    from firmware_bridge.modem.serial_modem import SerialModem

    extra = {} if serial_factory is None else {"serial_factory": serial_factory}
    return SerialModem(
        section.port, baudrate=section.baudrate, pin=section.pin,
        send_timeout_s=section.send_timeout_s, command_timeout_s=section.command_timeout_s,
        power_key=_power_key(section.power_key_gpio), on_event=on_event, **extra,
    )


def _power_key(gpio: int | None) -> Any:
    if gpio is None:
        return None
    try:
        from gpiozero import OutputDevice

        return OutputDevice(gpio, initial_value=False)
    except Exception as error:  # no GPIO on this machine: the ladder skips the power key
        _log.warning("Modem power key on GPIO %d is not available (%s); recovery will not "
                     "pulse it.", gpio, error)
        return None
