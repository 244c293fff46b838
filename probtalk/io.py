"""Atomic file writing shared by every writer in probtalk and exporters.

Outputs are written to a temporary file in the target folder and renamed into
place, so a failed or interrupted write never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from probtalk.errors import OutputError

logger = logging.getLogger(__name__)


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


def check_unique_stems(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse inputs whose outputs would share a name (``a/x.wav`` and ``b/x.wav``, ``x.wav`` and ``x.flac``).

    Raises:
        OutputError: naming both inputs.
    """
    seen: dict[str, Path] = {}
    for p in map(Path, paths):
        if seen.get(p.stem) == p:
            raise OutputError(f"input {p} is given twice; give each file once")
        if p.stem in seen:
            raise OutputError(
                f"inputs {seen[p.stem]} and {p} would write files of the same name ({p.stem}.*); "
                "rename one or run them into different -o folders"
            )
        seen[p.stem] = p


def refuse_existing(paths: Sequence[str | os.PathLike[str]], otherwise: str = "choose another -o folder") -> None:
    """No silent overwrite: refuse when any of ``paths`` is a file (or a link) already.

    A folder in the way is not counted here; the writer refuses it by name.

    Raises:
        OutputError: one line naming the first such file, how many more, ``--overwrite`` and ``otherwise``.
    """
    taken = [Path(p) for p in paths if Path(p).is_file() or Path(p).is_symlink()]
    if taken:
        more = f" (and {len(taken) - 1} more of the output files)" if len(taken) > 1 else ""
        raise OutputError(f"{taken[0]} already exists{more}; pass --overwrite to replace, or {otherwise}")


@contextlib.contextmanager
def atomic_path(
    target: str | os.PathLike[str], suffix: str | None = None, *, needed: int | None = None
) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    The temporary file (``.<stem>.<random>.tmp<suffix>``, see :data:`TEMP_NAME`) keeps the
    target's suffix (or ``suffix``) so that writers which pick a format from the file name
    still work. On any exception, including Ctrl-C and SIGTERM in the CLI, the temporary
    file is removed and ``target`` is left untouched. ``needed`` (bytes, when the writer
    knows it) goes into the message when the disk is full.

    Raises:
        OutputError: the folder is not writable, the disk (or quota) is full, or the
            file system is read-only; the message names the file and the space involved.

    Example:
        >>> with atomic_path("out/take0.npz") as tmp:  # doctest: +SKIP
        ...     np.savez(tmp, x=1)
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: a folder of that name exists; remove it or choose another name")
    folder = ensure_writable_dir(target.parent if str(target.parent) else ".", create=False)
    suffix = target.suffix if suffix is None else suffix
    try:
        tmp = _make_temp(folder, target.stem, suffix)
    except OSError as exc:
        raise _write_error(target, exc, 0, needed) from None
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes 0600 files; give outputs the usual umask-based mode
            os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        written = _size(tmp)
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            raise _write_error(target, exc, written, needed) from None
        raise


# Errors of the output side that a user can fix (free space, another folder).
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}

TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")
"""Names of :func:`atomic_path` temporary files (``.<stem>.<8 random chars>.tmp<suffix>``)."""


def _make_temp(folder: Path, stem: str, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{suffix}", dir=folder)
    os.close(fd)
    return Path(name)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _write_error(target: Path, exc: OSError, written: int, needed: int | None = None) -> OutputError:
    folder = target.parent if str(target.parent) else Path(".")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        try:
            free = _human(shutil.disk_usage(folder).free)
        except OSError:
            free = "unknown"
        what = "disk quota exceeded" if exc.errno == errno.EDQUOT else "no space left on device"
        size = f"it needs {_human(needed)}" if needed else f"{_human(written)} were written before the disk filled"
        return OutputError(
            f"{what} writing {target}: {size}, {free} free in {folder}; free some space or choose another output folder"
        )
    if exc.errno == errno.EROFS:
        return OutputError(f"cannot write {target}: the file system is read-only; choose another output folder")
    return OutputError(f"cannot write {target}: {exc.strerror}; choose another output folder")


@contextlib.contextmanager
def output_lock(folder: str | os.PathLike[str], *, wait_message: str | None = None) -> Iterator[Path]:
    """Hold an exclusive lock on an output folder (``flock`` on the folder itself; no file is made).

    Runs that write into the same folder take turns, so the files of one take
    always come from one run. Inside the lock, temporary files of earlier,
    killed runs are removed (:func:`remove_stale_temps`).

    Raises:
        OutputError: the folder cannot be opened.
    """
    path = Path(folder)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise OutputError(f"cannot open output folder {path}: {exc.strerror}; choose another folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.warning(wait_message or "waiting for another probtalk run writing into %s", path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        remove_stale_temps(path)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def remove_stale_temps(folder: str | os.PathLike[str], min_age_s: float = 60.0) -> list[Path]:
    """Delete :func:`atomic_path` temporary files older than ``min_age_s`` in ``folder``.

    They are left only by a run that was killed outright (SIGKILL, power loss).
    Call it while holding :func:`output_lock`, so a live run's files are never touched.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not TEMP_NAME.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime >= min_age_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    if removed:
        logger.info("removed %d stale temporary file(s) in %s", len(removed), folder)
    return removed


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def open_npz(path: str | os.PathLike[str], what: str, error: type[Exception]) -> Any:
    """``np.load(path)`` as an open ``NpzFile`` without pickles (use it in a ``with``).

    Raises:
        error: the file is a bare ``.npy`` array under another name (``{path} holds a single array, not {what}``).
        OSError, ValueError, zipfile.BadZipFile, EOFError: as ``np.load`` does for unreadable files.
    """
    import numpy as np

    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):  # np.load read a .npy file under an .npz name
        raise error(f"{path} holds a single array, not {what}")
    return data


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the target path."""
    with atomic_path(target, needed=len(data)) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the target path."""
    return atomic_write_bytes(target, text.encode("utf-8"))
