"""Write a :class:`~probtalk.flame.Rig` in FLAME's own file layout.

``FLAME_NEUTRAL.pkl`` holds the keys of FLAME 2020's ``generic_model.pkl``
(``v_template``, ``f``, ``shapedirs`` [V, 3, 400], ``posedirs``, ``J_regressor``
as a scipy sparse matrix, ``weights``, ``kintree_table``, ``J``, ``bs_style``,
``bs_type``) plus probtalk's extras (``probtalk_name``, ``probtalk_regions``,
``probtalk_keypoints``, ``semantic_*``). Big arrays are stored zlib-compressed:
they unpickle through ``numpy.frombuffer`` / ``zlib.decompress`` calls, so a
plain ``pickle.load`` (as ``smplx`` does) returns ordinary numpy arrays and no
probtalk code is needed to read the file.
"""

from __future__ import annotations

import pickle
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse

from probtalk.flame.rig import Rig
from probtalk.io import atomic_path

FLAME_MODEL_FILE = "FLAME_NEUTRAL.pkl"
STATIC_EMBEDDING_FILE = "flame_static_embedding.pkl"
DYNAMIC_EMBEDDING_FILE = "flame_dynamic_embedding.npy"
_ROOT_PARENT = np.iinfo(np.uint32).max  # FLAME stores the root's parent as uint32(-1)


class _Call:
    """Pickles as ``func(*args)``: lets a pickle rebuild an array with numpy/zlib calls only."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def packed(array: np.ndarray) -> _Call:
    """An array that pickles compressed and unpickles as a writable numpy array of the same dtype/shape."""
    arr = np.ascontiguousarray(array)
    raw = _Call(zlib.decompress, zlib.compress(arr.tobytes(), 6))
    flat = _Call(np.frombuffer, raw, arr.dtype.str)
    return _Call(np.array, _Call(np.reshape, flat, arr.shape))


def _dump_pickle(obj: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    return path


def write_flame_files(
    rig: Rig,
    joints: np.ndarray,
    dynamic_faces: np.ndarray,
    dynamic_bary: np.ndarray,
    folder: Path,
    masks_path: Path,
) -> list[Path]:
    """Write FLAME_NEUTRAL.pkl and both landmark embeddings into ``folder``, and the masks pickle.

    Args:
        rig: the rig to write.
        joints: float [5, 3] rest joint locations (FLAME's ``J``).
        dynamic_faces: int [79, 17] contour landmark faces per yaw bin.
        dynamic_bary: float [79, 17, 3] their barycentric coordinates.
        folder: the ``flame`` model folder (``smplx.create(folder.parent, model_type="flame")``).
        masks_path: where to write the FLAME_masks.pkl-style region dict.

    Returns:
        The written paths.
    """
    kintree = rig.kintree_table.astype(np.int64).copy()
    kintree[0, 0] = _ROOT_PARENT
    model = {
        "v_template": packed(rig.v_template.astype(np.float64)),
        "f": rig.faces.astype(np.uint32),
        "shapedirs": packed(np.concatenate([rig.shapedirs, rig.exprdirs], axis=2)),
        "posedirs": packed(rig.posedirs),
        "J_regressor": scipy.sparse.csc_matrix(rig.j_regressor.astype(np.float64)),
        "weights": packed(rig.weights.astype(np.float64)),
        "kintree_table": kintree.astype(np.uint32),
        "J": np.asarray(joints, np.float64),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "probtalk_name": rig.name,
        "probtalk_regions": {k: np.asarray(v, np.int64) for k, v in rig.regions.items()},
        "probtalk_keypoints": dict(rig.keypoints),
        "semantic_names": list(rig.semantic_names),
        "semantic_offsets": packed(rig.semantic_offsets),
        "semantic_expression": rig.semantic_expression,
        "semantic_jaw": rig.semantic_jaw,
        "semantic_eye": rig.semantic_eye,
    }
    folder.mkdir(parents=True, exist_ok=True)
    paths = [_dump_pickle(model, folder / FLAME_MODEL_FILE)]
    static = {"lmk_face_idx": rig.lmk_faces_idx.astype(np.uint32), "lmk_b_coords": rig.lmk_bary_coords.astype(np.float64)}
    paths.append(_dump_pickle(static, folder / STATIC_EMBEDDING_FILE))
    dynamic = {"lmk_face_idx": np.asarray(dynamic_faces, np.int64), "lmk_b_coords": np.asarray(dynamic_bary, np.float64)}
    target = folder / DYNAMIC_EMBEDDING_FILE
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.array(dynamic, dtype=object), allow_pickle=True)
    paths.append(target)
    masks = {k: np.asarray(v, np.int64) for k, v in rig.regions.items()}
    paths.append(_dump_pickle(masks, masks_path))
    return paths
