"""ONNX export of a trained Talker: the encoder graph, the decoder graph and a JSON description.

``export_onnx(checkpoint, folder)`` writes

* ``encoder.onnx``: audio [1, N] float32 16 kHz, num_frames int64 [],
  speaker int64 [1], emotion float32 [1, E], intensity float32 [1], and for
  models that have them phones int64 [1, num_frames] (transcript phone
  tokens) and noise float32 [R, num_frames, C] (per-take noise)
  -> latents [R, T', D], distances [R, T', K] (squared L2 to every code;
  R = noise rows, 1 without noise);
* ``decoder.onnx``: codes int64 [B, T'], num_frames int64 [] -> motion
  float32 [B, num_frames, 53] (raw FLAME expression 0-49 | jaw pose, the
  normaliser is inside the graph);
* ``probtalk_onnx.json``: fps, sizes, normaliser, style vocabulary, the
  sampling rule and the sha256 of the checkpoint it came from.

Weights that are exact in float16 (all of them for a checkpoint saved with
``half=True``) are stored as float16 and cast back in the graph: half the size,
the same numbers. Runs with onnxruntime, Unity Sentis or Unreal NNE
(opset 17); docs/realtime.md describes how an engine drives the two graphs.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from probtalk.errors import CheckpointError, MissingExtraError
from probtalk.io import atomic_path
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS, MOTION_DIM, MOTION_EXPRESSION, MOTION_JAW
from probtalk.options import DEFAULT_VARIATION
from probtalk.runtime.backend import (
    BILABIAL_FILE,
    DECODER_FILE,
    ENCODER_FILE,
    HEAD_FILE,
    META_FILE,
    ONNX_FORMAT,
    ONNX_FORMAT_VERSION,
    VOWEL_FILE,
    file_sha256,
)
from probtalk.runtime.sampling import __doc__ as SAMPLING_RULE
from probtalk.runtime.torch_backend import DecoderGraph, EncoderGraph

logger = logging.getLogger(__name__)

OPSET = 17


def export_onnx(checkpoint: str | os.PathLike[str], folder: str | os.PathLike[str], hubert: str | None = None) -> Path:
    """Export a Talker checkpoint as ONNX graphs plus ``probtalk_onnx.json`` into ``folder``.

    Args:
        checkpoint: a stage-2 (talker) checkpoint file.
        folder: output folder (created if missing; the three files are replaced atomically).
        hubert: pretrained HuBERT folder for checkpoints that left its frozen weights out.

    Raises:
        CheckpointError: not a talker checkpoint, or a frame rate the graphs do not support.
        MissingExtraError: the ``onnx`` package is not installed.
    """
    from probtalk.models.checkpoint import load_checkpoint

    try:
        import onnx
    except ImportError:
        raise MissingExtraError("ONNX export", "onnx", "the onnx package is missing") from None
    talker, info = load_checkpoint(checkpoint, map_location="cpu", hubert_path=hubert)
    if info.kind != "talker":
        raise CheckpointError(f"{checkpoint} is a stage-1 motion VQ checkpoint; export a predictor checkpoint")
    prov = info.provenance
    fps = float(prov.get("fps") or prov.get("config", {}).get("fps") or DATASET_FPS)
    if abs(fps - DATASET_FPS) > 1e-6:
        raise CheckpointError(f"ONNX export supports {DATASET_FPS:g} fps models; this one runs at {fps:g} fps")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    talker.eval()
    encoder, decoder = EncoderGraph(talker).eval(), DecoderGraph(talker).eval()
    frames = 50
    audio = torch.zeros(1, frames * int(AUDIO_SAMPLE_RATE / fps))
    audio[0, ::7] = 0.1  # not silent, so normalisation stays finite while tracing
    style = talker.vocabulary.make("neutral", 1.0, None)
    vq = talker.vq.config
    codes = torch.zeros(1, -(-frames // 2**vq.quant_factor), dtype=torch.long)
    enc_args: tuple[torch.Tensor, ...] = (audio, torch.tensor(frames), style.speaker, style.emotion, style.intensity)
    dynamic: dict[str, dict[int, str]] = {"audio": {1: "samples"}, "latents": {1: "latents"}, "distances": {1: "latents"}}
    if encoder.phone_input:
        enc_args += ((torch.arange(frames) % 5)[None],)  # example values; the trace holds for any
        dynamic["phones"] = {1: "frames"}
    if encoder.noise_dim:
        # Two rows, so the take axis stays symbolic (fixed example values: the global RNG is left alone).
        enc_args += (torch.linspace(-1.0, 1.0, 2 * frames * encoder.noise_dim).reshape(2, frames, -1),)
        dynamic.update(noise={0: "takes", 1: "frames"}, latents={0: "takes", 1: "latents"},
                       distances={0: "takes", 1: "latents"})
    with tempfile.TemporaryDirectory() as tmp:
        enc_tmp, dec_tmp = Path(tmp) / ENCODER_FILE, Path(tmp) / DECODER_FILE
        _export(encoder, enc_args, enc_tmp, list(encoder.input_names), ["latents", "distances"], dynamic)
        _export(
            decoder, (codes, torch.tensor(frames)), dec_tmp, ["codes", "num_frames"], ["motion"],
            {"codes": {0: "takes", 1: "latents"}, "motion": {0: "takes", 1: "frames"}},
        )
        for src, name in ((enc_tmp, ENCODER_FILE), (dec_tmp, DECODER_FILE)):
            model = _halve_initializers(onnx.load(str(src)))
            with atomic_path(folder / name) as out:
                onnx.save(model, str(out))
    meta = describe(talker, info, fps, file_sha256(checkpoint), encoder.input_names)
    # The head net and the bilabial and open-vowel detectors run in numpy beside the graphs.
    for key, net, name in (("head", info.head, HEAD_FILE), ("bilabial", info.bilabial, BILABIAL_FILE),
                           ("vowel", info.vowel, VOWEL_FILE)):
        if net is not None:
            net.save(folder / name)
            meta[key] = name
        elif (folder / name).is_file():
            (folder / name).unlink()  # a net of an earlier export does not belong to this model
    with atomic_path(folder / META_FILE) as out:
        Path(out).write_text(json.dumps(meta, indent=1) + "\n")
    logger.info("exported %s to %s", checkpoint, folder)
    return folder


def describe(
    talker: Any, info: Any, fps: float, checkpoint_sha256: str, encoder_inputs: tuple[str, ...] = EncoderGraph.BASE_INPUTS
) -> dict[str, Any]:
    """The JSON that tells an engine how to run the two graphs."""
    from probtalk.corpus.phones import PHONES

    vq = talker.vq.config
    pcfg = talker.predictor.config
    optional = [name for name in encoder_inputs if name not in EncoderGraph.BASE_INPUTS]
    takes = len(pcfg.performance_habits) if "noise" in optional else 0
    memory = float(pcfg.noise_memory) if "noise" in optional else 0.0
    spread = list(talker.predictor.habit_spread) if takes else []
    newer = memory or any(s != 1.0 for s in spread)
    return {
        "format": ONNX_FORMAT,
        "version": (ONNX_FORMAT_VERSION if newer else 3 if takes else 2) if optional else 1,
        "opset": OPSET,
        "encoder": ENCODER_FILE,
        "decoder": DECODER_FILE,
        "encoder_inputs": list(encoder_inputs),
        "phones": {
            "tokens": ["<none>", *PHONES],
            "rule": "per frame, the ARPAbet phone (no stress digit) at the frame's centre time from a forced "
            "alignment of the transcript; token 0 where none is known",
        } if "phones" in optional else None,
        "noise": {
            "dim": int(pcfg.noise_dim),
            "rate": float(pcfg.noise_rate),
            "take": takes,
            "performance": list(pcfg.performance_habits),
            "memory": memory,
            "spread": spread,
            "rule": "see sampling_rule (noise knots from (seed, take), linear per frame, scale min(1, temperature/0.2); "
            "the first 'take' channels hold knot 0's value times the variation option and the habit's spread, clipped "
            "to -3..3, at every knot; "
            "with 'memory' m > 0 the others are the 32-tap filter m**l of the knot's normal and the 31 before it)",
        } if "noise" in optional else None,
        "checkpoint_sha256": checkpoint_sha256,
        "rig": info.rig_id,
        "sample_rate": AUDIO_SAMPLE_RATE,
        "fps": fps,
        "frames_per_code": 2**vq.quant_factor,
        "num_codes": vq.num_codes,
        "latent_dim": vq.latent_dim,
        "motion_dim": MOTION_DIM,
        "motion_layout": {
            "expression": [MOTION_EXPRESSION.start, MOTION_EXPRESSION.stop],
            "jaw_pose": [MOTION_JAW.start, MOTION_JAW.stop],
        },
        "num_frames_rule": "round(samples * fps / sample_rate), at least 1",
        "normalizer": {
            "note": "already applied inside decoder.onnx (motion = decoder_output); listed for engines that want normalised motion",
            "mean": [round(float(v), 7) for v in talker.normalizer.mean],
            "std": [round(float(v), 7) for v in talker.normalizer.std],
        },
        "vocabulary": {
            "speakers": list(info.vocabulary.speakers),
            "emotions": list(info.vocabulary.emotions),
            "speaker_rule": "index into speakers, or -1 for the average speaker",
            "emotion_rule": "weights in the order of emotions, non-negative, summing to 1",
            "intensity_rule": "0 low, 1 medium, 2 high; fractions interpolate",
        },
        "defaults": {"temperature": 0.2, "variation": DEFAULT_VARIATION, "top_k": None, "window_seconds": 20.0,
                     "overlap_seconds": 1.0},
        "sampling_rule": " ".join(SAMPLING_RULE.split()) if SAMPLING_RULE else "",
        "provenance": {k: info.provenance.get(k) for k in ("data", "data_manifest_sha256", "steps") if k in info.provenance},
    }


def _export(
    module: torch.nn.Module, args: tuple[torch.Tensor, ...], path: Path, inputs: list[str], outputs: list[str],
    dynamic: dict[str, dict[int, str]],
) -> None:
    import warnings

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on constant folding and shape inference
            torch.onnx.export(
                module, args, str(path), dynamo=False, opset_version=OPSET, input_names=inputs,
                output_names=outputs, dynamic_axes=dynamic, do_constant_folding=True,
            )
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def _halve_initializers(model: Any) -> Any:
    """Store float32 weights that are exact in float16 as float16 plus a Cast (same values, half the bytes)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != 1:  # FLOAT
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < 64:
            continue
        half = arr.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), arr):
            continue
        name = init.name
        graph.initializer.remove(init)
        graph.initializer.append(numpy_helper.from_array(half, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=1, name="cast_" + name))
    for i, node in enumerate(casts):
        graph.node.insert(i, node)
    return model
