"""Turn a trained stage-2 checkpoint into the small file shipped inside the package.

    python scripts/ship_model.py runs/default/predictor/best.pt probtalk/assets/default_model.pt \
        --head runs/head/head.npz --bilabial runs/bilabial/bilabial.npz --vowel runs/vowel/vowel.npz
    python scripts/export_onnx.py      # then refresh the ONNX copy (it carries head.npz, bilabial.npz, vowel.npz)

Stores float16 weights for inference only (no stage-1 encoder), keeps the
training provenance, and records the recipe that produced it. ``--head``
adds the life stage's head motion net (``probtalk train head``) as the
checkpoint's optional ``head`` part; without it the shipped model keeps the
head net its checkpoint already carries (if any), and a model with none gives
takes the stochastic head motion only. ``--bilabial`` adds the lip seal's p/b/m
detector (``probtalk train bilabial``) as the optional ``bilabial`` part the
same way; a model with none seals the lips only where a transcript is given. ``--vowel``
adds the seal's open-vowel detector (``probtalk train vowel``) as the optional ``vowel``
part; a model with none opens only the open vowels of the words heard.
``--noise-memory`` sets how its sampled takes draw their free noise channels
(the predictor's ``noise_memory``: the correlation of neighbouring knots, a
sampling setting that training does not use; without it the checkpoint's own), and
``--habit-spread NAME=WIDTH`` (repeatable) how widely they draw a performance habit,
in the corpus's standard deviations (the predictor's ``habit_spread``; habits not
named keep the checkpoint's width, 1 unless it says).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from probtalk.bilabial import BilabialNet
from probtalk.life.head import HeadNet
from probtalk.models.checkpoint import load_checkpoint, save_checkpoint
from probtalk.vowels import VowelNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--metrics", default=None, help="JSON file of evaluation metrics to record")
    parser.add_argument("--head", default=None, help="head motion net (.npz from 'probtalk train head') to ship with it")
    parser.add_argument("--bilabial", default=None, help="bilabial detector (.npz from 'probtalk train bilabial')")
    parser.add_argument("--vowel", default=None, help="open-vowel detector (.npz from 'probtalk train vowel')")
    parser.add_argument("--noise-memory", type=float, default=None,
                        help="knot-to-knot correlation of the free noise channels in sampled takes, in [0, 1)")
    parser.add_argument("--habit-spread", action="append", default=[], metavar="NAME=WIDTH",
                        help="how widely sampled takes draw a performance habit (repeatable)")
    args = parser.parse_args()
    talker, info = load_checkpoint(args.checkpoint)
    config = talker.predictor.config
    changes: dict[str, object] = {}
    if args.noise_memory is not None:
        changes["noise_memory"] = args.noise_memory
    if args.habit_spread:
        spread = dict(zip(config.performance_habits, talker.predictor.habit_spread, strict=True))
        for item in args.habit_spread:
            name, _, width = item.partition("=")
            if name not in spread:
                parser.error(f"--habit-spread {item}: the model's habits are {', '.join(config.performance_habits) or 'none'}")
            try:
                spread[name] = float(width)
            except ValueError:
                parser.error(f"--habit-spread {item}: give NAME=WIDTH, e.g. brow_use=2")
        changes["habit_spread"] = tuple(spread.values())
    try:
        talker.predictor.config = dataclasses.replace(config, **changes)
    except ValueError as exc:
        parser.error(str(exc))
    provenance = dict(info.provenance)
    provenance["recipe"] = "scripts/train_default_model.sh"
    if args.metrics:
        provenance["evaluation"] = json.loads(Path(args.metrics).read_text())
    head = HeadNet.load(args.head) if args.head else info.head
    bilabial = BilabialNet.load(args.bilabial) if args.bilabial else info.bilabial
    vowel = VowelNet.load(args.vowel) if args.vowel else info.vowel
    path = save_checkpoint(
        args.out, talker, rig_id=info.rig_id, provenance=provenance, half=True, inference_only=True, head=head,
        bilabial=bilabial, vowel=vowel,
    )
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
