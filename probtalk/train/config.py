"""Training configuration: frozen dataclasses, TOML files and ``key=value`` overrides.

A TOML file holds top-level :class:`TrainConfig` keys plus the tables
``[vq]``, ``[audio]``, ``[predictor]`` and ``[augment]``; ``--set`` overrides
use the same names with dots (``lr=3e-4``, ``vq.hidden=128``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency there)
    import tomli as tomllib

from probtalk.errors import InputError
from probtalk.layout import DATASET_FPS
from probtalk.models.audio_encoder import AudioEncoderConfig
from probtalk.models.motion_vq import MotionVQConfig
from probtalk.models.style_predictor import StylePredictorConfig


@dataclass(frozen=True)
class AugmentConfig:
    """Stage-2 waveform augmentation (each applied per clip with its probability).

    Attributes:
        speed_prob: resample speech and motion together by a factor in ``speed_range``
            (pitch and rate change together; the motion is time-warped to stay in sync).
        speed_range: (min, max) playback speed factor.
        noise_prob: add white noise at an SNR drawn from ``snr_db``.
        snr_db: (min, max) signal-to-noise ratio in dB.
        eq_prob: random smooth spectral tilt / band gain (FFT filter).
        eq_db: maximum absolute gain of the EQ curve in dB.
        reverb_prob: convolve with a synthetic exponentially decaying impulse response.
        reverb_seconds: (min, max) RT60-like decay time.
        gain_db: random overall gain in +-dB (always applied when > 0).
        pitch_prob: shift pitch and formants together by a number of semitones drawn from
            ``pitch_semitones`` at the same duration (a phase-vocoder stretch, then resampling),
            so voice height varies independently of speaking rate; the motion is untouched.
        pitch_semitones: (min, max) shift in semitones.
        room_prob: the speech heard from a distance in a room (:func:`probtalk.train.augment.room`): the
            direct sound, then a decaying noise tail whose energy lies a direct-to-reverberant ratio drawn
            from ``room_drr_db`` below it, 60 dB down after a time drawn from ``room_rt60``. Unlike
            ``reverb`` (a tail far louder than the direct sound), the direct sound is still heard.
        room_drr_db: (min, max) direct-to-reverberant ratio in dB.
        room_rt60: (min, max) reverberation time in seconds.
        noise_color_prob: of the noise added (``noise_prob``), the share that is pink or brown (equally
            likely; power falling 3 or 6 dB per octave, as hum, traffic and crowds do) rather than white.
        codec_prob: the speech sent through a lossy codec and back (MP3 or Opus, equally likely, through
            PyAV) at a bit rate drawn from ``codec_kbps``, as speech taken from video or the web is.
        codec_kbps: (min, max) bit rate in kbit/s.
    """

    speed_prob: float = 0.3
    speed_range: tuple[float, float] = (0.9, 1.1)
    noise_prob: float = 0.3
    snr_db: tuple[float, float] = (15.0, 40.0)
    eq_prob: float = 0.3
    eq_db: float = 6.0
    reverb_prob: float = 0.2
    reverb_seconds: tuple[float, float] = (0.1, 0.5)
    gain_db: float = 6.0
    pitch_prob: float = 0.0
    pitch_semitones: tuple[float, float] = (-4.0, 4.0)
    room_prob: float = 0.0
    room_drr_db: tuple[float, float] = (0.0, 15.0)
    room_rt60: tuple[float, float] = (0.2, 0.8)
    noise_color_prob: float = 0.0
    codec_prob: float = 0.0
    codec_kbps: tuple[float, float] = (8.0, 32.0)

    @classmethod
    def off(cls) -> AugmentConfig:
        """No augmentation at all."""
        return cls(speed_prob=0.0, noise_prob=0.0, eq_prob=0.0, reverb_prob=0.0, gain_db=0.0, pitch_prob=0.0)


@dataclass(frozen=True)
class TrainConfig:
    """One training run (either stage). Defaults: the paper's recipe scaled for CPU.

    Attributes:
        steps: optimiser steps in total.
        batch_size: clips per step per process.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        betas: AdamW betas.
        warmup_steps: linear warm-up from 0 to ``lr``.
        min_lr_ratio: cosine decay ends at ``lr * min_lr_ratio``.
        grad_clip: max global gradient norm (0 = off).
        max_seconds: random crop of longer clips, in seconds (0 = whole clips).
        fps: motion frame rate.
        val_every: validate every N steps (0 = only at the end).
        val_batches: at most this many validation batches (0 = the whole split).
        log_every: training metrics row every N steps.
        save_every: checkpoint every N steps (and always at the end).
        seed: seeds model init, shuffling, crops and augmentation.
        num_workers: DataLoader worker processes.
        amp: bf16 autocast on GPU (ignored on CPU).
        device: "auto" (cuda if available), "cpu", "cuda" or "cuda:N" (one process on GPU N;
            several processes take one GPU each, by their local rank).
        normalizer_clips: clips used to fit the motion normaliser in stage 1 (0 = all).
        init_from: stage 2: start the audio encoder and the style predictor from this Talker
            checkpoint ("default" = the embedded default model; "" = from scratch). Only
            weights whose names and shapes match are copied (never the predictor's output
            layer, which maps into the new stage-1 latent space); new inputs start at zero.
        lip_map_clips: stage 2: training clips used to fit the lip-contact map (0 = term off).
        vq / audio / predictor: model configs (predictor dims are filled in from the VQ and encoder).
        augment: stage-2 waveform augmentation.
    """

    steps: int = 20000
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 500
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    max_seconds: float = 4.0
    fps: float = DATASET_FPS
    val_every: int = 1000
    val_batches: int = 0
    log_every: int = 50
    save_every: int = 1000
    seed: int = 0
    num_workers: int = 0
    amp: bool = True
    device: str = "auto"
    normalizer_clips: int = 0
    init_from: str = ""
    lip_map_clips: int = 200
    vq: MotionVQConfig = field(default_factory=MotionVQConfig)
    audio: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)
    predictor: StylePredictorConfig = field(default_factory=StylePredictorConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


_NESTED = {"vq": MotionVQConfig, "audio": AudioEncoderConfig, "predictor": StylePredictorConfig, "augment": AugmentConfig}


def _coerce(cls: type, name: str, value: Any, where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        import difflib

        close = difflib.get_close_matches(name, list(fields), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(fields)}"
        raise InputError(f"unknown config key '{where}': {hint}")
    default = getattr(cls(), name)
    if isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(default, tuple) and default and isinstance(value, tuple):
        kind = type(default[0])
        value = tuple(float(v) if kind is float and type(v) is int else v for v in value)
        if any(type(v) is not kind for v in value):
            raise InputError(f"config key '{where}' expects a list of {kind.__name__}s, got {list(value)!r}")
        if len(default) == 2 and len(value) != 2:  # (min, max) ranges and betas
            raise InputError(f"config key '{where}' expects 2 values, got {len(value)}")
    if default is not None and not isinstance(default, dict) and type(value) is not type(default):
        raise InputError(f"config key '{where}' expects {type(default).__name__}, got {value!r}")
    if name == "performance_habits":  # what a corpus records: performance/<keyid>.json, timing/<keyid>.npy
        from probtalk.corpus.style_profiles import PERFORMANCE_HABITS

        _check_names(value, where, PERFORMANCE_HABITS, "habits")
    if name == "timing_tracks":
        from probtalk.corpus.animator import TIMING_TRACKS

        _check_names(value, where, TIMING_TRACKS, "timing tracks")
    if name == "timing_quantiles":
        raise InputError(f"config key '{where}' is filled by training from the corpus's timing tracks; leave it out")
    _check_range(name, value, where)
    return value


def _check_names(value: tuple[Any, ...], where: str, known: tuple[str, ...], what: str) -> None:
    """InputError unless ``value`` names distinct ``what`` out of ``known``."""
    unknown = [v for v in value if v not in known]
    if unknown or len(set(value)) != len(value):
        raise InputError(f"config key '{where}' must list distinct {what} out of {', '.join(known)}; got {list(value)!r}")


#: Keys that must be > 0 (every other number must be >= 0, except the signed ones); keys ending in "_prob" lie in [0, 1].
_POSITIVE = {"steps", "batch_size", "lr", "fps", "log_every", "hidden", "layers", "heads", "ff_dim",
             "latent_dim", "num_codes", "intermediate"}
#: Keys whose numbers may be negative (a range of shifts around zero).
_SIGNED = {"pitch_semitones"}
_DEVICES = ("auto", "cpu", "cuda")
_CUDA_INDEX = re.compile(r"cuda:[0-9]+")


def _check_range(name: str, value: Any, where: str) -> None:
    """InputError for a non-finite, negative or out-of-range config value (e.g. ``lr = nan``, ``steps = -5``)."""
    numbers = value if isinstance(value, tuple) else (value,)
    for v in numbers:
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"config key '{where}' must be a finite number, got {v}")
        if (v < 0 and name not in _SIGNED) or (name in _POSITIVE and v == 0):
            raise InputError(f"config key '{where}' must be {'> 0' if name in _POSITIVE else '>= 0'}, got {v}")
        if (name.endswith("_prob") or name in ("dropout", "min_lr_ratio")) and v > 1:
            raise InputError(f"config key '{where}' must be between 0 and 1, got {v}")
    if name == "device" and isinstance(value, str) and not (value in _DEVICES or _CUDA_INDEX.fullmatch(value)):
        raise InputError(f"config key '{where}' must be one of {', '.join(_DEVICES)} (or cuda:N), got {value!r}")


def config_from_mapping(data: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """Apply a nested mapping (as read from TOML) onto ``base`` (default: the defaults)."""
    cfg = base or TrainConfig()
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key in _NESTED:
            if not isinstance(value, dict):
                raise InputError(f"config key '{key}' must be a table ([{key}])")
            sub_cls = _NESTED[key]
            sub = getattr(cfg, key)
            changes = {k: _coerce(sub_cls, k, v, f"{key}.{k}") for k, v in value.items()}
            try:
                top[key] = dataclasses.replace(sub, **changes)
            except (TypeError, ValueError) as exc:  # the model config's own checks
                raise InputError(f"config table [{key}]: {' '.join(str(exc).split())}") from None
        else:
            top[key] = _coerce(TrainConfig, key, value, key)
    return dataclasses.replace(cfg, **top)


def parse_override(item: str) -> dict[str, Any]:
    """``"vq.hidden=64"`` -> ``{"vq": {"hidden": 64}}`` (values parsed as TOML, else kept as strings)."""
    if "=" not in item:
        raise InputError(f"override '{item}' is not key=value; e.g. --set lr=3e-4 or --set vq.hidden=128")
    key, raw = (s.strip() for s in item.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    parts = key.split(".")
    if len(parts) > 2 or not all(parts):
        raise InputError(f"override key '{key}' must be 'name' or 'table.name'")
    return {parts[0]: {parts[1]: value}} if len(parts) == 2 else {key: value}


def load_train_config(
    path: str | os.PathLike[str] | None = None, overrides: Iterable[str] = (), base: TrainConfig | None = None
) -> TrainConfig:
    """Defaults <- TOML file <- ``key=value`` overrides.

    Raises:
        InputError: unreadable TOML, unknown keys or wrongly typed values.
    """
    cfg = base or TrainConfig()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"config file {p} not found; pass an existing TOML file")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"config file {p} is not valid TOML: {exc}") from None
        cfg = config_from_mapping(data, cfg)
    for item in overrides:
        cfg = config_from_mapping(parse_override(item), cfg)
    return cfg
