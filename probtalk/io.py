"""Atomic file writing shared by every writer in probtalk and exporters.

Outputs are written to a temporary file in the target folder and renamed into
place, so a failed or interrupted write never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from probtalk.errors import OutputError


def ensure_writable_dir(folder: str | os.PathLike[str], create: bool = True) -> Path:
    """Return ``folder`` as a Path after checking it exists (or creating it) and is writable.

    Raises:
        OutputError: the folder cannot be created or written.
    """
    path = Path(folder)
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {path}: {exc.strerror}; choose a writable folder") from None
    if not path.is_dir():
        raise OutputError(f"output folder {path} does not exist; create it or choose another")
    if not os.access(path, os.W_OK):
        raise OutputError(f"output folder {path} is not writable; choose a writable folder")
    return path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    The temporary file keeps the target's suffix (or ``suffix``) so that
    writers which pick a format from the file name still work. On any
    exception the temporary file is removed and ``target`` is left untouched.

    Example:
        >>> with atomic_path("out/take0.npz") as tmp:  # doctest: +SKIP
        ...     np.savez(tmp, x=1)
    """
    target = Path(target)
    folder = ensure_writable_dir(target.parent if str(target.parent) else ".", create=False)
    suffix = target.suffix if suffix is None else suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{suffix}", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes 0600 files; give outputs the usual umask-based mode
            os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the target path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the target path."""
    return atomic_write_bytes(target, text.encode("utf-8"))
