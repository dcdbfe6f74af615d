"""Helpers for the tests: building apps, sending webhooks, draining the queue."""
