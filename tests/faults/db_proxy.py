"""A TCP proxy in front of PostgreSQL that a test can cut and restore.

printbridge's processes reach the database through the proxy's port. `cut()` closes every
connection open through it, as a database server that dies or a connection reset would, and
then, until `restore()`, new connections are either refused (the port is closed, as when the
server is down) or blackholed (accepted and never answered, as when a server or the network
between hangs). Only loopback addresses are used.
"""

from __future__ import annotations

import enum
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from sqlalchemy.engine import make_url

CHUNK = 64 * 1024
# How often the accepting thread looks at the proxy's mode.
TICK = 0.05


class Mode(enum.Enum):
    """What the proxy does with a new connection."""

    OPEN = "open"
    REFUSE = "refuse"
    BLACKHOLE = "blackhole"


@dataclass
class Counts:
    """Connections seen since the proxy started."""

    forwarded: int = 0
    cut: int = 0
    blackholed: int = 0


class DatabaseProxy:
    """Forwards 127.0.0.1:`port` to `upstream` until told otherwise."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self.counts = Counts()
        self._mode = Mode.OPEN
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._held: list[socket.socket] = []
        self._applied = threading.Event()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="db-proxy", daemon=True)

    # -- the test's controls ---------------------------------------------------------------

    def start(self) -> DatabaseProxy:
        """Start accepting connections."""
        self._thread.start()
        return self

    def url(self, database_url: str) -> str:
        """`database_url` pointed at the proxy instead of the server."""
        proxied = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return proxied.render_as_string(hide_password=False)

    def cut(self, mode: Mode = Mode.REFUSE) -> None:
        """Close every open connection; then refuse or blackhole new ones until `restore()`."""
        if mode is Mode.OPEN:
            raise ValueError("cut() needs REFUSE or BLACKHOLE; restore() opens again")
        self._set_mode(mode)
        with self._lock:
            victims = list(self._open)
            self._open.clear()
            self.counts.cut += len(victims) // 2
        for sock in victims:
            _close(sock)

    def restore(self) -> None:
        """Forward new connections again; blackholed ones are closed (their clients gave up)."""
        self._set_mode(Mode.OPEN)
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            _close(sock)

    @property
    def mode(self) -> Mode:
        """What the proxy does with new connections now."""
        return self._mode

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            everything = [*self._open, *self._held]
            self._open.clear()
            self._held.clear()
        for sock in everything:
            _close(sock)
        if self._listener is not None:
            _close(self._listener)
            self._listener = None

    # -- inside ----------------------------------------------------------------------------

    def _set_mode(self, mode: Mode) -> None:
        # The accepting thread applies it (it owns the listening socket); wait until it has,
        # so that the caller knows the cut is in force when this returns.
        with self._lock:
            self._mode = mode
            self._applied.clear()
        if self._thread.is_alive() and not self._applied.wait(timeout=5):
            raise RuntimeError("the database proxy did not apply its new mode")

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        return listener

    def _serve(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                mode = self._mode
            if mode is Mode.REFUSE and self._listener is not None:
                # A closed port: the kernel refuses new connections, as for a server down.
                _close(self._listener)
                self._listener = None
            elif mode is not Mode.REFUSE and self._listener is None:
                self._listener = self._listen(self.port)
            self._applied.set()
            if self._listener is None:
                self._stopping.wait(TICK)
                continue
            ready, _, _ = select.select([self._listener], [], [], TICK)
            if not ready:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                mode = self._mode
                if mode is Mode.BLACKHOLE:
                    # Accepted and never read nor answered: the client waits for its timeout.
                    self._held.append(client)
                    self.counts.blackholed += 1
                    continue
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _close(client)
            return
        server.settimeout(None)
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.update((client, server))
            self.counts.forwarded += 1
        for source, target in ((client, server), (server, client)):
            threading.Thread(
                target=self._pump, args=(source, target), name="db-proxy-pump", daemon=True
            ).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        # One side ended: end the other too, as a real connection would.
        with self._lock:
            self._open.discard(source)
            self._open.discard(target)
        _close(source)
        _close(target)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


@contextmanager
def database_proxy(upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> Iterator[DatabaseProxy]:
    """A running proxy, stopped at the end of the block."""
    proxy = DatabaseProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
