"""How much a corpus's performances of one utterance differ, and how its heads move.

    python benchmarks/corpus_diversity.py datasets/synth3 [--pairs 30] [--head-seconds 60]
    python benchmarks/corpus_diversity.py datasets/synth2 --reanimate   # today's animator on synth2's speech
    python benchmarks/corpus_diversity.py datasets/synth6 --sources     # what the performances' difference is made of

Prints, for ``--pairs`` random training utterances that have a second performance
(p1 vs p2, FLAME vertices with shape, neck and eyes zero, as ``probtalk evaluate``):

* GT performance diversity: mean per-vertex L2 between the two performances (mm),
  also over the rig's ``lips`` and ``upper_face`` regions;
* LVE between performances: max lip-vertex squared error per frame, averaged (m^2);
* lip-sync of those performances (closure at p/b/m midpoints, opening on open vowels);
* frame-to-frame vertex speed percentiles (mm per frame, mean over vertices) of the motion.

Then, over the first ``--head-seconds`` of training speech (clips concatenated), the
head-motion targets of issue 13: rotation std per axis (deg), frame-to-frame change std
(deg) and the Pearson r of head angular speed with the loudness envelope.

``--reanimate`` animates the clips from the corpus's wav and align files with the
current animator instead of reading param/ and neck/ (nothing is written).

``--sources`` also splits the two performances' difference by where it comes from: the second
performance re-animated with the first one's habits (``performance`` stream: articulation, jaw,
brows, smiles, ... as drawn once per take) but its own timing (``motion`` stream: which syllables
are stressed, gestures, smile episodes, drifts), and with its own habits but the first one's
timing. A model with performance channels is told the habits; the timing it has to sample.
It implies ``--reanimate`` (every take compared is the current animator's).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--pairs", type=int, default=30, help="utterances compared (p1 vs p2)")
    parser.add_argument("--head-seconds", type=float, default=60.0, help="speech used for the head-motion stats")
    parser.add_argument("--reanimate", action="store_true", help="animate from wav/align with the current code")
    parser.add_argument("--sources", action="store_true",
                        help="split the difference into the takes' habits and their timing (re-animates)")
    args = parser.parse_args()
    # --sources re-animates the takes it splits, so it compares them with takes of the same animator
    corpus = Corpus(args.corpus, args.reanimate or args.sources)
    performances(corpus, args.pairs, args.sources)
    head(corpus, args.head_seconds)


class Corpus:
    """Reads a clip's params/neck from disk or re-animates them from its speech."""

    def __init__(self, root: Path, reanimate: bool) -> None:
        self.root, self.reanimate = root, reanimate
        self.manifest = json.loads((root / "manifest.json").read_text())
        self.train = [k.strip() for k in (root / "splits" / "train").read_text().splitlines() if k.strip()]
        self._animator = None

    def speech(self, keyid: str) -> tuple[np.ndarray, dict]:
        from probtalk.corpus.synth import _read_speech

        return _read_speech(self.root, keyid)

    def motion(self, keyid: str, streams: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(params [T, 403], neck [T, 3] or None). ``streams``: re-animate with these random streams taken
        from other clips (:func:`probtalk.corpus.synth.animate_record`)."""
        if not self.reanimate and not streams:
            neck_path = self.root / "neck" / f"{keyid}.npy"
            neck = np.load(neck_path)[0] if neck_path.is_file() else None
            return np.load(self.root / "param" / f"{keyid}.npy")[0], neck
        from probtalk.corpus.synth import ClipJob, animate_record, default_animator
        from probtalk.corpus.voices import Voice  # noqa: F401  (ClipJob's type)

        if self._animator is None:
            self._animator = default_animator()
        audio, record = self.speech(keyid)

        class _V:  # animate_record needs only the speaker id of the voice
            speaker_id = record["speaker"]

        job = ClipJob(keyid, record["text"], _V(), record["emotion"], int(record["intensity"]),
                      int(self.manifest["seed"]), float(self.manifest["fps"]), int(record.get("performance", 1)))
        params, neck, _ = animate_record(job, audio, record, self._animator, streams)
        return params[0], neck[0]


def performances(corpus: Corpus, pairs: int, sources: bool = False) -> None:
    import torch

    from probtalk.eval.evaluate import motion_to_vertices
    from probtalk.eval.lipsync import lip_gap, lipsync_counts
    from probtalk.eval.metrics import lve
    from probtalk.flame import FlameLayer, load_rig
    from probtalk.layout import params_to_motion

    train = set(corpus.train)
    base = [k for k in corpus.train if "-p" not in k and k + "-p2" in train]
    if not base:
        print("no training utterance has a second performance")
        return
    pick = list(np.random.default_rng(0).choice(base, min(pairs, len(base)), replace=False))
    rig = load_rig(None)
    layer = FlameLayer(rig)
    lips = np.asarray(rig.regions["lips"])
    upper = np.asarray(rig.regions["upper_face"])
    div = {"all": [], "lips": [], "upper_face": []}
    # p2 re-animated with p1's timing (its own habits), and with p1's habits (its own timing)
    split = {"habits": {k: [] for k in div}, "timing": {k: [] for k in div}}
    lves, speeds = [], []
    counts = None
    fps = float(corpus.manifest["fps"])
    for keyid in pick:
        va = motion_to_vertices(layer, params_to_motion(corpus.motion(keyid)[0]))
        vb = motion_to_vertices(layer, params_to_motion(corpus.motion(keyid + "-p2")[0]))
        for k, v in ((keyid, va), (keyid + "-p2", vb)):
            c = lipsync_counts(lip_gap(torch.from_numpy(v), rig), fps, corpus.speech(k)[1]["phones"])
            counts = c if counts is None else counts + c
        n = min(len(va), len(vb))
        dist = np.linalg.norm(va[:n] - vb[:n], axis=-1)
        div["all"].append(dist.mean())
        div["lips"].append(dist[:, lips].mean())
        div["upper_face"].append(dist[:, upper].mean())
        lves.append(lve(va[:n], vb[:n], lips))
        if sources:
            for part, stream in (("habits", "motion"), ("timing", "performance")):
                vc = motion_to_vertices(layer, params_to_motion(corpus.motion(keyid + "-p2", {stream: keyid})[0]))
                apart = np.linalg.norm(va[:n] - vc[:n], axis=-1)
                for region, idx in (("all", slice(None)), ("lips", lips), ("upper_face", upper)):
                    split[part][region].append(apart[:, idx].mean())
        for v in (va, vb):
            speeds.append(np.linalg.norm(np.diff(v, axis=0), axis=-1).mean(axis=1))
    speed = np.concatenate(speeds) * 1000
    print(f"{corpus.root}{' (re-animated)' if corpus.reanimate else ''}: {len(pick)} utterances, p1 vs p2")
    print("GT performance diversity (mm): " + ", ".join(f"{k} {1000 * np.mean(v):.3f}" for k, v in div.items()))
    if sources:
        for part, what in (("habits", "habits differ, timing shared"), ("timing", "timing differs, habits shared")):
            print(f"  {what} (mm): " + ", ".join(f"{k} {1000 * np.mean(v):.3f}" for k, v in split[part].items()))
    print(f"LVE between performances: {np.mean(lves):.3e} m^2")
    print(f"lip-sync of these {2 * len(pick)} performances: closed at {counts.closure_rate:.1%} of "
          f"{counts.closed_total} p/b/m, open at {counts.opening_rate:.1%} of {counts.open_total} open vowels")
    print("frame-to-frame vertex speed (mm/frame) p50 {:.3f} p95 {:.3f} p99 {:.3f} max {:.3f}".format(
        *np.percentile(speed, [50, 95, 99]), speed.max()))


def head(corpus: Corpus, seconds: float) -> None:
    from probtalk.corpus.animator import loudness_envelope

    fps = float(corpus.manifest["fps"])
    necks, louds = [], []
    total = 0
    for keyid in corpus.train:
        _, neck = corpus.motion(keyid)
        if neck is None:
            print("no neck/ files: no head motion in this corpus")
            return
        audio, _ = corpus.speech(keyid)
        necks.append(neck)
        louds.append(loudness_envelope(audio, fps, len(neck)))
        total += len(neck)
        if total >= seconds * fps:
            break
    neck = np.degrees(np.concatenate(necks))
    loud = np.concatenate(louds)
    step = np.diff(neck, axis=0)
    speed = np.linalg.norm(step, axis=1)
    inside = np.ones(len(step), bool)  # leave out the jumps between concatenated clips
    inside[np.cumsum([len(n) for n in necks])[:-1] - 1] = False
    r = np.corrcoef(speed[inside], loud[1:][inside])[0, 1]
    std = neck.std(axis=0)
    print(f"head motion over {total / fps:.1f} s of training speech ({len(necks)} clips):")
    print("  rotation std (deg) pitch {:.2f} yaw {:.2f} roll {:.2f}  [target 1.5-6 on >= 2 axes]".format(*std))
    print("  frame-to-frame change std (deg) pitch {:.3f} yaw {:.3f} roll {:.3f}  [target < 0.5]".format(
        *step[inside].std(axis=0)))
    print(f"  Pearson r(angular speed, loudness) {r:.3f}  [target > 0.2]")


if __name__ == "__main__":
    main()
