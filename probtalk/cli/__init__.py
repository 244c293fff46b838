"""The ``probtalk`` command line: a thin typer shell over the Python API.

Each command lives in its own module and registers itself on :data:`app`;
:mod:`probtalk.cli.main` imports them all. Heavy modules are imported inside
the command functions so that ``probtalk --help`` starts fast.
"""

from probtalk.cli.app import app, data_app, run_cli

__all__ = ["app", "data_app", "run_cli"]
