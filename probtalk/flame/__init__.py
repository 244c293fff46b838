"""The FLAME head model: rig arrays, loaders and the LBS layer."""

from probtalk.flame.layer import FlameLayer
from probtalk.flame.rig import Rig, bundled_rig_path, load_rig

__all__ = ["FlameLayer", "Rig", "bundled_rig_path", "load_rig"]
