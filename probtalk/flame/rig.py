"""The Rig: a FLAME-format head model held as plain numpy arrays, and its loaders.

``load_rig(None)`` returns the bundled probtalk head from ``flame_assets``;
a path may name our ``.npz`` rig or a real FLAME 2020/2023 ``generic_model.pkl``
(pickled with chumpy objects; loaded without chumpy installed).
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.errors import RigError
from probtalk.flame.safe_pickle import load_pickle
from probtalk.io import atomic_path, open_npz
from probtalk.layout import NUM_EXPRESSION, NUM_JOINTS, NUM_SHAPE

RIG_FORMAT = "probtalk-rig"
RIG_VERSION = 1


@dataclass
class Rig:
    """A FLAME-format head. Shapes: V vertices, F faces, J = 5 joints, K semantic shapes.

    Attributes:
        name: human-readable id ("probtalk-head-v1", "FLAME2020", ...).
        v_template: float32 [V, 3] neutral vertices, metres.
        faces: int32 [F, 3] triangles.
        shapedirs: float32 [V, 3, 300] identity basis.
        exprdirs: float32 [V, 3, 100] expression basis.
        posedirs: float32 [V, 3, 36] pose correctives ((J-1) * 9 rotation entries).
        j_regressor: float32 [J, V] joint regressor (dense).
        weights: float32 [V, J] skinning weights.
        kintree_table: int64 [2, J] parent/child table (parent of root is -1).
        lmk_faces_idx: int64 [L] face index of each static landmark.
        lmk_bary_coords: float32 [L, 3] barycentric coordinates of each landmark.
        regions: named vertex index sets: ``lips``, ``upper_face``, ``eyes``, ...
        keypoints: named single vertices: ``upper_lip``, ``lower_lip``,
            ``left_upper_lid``, ``left_lower_lid``, ``right_upper_lid``,
            ``right_lower_lid``, ``mouth_corner_left``, ``mouth_corner_right``, ``nose_tip``, ``chin``
            (the bundled head has them all; a real FLAME file has none unless given).
        semantic_names: names of the semantic shapes (ARKit-52 names).
        semantic_offsets: float32 [K, V, 3] vertex offsets of each semantic shape at weight 1.
        semantic_expression: float32 [K, 100] FLAME expression coefficients that realise each shape.
        semantic_jaw: float32 [K, 3] jaw axis-angle that realises each shape (jawOpen, jawLeft, ...).
        semantic_eye: float32 [K, 6] eye axis-angles that realise each shape (eyeLook*).
    """

    name: str
    v_template: np.ndarray
    faces: np.ndarray
    shapedirs: np.ndarray
    exprdirs: np.ndarray
    posedirs: np.ndarray
    j_regressor: np.ndarray
    weights: np.ndarray
    kintree_table: np.ndarray
    lmk_faces_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    lmk_bary_coords: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    keypoints: dict[str, int] = field(default_factory=dict)
    semantic_names: tuple[str, ...] = ()
    semantic_offsets: np.ndarray | None = None
    semantic_expression: np.ndarray | None = None
    semantic_jaw: np.ndarray | None = None
    semantic_eye: np.ndarray | None = None

    def __post_init__(self) -> None:
        f32 = np.float32
        self.v_template = np.asarray(self.v_template, f32)
        self.faces = np.asarray(self.faces, np.int32)
        self.shapedirs = _pad_basis(np.asarray(self.shapedirs, f32), NUM_SHAPE)
        self.exprdirs = _pad_basis(np.asarray(self.exprdirs, f32), NUM_EXPRESSION)
        self.posedirs = np.asarray(self.posedirs, f32)
        self.j_regressor = np.asarray(self.j_regressor, f32)
        self.weights = np.asarray(self.weights, f32)
        self.kintree_table = np.asarray(self.kintree_table, np.int64)
        self.lmk_faces_idx = np.asarray(self.lmk_faces_idx, np.int64)
        self.lmk_bary_coords = np.asarray(self.lmk_bary_coords, f32)
        self.regions = {k: np.asarray(v, np.int64) for k, v in self.regions.items()}
        self.keypoints = {k: int(v) for k, v in self.keypoints.items()}
        self.semantic_names = tuple(str(n) for n in self.semantic_names)
        for key in ("semantic_offsets", "semantic_expression", "semantic_jaw", "semantic_eye"):
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, np.asarray(value, f32))
        self.validate()

    # ------------------------------------------------------------------ checks
    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def parents(self) -> np.ndarray:
        """int64 [J] parent joint of each joint (-1 for the root)."""
        parents = self.kintree_table[0].copy()
        parents[0] = -1
        return parents

    @property
    def has_semantic_shapes(self) -> bool:
        return self.semantic_offsets is not None and len(self.semantic_names) > 0

    def semantic_index(self, name: str) -> int:
        """Index of a semantic shape by name; RigError if the rig lacks it."""
        try:
            return self.semantic_names.index(name)
        except ValueError:
            raise RigError(f"rig {self.name} has no semantic shape {name!r}") from None

    def validate(self) -> None:
        """Raise RigError if array shapes do not agree with FLAME's layout."""
        v = self.num_vertices
        checks = {
            "v_template": (self.v_template.shape, (v, 3)),
            "shapedirs": (self.shapedirs.shape, (v, 3, NUM_SHAPE)),
            "exprdirs": (self.exprdirs.shape, (v, 3, NUM_EXPRESSION)),
            "posedirs": (self.posedirs.shape, (v, 3, (NUM_JOINTS - 1) * 9)),
            "j_regressor": (self.j_regressor.shape, (NUM_JOINTS, v)),
            "weights": (self.weights.shape, (v, NUM_JOINTS)),
            "kintree_table": (self.kintree_table.shape, (2, NUM_JOINTS)),
        }
        for key, (got, want) in checks.items():
            if tuple(got) != want:
                raise RigError(f"rig {key} has shape {list(got)}, expected {list(want)}; is this a FLAME model?")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or self.faces.size == 0:
            raise RigError(f"rig faces must be [F, 3], got {list(self.faces.shape)}")
        if self.faces.min() < 0 or self.faces.max() >= v:
            raise RigError("rig faces index vertices that do not exist")
        for key in ("v_template", "shapedirs", "exprdirs", "posedirs", "j_regressor", "weights"):
            if not np.all(np.isfinite(getattr(self, key))):
                raise RigError(f"rig {key} holds NaN or infinite values; the rig file is damaged")
        if self.semantic_offsets is not None:
            k = len(self.semantic_names)
            for key, want in (
                ("semantic_offsets", (k, v, 3)),
                ("semantic_expression", (k, NUM_EXPRESSION)),
                ("semantic_jaw", (k, 3)),
                ("semantic_eye", (k, 6)),
            ):
                value = getattr(self, key)
                if value is not None and tuple(value.shape) != want:
                    raise RigError(f"rig {key} has shape {list(value.shape)}, expected {list(want)}")

    def rig_id(self) -> str:
        """Stable id: name plus a short hash of the geometry (template, faces, bases)."""
        h = hashlib.sha256()
        for arr in (self.v_template, self.faces, self.exprdirs[:, :, :50], self.weights):
            h.update(np.ascontiguousarray(arr).tobytes())
        return f"{self.name}:{h.hexdigest()[:12]}"

    def region(self, name: str) -> np.ndarray:
        """Vertex indices of a named region; RigError naming the available ones otherwise."""
        if name not in self.regions:
            have = ", ".join(sorted(self.regions)) or "none"
            raise RigError(
                f"rig {self.name} has no vertex region {name!r} (has: {have}); "
                "pass a FLAME_masks.pkl with --masks"
            )
        return self.regions[name]

    # --------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the rig as our ``.npz`` format (atomic)."""
        arrays: dict[str, Any] = {
            "format": np.array(RIG_FORMAT),
            "version": np.int64(RIG_VERSION),
            "name": np.array(self.name),
            "v_template": self.v_template,
            "faces": self.faces,
            "shapedirs": self.shapedirs,
            "exprdirs": self.exprdirs,
            "posedirs": self.posedirs,
            "j_regressor": self.j_regressor,
            "weights": self.weights,
            "kintree_table": self.kintree_table,
            "lmk_faces_idx": self.lmk_faces_idx,
            "lmk_bary_coords": self.lmk_bary_coords,
            "keypoint_names": np.array(sorted(self.keypoints), dtype=str),
            "keypoint_ids": np.array([self.keypoints[k] for k in sorted(self.keypoints)], np.int64),
            "semantic_names": np.array(self.semantic_names, dtype=str),
        }
        for name, idx in self.regions.items():
            arrays[f"region__{name}"] = idx
        for key in ("semantic_offsets", "semantic_expression", "semantic_jaw", "semantic_eye"):
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path


def _pad_basis(basis: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad or cut a [V, 3, k] basis to [V, 3, n]."""
    if basis.ndim != 3:
        raise RigError(f"a blendshape basis must be [V, 3, k], got {list(basis.shape)}")
    if basis.shape[2] >= n:
        return np.ascontiguousarray(basis[:, :, :n])
    pad = np.zeros(basis.shape[:2] + (n - basis.shape[2],), basis.dtype)
    return np.concatenate([basis, pad], axis=2)


# ------------------------------------------------------------------ loading
def bundled_rig_path() -> Path:
    """Path of the bundled probtalk head (flame_assets/probtalk_head.npz)."""
    import flame_assets

    return Path(flame_assets.__file__).parent / "probtalk_head.npz"


def load_rig(
    path: str | os.PathLike[str] | None = None,
    masks: str | os.PathLike[str] | None = None,
    landmarks: str | os.PathLike[str] | None = None,
) -> Rig:
    """Load a FLAME-format rig.

    Args:
        path: ``None`` for the bundled probtalk head; a ``.npz`` written by
            :meth:`Rig.save`; or a FLAME ``generic_model.pkl`` / ``FLAME_*.pkl``.
        masks: optional FLAME_masks.pkl (dict region name -> vertex indices) whose
            regions are added to (or replace) the rig's.
        landmarks: optional flame_static_embedding.pkl (``lmk_face_idx``, ``lmk_b_coords``).

    Raises:
        RigError: the file is missing, unreadable or not a FLAME model.
    """
    if path is None:
        path = bundled_rig_path()
        if not path.is_file():
            raise RigError(f"bundled rig {path} is missing; rebuild it with 'python -m flame_assets.build'")
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise RigError(f"a rig is given as a file path (str or Path) or a Rig, got {type(path).__name__}")
    if not str(path).strip():
        raise RigError("the rig path is empty; pass a FLAME .pkl or probtalk .npz rig, or None for the bundled head")
    path = Path(path)
    if not path.is_file():
        raise RigError(f"rig file {path} not found; pass a FLAME .pkl or probtalk .npz rig")
    if path.suffix == ".npz":
        rig = _load_npz(path)
    elif path.suffix in (".pkl", ".pickle"):
        rig = _load_flame_pkl(path)
    else:
        raise RigError(f"rig file {path} has unknown suffix {path.suffix!r}; use a FLAME .pkl or probtalk .npz")
    if masks is not None:
        rig.regions.update(_read_masks(Path(masks), rig.num_vertices))
    if landmarks is None and path.suffix != ".npz" and rig.lmk_faces_idx.size == 0:
        # FLAME ships its landmark embedding next to the model; pick it up when it is there
        beside = path.parent / "flame_static_embedding.pkl"
        landmarks = beside if beside.is_file() else None
    if landmarks is not None:
        rig.lmk_faces_idx, rig.lmk_bary_coords = _read_landmarks(Path(landmarks), len(rig.faces))
    return rig


def _read_masks(path: Path, num_vertices: int) -> dict[str, np.ndarray]:
    regions = {}
    for key, value in _read_pickle(path, "FLAME masks pickle").items():
        try:
            idx = np.asarray(value, np.int64).ravel()
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise RigError(f"{path} region {key!r} is not a list of vertex indices; pass a FLAME_masks.pkl") from None
        if idx.size and (idx.min() < 0 or idx.max() >= num_vertices):
            raise RigError(f"{path} region {key!r} indexes vertices outside the rig's {num_vertices}; wrong masks file?")
        regions[str(key)] = idx
    return regions


def _read_landmarks(path: Path, num_faces: int) -> tuple[np.ndarray, np.ndarray]:
    emb = _read_pickle(path, "FLAME landmark embedding")
    try:
        faces = np.asarray(emb["lmk_face_idx"], np.int64).ravel()
        bary = np.asarray(emb["lmk_b_coords"], np.float32)
    except KeyError as exc:
        raise RigError(f"{path} lacks {exc}; pass a flame_static_embedding.pkl") from None
    except (TypeError, ValueError, OverflowError, RecursionError):
        raise RigError(f"{path} holds landmark data that are not numeric arrays; pass a flame_static_embedding.pkl") from None
    if bary.shape != (faces.size, 3) or (faces.size and (faces.min() < 0 or faces.max() >= num_faces)):
        raise RigError(f"{path} landmarks do not fit this rig ({faces.size} faces, bary {list(bary.shape)}); wrong embedding file?")
    return faces, bary


def _load_npz(path: Path) -> Rig:
    try:
        with open_npz(path, "a probtalk rig .npz; pass a rig saved by Rig.save", RigError) as data:
            files = set(data.files)
            if "format" not in files or str(data["format"]) != RIG_FORMAT:
                raise RigError(f"{path} is not a probtalk rig .npz; pass a FLAME .pkl or a rig saved by Rig.save")
            kw: dict[str, Any] = {
                k: data[k]
                for k in (
                    "v_template", "faces", "shapedirs", "exprdirs", "posedirs", "j_regressor", "weights",
                    "kintree_table", "lmk_faces_idx", "lmk_bary_coords",
                    "semantic_offsets", "semantic_expression", "semantic_jaw", "semantic_eye",
                )
                if k in files
            }
            kw["name"] = str(data["name"])
            kw["regions"] = {k[len("region__"):]: data[k] for k in files if k.startswith("region__")}
            kw["keypoints"] = dict(zip([str(n) for n in data["keypoint_names"]], data["keypoint_ids"].tolist(), strict=True))
            kw["semantic_names"] = tuple(str(n) for n in data["semantic_names"])
    except RigError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise RigError(f"{path} is corrupt or truncated ({type(exc).__name__}); rebuild or re-download it") from None
    try:
        return Rig(**kw)
    except RigError as exc:
        raise RigError(f"{path}: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        detail = " ".join(str(exc).split())[:120]
        raise RigError(f"{path} is not a complete probtalk rig ({detail}); rebuild it with Rig.save") from None


# ----------------------------------------------------- FLAME pickles, no chumpy
def _read_pickle(path: Path, what: str = "FLAME pickle") -> dict[str, Any]:
    """A user's FLAME pickle, read through the allow-list unpickler; it must hold a dict."""
    data = load_pickle(path, what)
    if not isinstance(data, dict):
        raise RigError(f"{path} does not hold a dict; is it a FLAME {what.removeprefix('FLAME ')}?")
    return data


def _dense(value: Any) -> np.ndarray:
    if hasattr(value, "toarray"):  # scipy sparse
        return np.asarray(value.toarray())
    return np.asarray(value)


def _load_flame_pkl(path: Path) -> Rig:
    data = _read_pickle(path)
    try:
        return _flame_dict_to_rig(path, data)
    except RigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, MemoryError, RecursionError) as exc:
        raise RigError(f"{path} holds FLAME arrays of the wrong kind ({type(exc).__name__}); is it a FLAME generic_model.pkl?") from None


def _flame_dict_to_rig(path: Path, data: dict[str, Any]) -> Rig:
    needed = {"v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table"}
    missing = needed - set(data)
    if missing:
        raise RigError(f"{path} lacks FLAME keys {sorted(missing)}; is it a FLAME generic_model.pkl?")
    dirs = _dense(data["shapedirs"]).astype(np.float32)
    if dirs.ndim != 3 or dirs.shape[2] < NUM_SHAPE:
        raise RigError(f"{path} shapedirs is {list(dirs.shape)}; expected [V, 3, 400] (shape | expression)")
    semantic = {}
    if "semantic_names" in data:  # our own pickles also carry the semantic shapes
        semantic = {
            "semantic_names": tuple(data["semantic_names"]),
            "semantic_offsets": _dense(data["semantic_offsets"]),
            "semantic_expression": _dense(data["semantic_expression"]),
            "semantic_jaw": _dense(data["semantic_jaw"]),
            "semantic_eye": _dense(data["semantic_eye"]),
        }
    return Rig(
        name=str(data.get("probtalk_name", "FLAME")),
        v_template=_dense(data["v_template"]),
        faces=_dense(data["f"]),
        shapedirs=dirs[:, :, :NUM_SHAPE],
        exprdirs=dirs[:, :, NUM_SHAPE:],
        posedirs=_dense(data["posedirs"]),
        j_regressor=_dense(data["J_regressor"]),
        weights=_dense(data["weights"]),
        kintree_table=_dense(data["kintree_table"]),
        regions={k: np.asarray(v) for k, v in data.get("probtalk_regions", {}).items()},
        keypoints=dict(data.get("probtalk_keypoints", {})),
        **semantic,
    )


