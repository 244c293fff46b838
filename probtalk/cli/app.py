"""The typer application object and the error-reporting wrapper used by every command."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from probtalk.errors import ProbtalkError

app = typer.Typer(
    name="probtalk",
    help="Speech-driven 3D facial animation for FLAME rigs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Datasets: generate the synthetic corpus, inspect corpora.", no_args_is_help=True)
app.add_typer(data_app, name="data")

F = TypeVar("F", bound=Callable[..., Any])


def run_cli(func: F) -> F:
    """Decorate a command so user errors print one line and exit 2 (never a traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
        try:
            return func(*args, **kwargs)
        except ProbtalkError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


