"""Threaded local HTTP server that runs a sandbox WSGI app in the background."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class ConnectionTracker:
    """The open client connections of one server, so stopping can drop idle keep-alives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        """Remember an accepted connection."""
        with self._lock:
            self._sockets.add(sock)

    def discard(self, sock: socket.socket) -> None:
        """Forget a finished connection."""
        with self._lock:
            self._sockets.discard(sock)

    def close_all(self) -> None:
        """Shut down every open connection, as a stopped real server would."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                # The peer may have closed it already; nothing is left to shut down.
                continue


def _handler_for(tracker: ConnectionTracker) -> type[WSGIRequestHandler]:
    class QuietRequestHandler(WSGIRequestHandler):
        """Request handler that tracks its connection and prints no access log."""

        def setup(self) -> None:
            """Register the connection before serving it."""
            super().setup()
            tracker.add(self.connection)

        def finish(self) -> None:
            """Unregister the connection once it is done."""
            tracker.discard(self.connection)
            super().finish()

        # Benchmarks send thousands of requests; per-request lines would drown the output.
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Skip the access log line."""

    return QuietRequestHandler


class RunningServer:
    """A sandbox served on a daemon thread, stopped with `stop()`."""

    def __init__(
        self, server: BaseWSGIServer, thread: threading.Thread, tracker: ConnectionTracker
    ) -> None:
        self._server = server
        self._thread = thread
        self._tracker = tracker
        self.host = server.host
        self.port = server.port
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop accepting requests, drop open connections and release the port."""
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self._tracker.close_all()

    def __enter__(self) -> RunningServer:
        """Use the running server as a context manager that stops it on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server when the with-block ends."""
        self.stop()


def serve_in_thread(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve `app` on a daemon thread; port 0 picks a free port, read back from `.port`."""
    tracker = ConnectionTracker()
    try:
        server = make_server(host, port, app, threaded=True, request_handler=_handler_for(tracker))
    except SystemExit as exc:
        # werkzeug exits the process when it cannot bind; a library caller needs an exception.
        raise OSError(f"cannot listen on {host}:{port}") from exc
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{server.port}")
    thread.daemon = True
    thread.start()
    return RunningServer(server, thread, tracker)
