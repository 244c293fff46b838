"""One-file checkpoints for the motion VQ (stage 1) and the Talker (stage 2).

A checkpoint is a plain dict loadable with ``torch.load(weights_only=True)``:
format tag + version, kind, configs (JSON), state dict, normaliser, style
vocabulary, rig id and training provenance (JSON). Options keep the embedded
model small: ``half=True`` stores float tensors as float16, and
``inference_only=True`` drops what sampling never uses (the frozen stage-1
encoder inside a Talker, and frozen pretrained HuBERT weights, which are
then re-read from the HuBERT folder at load time).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import struct
import textwrap
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from probtalk.errors import CheckpointError
from probtalk.io import atomic_path
from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
from probtalk.models.style import StyleVocabulary
from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
from probtalk.models.talker import Normalizer, Talker

FORMAT_TAG = "probtalk-checkpoint"
FORMAT_VERSION = 4  # 2: an optional "head" part (the life stage's head motion net, plain arrays); 3: "bilabial"; 4: "vowel"
KIND_VQ = "motion_vq"
KIND_TALKER = "talker"
VQ_ENCODER_PREFIXES = ("vq.enc_in.", "vq.enc_down.", "vq.encoder.", "vq.enc_out.")

C = TypeVar("C")


@dataclass
class CheckpointInfo:
    """Everything in a checkpoint besides the weights.

    Attributes:
        kind: "motion_vq" or "talker".
        version: format version.
        configs: config dataclasses by name ("vq", "audio", "predictor").
        normalizer: the motion normaliser.
        vocabulary: speakers and emotions the model knows.
        rig_id: id of the rig the training motion was made for (or None).
        provenance: data manifest hash, steps, metrics, command line, ...
        path: the file it was read from.
        complete: False when weights were left out (``inference_only``) and the model can only sample.
        head: the learned head motion net (:class:`probtalk.life.HeadNet`), None when the checkpoint
            has none (format 1, or shipped without ``--head``): takes then get the stochastic head only.
        bilabial: the lip seal's bilabial detector (:class:`probtalk.bilabial.BilabialNet`), None when the
            checkpoint has none (before format 3, or shipped without ``--bilabial``): audio-only takes are
            then not sealed.
        vowel: the seal's open-vowel detector (:class:`probtalk.vowels.VowelNet`), None when the checkpoint
            has none (before format 4, or shipped without ``--vowel``): audio-only takes then open only
            the open vowels of the words heard.
    """

    kind: str
    version: int
    configs: dict[str, Any]
    normalizer: Normalizer
    vocabulary: StyleVocabulary
    rig_id: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    complete: bool = True
    head: Any = None
    bilabial: Any = None
    vowel: Any = None


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as a JSON-able dict."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild config ``cls`` from a dict (unknown keys ignored, lists back to tuples)."""
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            continue
        if isinstance(value, list) and "tuple" in str(names[key].type):
            value = _tuples(value)
        kwargs[key] = value
    return cls(**kwargs)


def _tuples(value: Any) -> Any:
    """Lists (nested too) back to tuples."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list | tuple) else value


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Talker | MotionVQ,
    *,
    normalizer: Normalizer | None = None,
    vocabulary: StyleVocabulary | None = None,
    rig_id: str | None = None,
    provenance: dict[str, Any] | None = None,
    half: bool = False,
    inference_only: bool = False,
    head: Any = None,
    bilabial: Any = None,
    vowel: Any = None,
) -> Path:
    """Write ``model`` to one file atomically and return its path.

    Args:
        path: target file (``.pt``).
        model: a :class:`Talker` or a stage-1 :class:`MotionVQ`.
        normalizer: motion statistics (a Talker carries its own).
        vocabulary: speakers/emotions (a Talker carries its own).
        rig_id: the rig the training data was made for.
        provenance: JSON-able facts about training (manifest hash, steps, metrics, command).
        half: store float tensors as float16 (half the size; restored to float32 on load).
        inference_only: Talker only: leave out the stage-1 encoder and frozen pretrained HuBERT weights.
        head: Talker only: a :class:`probtalk.life.HeadNet` stored as the optional ``head`` part
            (its arrays as float32 tensors, its config and provenance as JSON text).
        bilabial: Talker only: a :class:`probtalk.bilabial.BilabialNet` stored as the optional
            ``bilabial`` part, the same way.
        vowel: Talker only: a :class:`probtalk.vowels.VowelNet` stored as the optional ``vowel`` part,
            the same way.
    """
    if isinstance(model, Talker):
        kind = KIND_TALKER
        configs = {
            "vq": config_to_dict(model.vq.config),
            "audio": config_to_dict(model.audio_encoder.config),
            "predictor": config_to_dict(model.predictor.config),
        }
        normalizer = model.normalizer
        vocabulary = model.vocabulary
        state = {k: v for k, v in model.state_dict().items() if not k.startswith("normalizer.")}
        if inference_only:
            state = {k: v for k, v in state.items() if not k.startswith(VQ_ENCODER_PREFIXES)}
            if model.audio_encoder.config.pretrained is not None:
                frozen = {f"audio_encoder.{n}" for n, p in model.audio_encoder.named_parameters() if not p.requires_grad}
                state = {k: v for k, v in state.items() if k not in frozen}
    elif isinstance(model, MotionVQ):
        kind = KIND_VQ
        configs = {"vq": config_to_dict(model.config)}
        state = dict(model.state_dict())
    else:
        raise TypeError(f"cannot checkpoint a {type(model).__name__}")
    normalizer = normalizer or Normalizer()
    vocabulary = vocabulary or StyleVocabulary()

    def store(t: torch.Tensor) -> torch.Tensor:
        t = t.detach().cpu()
        return t.half() if half and t.is_floating_point() else t.clone()

    payload = {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION,
        "kind": kind,
        "configs_json": json.dumps(configs),
        "state_dict": {k: store(v) for k, v in state.items()},
        "normalizer": {"mean": normalizer.mean.detach().cpu().float(), "std": normalizer.std.detach().cpu().float()},
        "vocabulary": {"speakers": list(vocabulary.speakers), "emotions": list(vocabulary.emotions)},
        "rig_id": rig_id,
        "provenance_json": json.dumps(provenance or {}, default=str),
        "inference_only": bool(inference_only),
    }
    for name, net in (("head", head), ("bilabial", bilabial), ("vowel", vowel)):
        if net is None:
            continue
        if kind != KIND_TALKER:
            raise TypeError(f"only a talker checkpoint carries a {net.WHAT}")
        arrays = net.to_arrays()
        payload[name] = {
            "config_json": str(arrays["config_json"]), "provenance_json": str(arrays["provenance_json"]),
            "version": int(arrays["version"]),
            "weights": {k: torch.from_numpy(v.copy()) for k, v in arrays.items() if v.dtype == "float32"},
        }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, validated for format and version.

    Raises:
        CheckpointError: missing, unreadable, corrupt or not a probtalk checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} not found; check the path or train one with 'probtalk train'")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files; the error says it all
            warnings.simplefilter("ignore", UserWarning)
            data = torch.load(p, map_location=map_location, weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {p} ({exc.strerror or type(exc).__name__}); check the file") from None
    except _LOAD_ERRORS as exc:
        raise CheckpointError(f"checkpoint {p} {_load_failure(exc)}; re-download or retrain it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_TAG:
        raise CheckpointError(f"{p} is not a probtalk checkpoint (no '{FORMAT_TAG}' tag); pass a file written by probtalk")
    version = data.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{p} has checkpoint format version {version}; this probtalk reads <= {FORMAT_VERSION}, upgrade probtalk")
    for key in ("kind", "configs_json", "state_dict", "normalizer", "vocabulary"):
        if key not in data:
            raise CheckpointError(f"checkpoint {p} is incomplete (no '{key}'); re-save it")
    return data


_LOAD_ERRORS = (
    RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, KeyError, IndexError,
    TypeError, AttributeError, UnicodeError, struct.error, OverflowError, MemoryError, RecursionError,
)


def _load_failure(exc: BaseException) -> str:
    """Why ``torch.load`` failed, in a few whole words."""
    text = " ".join(str(exc).split())
    refused = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", text)
    if refused:
        return f"is not a plain checkpoint: it holds a Python object ({refused.group(1)}) that probtalk refuses to unpickle"
    if "Weights only load failed" in text:
        return "is corrupt or not a torch checkpoint (it holds data that torch.load(weights_only=True) refuses)"
    if "zip archive" in text or isinstance(exc, (zipfile.BadZipFile, EOFError)):
        return "is corrupt or truncated (damaged archive)"
    detail = textwrap.shorten(text, 80, placeholder=" ...") if text else ""
    return f"is corrupt or not a torch file ({type(exc).__name__}{': ' + detail if detail else ''})"


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    hubert_path: str | os.PathLike[str] | None = None,
) -> tuple[Talker | MotionVQ, CheckpointInfo]:
    """Rebuild the model stored in ``path`` (weights loaded, eval mode) and describe it.

    Args:
        path: a file written by :func:`save_checkpoint`.
        map_location: device for the tensors.
        hubert_path: the pretrained HuBERT folder, needed only for inference-only
            checkpoints that left frozen HuBERT weights out (default: the folder recorded at training).

    Raises:
        CheckpointError: missing, corrupt, wrong format, or weights that do not fit the configs.
    """
    data = read_checkpoint(path, map_location)
    p = Path(path)
    try:
        configs_raw = json.loads(data["configs_json"])
        provenance = json.loads(data.get("provenance_json") or "{}")
        vq_config = config_from_dict(MotionVQConfig, configs_raw["vq"])
        normalizer = Normalizer(data["normalizer"]["mean"], data["normalizer"]["std"])
        vocab = StyleVocabulary(tuple(data["vocabulary"]["speakers"]), tuple(data["vocabulary"]["emotions"]))
        configs: dict[str, Any] = {"vq": vq_config}
        if data["kind"] == KIND_VQ:
            model: Talker | MotionVQ = MotionVQ(vq_config)
        elif data["kind"] == KIND_TALKER:
            audio_config = config_from_dict(AudioEncoderConfig, configs_raw["audio"])
            pred_config = config_from_dict(StylePredictorConfig, configs_raw["predictor"])
            configs.update(audio=audio_config, predictor=pred_config)
            encoder = _audio_encoder_for(audio_config, data, hubert_path)
            model = Talker(encoder, StylePredictor(pred_config), MotionVQ(vq_config), normalizer, vocab)
        else:
            raise CheckpointError(f"checkpoint {p} holds an unknown model kind '{data['kind']}'")
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {p} has unreadable configs ({exc}); re-save it") from None
    if not isinstance(data["state_dict"], dict):
        raise CheckpointError(f"checkpoint {p} has no usable state dict; re-save it")
    _load_state(model, data["state_dict"], p, _allowed_missing(model, data))
    model.eval()
    info = CheckpointInfo(
        kind=data["kind"],
        version=data["version"],
        configs=configs,
        normalizer=normalizer,
        vocabulary=vocab,
        rig_id=data.get("rig_id"),
        provenance=provenance,
        path=p,
        complete=not data.get("inference_only", False),
        head=_net_part(data.get("head"), p, "head"),
        bilabial=_net_part(data.get("bilabial"), p, "bilabial"),
        vowel=_net_part(data.get("vowel"), p, "vowel"),
    )
    return model.to(map_location), info


def _net_part(part: Any, path: Path, name: str) -> Any:
    """The optional ``head`` (:class:`probtalk.life.HeadNet`), ``bilabial``
    (:class:`probtalk.bilabial.BilabialNet`) or ``vowel`` (:class:`probtalk.vowels.VowelNet`) part; None
    when absent."""
    if part is None:
        return None
    if name == "head":
        from probtalk.life.head import HeadNet as kind
    elif name == "vowel":
        from probtalk.vowels import VowelNet as kind
    else:
        from probtalk.bilabial import BilabialNet as kind

    if not isinstance(part, dict) or not isinstance(part.get("weights"), dict):
        raise CheckpointError(f"checkpoint {path} has an unreadable {name} part; re-ship it")
    arrays = {k: v.float().numpy() for k, v in part["weights"].items() if isinstance(v, torch.Tensor)}
    arrays.update(format=kind.FORMAT, version=part.get("version", 1), config_json=part.get("config_json", ""),
                  provenance_json=part.get("provenance_json", "{}"))
    return kind.from_arrays(arrays, f"the {name} part of checkpoint {path}")


def _hubert_left_out(config: AudioEncoderConfig, data: dict[str, Any]) -> bool:
    """True when an inference-only checkpoint left its frozen pretrained HuBERT weights out."""
    has_audio = any(k.startswith("audio_encoder.hubert.feature_extractor.") for k in data["state_dict"])
    return config.pretrained is not None and not has_audio


def _audio_encoder_for(config: AudioEncoderConfig, data: dict[str, Any], hubert_path: Any) -> AudioEncoder:
    if _hubert_left_out(config, data):
        folder = hubert_path or config.pretrained
        try:
            enc = AudioEncoder.from_pretrained(folder, config.freeze, config.frozen_layers)
        except CheckpointError as exc:
            raise CheckpointError(f"this checkpoint needs its pretrained HuBERT: {exc} (pass hubert_path)") from None
        return enc
    return AudioEncoder(config)


def _allowed_missing(model: nn.Module, data: dict[str, Any]) -> set[str]:
    """Keys an ``inference_only`` checkpoint leaves out on purpose (see :func:`save_checkpoint`)."""
    if not (isinstance(model, Talker) and data.get("inference_only")):
        return set()
    allowed = {k for k in model.state_dict() if k.startswith(VQ_ENCODER_PREFIXES)}
    if _hubert_left_out(model.audio_encoder.config, data):
        # the frozen HuBERT weights were left out and have just been re-read from the pretrained folder
        allowed |= {f"audio_encoder.{n}" for n, p in model.audio_encoder.named_parameters() if not p.requires_grad}
    return allowed


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], path: Path, allowed_missing: set[str]) -> None:
    """Load ``state`` into ``model``; every weight must be there except ``allowed_missing``, and nothing else."""
    own = model.state_dict()
    if isinstance(model, Talker):
        own = {k: v for k, v in own.items() if not k.startswith("normalizer.")}  # restored from the normaliser entry
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint {path} has a state dict with non-tensor entries; re-save it")
    unexpected = sorted(set(state) - set(own))
    if unexpected:
        raise CheckpointError(
            f"checkpoint {path} holds weights its model does not have ({_some(unexpected)}); "
            "it was saved by another probtalk version or edited, re-save it"
        )
    missing = sorted(set(own) - set(state) - allowed_missing)
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {len(missing)} weights ({_some(missing)}); it is incomplete, re-download or retrain it"
        )
    mismatched = [k for k in sorted(state) if state[k].shape != own[k].shape]
    if mismatched:
        k = mismatched[0]
        raise CheckpointError(
            f"checkpoint {path} does not match its configs ({k} is {list(state[k].shape)}, "
            f"expected {list(own[k].shape)}{f' and {len(mismatched) - 1} more' if len(mismatched) > 1 else ''}); re-save it"
        )
    state = {k: v.to(own[k].dtype) if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=False)  # strict would demand the normaliser and the allowed omissions


def _some(keys: list[str], n: int = 3) -> str:
    """The first ``n`` keys, and how many more."""
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more
