"""Entry point of the ``probtalk`` console script: imports every command module."""

from __future__ import annotations

import probtalk.cli.data_cmd  # noqa: F401  (registers 'probtalk data synth')
import probtalk.cli.export_cmd  # noqa: F401  (registers 'probtalk export')
import probtalk.cli.train_cmd  # noqa: F401  (registers 'probtalk train')
from probtalk.cli import animate_cmd, evaluate_cmd, info, render_cmd  # noqa: F401  (registers commands)
from probtalk.cli.app import app


def main() -> None:
    """Run the CLI."""
    app()


if __name__ == "__main__":
    main()
