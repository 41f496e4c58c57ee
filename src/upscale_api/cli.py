"""The ``upscale`` command: a click group whose commands :class:`~upscale_api.core.ApplicationCore` adds.

``python3 run.py upscale --help`` lists them. A bad setting ends any command with
one line naming the variable and exit status 2; a command's own refusal with
``Error: <why>`` and exit status 1.
"""

from __future__ import annotations

import logging
import sys

import click

from upscale_api.core import ApplicationCore
from upscale_api.settings import SettingsError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "terminal_width": 120, "max_content_width": 120})
def upscale() -> None:
    """upscale-api: climate action campaigns for cities."""


ApplicationCore().on_cli_init(upscale)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run drowns the rest
    try:
        upscale(prog_name="upscale")
    except SettingsError as exc:
        print(f"upscale: invalid setting {exc}", file=sys.stderr)
        sys.exit(2)
