"""One plain PyTorch training loop shared by both stages.

AdamW, linear warm-up + cosine decay, gradient clipping, bf16 autocast on GPU,
periodic validation, checkpoint + resume (optimiser, scheduler, step, RNG),
a metrics CSV and a rich progress bar. Data-parallel under ``torchrun``
(DistributedSampler + DDP, gloo on CPU); only rank 0 writes files.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from probtalk.errors import CheckpointError, InputError
from probtalk.io import atomic_path, atomic_write_text, ensure_writable_dir
from probtalk.train.config import TrainConfig

log = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
LAST_FILE = "last.pt"
BEST_FILE = "best.pt"
METRICS_FILE = "metrics.csv"


@dataclass
class DistContext:
    """Process group facts: rank, world size, device, and whether we created the group."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "auto") -> DistContext:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, ...), if any."""
    want_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    # cuda:N picks the GPU of a single process; several processes take one GPU each, by local rank.
    index = int(device.split(":", 1)[1]) if ":" in device and world == 1 else local
    if want_cuda and not torch.cuda.is_available():
        raise InputError(f"device={device} but no CUDA GPU is visible to PyTorch; train with device=cpu (or auto)")
    if want_cuda and index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise InputError(f"GPU {index} does not exist: this machine has {count}; "
                         + ("start at most that many processes per machine, or train with device=cpu"
                            if world > 1 else f"use device=cuda:0 to cuda:{count - 1}"))
    if world > 1 and not (dist.is_available() and dist.is_initialized()):
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
        owns = True
    else:
        owns = False
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    if want_cuda:
        torch.cuda.set_device(index)
        dev = torch.device("cuda", index)
    else:
        dev = torch.device("cpu")
    return DistContext(rank, world, dev, owns)


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Multiplier of the peak LR at ``step``: linear warm-up, then cosine down to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class MetricsLog:
    """Rows of metrics kept in memory and rewritten atomically as ``metrics.csv``."""

    def __init__(self, path: Path, columns: list[str], enabled: bool) -> None:
        self.path, self.columns, self.enabled = path, columns, enabled
        self.rows: list[dict[str, Any]] = []

    def load(self, up_to_step: int) -> None:
        """Keep the rows of an earlier run up to ``up_to_step`` (for resume)."""
        if self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= up_to_step]

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})

    def flush(self) -> None:
        if not self.enabled:
            return
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buf.getvalue())


StepFn = Callable[[nn.Module, Any, torch.Generator], tuple[torch.Tensor, dict[str, torch.Tensor]]]
ValFn = Callable[[nn.Module, Any], dict[str, float]]
SaveFn = Callable[[Path, dict[str, Any]], None]


@dataclass
class TrainStage:
    """What one training stage plugs into the :class:`Trainer`.

    Attributes:
        module: the network whose ``forward`` returns ``(loss, terms)``; wrapped in DDP when distributed.
        params: the parameters to optimise (frozen ones left out).
        step_fn: (module, CPU batch, generator) -> (loss, terms); crops/augments with the generator and
            moves the batch to the device.
        val_fn: (unwrapped model, batch) -> summable metrics for one validation batch (loss, lve, ...).
        save_fn: writes the model checkpoint to a path, given provenance (steps, metrics).
        columns: metric names for the CSV.
    """

    module: nn.Module
    params: list[nn.Parameter]
    step_fn: StepFn
    val_fn: ValFn
    save_fn: SaveFn
    columns: list[str]


class Trainer:
    """Run ``config.steps`` optimiser steps of a :class:`TrainStage` over ``train_data``.

    Args:
        stage: the model and its step, validation and save functions.
        config: the run's :class:`TrainConfig`.
        out_dir: where checkpoints, ``train_state.pt`` and ``metrics.csv`` go (rank 0 only).
        train_data / val_data: map-style datasets of samples.
        collate_fn: samples -> batch.
        ctx: process group facts.
        progress: show a progress bar (rank 0 only).
    """

    def __init__(
        self,
        stage: TrainStage,
        *,
        config: TrainConfig,
        out_dir: Path,
        train_data: Any,
        val_data: Any | None,
        collate_fn: Callable[[list[Any]], Any],
        ctx: DistContext,
        progress: bool = True,
    ) -> None:
        module, params, columns = stage.module, stage.params, stage.columns
        self.config, self.ctx, self.out_dir = config, ctx, Path(out_dir)
        self.model = module.to(ctx.device)
        self.ddp: nn.Module = DistributedDataParallel(self.model) if ctx.distributed else self.model
        self.params = params
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, config.warmup_steps, config.steps, config.min_lr_ratio)
        )
        self.train_data, self.val_data, self.collate_fn = train_data, val_data, collate_fn
        self.step_fn, self.val_fn, self.save_fn = stage.step_fn, stage.val_fn, stage.save_fn
        self.step = 0
        self.best = math.inf
        self.last_val: dict[str, float] = {}
        self.progress = progress and ctx.is_main
        if ctx.is_main:
            ensure_writable_dir(self.out_dir)
        self.metrics = MetricsLog(self.out_dir / METRICS_FILE, ["step", "split", "loss", *columns, "lr"], ctx.is_main)

    # ------------------------------------------------------------------ data
    def _batches(self, start_step: int) -> Iterator[Any]:
        """Endless batches; the order depends only on (seed, epoch), so a resume continues it exactly."""
        cfg = self.config
        sampler = DistributedSampler(
            self.train_data, num_replicas=self.ctx.world_size, rank=self.ctx.rank, shuffle=True, seed=cfg.seed
        )
        per_epoch = max(1, math.ceil(len(sampler) / cfg.batch_size))
        epoch, skip = divmod(start_step, per_epoch)
        while True:
            sampler.set_epoch(epoch)
            order = list(iter(sampler))
            chunks = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)][skip:]
            loader = DataLoader(self.train_data, batch_sampler=chunks, collate_fn=self.collate_fn, num_workers=cfg.num_workers)
            yield from loader
            epoch, skip = epoch + 1, 0

    # ---------------------------------------------------------------- resume
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best": self.best,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }

    def resume(self) -> bool:
        """Load ``train_state.pt`` from ``out_dir`` if present; return whether it was."""
        path = self.out_dir / STATE_FILE
        if not path.is_file():
            return False
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["torch_rng"])
        except (RuntimeError, KeyError, OSError) as exc:
            raise CheckpointError(f"cannot resume from {path}: {str(exc).splitlines()[0]}; delete it or drop --resume") from None
        self.step, self.best = int(state["step"]), float(state["best"])
        self.metrics.load(self.step)
        log.info("resumed from %s at step %d", path, self.step)
        return True

    def _save(self) -> None:
        if not self.ctx.is_main:
            return
        prov = {"steps": self.step, "metrics": self.last_val}
        self.save_fn(self.out_dir / LAST_FILE, prov)
        with atomic_path(self.out_dir / STATE_FILE) as tmp:
            torch.save(self.state_dict(), tmp)
        self.metrics.flush()

    # ------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean of ``val_fn`` over the validation split (rank 0; others skip)."""
        if self.val_data is None or not self.ctx.is_main:
            return {}
        was = self.model.training
        self.model.eval()
        sums: dict[str, float] = {}
        n = 0
        loader = DataLoader(self.val_data, batch_size=self.config.batch_size, collate_fn=self.collate_fn)
        for i, batch in enumerate(loader):
            if self.config.val_batches and i >= self.config.val_batches:
                break
            for k, v in self.val_fn(self.model, batch.to(self.ctx.device)).items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n += 1
        self.model.train(was)
        out = {k: v / max(n, 1) for k, v in sums.items()}
        self.last_val = out
        self.metrics.add({"step": self.step, "split": "val", **out})
        if out.get("loss", math.inf) < self.best:
            self.best = out["loss"]
            self.save_fn(self.out_dir / BEST_FILE, {"steps": self.step, "metrics": out})
        return out

    # ------------------------------------------------------------------ loop
    def fit(self, resume: bool = False) -> dict[str, float]:
        """Train up to ``config.steps``; returns the last validation metrics (rank 0) or {}."""
        cfg = self.config
        if resume and not self.resume():
            log.warning("--resume: no %s in %s; training starts at step 0", STATE_FILE, self.out_dir)
        self.model.train()
        use_amp = cfg.amp and self.ctx.device.type == "cuda"
        batches = self._batches(self.step)
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"), TimeRemainingColumn(), disable=not self.progress,
        ) as bar:
            task = bar.add_task("train", total=cfg.steps, completed=self.step, info="")
            while self.step < cfg.steps:
                batch = next(batches)  # step_fn crops/augments on the CPU, then moves it to the device
                gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step * 101 + self.ctx.rank)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                    loss, terms = self.step_fn(self.ddp, batch, gen)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    row = {k: float(v.detach()) for k, v in terms.items()}
                    self.metrics.add({"step": self.step, "split": "train", "loss": float(loss.detach()), **row,
                                      "lr": self.scheduler.get_last_lr()[0]})
                    bar.update(task, info=f"loss {float(loss.detach()):.4f}")
                if cfg.val_every and self.step % cfg.val_every == 0 and self.step < cfg.steps:
                    self.validate()
                if cfg.save_every and self.step % cfg.save_every == 0 and self.step < cfg.steps:
                    self._save()
                bar.update(task, completed=self.step)
        val = self.validate()
        self._save()
        if self.ctx.distributed:
            dist.barrier()
        return val
