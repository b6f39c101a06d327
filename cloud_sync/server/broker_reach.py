"""Why a broker cannot be reached, in words: the name, the port, or TLS.

paho only says that a connection failed; this asks the network the same questions in
turn (resolve the name, open the TCP port, shake hands over TLS) and names the first
that fails, with what to check.
"""

from __future__ import annotations

import socket
import ssl

from cloud_sync.contract.broker_url import BrokerUrl

PROBE_TIMEOUT_S = 5.0


def why_unreachable(broker: BrokerUrl, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """What stops a connection to `broker` now, or None when name, port and TLS all work
    (the broker itself then refused: login or protocol)."""
    try:
        addresses = socket.getaddrinfo(broker.host, broker.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return (f"the name {broker.host} cannot be resolved (DNS: {error.strerror}); check "
                "the host in the broker URL and this machine's DNS")
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout_s)
            sock.connect(address)
            return _tls_problem(sock, broker) if broker.tls else None
    except ConnectionRefusedError:
        return (f"connection refused by {broker.host} port {broker.port}: no broker listens "
                "there; check that the broker runs and the port in the URL")
    except (TimeoutError, socket.timeout):
        return (f"no answer from {broker.host} port {broker.port} within {timeout_s:.0f} s; "
                "a firewall may drop it, or the host is down")
    except OSError as error:
        return f"cannot connect to {broker.host} port {broker.port} ({error.strerror or error})"


def _tls_problem(sock: socket.socket, broker: BrokerUrl) -> str | None:
    context = ssl.create_default_context()
    try:
        with context.wrap_socket(sock, server_hostname=broker.host):
            return None
    except ssl.SSLCertVerificationError as error:
        return (f"TLS: the certificate of {broker.host} is not trusted "
                f"({error.verify_message}); check the host name and the broker's certificate")
    except (ssl.SSLError, OSError) as error:
        return (f"TLS handshake with {broker.host} port {broker.port} failed ({error}); is it "
                "a TLS port (mqtts:// usually 8883)?")
