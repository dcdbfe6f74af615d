"""Local stand-ins for the Gelato order API, the store admin GraphQL API and its OAuth endpoints.

They are used by the demo, the end-to-end tests and the benchmarks, never in production.
"""

from __future__ import annotations

from bridge.sandbox.gelato import GelatoSandbox
from bridge.sandbox.oauth import OAuthSandbox
from bridge.sandbox.server import RunningServer, serve_in_thread
from bridge.sandbox.store import StoreSandbox

__all__ = ["GelatoSandbox", "OAuthSandbox", "RunningServer", "StoreSandbox", "serve_in_thread"]
