"""HuBERT audio encoder: 16 kHz speech [B, N] -> features aligned to motion frames [B, T, 2H].

``transformers.HubertModel`` gives 50 feature frames per second. At 25 fps
(the dataset rate) consecutive feature pairs are concatenated, as in the
paper; at any other frame rate the features are linearly interpolated to
twice the frame rate first, so the output width is ``2 * hidden`` either way.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from probtalk.errors import CheckpointError
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS
from probtalk.models.blocks import lengths_to_mask

log = logging.getLogger(__name__)

FREEZE_POLICIES = ("none", "feature_extractor", "all")


@dataclass(frozen=True)
class AudioEncoderConfig:
    """HuBERT size and freeze policy.

    The defaults are a small HuBERT trained from scratch (about 3.5M
    parameters). ``hubert`` holds a full ``HubertConfig`` dict when the model
    came from a pretrained folder (it overrides the size fields).

    Attributes:
        hidden: transformer width H (output width is 2H).
        layers: transformer layers.
        heads: attention heads.
        intermediate: feed-forward width.
        conv_dim: channels of the 7 convolutional feature-extractor layers
            (kernels 10,3,3,3,3,2,2 and strides 5,2,2,2,2,2,2: 320 samples = 20 ms per frame).
        freeze: "feature_extractor" (the paper: the CNN is frozen), "none" or "all".
        frozen_layers: the first N transformer layers are frozen too (paper: pretrained layers kept).
        normalize_audio: zero-mean / unit-variance each clip over its valid samples first.
        pretrained: the folder a pretrained model was read from (provenance only).
        hubert: a full HubertConfig as a dict, or None to build one from the fields above.
    """

    hidden: int = 256
    layers: int = 4
    heads: int = 4
    intermediate: int = 1024
    conv_dim: tuple[int, ...] = (64, 64, 64, 64, 64, 64, 64)
    freeze: str = "feature_extractor"
    frozen_layers: int = 0
    normalize_audio: bool = True
    pretrained: str | None = None
    hubert: dict[str, Any] | None = field(default=None, compare=False)

    def hubert_config(self) -> Any:
        """The ``transformers.HubertConfig`` this config describes."""
        from transformers import HubertConfig

        if self.hubert is not None:
            cfg = HubertConfig(**self.hubert)
        else:
            cfg = HubertConfig(
                hidden_size=self.hidden,
                num_hidden_layers=self.layers,
                num_attention_heads=self.heads,
                intermediate_size=self.intermediate,
                conv_dim=tuple(self.conv_dim),
                conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                conv_stride=(5, 2, 2, 2, 2, 2, 2),
                feat_extract_norm="layer",  # per-frame norm: padded batches equal per-item results
                num_conv_pos_embeddings=64,
                num_conv_pos_embedding_groups=16,
            )
        _disable_hf_randomness(cfg)
        return cfg


def _disable_hf_randomness(cfg: Any) -> None:
    # HF's training-time randomness (spec augment, layer drop) is off: layer drop leaves
    # parameters unused, which DDP rejects, and our own augmentation acts on the waveform.
    cfg.apply_spec_augment = False
    cfg.mask_time_prob = 0.0
    cfg.layerdrop = 0.0


class AudioEncoder(nn.Module):
    """HuBERT wrapper producing motion-rate features [B, T, 2H] with a mask [B, T]."""

    def __init__(self, config: AudioEncoderConfig, hubert: nn.Module | None = None) -> None:
        super().__init__()
        if config.freeze not in FREEZE_POLICIES:
            raise ValueError(f"freeze must be one of {FREEZE_POLICIES}, got {config.freeze!r}")
        from transformers import HubertModel

        self.config = config
        self.hubert = hubert if hubert is not None else HubertModel(config.hubert_config())
        self.apply_freeze()

    @property
    def hidden(self) -> int:
        return int(self.hubert.config.hidden_size)

    @property
    def out_dim(self) -> int:
        """Feature width per motion frame (two 50 Hz frames concatenated)."""
        return 2 * self.hidden

    @classmethod
    def from_config(cls, config: AudioEncoderConfig | None = None) -> AudioEncoder:
        """A randomly initialised HuBERT of the given size (trained from scratch)."""
        return cls(config or AudioEncoderConfig())

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike[str], freeze: str = "feature_extractor", frozen_layers: int = 0
    ) -> AudioEncoder:
        """Load a HuBERT saved with ``save_pretrained`` from a local folder (never downloads).

        Raises:
            CheckpointError: the folder is missing or holds no readable HuBERT.
        """
        from transformers import HubertModel

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise CheckpointError(
                f"no HuBERT model in {folder} (config.json missing); pass a folder written by save_pretrained"
            )
        try:
            hubert = HubertModel.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"cannot load HuBERT from {folder}: {str(exc).splitlines()[0]}") from None
        cfg_dict = hubert.config.to_dict()
        config = AudioEncoderConfig(
            hidden=hubert.config.hidden_size,
            layers=hubert.config.num_hidden_layers,
            heads=hubert.config.num_attention_heads,
            intermediate=hubert.config.intermediate_size,
            conv_dim=tuple(hubert.config.conv_dim),
            freeze=freeze,
            frozen_layers=frozen_layers,
            pretrained=str(folder),
            hubert=cfg_dict,
        )
        _disable_hf_randomness(hubert.config)
        return cls(config, hubert)

    def apply_freeze(self) -> None:
        """Set ``requires_grad`` following the config's freeze policy."""
        c = self.config
        for p in self.hubert.parameters():
            p.requires_grad_(c.freeze != "all")
        if c.freeze == "feature_extractor":
            for p in self.hubert.feature_extractor.parameters():
                p.requires_grad_(False)
        if c.frozen_layers > 0:
            for p in self.hubert.feature_projection.parameters():
                p.requires_grad_(False)
            for layer in self.hubert.encoder.layers[: c.frozen_layers]:
                for p in layer.parameters():
                    p.requires_grad_(False)
        # A masked_spec_embed is only used by spec augment, which we never enable.
        if getattr(self.hubert, "masked_spec_embed", None) is not None:
            self.hubert.masked_spec_embed.requires_grad_(False)

    def feature_lengths(self, audio_lengths: torch.Tensor) -> torch.Tensor:
        """Number of 50 Hz feature frames for each audio length [B] (samples)."""
        return self.hubert._get_feat_extract_output_lengths(audio_lengths).long().clamp_min(1)

    @staticmethod
    def frames_for(audio_lengths: torch.Tensor, fps: float = DATASET_FPS) -> torch.Tensor:
        """Motion frames [B] covering each audio length [B] at ``fps`` (rounded, at least 1)."""
        return torch.round(audio_lengths.double() * fps / AUDIO_SAMPLE_RATE).long().clamp_min(1)

    def forward(
        self,
        audio: torch.Tensor,
        audio_lengths: torch.Tensor,
        num_frames: torch.Tensor | None = None,
        fps: float = DATASET_FPS,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode speech.

        Args:
            audio: [B, N] float 16 kHz mono, zero-padded after each clip.
            audio_lengths: [B] valid samples per clip.
            num_frames: [B] motion frames wanted per clip (default: the audio duration at ``fps``).
            fps: motion frame rate.

        Returns:
            features: [B, T, 2H] with T = max(num_frames), padding zero.
            mask: [B, T] bool, True for exactly ``num_frames[b]`` frames of item b.
        """
        audio_lengths = audio_lengths.to(audio.device).long()
        if num_frames is None:
            num_frames = self.frames_for(audio_lengths, fps)
        num_frames = num_frames.to(audio.device).long()
        sample_mask = lengths_to_mask(audio_lengths, audio.shape[1])
        x = audio.float() * sample_mask
        if self.config.normalize_audio:
            n = audio_lengths.clamp_min(1)[:, None].float()
            mean = x.sum(1, keepdim=True) / n
            var = ((x - mean).pow(2) * sample_mask).sum(1, keepdim=True) / n
            x = (x - mean) / (var + 1e-7).sqrt() * sample_mask
        hidden = self.hubert(x, attention_mask=sample_mask.long()).last_hidden_state  # [B, F, H]
        feat_len = self.feature_lengths(audio_lengths).clamp(max=hidden.shape[1])
        features = align_features(hidden, feat_len, num_frames, fps)
        mask = lengths_to_mask(num_frames, features.shape[1])
        return features * mask[..., None].to(features.dtype), mask


def align_features(
    features: torch.Tensor, feature_lengths: torch.Tensor, num_frames: torch.Tensor, fps: float
) -> torch.Tensor:
    """Resample 50 Hz features [B, F, H] to [B, T, 2H] motion frames (T = max(num_frames)).

    At 25 fps frame t is the concatenation of feature frames 2t and 2t+1 (the
    paper's pairing); when a clip has fewer than 2T features (odd counts, or
    the conv front end's edge loss) the last feature frame is repeated, and
    extra features are dropped. At other rates the features are linearly
    interpolated to 2 * fps first, each item over its own valid length.
    """
    b, _, h = features.shape
    t_max = int(num_frames.max().item())
    dev = features.device
    pos = torch.arange(2 * t_max, device=dev, dtype=torch.float64)[None].expand(b, -1)
    last = (feature_lengths - 1).clamp_min(0)[:, None]
    if abs(fps - DATASET_FPS) < 1e-6:
        idx = torch.minimum(pos.long(), last)
        out = torch.gather(features, 1, idx[..., None].expand(-1, -1, h))
    else:
        # Centre-aligned linear interpolation from F_b frames onto 2 * T_b frames.
        scale = feature_lengths[:, None].double() / (2 * num_frames[:, None].double())
        src = ((pos + 0.5) * scale - 0.5).clamp_min(0.0)
        src = torch.minimum(src, last.double())
        lo = src.floor().long()
        hi = torch.minimum(lo + 1, last)
        w = (src - lo.double()).to(features.dtype)[..., None]
        f_lo = torch.gather(features, 1, lo[..., None].expand(-1, -1, h))
        f_hi = torch.gather(features, 1, hi[..., None].expand(-1, -1, h))
        out = f_lo * (1 - w) + f_hi * w
    return out.reshape(b, t_max, 2 * h)
