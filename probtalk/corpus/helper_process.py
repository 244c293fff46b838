"""The base of the speech engines' long-lived helper processes.

Each engine runs one helper process per Python process: started on first use,
restarted when it has died, never shared with a forked child (the child starts
its own), and stopped at exit by the process that started it. Calls into one
helper are serialised by a lock.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import threading
from typing import Any, ClassVar, TypeVar

from probtalk.errors import ProbtalkError

Spans = list[tuple[int, int, tuple[str, ...]]]  # (start sample, end sample, ARPAbet phones)
WordSpans = list[tuple[int, int, str]]  # (start sample, end sample, word)

_H = TypeVar("_H", bound="HelperProcess")


class SpeechEngineError(ProbtalkError):
    """A speech synthesiser is missing (system package) or failed on an input."""


class HelperProcess:
    """A helper process owned by the Python process that started it.

    Subclasses build the command line, call ``super().__init__`` and then talk to
    ``self.proc`` under ``self.lock``.
    """

    _instances: ClassVar[dict[int, HelperProcess]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._instances = {}  # one registry per engine

    def __init__(self, args: list[str], **popen_kwargs: Any) -> None:
        self.owner_pid = os.getpid()
        self.proc: subprocess.Popen[Any] = subprocess.Popen(args, stdin=subprocess.PIPE, **popen_kwargs)
        self.lock = threading.Lock()
        atexit.register(self.close)

    @classmethod
    def instance(cls: type[_H]) -> _H:
        """This process's helper, started (or restarted, if it has died) on demand."""
        pid = os.getpid()
        helper = cls._instances.get(pid)
        if helper is None or helper.proc.poll() is not None:
            cls._instances.clear()  # a forked child must not share its parent's pipe
            helper = cls._instances[pid] = cls()
        return helper  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the helper process (only in the process that started it)."""
        if os.getpid() != self.owner_pid:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
