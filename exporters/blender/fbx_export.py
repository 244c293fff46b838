"""Blender-side FBX builder; runs INSIDE Blender, never imported by probtalk.

Usage (done by exporters.fbx)::

    .venv-blender/bin/python fbx_export.py -- payload.npz out.fbx
    blender -b --factory-startup -P fbx_export.py -- payload.npz out.fbx

The payload (see ``exporters.fbx.fbx_payload``) holds the neutral mesh, one
shape-key offset per key, per-frame key weights, the FLAME joints with skin
weights and per-frame joint axis-angles, all in FLAME's Y-up metres.

Unit-clean output: the data stays in FLAME's Y-up frame inside an armature
whose object rotation (+90 deg about X) stands it up in Blender; the exporter's
Z-up -> Y-up conversion cancels that rotation, so every root node of the FBX
has identity rotation and scale 1 (``FBX_SCALE_ALL`` puts the metre unit in
the file header instead of scaling the roots by 100). Unity, Unreal and Blender
import it upright at scale 1. The take (animation stack) is named after the
clip (``<stem>_<emotion>_take<k>``), not "Scene".

Shape-key animation is silently dropped unless the export passes
``bake_anim_use_all_actions=False, bake_anim_use_nla_strips=False``.
"""

from __future__ import annotations

import sys

import bpy  # noqa: I001  (only available inside Blender)
import numpy as np
from mathutils import Matrix

# FLAME (Y up, face toward +Z) -> Blender (Z up, face toward -Y): the armature object's rotation.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
BONE_LENGTH = 0.02  # metres; bones point up (+Y, FLAME frame) so every bone's rest frame is the identity
LINEAR = 1  # index of 'LINEAR' in Keyframe.interpolation's enum


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: [T, 3] axis-angle -> [T, 3, 3] rotation matrices."""
    angle = np.linalg.norm(rotvec, axis=1)
    axis = rotvec / np.maximum(angle, 1e-12)[:, None]
    x, y, z = axis.T
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=1).reshape(-1, 3, 3)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3)[None] + s * k + (1 - c) * (k @ k)


def fill_fcurve(fcurve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Replace the keys of ``fcurve`` with (frames, values), LINEAR interpolation."""
    points = fcurve.keyframe_points
    points.clear()
    points.add(len(frames))
    co = np.empty(2 * len(frames), np.float32)
    co[0::2], co[1::2] = frames, values
    points.foreach_set("co", co)
    points.foreach_set("interpolation", np.full(len(frames), LINEAR, np.int32))
    fcurve.update()


def find_fcurve(id_data: bpy.types.ID, path: str, index: int = 0) -> bpy.types.FCurve:
    action = id_data.animation_data.action
    fcurve = action.fcurves.find(path, index=index)
    if fcurve is None:
        raise RuntimeError(f"no fcurve {path}[{index}] after keyframe_insert")
    return fcurve


def animate_keys(mesh: bpy.types.Mesh, names: list[str], weights: np.ndarray, frames: np.ndarray) -> None:
    """Shape-key animation: one fcurve per key, every frame keyed."""
    if not names:
        return
    blocks = mesh.shape_keys.key_blocks
    for k, key_name in enumerate(names):
        blocks[key_name].value = float(weights[0, k])
        blocks[key_name].keyframe_insert("value", frame=0)
        fill_fcurve(find_fcurve(mesh.shape_keys, f'key_blocks["{key_name}"].value'), frames, weights[:, k])
    mesh.shape_keys.animation_data.action.name = "expression"


def build(data: dict[str, np.ndarray]) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    fps = float(data["fps"])
    nominal = max(1, round(fps))
    scene.render.fps = nominal
    scene.render.fps_base = nominal / fps
    weights = data["key_weights"]
    frames_count = int(data["joint_rotations"].shape[0])
    frames = np.arange(frames_count, dtype=np.float32)
    scene.frame_start = 0
    scene.frame_end = max(frames_count - 1, 0)
    name = str(data["name"])
    scene.name = str(data["clip"])  # the exporter names the FBX take after the scene

    # Mesh and shape keys, in FLAME's frame (the armature object stands them up).
    verts = data["vertices"].astype(np.float64)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], data["faces"].tolist())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    lo, hi = (float(np.clip(v, -10.0, 10.0)) for v in data["key_range"])
    names = [str(n) for n in data["key_names"]]
    for k, key_name in enumerate(names):
        block = obj.shape_key_add(name=key_name, from_mix=False)
        block.slider_min, block.slider_max = lo, hi
        block.data.foreach_set("co", (verts + data["key_offsets"][k].astype(np.float64)).ravel())
    mesh.update()

    joint_names = [str(n) for n in data["joint_names"]]
    stand_up = Matrix([[*row, 0.0] for row in Y_UP_TO_Z_UP.tolist()] + [[0.0, 0.0, 0.0, 1.0]])
    if not joint_names:  # a user's character: shape keys only, the mesh object stands itself up
        obj.matrix_world = stand_up
        animate_keys(mesh, names, weights, frames)
        return

    # Armature with one bone per FLAME joint.
    arm_data = bpy.data.armatures.new("skeleton")
    arm = bpy.data.objects.new("skeleton", arm_data)
    arm.matrix_world = stand_up
    scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    positions = data["joint_positions"].astype(np.float64)
    parents = data["parents"]
    for j, joint in enumerate(joint_names):
        bone = arm_data.edit_bones.new(joint)
        bone.head = positions[j].tolist()
        bone.tail = (positions[j] + (0.0, BONE_LENGTH, 0.0)).tolist()
        bone.roll = 0.0
        if parents[j] >= 0:
            bone.parent = arm_data.edit_bones[joint_names[parents[j]]]
            bone.use_connect = False
    bpy.ops.object.mode_set(mode="OBJECT")

    # Skinning.
    obj.parent = arm
    modifier = obj.modifiers.new("skeleton", "ARMATURE")
    modifier.object = arm
    skin = data["skin_weights"]
    for j, joint in enumerate(joint_names):
        group = obj.vertex_groups.new(name=joint)
        for v in np.flatnonzero(skin[:, j] > 0):
            group.add([int(v)], float(skin[v, j]), "REPLACE")

    animate_keys(mesh, names, weights, frames)

    # Joint animation: FLAME local rotations (world-aligned rest frames) -> bone space.
    animated = data["joint_animated"]
    if animated.any():
        rotations = data["joint_rotations"].astype(np.float64)
        for j, joint in enumerate(joint_names):
            if not animated[j]:
                continue
            pose_bone = arm.pose.bones[joint]
            pose_bone.rotation_mode = "QUATERNION"
            rest = np.array(arm_data.bones[joint].matrix_local.to_3x3())
            local = rest.T @ rotvec_to_matrix(rotations[:, j]) @ rest
            quats = np.array([Matrix(m.tolist()).to_quaternion()[:] for m in local])
            flip = np.cumprod(np.where(np.sum(quats[1:] * quats[:-1], axis=1) < 0, -1.0, 1.0))
            quats[1:] *= flip[:, None]  # keep consecutive keys in one hemisphere
            pose_bone.rotation_quaternion = quats[0].tolist()
            pose_bone.keyframe_insert("rotation_quaternion", frame=0)
            for c in range(4):
                path = f'pose.bones["{joint}"].rotation_quaternion'
                fill_fcurve(find_fcurve(arm, path, c), frames, quats[:, c])
        arm.animation_data.action.name = "pose"


def export(path: str) -> None:
    bpy.ops.export_scene.fbx(
        filepath=path,
        use_selection=False,
        object_types={"ARMATURE", "MESH"},
        use_mesh_modifiers=False,
        mesh_smooth_type="FACE",
        add_leaf_bones=False,
        armature_nodetype="NULL",
        bake_anim=True,
        bake_anim_use_all_bones=True,
        bake_anim_use_all_actions=False,
        bake_anim_use_nla_strips=False,
        bake_anim_force_startend_keying=True,
        bake_anim_step=1.0,
        bake_anim_simplify_factor=0.0,
        axis_forward="-Z",
        axis_up="Y",
        global_scale=1.0,
        apply_unit_scale=True,
        apply_scale_options="FBX_SCALE_ALL",
    )


def main(argv: list[str]) -> int:
    args = argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]
    if len(args) != 2:
        print("usage: fbx_export.py -- payload.npz out.fbx", file=sys.stderr)
        return 2
    with np.load(args[0], allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    build(data)
    export(args[1])
    print(f"fbx_export: wrote {args[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
