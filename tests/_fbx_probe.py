"""Read an FBX with the independent `ufbx` reader and print a JSON summary (run in a subprocess: ufbx can segfault).

Usage: python tests/_fbx_probe.py file.fbx frame [frame ...]
Prints {"fps", "time_begin", "time_end", "channels": [names], "weights": {frame: [weight per channel]},
"bones": [names], "rotations": {frame: {bone: [x, y, z, w]}}, "unit_meters", "stacks": [take names],
"roots": {name: {"scale": [x, y, z], "rotation": [x, y, z, w]}}}.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    import ufbx

    path, frames = sys.argv[1], [int(f) for f in sys.argv[2:]]
    scene = ufbx.load_file(path)
    fps = scene.settings.frames_per_second
    stack = scene.anim_stacks[0]
    anim = stack.anim
    channels = list(scene.blend_channels)
    names = [c.name for c in channels]
    nodes = {n.name: n for n in scene.nodes}
    bones = sorted(n for n in nodes if n in ("global", "neck", "jaw", "left_eye", "right_eye"))
    weights, rotations = {}, {}
    for f in frames:
        t = f / fps
        weights[f] = [ufbx.evaluate_blend_weight(anim, c, t) for c in channels]
        rotations[f] = {}
        for b in bones:
            q = ufbx.evaluate_transform(anim, nodes[b], t).rotation
            rotations[f][b] = [q.x, q.y, q.z, q.w]
    roots = {}
    for n in scene.root_node.children:
        t = n.local_transform
        roots[n.name] = {"scale": [t.scale.x, t.scale.y, t.scale.z],
                         "rotation": [t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w]}
    out = {"fps": fps, "time_begin": stack.time_begin, "time_end": stack.time_end, "channels": names,
           "weights": weights, "bones": bones, "rotations": rotations, "unit_meters": scene.settings.unit_meters,
           "stacks": [s.name for s in scene.anim_stacks], "roots": roots}
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: freeing ufbx objects there can segfault


if __name__ == "__main__":
    main()
