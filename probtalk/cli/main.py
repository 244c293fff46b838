"""Entry point of the ``probtalk`` console script: imports every command module."""

from __future__ import annotations

from probtalk.cli import (  # noqa: F401  (each module registers its commands on the app)
    animate_cmd,
    data_cmd,
    evaluate_cmd,
    export_cmd,
    info,
    realtime_cmd,
    render_cmd,
    train_cmd,
)
from probtalk.cli.app import app


def main() -> None:
    """Run the CLI."""
    app()


if __name__ == "__main__":
    main()
