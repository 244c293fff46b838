"""The two training stages on a corpus in the dataset layout: ``train_vq`` and ``train_predictor``."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from probtalk.errors import CheckpointError, DatasetError, InputError, RigError
from probtalk.flame.rig import Rig
from probtalk.layout import MOTION_EXPRESSION, MOTION_JAW
from probtalk.models.audio_encoder import AudioEncoder
from probtalk.models.checkpoint import VQ_ENCODER_PREFIXES, load_checkpoint, save_checkpoint
from probtalk.models.motion_vq import MotionVQ
from probtalk.models.style import Style, StyleVocabulary
from probtalk.models.style_predictor import StylePredictor
from probtalk.models.talker import Normalizer, Talker
from probtalk.train.augment import augment_batch, random_crop
from probtalk.train.config import TrainConfig
from probtalk.train.trainer import DistContext, Trainer, TrainStage, setup_distributed

if TYPE_CHECKING:
    from probtalk.data.dataset import Batch, MotionDataset, Sample

log = logging.getLogger(__name__)
TIMING_QUANTILE_CLIPS = 2000  # training clips whose timing tracks set the knot-to-score map


class _VQStep(nn.Module):
    """DDP-friendly wrapper: forward = stage-1 loss on normalised motion (plus lip contact when given)."""

    def __init__(self, vq: MotionVQ, normalizer: Normalizer, lip: nn.Module | None = None) -> None:
        super().__init__()
        self.vq, self.normalizer, self.lip = vq, normalizer, lip

    def forward(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        target = self.normalizer.normalize(motion) * mask[..., None].to(motion.dtype)
        return self.vq.loss(target, mask, self.lip)


def _init_from(talker: Talker, source: str) -> int:
    """Copy matching encoder/predictor weights from the Talker checkpoint ``source``; returns how many tensors."""
    if not source:
        return 0
    path = Path(__file__).resolve().parents[1] / "assets" / "default_model.pt" if source == "default" else Path(source)
    other, _ = load_checkpoint(path)
    if not isinstance(other, Talker):
        raise CheckpointError(f"init_from={source}: {path} is not a stage-2 (talker) checkpoint")
    copied = 0
    # The predictor's output layer maps into the stage-1 latent space: it carries over only
    # when the source was trained against the same motion VQ (a continued run). The codebook and
    # decoder define that space; the stage-1 encoder does not (an inference-only checkpoint, like
    # the embedded default, leaves it out and loads it freshly initialised).
    ours, src = ({k: v for k, v in m.vq.state_dict().items() if not f"vq.{k}".startswith(VQ_ENCODER_PREFIXES)}
                 for m in (talker, other))
    same_vq = ours.keys() == src.keys() and all(
        ours[k].shape == src[k].shape and torch.allclose(ours[k].float(), src[k].float(), rtol=1e-3, atol=1e-3) for k in ours)
    for name in ("audio_encoder", "predictor"):
        own = getattr(talker, name).state_dict()
        theirs = {k: v.float() for k, v in getattr(other, name).state_dict().items()
                  if k in own and v.shape == own[k].shape and (same_vq or not k.startswith("out."))}
        getattr(talker, name).load_state_dict(theirs, strict=False)
        log.info("%s: %d of %d tensors initialised from %s", name, len(theirs), len(own), path)
        copied += len(theirs)
    phone_in = talker.predictor.phone_in
    if phone_in is not None and getattr(other.predictor, "phone_in", None) is None:
        nn.init.zeros_(phone_in.weight)  # a source without phone input: start as the audio-only model
    return copied


def _lip_map(train: Any, clips: int, rig: Any) -> tuple[Any, Any] | None:
    """Fit the lip-contact map on the first ``clips`` training clips (None when off or without a rig)."""
    if clips <= 0:
        return None
    from probtalk.train.objective import fit_lip_map

    try:
        if rig is None:
            from probtalk.flame import load_rig

            rig = load_rig()
        step = max(1, len(train) // clips)
        motion = torch.cat([torch.from_numpy(train[i].motion[::2]) for i in range(0, len(train), step)][:clips])
        return fit_lip_map(motion.numpy(), rig)
    except (RigError, OSError, KeyError) as exc:
        log.warning("no lip-contact term (%s)", exc)
        return None


def _with_timing_quantiles(cfg: TrainConfig, train: MotionDataset) -> TrainConfig:
    """``cfg`` with ``predictor.timing_quantiles`` measured on the training clips' timing tracks
    (:func:`probtalk.train.objective.timing_quantiles`, up to :data:`TIMING_QUANTILE_CLIPS` clips spread over
    the split); unchanged without ``predictor.timing_tracks``. InputError when no training clip records them."""
    from probtalk.corpus.animator import TIMING_TRACKS
    from probtalk.data.dataset import load_clip_array
    from probtalk.train.objective import timing_quantiles

    names = cfg.predictor.timing_tracks
    if not names:
        return cfg
    paths = [train.root / "timing" / f"{k}.npy" for k in train.keyids]
    have = [p for p in paths if p.is_file()]
    log.info("timing channels (%s): %d of %d training clips record them; the rest get random draws",
             ", ".join(names), len(have), len(paths))
    if not have:
        raise InputError("predictor.timing_tracks is set but no training clip has timing/<keyid>.npy; regenerate the "
                         "corpus with 'probtalk data synth' (it re-animates and records the tracks) or leave it out")
    pick = have[:: max(1, len(have) // TIMING_QUANTILE_CLIPS)][:TIMING_QUANTILE_CLIPS]
    index = [TIMING_TRACKS.index(n) for n in names]
    tracks = []
    for path in pick:
        clip = load_clip_array(path)
        if clip.ndim != 2 or clip.shape[1] != len(TIMING_TRACKS) or clip.dtype.kind != "f" or not np.isfinite(clip).all():
            raise DatasetError(f"{path} holds {list(clip.shape)} {clip.dtype} values, not {len(TIMING_TRACKS)} finite "
                               "timing tracks per frame; regenerate the clip")
        tracks.append(clip[:, index])
    table = timing_quantiles(tracks, cfg.predictor.noise_rate, train.source_fps)
    return dataclasses.replace(cfg, predictor=dataclasses.replace(cfg.predictor, timing_quantiles=table))


def _log_performance(train: MotionDataset, habits: tuple[str, ...]) -> None:
    """Say how many training clips record the performance the take channels are trained on."""
    if not habits:
        return
    have = sum((train.root / "performance" / f"{k}.json").is_file() for k in train.keyids)
    log.info("performance channels (%s): %d of %d training clips record them; the rest get random draws",
             ", ".join(habits), have, len(train.keyids))
    if have == 0:
        log.warning("no training clip has performance/<keyid>.json; the take channels learn as plain noise "
                    "(regenerate the corpus with 'probtalk data synth' to record performances)")


def _datasets(root: str | os.PathLike[str], fps: float) -> tuple[MotionDataset, MotionDataset | None]:
    from probtalk.data.dataset import MotionDataset

    train = MotionDataset(root, "train", fps=fps)
    # The style vocabulary holds only speakers the model will see: a held-out voice must
    # fall back to the learned average speaker, not to an embedding that was never trained.
    seen = set(train.speakers)
    if set(train.speaker_vocab) - seen:
        train = MotionDataset(root, "train", fps=fps, speaker_vocab=[s for s in train.speaker_vocab if s in seen])
    try:
        val = MotionDataset(root, "val", fps=fps, speaker_vocab=train.speaker_vocab)
    except DatasetError as exc:
        log.warning("no validation split (%s); validating on nothing", exc)
        val = None
    return train, val


def _collate(samples: list[Sample]) -> Batch:
    from probtalk.data.dataset import collate

    return collate(samples)


def _manifest_hash(root: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    for name in ("manifest.json", "splits/train", "splits/val"):
        p = Path(root) / name
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


class _LipError:
    """Validation LVE (:func:`probtalk.eval.metrics.lve`) of raw motion, posed through a FlameLayer."""

    def __init__(self, rig: Rig, device: torch.device) -> None:
        from probtalk.flame.layer import FlameLayer

        self.layer = FlameLayer(rig).to(device)
        self.lips = torch.as_tensor(rig.region("lips"), dtype=torch.long, device=device)

    def __call__(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
        """pred/target raw motion [B, T, 53], mask [B, T] -> mean LVE (m^2) over valid frames."""
        from probtalk.eval.metrics import lve

        p, t = pred[mask].float(), target[mask].float()
        vp = self.layer(expression=p[:, MOTION_EXPRESSION], jaw_pose=p[:, MOTION_JAW])[:, self.lips]
        vt = self.layer(expression=t[:, MOTION_EXPRESSION], jaw_pose=t[:, MOTION_JAW])[:, self.lips]
        return lve(vp, vt, np.arange(vp.shape[1]))  # the vertices are the lips already


def _lip_error(rig: Rig | None, device: torch.device) -> tuple[_LipError | None, str | None]:
    try:
        if rig is None:
            from probtalk.flame import load_rig

            rig = load_rig()
        return _LipError(rig, device), rig.rig_id()
    except (RigError, OSError) as exc:
        log.warning("no rig for LVE (%s); validation reports losses only", exc)
        return None, None


def _provenance(root: str | os.PathLike[str], config: TrainConfig, extra: dict[str, Any]) -> dict[str, Any]:
    import dataclasses

    return {"data": str(root), "data_manifest_sha256": _manifest_hash(root), "command": " ".join(sys.argv),
            "config": dataclasses.asdict(config), **extra}


def fit_normalizer(dataset: MotionDataset, max_clips: int = 0) -> Normalizer:
    """Per-feature mean/std of the motion of ``dataset`` (the first ``max_clips`` clips, 0 = all)."""
    n = len(dataset) if max_clips <= 0 else min(max_clips, len(dataset))
    motion = torch.cat([torch.from_numpy(dataset[i].motion) for i in range(n)])
    return Normalizer.fit(motion)


def train_vq(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    rig: Rig | None = None,
    progress: bool = True,
) -> tuple[MotionVQ, Normalizer, dict[str, float]]:
    """Stage 1: train the motion VQ-VAE on ``data``'s train split; checkpoints in ``out``.

    Returns the trained model, its normaliser and the last validation metrics (rank 0).
    """
    cfg = config or TrainConfig()
    ctx = setup_distributed(cfg.device)
    try:
        torch.manual_seed(cfg.seed)
        train, val = _datasets(data, cfg.fps)
        normalizer = fit_normalizer(train, cfg.normalizer_clips)
        vq = MotionVQ(cfg.vq)
        lve, rig_id = _lip_error(rig, ctx.device)
        vocab = StyleVocabulary(tuple(train.speaker_vocab))
        lip = None
        if cfg.vq.weight_lip > 0:
            from probtalk.train.objective import LipContact

            lip_map = _lip_map(train, cfg.lip_map_clips, rig)
            lip = LipContact(normalizer, lip_map) if lip_map is not None else None
        step_module = _VQStep(vq, normalizer, lip)

        def step_fn(module: nn.Module, batch: Batch, gen: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            batch = random_crop(batch, cfg.max_seconds, cfg.fps, gen).to(ctx.device)
            return module(batch.motion, batch.motion_mask)

        def val_fn(module: nn.Module, batch: Batch) -> dict[str, float]:
            loss, terms = module(batch.motion, batch.motion_mask)
            row = {"loss": float(loss), **{k: float(v) for k, v in terms.items()}}
            if lve is not None:
                target = normalizer.normalize(batch.motion) * batch.motion_mask[..., None]
                recon = normalizer.denormalize(vq(target, batch.motion_mask).motion)
                row["lve"] = lve(recon, batch.motion, batch.motion_mask)
            return row

        def save_fn(path: Path, prov: dict[str, Any]) -> None:
            save_checkpoint(path, vq, normalizer=normalizer, vocabulary=vocab, rig_id=rig_id,
                            provenance=_provenance(data, cfg, prov))

        stage = TrainStage(step_module, [p for p in vq.parameters() if p.requires_grad], step_fn, val_fn, save_fn,
                           ["expression", "jaw", "quant", "lip", "perplexity", "lve"])
        trainer = Trainer(stage, config=cfg, out_dir=Path(out), train_data=train, val_data=val, collate_fn=_collate,
                          ctx=ctx, progress=progress)
        metrics = trainer.fit(resume=resume)
        return vq.eval(), normalizer, metrics
    finally:
        _teardown(ctx)


def _teardown(ctx: DistContext) -> None:
    # The process group joined from torchrun's environment is kept for the life of the process:
    # destroying and re-creating it on the same MASTER_PORT (stage 1 then stage 2 in one script)
    # hangs in the rendezvous. Only wait for every rank to finish this stage.
    if ctx.distributed:
        torch.distributed.barrier()


def build_talker(vq_path: str | os.PathLike[str], cfg: TrainConfig, speakers: tuple[str, ...],
                 hubert: str | os.PathLike[str] | None = None) -> Talker:
    """A fresh stage-2 Talker around the stage-1 checkpoint ``vq_path`` (frozen), sized from ``cfg``."""
    import dataclasses

    vq, info = load_checkpoint(vq_path)
    if not isinstance(vq, MotionVQ):
        raise CheckpointError(f"{vq_path} holds a {info.kind} model; pass a stage-1 checkpoint (runs/vq/last.pt)")
    if hubert is not None:
        encoder = AudioEncoder.from_pretrained(hubert, cfg.audio.freeze, cfg.audio.frozen_layers)
    else:
        encoder = AudioEncoder.from_config(cfg.audio)
    pcfg = dataclasses.replace(cfg.predictor, audio_dim=encoder.out_dim, latent_dim=vq.config.latent_dim,
                               quant_factor=vq.config.quant_factor, num_speakers=len(speakers))
    return Talker(encoder, StylePredictor(pcfg), vq, info.normalizer, StyleVocabulary(speakers))


def train_predictor(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    vq_checkpoint: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    hubert: str | os.PathLike[str] | None = None,
    resume: bool = False,
    rig: Rig | None = None,
    progress: bool = True,
) -> tuple[Talker, dict[str, float]]:
    """Stage 2: train audio encoder + style predictor against the frozen stage-1 model.

    Returns the trained :class:`Talker` and the last validation metrics (rank 0).
    """
    cfg = config or TrainConfig()
    ctx = setup_distributed(cfg.device)
    try:
        torch.manual_seed(cfg.seed)
        train, val = _datasets(data, cfg.fps)
        cfg = _with_timing_quantiles(cfg, train)
        talker = build_talker(vq_checkpoint, cfg, tuple(train.speaker_vocab), hubert)
        if hubert is None and not (resume and (Path(out) / "train_state.pt").is_file()):
            _init_from(talker, cfg.init_from)
        _log_performance(train, cfg.predictor.performance_habits)
        lve, rig_id = _lip_error(rig, ctx.device)
        from probtalk.train.objective import StageTwoObjective

        step_module = StageTwoObjective(talker, _lip_map(train, cfg.lip_map_clips, rig) if
                                        cfg.predictor.weight_lip > 0 else None, cfg.fps)

        def step_fn(module: nn.Module, batch: Batch, gen: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            batch = random_crop(batch, cfg.max_seconds, cfg.fps, gen)
            batch = augment_batch(batch, cfg.augment, cfg.fps, gen).to(ctx.device)
            return module(batch.audio, batch.audio_lengths, batch.motion, batch.motion_mask,
                          batch.speaker_index, batch.emotion, batch.intensity, batch.phones, batch.performance,
                          batch.timing, batch.timed)

        def val_fn(module: nn.Module, batch: Batch) -> dict[str, float]:
            loss, terms = module(batch.audio, batch.audio_lengths, batch.motion, batch.motion_mask,
                                 batch.speaker_index, batch.emotion, batch.intensity, batch.phones,
                                 batch.performance, batch.timing, batch.timed)
            row = {"loss": float(loss), **{k: float(v) for k, v in terms.items()}}
            if lve is not None:
                style = Style.from_indices(batch.speaker_index, batch.emotion, batch.intensity)
                pred, _ = talker.sample(batch.audio, batch.audio_lengths, style, batch.lengths, temperature=None,
                                        fps=cfg.fps)
                row["lve"] = lve(pred, batch.motion, batch.motion_mask)
                if talker.uses_phones and batch.phones is not None:
                    pred, _ = talker.sample(batch.audio, batch.audio_lengths, style, batch.lengths, temperature=None,
                                            fps=cfg.fps, phones=batch.phones)
                    row["lve_text"] = lve(pred, batch.motion, batch.motion_mask)
            return row

        def save_fn(path: Path, prov: dict[str, Any]) -> None:
            save_checkpoint(path, talker, rig_id=rig_id,
                            provenance=_provenance(data, cfg, {**prov, "vq_checkpoint": str(vq_checkpoint)}))

        params = [p for p in step_module.parameters() if p.requires_grad]
        stage = TrainStage(step_module, params, step_fn, val_fn, save_fn,
                           ["latent", "expression", "jaw", "phone", "lip", "spread", "kl", "lve", "lve_text"])
        trainer = Trainer(stage, config=cfg, out_dir=Path(out), train_data=train, val_data=val, collate_fn=_collate,
                          ctx=ctx, progress=progress)
        metrics = trainer.fit(resume=resume)
        return talker.eval(), metrics
    finally:
        _teardown(ctx)
