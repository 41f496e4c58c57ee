"""``python -m upscale_api`` is the ``upscale`` command."""

from upscale_api.cli import main

main()
