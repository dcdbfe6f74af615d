"""gunicorn's settings for printbridge's web tier: the Procfile, the e2e tests and the benchmark.

Sizes come from the environment through bridge.config.WebTier (README "Load shedding"):
PORT, WEB_CONCURRENCY (processes), and the webhook admission gate's bounds, from which the
threads are counted. Logging follows BRIDGE_LOG_FORMAT and BRIDGE_LOG_LEVEL (bridge/logs.py).
Anything else can be overridden with GUNICORN_CMD_ARGS or flags.
"""

from __future__ import annotations

import os
import sys

from bridge.config import ConfigError, LogSettings, WebTier

try:
    web = WebTier.from_env(os.environ)
    LogSettings.from_env(os.environ)
except ConfigError as error:
    # One clear line, as the app itself gives, not gunicorn's traceback of its config file.
    print(f"printbridge: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2) from None

bind = f"0.0.0.0:{web.port}"
workers = web.workers
# Threads, so that a process sees the webhooks waiting for it: with one request per process
# (sync workers) the excess waits in the kernel's listen backlog, out of the app's sight, and
# under overload times out instead of being refused.
worker_class = "gthread"
threads = web.threads
# Open connections per process: one per thread, as many again idle between keep-alive
# requests. Past that the process stops accepting, so readable connections queued for a
# thread never exceed the thread count, and they are served at the speed of a refusal.
worker_connections = 2 * web.threads
# Connections not yet accepted by any process. Under overload they are taken at the rate
# refusals are made (~1,000/s per process here), so 512 is about half a second at most; past
# it the kernel drops the connection attempt, and the store retries the delivery later.
backlog = 512
keepalive = 5
# The heartbeat file on a memory file system: a slow disk must not get workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# The app's loggers and gunicorn's own (error log; access log when --access-logfile asks for
# one) as text or JSON lines, with secrets masked: bridge/logs.py.
logger_class = "bridge.logs.GunicornLogger"
# The access log's line without the query string and the referrer: the OAuth callback's and
# the merchant pages' queries carry a one-time code and an hmac.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(M)sms'
