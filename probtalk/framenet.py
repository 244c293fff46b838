"""Small per-frame conv nets in numpy: the life stage's head net and the lip seal's bilabial detector.

A :class:`FrameNet` is a stack of 1-D convs over frames (tanh after each, a
1x1 conv to the outputs last), each with a fixed look-ahead ``(kernel,
dilation, lookahead)``, so a stream can run it with a bounded delay.
Activations outside the clip are zeros at every layer (the torch twin in
:mod:`probtalk.train.frameconv` pads each layer with zeros and a parity test
holds the two together), so a window of a stream and the whole clip give the
same values. Weights travel as plain arrays (an ``.npz`` or a checkpoint
part), never as pickles.

A subclass names its file format (``FORMAT``, ``VERSION``), what it is
(``WHAT``) and how a user gets a good one (``REMEDY``), and may scale or
squash the raw outputs in :meth:`FrameNet.forward`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import numpy as np

from probtalk.errors import CheckpointError

N = TypeVar("N", bound="FrameNet")


@dataclass(frozen=True)
class FrameNetConfig:
    """Shape of a frame net.

    Attributes:
        inputs: channels per frame.
        hidden: channels of the hidden layers.
        layers: (kernel, dilation, lookahead) of each hidden conv; a 1x1 conv to ``outputs`` follows.
        outputs: channels per frame out.
    """

    inputs: int
    hidden: int
    layers: tuple[tuple[int, int, int], ...]
    outputs: int

    @property
    def lookahead(self) -> int:
        """Frames after a frame that its output depends on."""
        return sum(la for _, _, la in self.layers)

    @property
    def context(self) -> int:
        """Frames before a frame that its output depends on."""
        return sum((k - 1) * d - la for k, d, la in self.layers)

    def to_json(self) -> str:
        return json.dumps({"inputs": self.inputs, "hidden": self.hidden, "layers": [list(x) for x in self.layers],
                           "outputs": self.outputs})

    @classmethod
    def from_json(cls, text: str, outputs: int | None = None) -> FrameNetConfig:
        """Parse :meth:`to_json` text; ``outputs`` fills in for files written before it was stored."""
        data = json.loads(text)
        layers = tuple(tuple(int(v) for v in x) for x in data["layers"])
        return cls(int(data["inputs"]), int(data["hidden"]), layers, int(data.get("outputs", outputs)))  # type: ignore[arg-type]


@dataclass
class FrameNet:
    """A frame net in numpy: ``weights`` holds ``w{i}`` [out, in, k] and ``b{i}`` [out] per conv."""

    FORMAT: ClassVar[str] = "probtalk-frame-net"
    VERSION: ClassVar[int] = 1
    WHAT: ClassVar[str] = "frame net"
    REMEDY: ClassVar[str] = "re-train it"
    OUTPUTS: ClassVar[int | None] = None  # the outputs a file of this kind has when it does not say

    config: FrameNetConfig
    weights: dict[str, np.ndarray]
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.config.layers) + 1
        shapes = {}
        cin = self.config.inputs
        for i, (k, _, _) in enumerate(self.config.layers):
            shapes[f"w{i}"], shapes[f"b{i}"] = (self.config.hidden, cin, k), (self.config.hidden,)
            cin = self.config.hidden
        shapes[f"w{n - 1}"], shapes[f"b{n - 1}"] = (self.config.outputs, cin, 1), (self.config.outputs,)
        for key, shape in shapes.items():
            value = self.weights.get(key)
            if value is None or tuple(value.shape) != shape:
                got = None if value is None else list(value.shape)
                raise CheckpointError(f"{self.WHAT} weight {key} is {got}, expected {list(shape)}; {self.REMEDY}")
        self.weights = {k: np.asarray(self.weights[k], np.float32) for k in shapes}

    def raw(self, x: np.ndarray, first: int, total: int | None) -> np.ndarray:
        """The last conv's outputs float32 [n, outputs] for frames [first + context, first + len(x) - lookahead).

        Args:
            x: inputs [len, C] of absolute frames ``first ...`` (zeros outside the clip).
            first: absolute frame of ``x[0]`` (may be negative).
            total: frames in the clip, or None while unknown (no frame of ``x`` is past the end then).
        """
        h = np.asarray(x, np.float32)
        pos = first + np.arange(h.shape[0])
        for i, (k, d, la) in enumerate(self.config.layers):
            left = (k - 1) * d - la
            n = h.shape[0] - (k - 1) * d
            w, b = self.weights[f"w{i}"], self.weights[f"b{i}"]
            y = np.broadcast_to(b, (n, b.size)).copy()
            for j in range(k):
                y += h[j * d : j * d + n] @ w[:, :, j].T
            pos = pos[left : left + n]
            h = np.tanh(y)
            inside = (pos >= 0) & (pos < (total if total is not None else np.iinfo(np.int64).max))
            h[~inside] = 0.0
        last = len(self.config.layers)
        return (h @ self.weights[f"w{last}"][:, :, 0].T + self.weights[f"b{last}"]).astype(np.float32)

    def forward(self, x: np.ndarray, first: int, total: int | None) -> np.ndarray:
        """The net's outputs [n, outputs] (see :meth:`raw`; a subclass scales or squashes them here)."""
        return self.raw(x, first, total)

    def run(self, x: np.ndarray) -> np.ndarray:
        """The whole clip: inputs [T, C] -> outputs [T, outputs] (zero padding at both ends)."""
        c, la = self.config.context, self.config.lookahead
        padded = np.concatenate([np.zeros((c, x.shape[1]), np.float32), x, np.zeros((la, x.shape[1]), np.float32)])
        return self.forward(padded, -c, x.shape[0])

    # ----------------------------------------------------------- files
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects): the format tag, the config and provenance as JSON text, the weights."""
        return {
            "format": np.array(self.FORMAT), "version": np.array(self.VERSION),
            "config_json": np.array(self.config.to_json()), "provenance_json": np.array(json.dumps(self.provenance)),
            **{k: v.astype(np.float32) for k, v in self.weights.items()},
        }

    @classmethod
    def from_arrays(cls: type[N], arrays: dict[str, np.ndarray], where: str | None = None) -> N:
        """Rebuild from :meth:`to_arrays` output (numpy arrays or tensors converted by the caller).

        Raises:
            CheckpointError: not this kind of net, a newer version, or weights that do not fit.
        """
        where = where or cls.WHAT
        try:
            if str(np.asarray(arrays["format"])) != cls.FORMAT:
                raise KeyError("format")
            version = int(np.asarray(arrays["version"]))
            config = FrameNetConfig.from_json(str(np.asarray(arrays["config_json"])), cls.OUTPUTS)
            provenance = json.loads(str(np.asarray(arrays.get("provenance_json", "{}"))))
        except (KeyError, ValueError, TypeError, json.JSONDecodeError):
            raise CheckpointError(f"{where} is not a probtalk {cls.WHAT}; {cls.REMEDY}") from None
        if version > cls.VERSION:
            raise CheckpointError(f"{where} has {cls.WHAT} format version {version}; this probtalk reads "
                                  f"<= {cls.VERSION}, upgrade")
        weights = {k: np.asarray(v, np.float32) for k, v in arrays.items() if k[0] in "wb" and k[1:].isdigit()}
        return cls(config, weights, provenance)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an ``.npz`` (atomic)."""
        from probtalk.io import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **self.to_arrays())

    @classmethod
    def load(cls: type[N], path: str | os.PathLike[str]) -> N:
        """Read an ``.npz`` written by :meth:`save` (no pickles).

        Raises:
            CheckpointError: missing, unreadable or not this kind of net.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError) as exc:
            raise CheckpointError(f"{cls.WHAT} {path} is unreadable ({type(exc).__name__}); {cls.REMEDY}") from None
        return cls.from_arrays(arrays, str(path))
