"""glTF 2.0 / GLB: the head mesh, skinned joints, morph targets and one animation.

The mesh is the rig's neutral head (identity shape applied when the take has
one), skinned to the FLAME joints (global, neck, jaw, left eye, right eye) with
the 4 largest skinning weights per vertex. Morph targets are the expression
basis components ("exp000", ...), or with ``arkit=True`` the 52 ARKit shapes
driven by solved curves. The animation samples morph weights and joint
rotations (quaternions from axis-angle) at every frame, LINEAR interpolation.

Known approximations: FLAME's pose-corrective blendshapes and the small
expression-dependent shift of the joint centres are not representable in
glTF and are left out.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exporters.base import clip_name, neutral_vertices, register, rest_joints, skin_top4
from exporters.morphs import MeshWriter, MorphSet, joint_rotations
from exporters.readers import DTYPES, FLOAT, UNSIGNED_BYTE, UNSIGNED_INT, UNSIGNED_SHORT
from probtalk.animation import Animation
from probtalk.errors import InputError, MissingExtraError
from probtalk.io import atomic_write_bytes
from probtalk.layout import JOINT_NAMES

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)

ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


class _Builder:
    """Accumulates accessors into one binary buffer (one bufferView per accessor, 4-byte aligned)."""

    def __init__(self) -> None:
        import pygltflib

        self.lib = pygltflib
        self.blob = bytearray()
        self.views: list[Any] = []
        self.accessors: list[Any] = []

    def add(self, array: np.ndarray, kind: str, ctype: int = FLOAT, target: int | None = None,
            minmax: bool = False) -> int:
        data = np.ascontiguousarray(array, dtype=DTYPES[ctype])
        count = data.shape[0]
        offset = len(self.blob)
        self.blob += data.tobytes()
        self.blob += b"\0" * (-len(self.blob) % 4)
        self.views.append(self.lib.BufferView(buffer=0, byteOffset=offset, byteLength=data.nbytes, target=target))
        acc = self.lib.Accessor(bufferView=len(self.views) - 1, componentType=ctype, count=count, type=kind)
        if minmax:
            flat = data.reshape(count, -1)
            acc.min = [float(v) for v in flat.min(axis=0)]
            acc.max = [float(v) for v in flat.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def _view(self, data: np.ndarray) -> int:
        offset = len(self.blob)
        self.blob += data.tobytes()
        self.blob += b"\0" * (-len(self.blob) % 4)
        self.views.append(self.lib.BufferView(buffer=0, byteOffset=offset, byteLength=data.nbytes))
        return len(self.views) - 1

    def add_sparse(self, dense: np.ndarray, rows: np.ndarray) -> int:
        """A sparse float VEC3 accessor: zeros except ``dense[rows]`` (rows ascending), with min/max.

        Index type is the smallest that holds the vertex count; a target with no rows is an
        all-zero accessor without data.
        """
        dense = np.asarray(dense, np.float32)
        count = dense.shape[0]
        acc = self.lib.Accessor(componentType=FLOAT, count=count, type="VEC3", byteOffset=None)
        full_min = dense[rows].min(axis=0) if len(rows) else np.zeros(3, np.float32)
        full_max = dense[rows].max(axis=0) if len(rows) else np.zeros(3, np.float32)
        if len(rows) < count:  # the zeros count too
            full_min, full_max = np.minimum(full_min, 0.0), np.maximum(full_max, 0.0)
        acc.min = [float(v) for v in full_min]
        acc.max = [float(v) for v in full_max]
        if len(rows):
            ctype = UNSIGNED_SHORT if count <= 65535 else UNSIGNED_INT
            indices = self._view(np.ascontiguousarray(rows, dtype=DTYPES[ctype]))
            values = self._view(np.ascontiguousarray(dense[rows]))
            acc.sparse = self.lib.Sparse(
                count=int(len(rows)),
                indices=self.lib.AccessorSparseIndices(bufferView=indices, componentType=ctype),
                values=self.lib.AccessorSparseValues(bufferView=values),
            )
        self.accessors.append(acc)
        return len(self.accessors) - 1


def mesh_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals float32 [V, 3] (:func:`probtalk.geometry.vertex_normals`; +Z where undefined,
    as glTF requires unit normals)."""
    from probtalk.geometry import vertex_normals  # torch: imported when a mesh is written, not with exporters

    n = vertex_normals(np.asarray(vertices, np.float32), faces)
    return np.where(np.linalg.norm(n, axis=1, keepdims=True) > 0.5, n, np.array([0.0, 0.0, 1.0], np.float32))


def axis_angle_to_quat(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternions float32 [T, 4] in glTF's (x, y, z, w) order from axis-angle [T, 3]."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_quat()
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.astype(np.float32)


def _skeleton(b: _Builder, rig: Rig, verts: np.ndarray, nodes: list[Any], joint_nodes: list[int]) -> Any:
    """Add FLAME's joints as nodes after the mesh node (filling ``joint_nodes``) and return the skin."""
    lib = b.lib
    joints = rest_joints(rig, verts)
    parents = rig.parents
    for j, name in enumerate(JOINT_NAMES):
        local = joints[j] - (joints[parents[j]] if parents[j] >= 0 else 0.0)
        nodes.append(lib.Node(name=name, translation=[float(x) for x in local]))
        joint_nodes.append(len(nodes) - 1)
    for j in range(len(JOINT_NAMES)):
        kids = [joint_nodes[c] for c in range(len(JOINT_NAMES)) if parents[c] == j]
        if kids:
            nodes[joint_nodes[j]].children = kids
    ibm = np.tile(np.eye(4, dtype=np.float32), (len(JOINT_NAMES), 1, 1))
    ibm[:, :3, 3] = -joints
    return lib.Skin(name="flame", joints=joint_nodes, skeleton=joint_nodes[0],
                    inverseBindMatrices=b.add(ibm.transpose(0, 2, 1).reshape(-1, 16), "MAT4"))


def build_gltf(animation: Animation, rig: Rig, morphs: MorphSet, clip: str = "take") -> Any:
    """Build the :class:`pygltflib.GLTF2` document (binary blob attached) for ``animation``.

    Args:
        animation: the take (its joint rotations and fps).
        rig: the head (neutral mesh, skinning, joints).
        morphs: the morph targets and weights (:meth:`exporters.morphs.MeshWriter.morphs`).
        clip: the animation's name.
    """
    b = _Builder()
    lib = b.lib
    character = morphs.character
    if character is not None:  # the user's own mesh: no FLAME skeleton, only its blendshapes
        verts, faces, mesh_name = character.vertices, character.faces.astype(np.uint32), character.name
    else:
        verts, faces, mesh_name = neutral_vertices(rig, animation.shape), rig.faces.astype(np.uint32), rig.name
    weights, target_names, deltas = morphs.weights, morphs.names, morphs.deltas

    # ------------------------------------------------------------ mesh
    attrs = lib.Attributes(
        POSITION=b.add(verts, "VEC3", target=ARRAY_BUFFER, minmax=True),
        NORMAL=b.add(mesh_normals(verts, faces.astype(np.int64)), "VEC3", target=ARRAY_BUFFER),
    )
    if character is None:
        j4, w4 = skin_top4(rig.weights)
        attrs.JOINTS_0 = b.add(j4, "VEC4", UNSIGNED_BYTE if len(JOINT_NAMES) < 256 else UNSIGNED_SHORT, ARRAY_BUFFER)
        attrs.WEIGHTS_0 = b.add(w4, "VEC4", target=ARRAY_BUFFER)
    # Sparse targets: a head's expression or ARKit target moves a fraction of the vertices.
    morph = [{"POSITION": b.add_sparse(d, rows)} for d, rows in zip(deltas, morphs.nonzero(), strict=True)]
    index_type = UNSIGNED_SHORT if len(verts) <= 65535 else UNSIGNED_INT
    prim = lib.Primitive(attributes=attrs, indices=b.add(faces.reshape(-1), "SCALAR", index_type,
                                                         ELEMENT_ARRAY_BUFFER, minmax=False), mode=4)
    if morph:
        prim.targets = morph
    mesh = lib.Mesh(name=mesh_name, primitives=[prim])
    if morph:
        mesh.weights = [0.0] * len(morph)
        mesh.extras = {"targetNames": target_names}

    # ------------------------------------------------------------ skeleton
    nodes = [lib.Node(name="head", mesh=0, skin=None if character is not None else 0)]
    joint_nodes: list[int] = []
    skins = [] if character is not None else [_skeleton(b, rig, verts, nodes, joint_nodes)]

    # ------------------------------------------------------------ animation
    frames = animation.num_frames
    times = b.add(np.arange(frames, dtype=np.float64) / animation.fps, "SCALAR", minmax=True)
    samplers, channels = [], []
    if morph:
        samplers.append(lib.AnimationSampler(input=times, output=b.add(weights.reshape(-1), "SCALAR"),
                                             interpolation="LINEAR"))
        channels.append(lib.AnimationChannel(sampler=0, target=lib.AnimationChannelTarget(node=0, path="weights")))
    tracks = joint_rotations(animation, morphs.joints)
    for j, name in enumerate(JOINT_NAMES):
        if name not in tracks:
            continue
        quats = axis_angle_to_quat(tracks[name])
        samplers.append(lib.AnimationSampler(input=times, output=b.add(quats, "VEC4"), interpolation="LINEAR"))
        target = lib.AnimationChannelTarget(node=joint_nodes[j], path="rotation")
        channels.append(lib.AnimationChannel(sampler=len(samplers) - 1, target=target))
    anims = [lib.Animation(name=clip, samplers=samplers, channels=channels)]

    gltf = lib.GLTF2(
        asset=lib.Asset(version="2.0", generator="probtalk exporters"),
        scene=0,
        scenes=[lib.Scene(nodes=[0, *joint_nodes[:1]])],
        nodes=nodes,
        meshes=[mesh],
        skins=skins,
        animations=anims if channels else [],
        accessors=b.accessors,
        bufferViews=b.views,
        buffers=[lib.Buffer(byteLength=len(b.blob))],
        extras={"fps": animation.fps, "probtalk": {"rig": rig.rig_id(), "arkit": morphs.arkit,
                                                   "character": None if character is None else character.name}},
    )
    gltf.set_binary_blob(bytes(b.blob))
    return gltf


@register
class GlbWriter(MeshWriter):
    """Binary glTF (``.glb``); options of :class:`exporters.morphs.MeshWriter`."""

    name = "glb"
    suffixes = (".glb",)
    description = "binary glTF 2.0: mesh, skinned jaw/neck/eyes, morph targets, animation"

    def encode(self, animation: Animation, clip: str = "take") -> bytes:
        """The file's bytes for ``animation`` with its animation named ``clip``."""
        gltf = build_gltf(animation, self.rig, self.morphs(animation), clip)
        return b"".join(gltf.save_to_bytes())

    def _write(self, animation: Animation, path: Path) -> None:
        atomic_write_bytes(path, self.encode(animation, clip_name(animation, path)))


@register
class GltfWriter(GlbWriter):
    """Text glTF (``.gltf``) with the buffer embedded as a base64 data URI; same options as ``glb``."""

    name = "gltf"
    suffixes = (".gltf",)
    description = "text glTF 2.0 (embedded buffer), same content as glb"

    def encode(self, animation: Animation, clip: str = "take") -> bytes:
        gltf = build_gltf(animation, self.rig, self.morphs(animation), clip)
        blob = gltf.binary_blob()
        gltf.buffers[0].uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode("ascii")
        gltf.set_binary_blob(None)
        return gltf.to_json(separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------ validation
_VALIDATE_JS = r"""
const fs = require('fs');
const validator = require('gltf-validator');
const data = new Uint8Array(fs.readFileSync(process.argv[1]));
validator.validateBytes(data, {maxIssues: 100}).then((report) => {
  process.stdout.write(JSON.stringify(report));
}).catch((err) => { process.stderr.write(String(err)); process.exit(3); });
"""


def validator_path() -> Path | None:
    """Folder of the npm ``gltf-validator`` package (``.tools/node`` of the checkout or $PROBTALK_NODE_MODULES)."""
    roots = [os.environ.get("PROBTALK_NODE_MODULES", ""), str(Path(__file__).resolve().parents[1] / ".tools/node/node_modules")]
    for root in roots:
        if root and (Path(root) / "gltf-validator").is_dir():
            return Path(root)
    return None


def validate_gltf(path: str | os.PathLike[str], timeout: float = 120.0) -> dict[str, Any]:
    """Run the Khronos glTF validator on a file and return its report (``report["issues"]["numErrors"]``).

    Raises:
        MissingExtraError: node or the npm ``gltf-validator`` package is not installed.
    """
    node = shutil.which("node")
    modules = validator_path()
    if node is None or modules is None:
        raise MissingExtraError("glTF validation", "dev", "needs node and 'npm install --prefix .tools/node gltf-validator'")
    env = dict(os.environ, NODE_PATH=str(modules))
    proc = subprocess.run([node, "-e", _VALIDATE_JS, str(path)], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise InputError(f"glTF validator failed on {path}: {proc.stderr.strip()[:300]}")
    return json.loads(proc.stdout)
