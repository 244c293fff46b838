"""The torch twin of :class:`probtalk.framenet.FrameNet`: same layers, padding and masking, for training."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from probtalk.errors import OutputError
from probtalk.framenet import FrameNet, FrameNetConfig

N = TypeVar("N", bound=FrameNet)


def start_run(out: str | os.PathLike[str], seed: int) -> tuple[Path, np.random.Generator]:
    """Create a frame net's run folder and seed torch; the folder and a numpy generator for the batches.

    Raises:
        OutputError: the folder cannot be created.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out} ({exc.strerror}); choose another --out") from None
    torch.manual_seed(seed)
    return out, np.random.default_rng(seed)


class FrameConv(nn.Module):
    """Trainable frame net.

    Args:
        config: the net's shape.
        dropout: dropout on each conv's input while training (the numpy net has none: it is inference only).
    """

    def __init__(self, config: FrameNetConfig, dropout: float = 0.0) -> None:
        super().__init__()
        self.config = config
        cin = config.inputs
        self.convs = nn.ModuleList()
        for k, d, _ in config.layers:
            self.convs.append(nn.Conv1d(cin, config.hidden, k, dilation=d))
            cin = config.hidden
        self.out = nn.Conv1d(cin, config.outputs, 1)
        self.drop = nn.Dropout(dropout)

    def raw(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Inputs [B, T, C] and valid frames bool [B, T] -> the last conv's outputs [B, T, outputs] (zeros on padding)."""
        m = mask[:, None, :].to(x.dtype)
        h = x.transpose(1, 2) * m
        for conv, (k, d, la) in zip(self.convs, self.config.layers, strict=True):
            h = torch.tanh(conv(F.pad(self.drop(h), ((k - 1) * d - la, la)))) * m
        return (self.out(h) * m).transpose(1, 2)

    def to_numpy(self, kind: type[N], provenance: dict[str, Any] | None = None) -> N:
        """The numpy net of class ``kind`` with these weights."""
        weights = {}
        for i, conv in enumerate([*self.convs, self.out]):
            weights[f"w{i}"] = conv.weight.detach().cpu().numpy().astype(np.float32)
            weights[f"b{i}"] = conv.bias.detach().cpu().numpy().astype(np.float32)
        return kind(self.config, weights, dict(provenance or {}))
