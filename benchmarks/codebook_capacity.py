"""How much of the difference between two performances of a line the motion codebook can carry (issue 16).

Takes can only differ as much as stage 1's codebook and decoder let them. This fits each of two
corpus performances of a training utterance with the model's own codebook (one code per frame,
coordinate descent over the codes: each frame in turn takes the code that best reconstructs the
frames around it, for ``--sweeps`` passes) and prints, averaged over ``--pairs`` utterances (FLAME
vertices with shape and pose zero, as ``probtalk evaluate``):

* how far apart the two ground-truth performances are (mean per-vertex L2, mm) over the whole
  face, the upper face and the lips;
* how far apart the two fitted code sequences decode, over the same regions: what the codebook can
  carry of that difference (a search, so a lower bound);
* the fit's own error.

``--vq CKPT`` measures a stage-1 checkpoint (``probtalk train vq``) instead of the default model's
codebook and decoder, and adds what its own encoder passes: how far apart the two performances'
reconstructions (encode, quantise, decode) are, and their error.

Usage::

    python benchmarks/codebook_capacity.py --data datasets/synth6 [--pairs 3] [--frames 100] [--sweeps 3]
    python benchmarks/codebook_capacity.py --data datasets/synth6 --vq runs/vq/best.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import probtalk
from probtalk.errors import CheckpointError
from probtalk.eval.evaluate import motion_to_vertices
from probtalk.flame import FlameLayer, load_rig
from probtalk.layout import params_to_motion
from probtalk.models.checkpoint import load_checkpoint
from probtalk.models.motion_vq import MotionVQ

CONTEXT = 8  # frames either side a code is judged on


def fit_codes(vq: torch.nn.Module, target: torch.Tensor, sweeps: int) -> torch.Tensor:
    """Normalised motion [T, 53] -> the decoded normalised motion [T, 53] of the code sequence that fits it best."""
    frames = target.shape[0]
    codes = vq.config.num_codes
    mask = torch.ones(codes, frames, dtype=torch.bool)
    idx = torch.zeros(frames, dtype=torch.long)
    with torch.no_grad():
        for _ in range(sweeps):
            changed = 0
            for t in range(frames):
                trial = idx.repeat(codes, 1)
                trial[:, t] = torch.arange(codes)
                lo, hi = max(0, t - CONTEXT), min(frames, t + CONTEXT + 1)
                err = ((vq.decode_indices(trial, mask)[:, lo:hi] - target[lo:hi]) ** 2).mean(dim=(1, 2))
                best = int(err.argmin())
                changed += best != int(idx[t])
                idx[t] = best
            if not changed:
                break
        return vq.decode_indices(idx[None], mask[:1])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a corpus with several performances per utterance")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=100, help="frames of each utterance fitted")
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vq", default=None, help="a stage-1 checkpoint (default: the default model's codebook)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from corpus_diversity import Corpus

    if args.vq:
        try:
            vq, info = load_checkpoint(args.vq)
        except CheckpointError as exc:
            raise SystemExit(f"--vq: {exc}") from None
        if not isinstance(vq, MotionVQ):
            raise SystemExit(f"{args.vq} is not a stage-1 checkpoint; give one written by `probtalk train vq`")
        norm = info.normalizer
    else:
        talker = probtalk.load_model(None, device="cpu").backend.talker
        vq, norm = talker.vq, talker.normalizer
    rig = load_rig(None)
    layer = FlameLayer(rig)
    regions = {"face": slice(None), "upper face": np.asarray(rig.regions["upper_face"]),
               "lips": np.asarray(rig.regions["lips"])}
    corpus = Corpus(Path(args.data), False)
    train = set(corpus.train)
    base = [k for k in corpus.train if "-p" not in k and k + "-p2" in train]
    if not base:
        raise SystemExit(f"{args.data}: no training utterance has a second performance")
    picked = np.random.default_rng(args.seed).choice(base, min(args.pairs, len(base)), replace=False)

    def mm(a: np.ndarray, b: np.ndarray, region: slice | np.ndarray) -> float:
        return 1000.0 * float(np.linalg.norm(a - b, axis=-1)[:, region].mean())

    rows = []
    for keyid in picked:
        motions = [params_to_motion(corpus.motion(k)[0]) for k in (keyid, keyid + "-p2")]
        n = min(len(motions[0]), len(motions[1]), args.frames)
        truth = [motion_to_vertices(layer, m[:n]) for m in motions]
        fitted = [motion_to_vertices(layer, norm.denormalize(fit_codes(vq, norm.normalize(
            torch.as_tensor(m[:n], dtype=torch.float32)), args.sweeps)).numpy()) for m in motions]
        rows.append([mm(truth[0], truth[1], r) for r in regions.values()]
                    + [mm(fitted[0], fitted[1], r) for r in regions.values()]
                    + [float(np.mean([mm(t, f, r) for t, f in zip(truth, fitted, strict=True)])) for r in regions.values()])
        if args.vq:
            passed = [motion_to_vertices(layer, vq.reconstruct(m[:n], norm)) for m in motions]
            rows[-1] += ([mm(passed[0], passed[1], r) for r in regions.values()]
                         + [float(np.mean([mm(t, f, r) for t, f in zip(truth, passed, strict=True)]))
                            for r in regions.values()])
        print(f"{keyid}: " + " ".join(f"{x:.3f}" for x in rows[-1]), file=sys.stderr, flush=True)
    mean = np.mean(rows, axis=0)
    k = len(regions)
    print(f"{len(rows)} utterances, p1 against p2, {args.frames} frames at most (mm: " + " / ".join(regions) + ")")
    print("ground truth apart:     " + " / ".join(f"{x:.3f}" for x in mean[:k]))
    print("fitted codes apart:     " + " / ".join(f"{x:.3f}" for x in mean[k : 2 * k]))
    print("fit error (truth, fit): " + " / ".join(f"{x:.3f}" for x in mean[2 * k : 3 * k]))
    if args.vq:
        print("reconstructions apart:  " + " / ".join(f"{x:.3f}" for x in mean[3 * k : 4 * k]))
        print("reconstruction error:   " + " / ".join(f"{x:.3f}" for x in mean[4 * k :]))


if __name__ == "__main__":
    main()
