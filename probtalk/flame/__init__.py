"""The FLAME head model: rig arrays, loaders and the LBS layer (torch is imported only with the layer)."""

from probtalk.flame.rig import Rig, bundled_rig_path, load_rig
from probtalk.lazy import lazy_exports

__all__ = ["FlameLayer", "Rig", "bundled_rig_path", "load_rig"]

__getattr__ = lazy_exports(__name__, {"FlameLayer": "layer"})
