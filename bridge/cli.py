"""The `printbridge` command: the app's commands, plus the demo."""

from __future__ import annotations

from flask.cli import FlaskGroup

from bridge.app import create_app
from bridge.demo import demo


def main() -> None:
    """Entry point of the `printbridge` console script."""
    group = FlaskGroup(create_app=create_app, load_dotenv=False)
    group.add_command(demo)
    group.main(prog_name="printbridge")
