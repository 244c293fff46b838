"""Inference runtime shared by offline animation, streaming and the ONNX export.

* :mod:`~probtalk.runtime.backend` - the backend interface and the onnxruntime backend (numpy only, no torch);
* :mod:`~probtalk.runtime.sampling` - the seeded code-sampling rule (reproducible in any engine);
* :mod:`~probtalk.runtime.engine` - windowed offline sampling over any backend;
* :mod:`~probtalk.runtime.stream` - streaming: chunks in, ready frames out;
* :mod:`~probtalk.runtime.torch_backend` and :mod:`~probtalk.runtime.export` - the torch side (import torch).

Nothing here imports torch unless a torch module is asked for.
"""
