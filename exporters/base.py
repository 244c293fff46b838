"""The writer registry and the checks every writer shares.

A writer is a small class registered under a format name with the file
suffixes it owns. ``writer(animation, path)`` validates the inputs, writes
through :func:`probtalk.io.atomic_path` (so a failure never leaves a partial
file) and returns the written path.
"""

from __future__ import annotations

import inspect
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from exporters.checks import check_animation
from probtalk.animation import Animation
from probtalk.errors import InputError
from probtalk.io import ensure_writable_dir

if TYPE_CHECKING:
    from exporters.arkit import ArkitCache
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)

_REGISTRY: dict[str, type[Writer]] = {}
_SUFFIXES: dict[str, str] = {}


#: The one error for blendshape targets given to a mesh format without ARKit export (API and CLI alike).
TARGETS_NEED_ARKIT = (
    "blendshape targets (--targets) retarget ARKit curves: add arkit=True (--arkit) for glb/gltf/fbx, "
    "or export only livelink, arkit-json or curves-csv"
)


class Writer(ABC):
    """Base class of every exporter.

    Subclasses set ``name``, ``suffixes`` (the first one is the default) and
    ``description``, take their options as keyword-only ``__init__``
    arguments, and implement :meth:`_write`, which receives a temporary path
    to fill (renamed onto the target afterwards).
    """

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]
    description: ClassVar[str] = ""
    uses_rig: ClassVar[bool] = True

    def __init__(self, rig: Rig | None = None) -> None:
        self._rig = rig
        #: Shared ARKit solves; :func:`exporters.write_all` gives every writer of a take the same one.
        self.cache: ArkitCache | None = None

    # ------------------------------------------------------------ options
    @classmethod
    def option_names(cls) -> set[str]:
        """Names of the keyword options this writer's ``__init__`` accepts (besides ``rig``)."""
        params = inspect.signature(cls.__init__).parameters
        return {n for n, p in params.items() if n not in ("self", "rig") and p.kind is p.KEYWORD_ONLY}

    @classmethod
    def needs_rig(cls, options: dict[str, Any]) -> bool:
        """Whether writing with ``options`` needs a rig (so ``write_all`` loads it once)."""
        return cls.uses_rig

    @property
    def rig(self) -> Rig:
        """The rig given at construction, or the bundled one (loaded on first use)."""
        if self._rig is None:
            from probtalk.flame import load_rig

            self._rig = load_rig()
        return self._rig

    # ------------------------------------------------------------ writing
    def __call__(self, animation: Animation, path: str | os.PathLike[str]) -> Path:
        """Validate, write ``animation`` to ``path`` atomically and return the path."""
        path = Path(path)
        check_animation(animation)
        ensure_writable_dir(path.parent if str(path.parent) else ".", create=True)
        self._write(animation, path)
        log.info("wrote %s (%s, %d frames)", path, self.name, animation.num_frames)
        return path

    @abstractmethod
    def _write(self, animation: Animation, path: Path) -> None:
        """Write ``animation`` to ``path`` (through ``atomic_path``)."""


def register(cls: type[Writer]) -> type[Writer]:
    """Class decorator: add a writer to the registry under ``cls.name`` and its suffixes."""
    _REGISTRY[cls.name] = cls
    for suffix in cls.suffixes:
        _SUFFIXES.setdefault(suffix, cls.name)
    return cls


def formats(aliases: bool = False) -> list[str]:
    """Names of every registered format, sorted; with ``aliases`` also the suffix names ("csv", "json")."""
    names = sorted(_REGISTRY)
    if aliases:
        names += sorted(s[1:] for s in _SUFFIXES if "." not in s[1:] and s[1:] not in _REGISTRY)
    return names


def writer_class(name: str) -> type[Writer]:
    """The writer class for a format name; InputError naming the known formats otherwise."""
    if not isinstance(name, str):
        raise InputError(f"an export format is a name such as 'glb', got {type(name).__name__} {name!r}")
    key = name.strip().lower()
    if key not in _REGISTRY and f".{key}" in _SUFFIXES:  # aliases: "csv" -> livelink, "json" -> arkit-json
        key = _SUFFIXES[f".{key}"]
    if key not in _REGISTRY:
        raise InputError(f"unknown export format {name!r}; choose from {', '.join(formats())}")
    return _REGISTRY[key]


def get_writer(name: str, rig: Rig | None = None, **options: Any) -> Writer:
    """Build the writer for format ``name`` with ``options`` (InputError on unknown options)."""
    cls = writer_class(name)
    unknown = set(options) - cls.option_names()
    if unknown:
        known = ", ".join(sorted(cls.option_names())) or "none"
        raise InputError(f"format {cls.name!r} has no option {', '.join(sorted(unknown))}; its options: {known}")
    return cls(rig=rig, **options)


def resolve_format(path: str | os.PathLike[str] | None, format: str | None) -> str:  # noqa: A002
    """Format name from an explicit ``format`` or from the suffix of ``path``."""
    if path is not None and (not isinstance(path, str | os.PathLike) or isinstance(path, bytes) or not str(path).strip()):
        raise InputError(f"an export path must be a non-empty str or Path, got {type(path).__name__} {path!r}")
    suffixes = [s.lower() for s in Path(path).suffixes] if path is not None else []
    if format is not None:
        cls = writer_class(format)
        last = suffixes[-1] if suffixes else ""
        if last in _SUFFIXES and last not in {"." + s.rsplit(".", 1)[-1] for s in cls.suffixes}:
            log.warning("%s is named like a %s file but is written as %s (format=%r wins)",
                        Path(str(path)).name, _SUFFIXES[last], cls.name, format)
        return cls.name
    double = "".join(suffixes[-2:])
    if len(suffixes) >= 2 and double in _SUFFIXES:  # e.g. take0.curves.csv
        return _SUFFIXES[double]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in _SUFFIXES:
        known = ", ".join(sorted(_SUFFIXES))
        raise InputError(
            f"cannot tell the export format from {str(path)!r} (suffix {suffix or 'none'}); "
            f"use one of {known} or pass format= one of {', '.join(formats())}"
        )
    return _SUFFIXES[suffix]


def neutral_vertices(rig: Rig, shape: np.ndarray | None) -> np.ndarray:
    """Neutral-expression vertices float32 [V, 3] with identity ``shape`` [S] applied (template if None)."""
    verts = rig.v_template.astype(np.float64)
    if shape is not None and shape.size:
        s = np.asarray(shape, np.float64)
        verts = verts + np.einsum("vck,k->vc", rig.shapedirs[:, :, : s.shape[0]], s)
    return verts.astype(np.float32)


def rest_joints(rig: Rig, vertices: np.ndarray) -> np.ndarray:
    """Joint positions float32 [J, 3] regressed from [V, 3] rest vertices (FLAME's J_regressor)."""
    return (rig.j_regressor.astype(np.float64) @ vertices.astype(np.float64)).astype(np.float32)


def clip_name(animation: Animation, path: Path) -> str:
    """Name of the take's animation clip: ``meta["name"]`` when set, else the file's stem.

    The pipeline names files ``<stem>_<emotion>_take<k>``, so clips carry the same name in every tool.
    """
    name = animation.meta.get("name")
    return str(name) if name else path.name.split(".")[0]


def component_name(index: int) -> str:
    """Morph target / shape key name of expression component ``index`` ("exp000", ...)."""
    return f"exp{index:03d}"


def skin_top4(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 4 largest skinning weights per vertex, renormalised.

    Args:
        weights: float32 [V, J] skinning weights.

    Returns:
        joints: uint16 [V, 4] joint indices (unused slots 0 with weight 0);
        weights: float32 [V, 4] summing to 1 per vertex.
    """
    w = np.clip(np.asarray(weights, np.float64), 0.0, None)
    j = w.shape[1]
    if j < 4:
        w = np.concatenate([w, np.zeros((w.shape[0], 4 - j))], axis=1)
    order = np.argsort(-w, axis=1, kind="stable")[:, :4]
    top = np.take_along_axis(w, order, axis=1)
    total = top.sum(axis=1, keepdims=True)
    # Vertices with no weight at all follow the root joint.
    empty = total[:, 0] <= 0
    top[empty] = (1.0, 0.0, 0.0, 0.0)
    order[empty] = 0
    top = top / top.sum(axis=1, keepdims=True)
    order = np.where(top > 0, order, 0)
    order = np.where(order >= j, 0, order)
    return order.astype(np.uint16), top.astype(np.float32)
