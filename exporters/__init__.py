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

from exporters.arkit import ArkitCurves, load_blendshape_targets, solve_arkit
from exporters.base import Writer, formats, get_writer, register, resolve_format, writer_class
from probtalk.animation import Animation
from probtalk.errors import InputError
from probtalk.io import ensure_writable_dir

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)

__all__ = [
    "ArkitCurves",
    "Writer",
    "expand_formats",
    "formats",
    "get_writer",
    "load_blendshape_targets",
    "register",
    "resolve_format",
    "solve_arkit",
    "write",
    "write_all",
]


def write(
    animation: Animation,
    path: str | os.PathLike[str],
    rig: Rig | None = None,
    format: str | None = None,  # noqa: A002  (the public keyword named in docs/architecture.md)
    **options: Any,
) -> Path:
    """Write ``animation`` to ``path`` in one format and return the written path.

    Args:
        animation: the take to export.
        path: output file; its suffix picks the format when ``format`` is None
            (``.npz``, ``.glb``, ``.gltf``, ``.fbx``, ``.csv`` -> Live Link Face, ``.json`` -> ARKit JSON).
        rig: the head the animation drives; ``None`` loads the bundled rig when the format needs one.
        format: a name from :func:`formats` (overrides the suffix).
        **options: writer options, e.g. ``bake_vertices=True`` (npz), ``arkit=True`` (glb/fbx),
            ``targets="my_shapes/"`` and ``arkit_smoothing=0.1`` (ARKit formats).

    Raises:
        InputError: unknown format or option, or animation/rig mismatch.
        OutputError: the folder cannot be written.
        MissingExtraError: the format needs something not installed (Blender for FBX).
    """
    name = resolve_format(path, format)
    writer = get_writer(name, rig=rig, **options)
    return writer(animation, path)


def write_all(
    animation: Animation,
    out_dir: str | os.PathLike[str],
    stem: str,
    formats: Iterable[str] = ("npz", "glb", "livelink"),  # noqa: A002
    rig: Rig | None = None,
    **options: Any,
) -> list[Path]:
    """Write ``animation`` as ``out_dir/stem.<suffix>`` in every format of ``formats``.

    ``formats`` may hold ``"all"`` for every registered format. Options a writer
    does not know are not passed to it, so ``arkit=True`` reaches glb/fbx only.
    The rig is loaded once and shared by every writer.

    Returns:
        The written paths, in the order of ``formats``.
    """
    names = _expand_formats(formats)
    folder = ensure_writable_dir(out_dir)
    if rig is None and any(writer_class(n).needs_rig(options) for n in names):
        from probtalk.flame import load_rig

        rig = load_rig()
    written = []
    for name in names:
        cls = writer_class(name)
        own = {k: v for k, v in options.items() if k in cls.option_names()}
        writer = cls(rig=rig, **own)
        written.append(writer(animation, folder / f"{stem}{cls.suffixes[0]}"))
    return written


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
    return _expand_formats([names] if isinstance(names, str) else names)


# Each module registers its writers on import (arkit is imported above; its heavy deps load lazily).
from exporters import fbx, gltf, npz  # noqa: E402, F401, I001
