"""The typer application object and the error reporting shared by every command.

Every error a user can cause ends as one line on stderr and exit status 2:
``ProbtalkError`` raised by a command (:func:`run_cli`) and typer/click usage
errors such as ``-n abc`` or a missing argument (:class:`OneLineErrorsGroup`).
SIGTERM is handled like Ctrl-C: the running write is rolled back (no
temporary file is left) and the command exits with 128 + the signal number.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import click
import typer
from typer.core import TyperGroup

from probtalk.errors import OptionError, ProbtalkError


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process gets SIGTERM (handled like Ctrl-C)."""

    exit_code = 128 + signal.SIGTERM


class OneLineErrorsGroup(TyperGroup):
    """A typer group whose usage errors print one line (``error: ...``) instead of a boxed panel."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as exc:  # typer >= 0.23 raises its own copies of click's exceptions
            names = {cls.__name__ for cls in type(exc).__mro__}
            if names & {"Abort"}:
                click.echo("interrupted", err=True)
                sys.exit(130)
            if not ("ClickException" in names and callable(getattr(exc, "format_message", None))):
                raise
            ctx = getattr(exc, "ctx", None)
            if "NoArgsIsHelpError" in names and ctx is not None:
                click.echo(ctx.get_help(), err=True)
                sys.exit(2)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            message = " ".join(exc.format_message().split())
            click.echo(f"error: {message}{where}", err=True)
            sys.exit(2 if "UsageError" in names else int(getattr(exc, "exit_code", 1)))
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    name="probtalk",
    help="Speech-driven 3D facial animation for FLAME rigs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OneLineErrorsGroup,
)
data_app = typer.Typer(
    help="Datasets: generate the synthetic corpus, inspect corpora.", no_args_is_help=True, cls=OneLineErrorsGroup
)
app.add_typer(data_app, name="data")

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (so cleanups run)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def progress_bar(*columns: Any) -> Any:
    """A transient rich progress bar on stderr, shown only on a terminal.

    Off a terminal (pipes, CI, tests) it draws nothing, so an error raised
    inside it leaves no stray empty line on stdout.
    """
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def run_cli(func: F, flags: dict[str, str] | None = None) -> F:
    """Decorate a command so user errors print one line and exit 2 (never a traceback).

    Args:
        func: the command.
        flags: option name -> CLI flag, so a message about ``num_samples`` names ``-n/--takes``.
    """
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
        try:
            with sigterm_as_interrupt():
                return func(*args, **kwargs)
        except ProbtalkError as exc:
            typer.echo(f"error: {flag_message(exc, flags or {})}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except Terminated:
            typer.echo("terminated", err=True)
            raise typer.Exit(Terminated.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def with_flags(flags: dict[str, str]) -> Callable[[F], F]:
    """Like :func:`run_cli`, naming CLI flags instead of option names in error messages."""
    return lambda func: run_cli(func, flags)


def flag_message(exc: ProbtalkError, flags: dict[str, str]) -> str:
    """The error's one-line message, with a leading option name replaced by its CLI flag."""
    text = " ".join(str(exc).split())
    option = getattr(exc, "option", None) if isinstance(exc, OptionError) else None
    if option and option in flags and text.startswith(option):
        return flags[option] + text[len(option):]
    return text
