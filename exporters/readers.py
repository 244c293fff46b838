"""Readers for user files the exporters consume: glTF/GLB morph targets and folders of OBJ shapes.

:func:`load_blendshape_targets` reads a user's ARKit-named blendshape set from
either kind; :func:`load_gltf` and :func:`read_accessor` also serve the tests
that read our own GLB files back.
"""

from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.arkit import ARKIT_NAMES
from probtalk.errors import InputError

log = logging.getLogger(__name__)

# glTF enums.
FLOAT, UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5121, 5123, 5125
COMPONENTS = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}
DTYPES = {FLOAT: np.float32, UNSIGNED_BYTE: np.uint8, UNSIGNED_SHORT: np.uint16, UNSIGNED_INT: np.uint32}
NEUTRAL_STEMS = ("neutral", "base", "basis")


def load_gltf(path: str | os.PathLike[str]) -> tuple[Any, bytes]:
    """Read a .glb or .gltf (embedded or external buffer) -> (GLTF2 document, buffer bytes)."""
    import pygltflib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"glTF file {path} not found; check the path")
    try:
        gltf = pygltflib.GLTF2().load(str(path))
    except Exception as exc:  # pygltflib raises many types on bad input
        raise InputError(f"{path} is not a readable glTF file ({type(exc).__name__})") from None
    if gltf is None or not gltf.buffers:
        raise InputError(f"{path} holds no glTF buffer")
    blob = gltf.binary_blob()
    if blob is None:
        uri = gltf.buffers[0].uri or ""
        if uri.startswith("data:"):
            blob = base64.b64decode(uri.split(",", 1)[1])
        else:
            blob = (path.parent / uri).read_bytes()
    return gltf, bytes(blob)


def read_accessor(gltf: Any, blob: bytes, index: int) -> np.ndarray:
    """Accessor ``index`` as a numpy array [count] or [count, components] (sparse accessors applied)."""
    acc = gltf.accessors[index]
    ncomp = COMPONENTS[acc.type]
    dtype = np.dtype(DTYPES[acc.componentType])
    if acc.bufferView is None:
        arr = np.zeros(acc.count * ncomp, dtype)
    else:
        arr = _read_view(gltf, blob, acc.bufferView, acc.byteOffset or 0, dtype, ncomp, acc.count).reshape(-1).copy()
    if acc.sparse is not None and acc.sparse.count:
        sp = acc.sparse
        idx = _read_view(gltf, blob, sp.indices.bufferView, sp.indices.byteOffset or 0,
                         np.dtype(DTYPES[sp.indices.componentType]), 1, sp.count).astype(np.int64)
        vals = _read_view(gltf, blob, sp.values.bufferView, sp.values.byteOffset or 0, dtype, ncomp, sp.count)
        arr = arr.reshape(acc.count, ncomp)
        arr[idx] = vals.reshape(sp.count, ncomp)
    return arr.reshape(acc.count, ncomp) if ncomp > 1 else arr.reshape(-1)


def _read_view(gltf: Any, blob: bytes, view_index: int, offset: int, dtype: np.dtype, ncomp: int,
               count: int) -> np.ndarray:
    """``count`` elements of ``ncomp`` values from a bufferView (strided views supported)."""
    view = gltf.bufferViews[view_index]
    start = (view.byteOffset or 0) + offset
    stride = view.byteStride or dtype.itemsize * ncomp
    if stride != dtype.itemsize * ncomp:
        raw = np.frombuffer(blob, np.uint8, count=stride * (count - 1) + dtype.itemsize * ncomp, offset=start)
        return np.stack([raw[i * stride : i * stride + dtype.itemsize * ncomp].view(dtype) for i in range(count)])
    return np.frombuffer(blob, dtype, count=count * ncomp, offset=start)


def read_morph_targets(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Named morph targets of the first mesh in a glTF file: (names, float32 [K, V, 3] position deltas)."""
    gltf, blob = load_gltf(path)
    if not gltf.meshes or not gltf.meshes[0].primitives[0].targets:
        raise InputError(f"{path} has no mesh with morph targets")
    mesh = gltf.meshes[0]
    targets = mesh.primitives[0].targets
    names = list((mesh.extras or {}).get("targetNames", []))
    if len(names) != len(targets):
        raise InputError(f"{path} does not name its morph targets (mesh.extras.targetNames); name them in your DCC")
    offsets = np.stack([read_accessor(gltf, blob, t["POSITION"] if isinstance(t, dict) else t.POSITION)
                        for t in targets])
    return names, offsets.astype(np.float32)


def load_blendshape_targets(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Read a user's blendshape set for retargeting.

    Args:
        path: a folder of OBJ files, one per shape named after its ARKit name
            (``jawOpen.obj`` or ``JawOpen.obj``) plus ``neutral.obj``, all with the
            same vertex order; or a ``.glb``/``.gltf`` whose first mesh has morph
            targets named in ``mesh.extras.targetNames``.

    Returns:
        names: the ARKit names found (canonical camelCase spelling), K of them.
        offsets: float32 [K, V, 3] vertex offsets of each shape from the neutral.

    Raises:
        InputError: missing path, no neutral, mismatched vertex counts, no ARKit names.
    """
    if not isinstance(path, str | os.PathLike) or isinstance(path, bytes) or not str(path).strip():
        raise InputError(f"blendshape targets must be a folder or .glb path, got {type(path).__name__} {path!r}")
    path = Path(path)
    if path.is_dir():
        names, offsets = _targets_from_obj_dir(path)
    elif path.is_file() and path.suffix.lower() in (".glb", ".gltf"):
        raw_names, raw = read_morph_targets(path)
        names, offsets = _keep_arkit(raw_names, list(raw), path)
    elif not path.exists():
        raise InputError(f"blendshape targets {path} not found; pass a folder of OBJ shapes or a .glb")
    else:
        raise InputError(f"blendshape targets {path} must be a folder of OBJ files or a .glb/.gltf file")
    return names, offsets


def _read_obj_vertices(path: Path) -> np.ndarray:
    """The ``v`` lines of an OBJ file as float64 [V, 3], in file order (no reordering or merging)."""
    rows = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("v "):
                    rows.append(line.split()[1:4])
        verts = np.asarray(rows, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read OBJ {path} ({type(exc).__name__}); export it again as plain OBJ") from None
    if verts.ndim != 2 or verts.shape[0] == 0 or verts.shape[1] != 3:
        raise InputError(f"OBJ {path} holds no vertices; export it again as plain OBJ")
    return verts


def _targets_from_obj_dir(folder: Path) -> tuple[tuple[str, ...], np.ndarray]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".obj")
    neutral = [p for p in files if p.stem.lower() in NEUTRAL_STEMS]
    if len(neutral) != 1:
        raise InputError(
            f"{folder} needs exactly one neutral OBJ named one of {', '.join(s + '.obj' for s in NEUTRAL_STEMS)}"
        )
    base = _read_obj_vertices(neutral[0])
    shapes = [p for p in files if p != neutral[0]]
    offsets = []
    for p in shapes:
        verts = _read_obj_vertices(p)
        if verts.shape != base.shape:
            raise InputError(
                f"{p.name} has {verts.shape[0]} vertices, {neutral[0].name} has {base.shape[0]}; "
                "every target must share the neutral's vertex order"
            )
        offsets.append(verts - base)
    return _keep_arkit([p.stem for p in shapes], offsets, folder)


def _keep_arkit(raw_names: list[str], offsets: list[np.ndarray], source: Path) -> tuple[tuple[str, ...], np.ndarray]:
    lookup = {n.lower(): n for n in ARKIT_NAMES}
    names: list[str] = []
    kept: list[np.ndarray] = []
    for raw, off in zip(raw_names, offsets, strict=True):
        canon = lookup.get(raw.strip().lower())
        if canon is None:
            log.warning("%s: %r is not an ARKit shape name; ignored", source, raw)
            continue
        if canon in names:
            raise InputError(f"{source} holds the ARKit shape {canon!r} twice; keep one")
        names.append(canon)
        kept.append(np.asarray(off, np.float32))
    if not names:
        raise InputError(f"{source} holds no shape named after an ARKit blendshape (e.g. jawOpen.obj)")
    return tuple(names), np.stack(kept).astype(np.float32)




# ------------------------------------------------------------------ characters
@dataclass
class Character:
    """A user's own mesh with ARKit-named blendshapes (any topology), to animate with solved curves.

    Attributes:
        name: the mesh's name (file or folder stem).
        vertices: float32 [V, 3] neutral positions (the file's units and axes, glTF-style Y up expected).
        faces: int64 [F, 3] triangles.
        names: the K ARKit names it has (canonical camelCase).
        offsets: float32 [K, V, 3] offsets of each blendshape at weight 1.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    names: tuple[str, ...]
    offsets: np.ndarray


def load_character(path: str | os.PathLike[str]) -> Character:
    """Read a user's character: a ``.glb``/``.gltf`` (first mesh, morph targets named in
    ``mesh.extras.targetNames``) or a folder of OBJ files (``neutral.obj`` with faces, plus one
    ARKit-named OBJ per blendshape in the same vertex order).

    Raises:
        InputError: missing or unreadable file, no faces, no ARKit-named blendshape.
    """
    path = Path(path)
    if path.is_dir():
        names, offsets = _targets_from_obj_dir(path)
        neutral = next(p for p in sorted(path.iterdir()) if p.suffix.lower() == ".obj" and p.stem.lower() in NEUTRAL_STEMS)
        verts, faces = _read_obj_vertices(neutral), _read_obj_faces(neutral)
    elif path.is_file() and path.suffix.lower() in (".glb", ".gltf"):
        gltf, blob = load_gltf(path)
        if not gltf.meshes:
            raise InputError(f"{path} holds no mesh; export your character with its shape keys as glTF")
        prim = gltf.meshes[0].primitives[0]
        verts = read_accessor(gltf, blob, prim.attributes.POSITION)
        if prim.indices is None:
            faces = np.arange(len(verts)).reshape(-1, 3)
        else:
            faces = read_accessor(gltf, blob, prim.indices).astype(np.int64).reshape(-1, 3)
        raw_names, raw = read_morph_targets(path)
        names, offsets = _keep_arkit(raw_names, list(raw), path)
    elif not path.exists():
        raise InputError(f"character {path} not found; pass a .glb with named morph targets or a folder of OBJs")
    else:
        raise InputError(f"character {path} must be a .glb/.gltf file or a folder of OBJ files")
    if len(faces) == 0 or faces.max() >= len(verts) or faces.min() < 0:
        raise InputError(f"character {path} has no valid triangles; export the mesh with its faces")
    return Character(path.stem, np.asarray(verts, np.float32), faces.astype(np.int64), names, offsets)


def _read_obj_faces(path: Path) -> np.ndarray:
    """Triangles int64 [F, 3] of the ``f`` lines of an OBJ (polygons fanned; ``v/vt/vn`` and negative indices)."""
    tris: list[tuple[int, int, int]] = []
    count = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("v "):
                count += 1
            elif line.startswith("f "):
                try:
                    idx = [int(tok.split("/")[0]) for tok in line.split()[1:]]
                except ValueError:
                    raise InputError(f"OBJ {path} has a malformed face line; export it again as plain OBJ") from None
                idx = [i - 1 if i > 0 else count + i for i in idx]
                tris += [(idx[0], idx[k], idx[k + 1]) for k in range(1, len(idx) - 1)]
    return np.asarray(tris, np.int64).reshape(-1, 3)
