"""Command line that runs one sandbox in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from bridge.sandbox.gelato import GelatoSandbox
from bridge.sandbox.oauth import OAuthSandbox
from bridge.sandbox.server import serve_in_thread
from bridge.sandbox.store import StoreSandbox

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.sandbox", description="Run a local API sandbox."
    )
    kinds = parser.add_subparsers(dest="kind", required=True)
    gelato = kinds.add_parser("gelato", help="Gelato v4 order API stand-in")
    gelato.add_argument("--api-key", required=True, help="the accepted X-API-KEY")
    store = kinds.add_parser("store", help="store admin GraphQL stand-in")
    store.add_argument("--shop", action="append", default=[], help="shop domain (repeatable)")
    store.add_argument("--token", action="append", default=[], help="its access token")
    oauth = kinds.add_parser("oauth", help="the shops' OAuth endpoints stand-in")
    oauth.add_argument("--client-id", required=True, help="the app's client id")
    oauth.add_argument("--client-secret", required=True, help="the app's client secret")
    for sub in (gelato, store, oauth):
        sub.add_argument("--host", default="127.0.0.1")
        sub.add_argument("--port", type=int, default=0, help="0 picks a free port")
    return parser


def _app(args: argparse.Namespace, parser: argparse.ArgumentParser) -> WSGIApplication:
    if args.kind == "gelato":
        return GelatoSandbox(api_key=args.api_key)
    if args.kind == "oauth":
        return OAuthSandbox(args.client_id, args.client_secret)
    if len(args.shop) != len(args.token):
        parser.error("give one --token per --shop")
    return StoreSandbox(tokens=dict(zip(args.shop, args.token, strict=True)))


def main(argv: list[str] | None = None) -> int:
    """Serve the chosen sandbox, print `ready <url>`, and stop cleanly on a signal."""
    parser = _parser()
    args = parser.parse_args(argv)
    app = _app(args, parser)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = serve_in_thread(app, host=args.host, port=args.port)
    except OSError as exc:
        parser.exit(1, f"{parser.prog}: {exc}\n")
    print(f"ready {server.url}", flush=True)
    # A timed wait keeps the main thread responsive to signals on every platform.
    while not stopping.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
