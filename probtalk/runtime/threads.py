"""numpy's BLAS kept to one thread while the runtime animates beside torch or onnxruntime.

numpy's wheels bring OpenBLAS, whose worker threads keep spinning for a while after each
multi-threaded call. The runtime's numpy work (the bilabial detector, the head net, the lip
seal, the living face) sits between torch's or onnxruntime's calls, and on a machine with few
cores the spinning threads take the cores from the network that runs next: on the 2-core
development machine one take of a 10 s clip took 139 ms with OpenBLAS's two threads and 78 ms
with one (torch; onnxruntime 84 → 53 ms; ``benchmarks/animate_speed.py`` prints both). That numpy
work is on small matrices, for which one thread is as fast, so :func:`numpy_blas_one_thread`
holds numpy's BLAS at one thread inside ``animate`` and a stream's ``feed``/``flush``, and gives
the caller's setting back afterwards. Only a BLAS numpy's wheel vendored for itself is touched
(pip's numpy); a shared one (conda, a system BLAS) may be torch's too and is left alone.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _vendored_by_numpy(filepath: str, prefix: str) -> bool:
    """A BLAS that numpy's wheel brings for itself alone (``numpy.libs/``, the scipy-openblas packages)."""
    parts = Path(filepath).parts
    return "numpy.libs" in parts or prefix.startswith("libscipy_openblas") or any(
        part.startswith("scipy_openblas") for part in parts)


@functools.lru_cache(maxsize=1)
def _numpy_blas() -> Any:
    """A threadpoolctl controller of the BLAS numpy's wheel vendored for itself; None without threadpoolctl, or
    when numpy uses a shared BLAS (a conda or system one may be torch's too, and is left alone)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # an install without it runs as before
        return None
    import numpy  # noqa: F401  (its BLAS is loaded with it)

    controller = ThreadpoolController()
    paths = [lib.filepath for lib in controller.lib_controllers
             if lib.user_api == "blas" and _vendored_by_numpy(lib.filepath, lib.prefix)]
    return controller.select(filepath=paths) if paths else None


@contextlib.contextmanager
def numpy_blas_one_thread() -> Iterator[None]:
    """Inside: numpy's BLAS runs on one thread (see the module docstring); outside, as the caller set it."""
    blas = _numpy_blas()
    if blas is None:
        yield
        return
    with blas.limit(limits=1):
        yield
