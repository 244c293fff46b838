"""Exporters: write a :class:`probtalk.Animation` for game engines and DCC tools.

One entry point, a registry of small writer classes chosen by format name
(after whisper's output writers), and an "all" fan-out::

    import exporters
    exporters.write(anim, "take0.glb")                      # format from the suffix
    exporters.write(anim, "take0.csv", arkit_smoothing=0.1)  # Live Link Face CSV
    exporters.write_all(anim, "out/", "take0", ["glb", "fbx", "livelink"])
    exporters.formats()                                      # names of every format

Formats: ``npz`` (the Animation file), ``glb`` / ``gltf`` (mesh, skinned jaw,
neck and eyes, expression morph targets or the 52 ARKit shapes, animation),
``fbx`` (through Blender), ``livelink`` (Unreal Live Link Face CSV),
``arkit-json`` and ``curves-csv`` (ARKit-52 curves for Unity/Maya).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exporters.arkit import ArkitCache, ArkitCurves, solve_arkit
from exporters.base import TARGETS_NEED_ARKIT, Writer, formats, get_writer, register, resolve_format, writer_class
from exporters.readers import load_blendshape_targets
from probtalk.animation import Animation
from probtalk.errors import InputError
from probtalk.io import ensure_writable_dir

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)

__all__ = [
    "ArkitCache",
    "ArkitCurves",
    "check_fps",
    "check_options",
    "Writer",
    "expand_formats",
    "formats",
    "get_writer",
    "load_blendshape_targets",
    "register",
    "resolve_format",
    "suffix",
    "solve_arkit",
    "write",
    "write_all",
]


def write(
    animation: Animation,
    path: str | os.PathLike[str],
    rig: Rig | str | os.PathLike[str] | None = None,
    format: str | None = None,  # noqa: A002  (the public keyword named in docs/architecture.md)
    fps: float | None = None,
    **options: Any,
) -> Path:
    """Write ``animation`` to ``path`` in one format and return the written path.

    Args:
        animation: the take to export.
        path: output file; its suffix picks the format when ``format`` is None
            (``.npz``, ``.glb``, ``.gltf``, ``.fbx``, ``.csv`` -> Live Link Face, ``.json`` -> ARKit JSON).
        rig: the head the animation drives (a Rig or a rig file path); ``None`` loads the bundled rig when needed.
        format: a name from :func:`formats` (overrides the suffix).
        fps: write the take resampled to this frame rate (e.g. 30, 60, 24, 29.97); None keeps its own.
        **options: writer options, e.g. ``bake_vertices=True`` (npz), ``arkit=True`` (glb/fbx),
            ``targets="my_shapes/"`` and ``arkit_smoothing=0.1`` (ARKit formats).

    Raises:
        InputError: unknown format or option, bad fps, or animation/rig mismatch.
        OutputError: the folder cannot be written.
        MissingExtraError: the format needs something not installed (Blender for FBX).
    """
    if path is None:
        raise InputError("an export path is needed, e.g. exporters.write(anim, 'take0.glb')")
    name = resolve_format(path, format)
    check_options([name], options)
    writer = get_writer(name, rig=_as_rig(rig), **options)
    return writer(_at_rate(animation, fps), path)


def write_all(
    animation: Animation,
    out_dir: str | os.PathLike[str],
    stem: str,
    formats: Iterable[str] = ("npz", "glb", "livelink"),  # noqa: A002
    rig: Rig | str | os.PathLike[str] | None = None,
    *,
    fps: float | None = None,
    audio: str | os.PathLike[str] | None = None,
    **options: Any,
) -> list[Path]:
    """Write ``animation`` as ``out_dir/stem.<suffix>`` in every format of ``formats``.

    ``formats`` may hold ``"all"`` for every registered format. Options a writer
    does not know are not passed to it, so ``arkit=True`` reaches glb/fbx only;
    a flag or path option that no format in ``formats`` takes is refused.
    The rig is loaded once and shared by every writer, and so is the ARKit solve:
    csv, json and curves-csv of one take cost one solve.

    Args:
        animation: the take.
        out_dir: the folder (created if missing).
        stem: file name without suffix.
        formats: format names (comma-separated strings allowed) or ``"all"``.
        rig: the head (a Rig or a rig file path); None loads the bundled one when a format needs it.
        fps: resample the take to this frame rate first (None keeps its own).
        audio: the take's speech file: written beside the exports as ``stem.wav`` (16 kHz PCM,
            starting with frame 0) and named in the ARKit JSON.
        **options: writer options (see :func:`write`).

    Returns:
        The written paths, in the order of ``formats`` (then the WAV when ``audio`` is given).

    Raises:
        InputError: unknown format, option or option value, a bad ``stem``, unreadable ``audio``, or
            ``targets`` given with a mesh format but no ``arkit``.
    """
    if formats is None or isinstance(formats, bytes):
        raise InputError("formats must be format names, e.g. ['npz', 'glb'] or 'all'")
    names = _expand_formats([formats] if isinstance(formats, str) else formats)
    check_options(names, options, strict=True)
    _check_stem(stem)
    rig = _as_rig(rig)
    animation = _at_rate(animation, fps)
    speech = None
    if audio is not None:  # read (and check) the speech before any file is written
        if not isinstance(audio, str | os.PathLike) or isinstance(audio, bytes) or not Path(audio).is_file():
            raise InputError(f"speech file {audio} not found; pass the audio the take was made from")
        from probtalk.audio import load_audio

        speech = load_audio(audio)
    folder = ensure_writable_dir(out_dir)
    if audio is not None:
        options = dict(options, audio_file=f"{stem}.wav")
    if rig is None and any(writer_class(n).needs_rig(options) for n in names):
        from probtalk.flame import load_rig

        rig = load_rig()
    writers = []
    for name in names:  # build every writer first, so bad options fail before any file is written
        cls = writer_class(name)
        writers.append(cls(rig=rig, **{k: v for k, v in options.items() if k in cls.option_names()}))
    cache = ArkitCache()
    written = []
    for writer in writers:
        writer.cache = cache
        written.append(writer(animation, folder / f"{stem}{writer.suffixes[0]}"))
    if audio is not None:
        from exporters.speech import write_speech

        written.append(write_speech(animation, speech, folder / f"{stem}.wav"))
    return written


def check_fps(fps: float | None) -> float | None:
    """The export frame rate as a float (None stays None); InputError unless it is in [1, 240]."""
    if fps is None:
        return None
    try:
        if isinstance(fps, bool | str | bytes):
            raise TypeError
        value = float(fps)
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number such as 30, 60 or 29.97, got {fps!r}") from None
    if not 1.0 <= value <= 240.0:
        raise InputError(f"fps must be between 1 and 240, got {value:g}; e.g. 24, 25, 29.97, 30 or 60")
    return value


def _at_rate(animation: Animation, fps: float | None) -> Animation:
    """``animation`` resampled to ``fps`` (InputError for a bad rate); itself when None."""
    fps = check_fps(fps)
    if fps is None or not isinstance(animation, Animation):  # a non-Animation fails the writer's own check
        return animation
    return animation.resample(fps)


#: Writer options and the kind of value each takes (checked before any writer is built).
_FLAG_OPTIONS = ("arkit", "nonzero_only", "bake_vertices")
_NUMBER_OPTIONS = ("arkit_smoothing", "tolerance")
_PATH_OPTIONS = ("targets", "character")


def check_options(names: Iterable[str], options: dict[str, Any], strict: bool = False) -> None:
    """Check writer option values; InputError for a wrong type or ``targets`` without ``arkit`` on a mesh format.

    Args:
        names: the formats to be written.
        options: writer options.
        strict: also refuse a flag or path option (``arkit``, ``character``, ...) that none
            of ``names`` takes, e.g. ``character`` with npz only (it would be silently ignored).
    """
    names = list(names)
    for key, value in options.items():
        if key in _FLAG_OPTIONS and not isinstance(value, bool):
            raise InputError(f"{key} must be True or False, got {type(value).__name__} {value!r}")
        if key in _NUMBER_OPTIONS and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(f"{key} must be a number, got {type(value).__name__} {value!r}")
        if key in _PATH_OPTIONS and value is not None and (
            not isinstance(value, str | os.PathLike) or isinstance(value, bytes) or not str(value).strip()
        ):
            raise InputError(f"{key} must be a file or folder path, got {type(value).__name__} {value!r}")
        if strict and key in (*_FLAG_OPTIONS, *_PATH_OPTIONS) and value not in (None, False):
            takers = [n for n in formats() if key in writer_class(n).option_names()]
            if not any(key in writer_class(n).option_names() for n in names):
                raise InputError(f"{key} applies to {', '.join(takers)} only, not to {', '.join(names)}; "
                                 "drop it or add one of those formats")
    if options.get("targets") is None or options.get("arkit"):
        return
    if any("arkit" in writer_class(n).option_names() for n in names):
        raise InputError(TARGETS_NEED_ARKIT)


def _check_stem(stem: object) -> None:
    if not isinstance(stem, str) or not stem.strip() or stem in (".", "..") or "/" in stem or os.sep in stem:
        raise InputError(f"stem must be a plain file name without folders, got {stem!r}")


def _as_rig(rig: Any) -> Rig | None:
    """``rig`` as a Rig: None stays None (the bundled head is loaded when needed), a path is loaded."""
    if rig is None:
        return None
    from probtalk.flame.rig import Rig, load_rig  # not at the top: the animate path must not import torch

    if isinstance(rig, Rig):
        return rig
    if isinstance(rig, str | os.PathLike) and not isinstance(rig, bytes):
        return load_rig(rig)
    raise InputError(f"rig must be a probtalk Rig, a rig file path or None, got {type(rig).__name__}")


def suffix(name: str) -> str:
    """The file suffix a format writes by default (``"livelink"`` -> ``".csv"``, ``"glb"`` -> ``".glb"``)."""
    return writer_class(name).suffixes[0]


def _expand_formats(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in names:
        for name in (n.strip().lower() for n in str(raw).split(",")):
            if not name:
                continue
            if name == "all":
                out.extend(n for n in formats() if n not in out and n != "gltf")
                continue
            resolved = resolve_format(None, name)
            if resolved not in out:
                out.append(resolved)
    if not out:
        raise InputError(f"no export format given; choose from {', '.join(formats())} or 'all'")
    return out


def expand_formats(names: Sequence[str] | str) -> list[str]:
    """Resolve comma-separated format names (and ``all``) to registered names, in order."""
    if names is None or isinstance(names, bytes):
        raise InputError("formats must be format names, e.g. 'glb,csv' or ['npz', 'glb'] or 'all'")
    return _expand_formats([names] if isinstance(names, str) else names)


# Each module registers its writers on import (arkit is imported above; its heavy deps load lazily).
from exporters import curves, fbx, gltf, npz  # noqa: E402, F401, I001
