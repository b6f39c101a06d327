"""Running `edge-hub simulate`: the production hub on the simulated building, its control
API, the ready signal, the token file, and (with --server) the community server beside it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import ConfigError
from edge.supervision.stop_signals import EarlyStop

if TYPE_CHECKING:
    from edge.simulated.simulate import Simulation

READY_TIMEOUT_S = 120.0
_log = logging.getLogger("edge.simulated.simulate")


def run_simulate(args: argparse.Namespace) -> int:
    """Run until SIGTERM: the hub on the simulated building, with its control API (and,
    with --server, the community server and its console beside it)."""
    early = EarlyStop()
    with tempfile.TemporaryDirectory(prefix="edge-hub-simulate-") as scratch:
        database = args.db or Path(scratch) / "simulate.db"
        with _server_beside(args, Path(scratch)):
            asyncio.run(_simulate(args, database.resolve(), Path(scratch), early))
    return 0


@contextmanager
def _server_beside(args: argparse.Namespace, scratch: Path) -> Iterator[None]:
    """With --server: the community server with its console, on --broker or a Mosquitto
    of its own, and a duty-desk account for the simulated building's community."""
    if getattr(args, "server", None) is None:
        yield
        return
    if args.offline:
        raise ConfigError("--server needs the uplink: leave out --offline")
    from cloud_sync.server.receiver import Receiver
    from cloud_sync.uplink.local_broker import LocalMosquitto
    from edge.config.loader import community_id_of, load_config

    own = None if args.broker else LocalMosquitto(scratch).start()
    args.broker = args.broker or own.url  # type: ignore[union-attr]
    server = Receiver(args.broker, f"sqlite:///{scratch / 'server.db'}", http=args.server,
                      reconnect_max_s=1)
    community = community_id_of(load_config(args.config).hub)
    password = server.people.add("desk", "值班员", "desk", community, now=time.time())
    server.start()
    host, port = server.http_address or args.server
    _log.warning("Community server for the simulated building: console on http://%s:%d/ - log "
                 "in as desk with password %s (community %s).", host, port, password, community)
    try:
        yield
    finally:
        server.stop()
        if own is not None:
            own.stop()


async def _simulate(args: argparse.Namespace, database: Path, scratch: Path,
                    early: EarlyStop) -> None:
    from edge.app import build_hub
    from edge.config.loader import load_config
    from edge.simulated.simulate import SavedCounters, Simulation, simulation_config
    from edge.supervision.systemd_notify import SystemdNotifier
    from firmware_bridge.simulators.modem_emulator import ModemEmulator
    from firmware_bridge.simulators.virtual_air import VirtualAir

    config = simulation_config(load_config(args.config), args.broker, args.offline)
    logging.getLogger().setLevel(config.hub.log_level)
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a read-only disk under test: the hub copes, see edge.storage.disk
        _log.warning("Cannot make the folder of %s (%s).", database, error)
    link = scratch / "ttyUSB-simulated"  # the modem's port, found again if it vanishes
    modem = ModemEmulator(pdu_log=args.pdu_log)
    modem.start(link=link)
    air = VirtualAir()
    try:
        app = build_hub(config, backend=air.backend, database=database, modem_port=str(link))
    except BaseException:
        modem.stop()
        raise
    app.notifier = SystemdNotifier()  # READY=1 as `run` sends it, under systemd or a bench
    counters = SavedCounters(database.with_name(database.name + ".air.json"))
    for record in app.store.watch_records():
        counter, packet_id = counters.of(record.watch.mac)
        air.add_watch(record.watch.mac, record.watch.key, counter=counter, packet_id=packet_id)
    air.on_counter = counters.save
    simulation = Simulation(app, air, modem, link, database.parent)
    try:
        token_file = args.control_token or database.with_name(database.name + ".control-token")
        await _serve(simulation, args.control, early, token_file)
    finally:
        app.close()
        modem.stop()
        _log.info("Simulated building stopped.")


async def _serve(sim: Simulation, control: tuple[str, int], early: EarlyStop,
                 token_file: Path) -> None:
    from edge.simulated.simulate_control import ControlServer

    stop = early.event()
    hub = asyncio.create_task(sim.app.run(stop), name="hub")
    try:
        if not await _ready(sim, stop, hub):
            return
        token = secrets.token_hex(16)
        token_file = _write_token(token, token_file)
        server = ControlServer(sim.routes(), token)
        host, port = await server.start(*control)
        _log.warning("Simulated building %s is ready: control API on http://%s:%d (send "
                     "'Authorization: Bearer' with the token in %s); SIGTERM stops it.",
                     sim.app.config.hub.building, host, port, token_file)
        try:
            await asyncio.wait([hub, asyncio.create_task(stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            await server.stop()
    finally:
        stop.set()
        await hub


def _write_token(token: str, wanted: Path) -> Path:
    """The token in a file only its owner reads: where asked, else (a full or read-only
    disk under test) in the temporary folder."""
    for path in (wanted, Path(tempfile.gettempdir()) / f"edge-hub-simulate-{os.getpid()}.token"):
        try:
            path.unlink(missing_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(token + "\n")
            return path
        except OSError as error:
            _log.warning("Cannot write the control API's token to %s (%s).", path, error)
    raise OSError("cannot write the control API's token anywhere")


async def _ready(sim: Simulation, stop: asyncio.Event, hub: asyncio.Task[None]) -> bool:
    """Wait until the radio scans and the modem is set up; False if stopped first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    worker = sim.app.worker
    while not (sim.air.scanners and (worker is None or worker.ready)):
        if stop.is_set() or hub.done():
            return False
        if loop.time() > deadline:
            _log.error("The simulated building did not get ready in %.0f s (modem: %s); the "
                       "control API opens anyway.", READY_TIMEOUT_S,
                       worker.fault if worker else "none")
            return True
        await asyncio.sleep(0.05)
    return True
