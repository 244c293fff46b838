"""Import a GLB/glTF or FBX into Blender (bpy) and report what a user would see; runs INSIDE Blender's Python.

Usage: .venv-blender/bin/python tests/_blender_probe.py -- file.glb out.npz fps frame [frame ...]

``fps`` > 0 sets the scene frame rate before importing, as a user does for glTF (whose
importer maps key times in seconds onto the scene's rate); 0 keeps what the importer sets.

Writes ``out.npz`` with ``vertices`` float32 [F, V, 3]: the evaluated (shape keys + armature) mesh at each
requested frame, in world space converted back to FLAME's Y-up frame, and ``summary`` (JSON text):
fps, shape keys with slider ranges and value ranges, root objects with scale and rotation, action names.
"""

from __future__ import annotations

import json
import sys

import bpy  # noqa: I001  (only available inside Blender)
import numpy as np


def fcurves_of(id_data: bpy.types.ID) -> list[bpy.types.FCurve]:
    """F-curves animating ``id_data`` (Blender 4.4+ keeps them in slotted, layered actions)."""
    anim = id_data.animation_data
    if anim is None or anim.action is None:
        return []
    out = []
    for layer in anim.action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(anim.action_slot)
            if bag is not None:
                out.extend(bag.fcurves)
    return out


def main(argv: list[str]) -> None:
    args = argv[argv.index("--") + 1 :]
    path, out, fps, frames = args[0], args[1], float(args[2]), [int(f) for f in args[3:]]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    for o in list(bpy.data.objects):  # a factory scene may still hold a default object
        bpy.data.objects.remove(o)
    if fps > 0:
        bpy.context.scene.render.fps = max(1, round(fps))
        bpy.context.scene.render.fps_base = round(fps) / fps if round(fps) else 1.0
    if path.lower().endswith(".fbx"):
        bpy.ops.import_scene.fbx(filepath=path, anim_offset=0.0)  # default offset 1 shifts every key by a frame
    else:
        bpy.ops.import_scene.gltf(filepath=path)
    scene = bpy.context.scene
    obj = max((o for o in scene.objects if o.type == "MESH"), key=lambda o: len(o.data.vertices))
    keys = []
    if obj.data.shape_keys is not None:
        curves = {fc.data_path: fc for fc in fcurves_of(obj.data.shape_keys)}
        for kb in obj.data.shape_keys.key_blocks[1:]:
            fc = curves.get(f'key_blocks["{kb.name}"].value')
            values = [p.co[1] for p in fc.keyframe_points] if fc is not None else []
            keys.append({"name": kb.name, "slider_min": kb.slider_min, "slider_max": kb.slider_max,
                         "keys": len(values), "min": min(values, default=0.0), "max": max(values, default=0.0)})
    roots = [{"name": o.name, "type": o.type, "scale": list(o.scale), "rotation": list(o.rotation_euler),
              "matrix_world": [list(r) for r in o.matrix_world]} for o in scene.objects if o.parent is None]
    verts = []
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for f in frames:
        scene.frame_set(f)
        depsgraph.update()
        ev = obj.evaluated_get(depsgraph)
        mesh = ev.to_mesh()
        co = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3).astype(np.float64)
        world = np.array(ev.matrix_world)
        co = co @ world[:3, :3].T + world[:3, 3]
        ev.to_mesh_clear()
        verts.append(np.stack([co[:, 0], co[:, 2], -co[:, 1]], axis=1))  # Blender Z-up -> FLAME Y-up
    summary = {
        "fps": scene.render.fps / scene.render.fps_base,
        "frame_start": scene.frame_start, "frame_end": scene.frame_end,
        "shape_keys": keys, "roots": roots,
        "actions": sorted(a.name for a in bpy.data.actions),
        "num_vertices": len(obj.data.vertices),
        "unit_scale": scene.unit_settings.scale_length,
    }
    np.savez(out, vertices=np.asarray(verts, np.float32), summary=np.array(json.dumps(summary)))


if __name__ == "__main__":
    main(sys.argv)
