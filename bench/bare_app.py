"""The baseline: a bare Flask app that reads the body and answers 200, nothing else.

Served by gunicorn with the same settings as printbridge (`bench.bare_app:app`), it measures
what the server, Flask and the load generator cost on their own.
"""

from __future__ import annotations

from flask import Flask, Response, request

app = Flask(__name__)


@app.post("/webhooks/shopify")
def receive() -> Response:
    """Read the whole body, as printbridge does, and accept it."""
    request.get_data(cache=False)
    return Response("", status=200, mimetype="text/plain")
