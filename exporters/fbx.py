"""FBX through Blender: mesh + shape keys + armature (neck, jaw, eyes) + baked animation.

``bpy`` needs numpy < 2, so Blender runs as a subprocess: the Python side
writes the mesh, shape-key offsets, curves and joint rotations to a temporary
``.npz`` and runs ``exporters/blender/fbx_export.py`` with

1. ``$PROBTALK_BLENDER`` (a Blender binary or a Python that has ``bpy``), else
2. ``.venv-blender/bin/python`` next to the package (made by ``bash scripts/setup.sh``), else
3. a ``blender`` binary on PATH (``blender -b -P script -- args``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from exporters.base import clip_name, neutral_vertices, register, rest_joints
from exporters.morphs import DEFAULT_TOLERANCE, MeshWriter, MorphSet, joint_rotations
from probtalk.animation import Animation
from probtalk.errors import InputError, MissingExtraError, OutputError
from probtalk.io import atomic_path
from probtalk.layout import JOINT_NAMES

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)

BLENDER_SCRIPT = Path(__file__).resolve().parent / "blender" / "fbx_export.py"
DEFAULT_TIMEOUT_S = 600.0


def find_blender() -> list[str] | None:
    """Command prefix that runs a Blender-side script, or None when no Blender is available.

    The returned list is completed with ``[script, "--", *args]``.
    """
    explicit = os.environ.get("PROBTALK_BLENDER")
    if explicit:
        return _command_for(Path(explicit))
    for venv in (Path(__file__).resolve().parents[1] / ".venv-blender", Path(sys.prefix).parent / ".venv-blender"):
        python = venv / "bin" / "python"
        if (venv / ".installed").is_file() and python.is_file():
            return [str(python)]
    binary = shutil.which("blender")
    return _command_for(Path(binary)) if binary else None


def _command_for(program: Path) -> list[str]:
    if not (program.is_file() and os.access(program, os.X_OK)):
        raise InputError(f"PROBTALK_BLENDER={program} is not an executable; point it at blender or a bpy python")
    if program.name.startswith("python"):
        return [str(program)]
    return [str(program), "-b", "--factory-startup", "--python-exit-code", "1", "-P"]


def fbx_payload(animation: Animation, rig: Rig, morphs: MorphSet, clip: str = "take") -> dict[str, np.ndarray]:
    """Arrays the Blender-side script needs (all plain numeric/string arrays, FLAME Y-up metres).

    Keys: ``vertices`` [V, 3], ``faces`` [F, 3], ``key_names`` [K], ``key_offsets`` [K, V, 3],
    ``key_weights`` [T, K], ``key_range`` [2] (slider min/max), ``joint_names`` [J],
    ``joint_positions`` [J, 3], ``parents`` [J], ``skin_weights`` [V, J],
    ``joint_rotations`` [T, J, 3] axis-angle, ``joint_animated`` [J] bool, ``fps`` scalar, ``name``,
    ``clip`` (the take's name in the file).
    """
    frames = animation.num_frames
    key_range = np.array([0.0, 1.0])  # every MorphSet weight lies in [0, 1]
    if morphs.character is not None:  # the user's mesh: its blendshapes only, no FLAME skeleton
        c = morphs.character
        verts, faces, name = c.vertices, c.faces, c.name
        joint_names: list[str] = []
        positions, parents = np.zeros((0, 3), np.float32), np.zeros(0, np.int64)
        skin = np.zeros((len(verts), 0), np.float32)
    else:
        verts, faces, name = neutral_vertices(rig, animation.shape), rig.faces, rig.name
        joint_names = list(JOINT_NAMES)
        positions, parents, skin = rest_joints(rig, verts), rig.parents, rig.weights
    rotations = np.zeros((frames, len(joint_names), 3), np.float32)
    animated = np.zeros(len(joint_names), bool)
    tracks = joint_rotations(animation, morphs.joints)
    for j, joint in enumerate(joint_names):
        if joint in tracks:
            rotations[:, j] = tracks[joint]
            animated[j] = True
    return {
        "vertices": np.asarray(verts, np.float32),
        "faces": np.asarray(faces, np.int32),
        "key_names": np.array(morphs.names, dtype=str),
        "key_offsets": morphs.deltas.astype(np.float32),
        "key_weights": np.asarray(morphs.weights, np.float32),
        "key_range": key_range.astype(np.float64),
        "joint_names": np.array(joint_names, dtype=str),
        "joint_positions": np.asarray(positions, np.float32),
        "parents": np.asarray(parents, np.int64),
        "skin_weights": np.asarray(skin, np.float32),
        "joint_rotations": rotations,
        "joint_animated": animated,
        "fps": np.float64(animation.fps),
        "name": np.array(name),
        "clip": np.array(clip),
    }


@register
class FbxWriter(MeshWriter):
    """FBX (binary, 7.4) via Blender: shape keys per expression component or ARKit shape, armature, baked animation.

    Options are those of :class:`exporters.morphs.MeshWriter` (``arkit``, ``nonzero_only``, ``targets``,
    ``arkit_smoothing``, ``tolerance``, ``character``) plus ``timeout`` (seconds for the Blender process).
    """

    name = "fbx"
    suffixes = (".fbx",)
    description = "FBX via Blender (bpy): shape keys, armature, baked animation"

    def __init__(self, rig: Rig | None = None, *, arkit: bool = False, nonzero_only: bool = False,
                 targets: str | os.PathLike[str] | None = None, arkit_smoothing: float = 0.0,
                 tolerance: float = DEFAULT_TOLERANCE, character: str | os.PathLike[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(rig, arkit=arkit, nonzero_only=nonzero_only, targets=targets,
                         arkit_smoothing=arkit_smoothing, tolerance=tolerance, character=character)
        self.timeout = float(timeout)

    def _write(self, animation: Animation, path: Path) -> None:
        command = find_blender()
        if command is None:
            raise MissingExtraError(
                "FBX export", "fbx",
                "needs Blender: run 'bash scripts/setup.sh' (installs bpy 4.5 into .venv-blender), "
                "install a 'blender' binary, or set PROBTALK_BLENDER",
            )
        payload = fbx_payload(animation, self.rig, self.morphs(animation), clip_name(animation, path))
        with tempfile.TemporaryDirectory(prefix="probtalk-fbx-") as tmpdir:
            data = Path(tmpdir) / "payload.npz"
            np.savez(data, **payload)
            with atomic_path(path) as tmp:
                run_blender_script(command, [str(data), str(tmp)], self.timeout)
                if not tmp.is_file() or tmp.stat().st_size == 0:
                    raise OutputError(f"Blender wrote no FBX to {path}; see the log above")


def run_blender_script(command: list[str], args: list[str], timeout: float) -> None:
    """Run ``exporters/blender/fbx_export.py`` with ``args``; OutputError with Blender's last lines on failure."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        proc = subprocess.run([*command, str(BLENDER_SCRIPT), "--", *args], capture_output=True, text=True,
                              timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise OutputError(f"Blender did not finish the FBX export within {timeout:.0f} s; raise timeout=") from None
    log.debug("blender stdout:\n%s", proc.stdout)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise OutputError(f"Blender failed to export FBX (exit {proc.returncode}): {tail[:400]}")
