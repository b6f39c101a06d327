"""Why the server or the demo cannot reach a broker: refused, DNS or TLS, in words."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from cloud_sync.contract.broker_url import parse_broker_url
from cloud_sync.server.broker_reach import why_unreachable
from cloud_sync.server.receiver import Receiver
from edge.tools.cli import main
from tests.mqtt_broker import Broker, free_port


def test_a_closed_port_is_connection_refused() -> None:
    port = free_port()
    why = why_unreachable(parse_broker_url(f"mqtt://127.0.0.1:{port}"))
    assert why is not None and why.startswith(f"connection refused by 127.0.0.1 port {port}")


def test_a_name_that_does_not_resolve_is_dns() -> None:
    why = why_unreachable(parse_broker_url("mqtt://broker.no-such-place.invalid:1883"))
    assert why is not None
    assert why.startswith("the name broker.no-such-place.invalid cannot be resolved (DNS: ")


def test_tls_against_a_plain_port_is_a_tls_failure(broker: Broker) -> None:
    why = why_unreachable(parse_broker_url(f"mqtts://127.0.0.1:{broker.port}"))
    assert why is not None and why.startswith(f"TLS handshake with 127.0.0.1 port {broker.port} "
                                              "failed (")


def test_a_reachable_broker_has_no_reason(broker: Broker) -> None:
    assert why_unreachable(parse_broker_url(broker.url)) is None


def test_the_server_says_why_it_cannot_reach_the_broker(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="cloud_sync")
    port = free_port()
    receiver = Receiver(f"mqtt://127.0.0.1:{port}", f"sqlite:///{tmp_path / 'r.db'}",
                        reconnect_max_s=1)
    try:
        assert receiver.start(wait_s=3) is False
    finally:
        receiver.stop()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    refused = f"connection refused by 127.0.0.1 port {port}: no broker listens there"
    assert said[0].startswith(f"Cannot reach broker mqtt://127.0.0.1:{port}: {refused}"), said
    assert said[-1].startswith(f"Broker mqtt://127.0.0.1:{port} not reached within 3 s: "
                               f"{refused}"), said
    assert sum("Cannot reach broker" in line for line in said) == 1, said  # once, not per try


def test_the_demo_with_an_unreachable_broker_fails_within_15_s_saying_why(capsys) -> None:
    port = free_port()
    started = time.monotonic()
    assert main(["demo", "--broker", f"mqtt://127.0.0.1:{port}"]) == 1
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err
    assert err.startswith(f"edge-hub demo: the broker mqtt://127.0.0.1:{port} cannot be reached "
                          f"within 10 s: connection refused by 127.0.0.1 port {port}"), err
