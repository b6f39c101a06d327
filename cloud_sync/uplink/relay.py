"""A TCP relay that can cut every connection at once: a flaky link, a NAT box timing out.

The demo puts it between the hub and the broker to show an outage without touching the
broker; the tests use it to cut a live MQTT connection.
"""

from __future__ import annotations

import socket
import threading


class TcpRelay:
    """Forwards a local loopback port to host:port; `cut()` drops all connections."""

    def __init__(self, target_host: str, target_port: int, *, listen_port: int = 0) -> None:
        self.target = (target_host, target_port)
        self._server = socket.create_server(("127.0.0.1", listen_port))
        self.port = int(self._server.getsockname()[1])
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.blocked = False
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.blocked:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # the timeout was for connecting, not for idle links
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shut(source)
            _shut(sink)

    def cut(self, *, block: bool = False) -> int:
        """Drop every connection; with block, refuse new ones until `unblock()`."""
        self.blocked = block or self.blocked
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _shut(sock)
                sock.close()
        return len(pairs)

    def unblock(self) -> None:
        self.blocked = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._server.close()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
