"""Tests of probtalk.eval: metrics vs hand-computed values, lip-sync, classifier, evaluate(), CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import probtalk
from probtalk.eval import metrics as M
from probtalk.eval.emotion_classifier import (
    EmotionClassifierConfig,
    emotion_accuracy,
    load_emotion_classifier,
    save_emotion_classifier,
    train_emotion_classifier,
)
from probtalk.eval.evaluate import evaluate, motion_to_vertices
from probtalk.eval.lipsync import lip_gap, lipsync_counts
from probtalk.flame import FlameLayer, Rig
from probtalk.layout import KINTREE_TABLE, MOTION_DIM

# ------------------------------------------------------------- the 2x3 example
# gt is all zeros. Take A moves: frame 0: v0=(1,0,0) v1=(0,2,0) v2=0;
#                               frame 1: v0=0       v1=(3,4,0) v2=(0,0,2).
GT = np.zeros((2, 3, 3))
TAKE_A = np.array([[[1, 0, 0], [0, 2, 0], [0, 0, 0]], [[0, 0, 0], [3, 4, 0], [0, 0, 2]]], float)
# Take B: frame 0: v0=(0,0,1), everything else 0.
TAKE_B = np.zeros((2, 3, 3))
TAKE_B[0, 0] = (0, 0, 1)
LIPS = [0, 1]


def test_mve_hand_computed():
    # distances: frame 0: 1, 2, 0; frame 1: 0, 5, 2 -> (1 + 2 + 0 + 0 + 5 + 2) / 6 = 10 / 6
    assert M.mve(TAKE_A, GT) == pytest.approx(10 / 6)
    assert M.mve(torch.from_numpy(TAKE_A), torch.from_numpy(GT)) == pytest.approx(10 / 6)


def test_lve_hand_computed():
    # squared distances on lips {0, 1}: frame 0: 1, 4 -> max 4; frame 1: 0, 25 -> max 25; mean 14.5
    assert M.lve(TAKE_A, GT, LIPS) == pytest.approx(14.5)
    # lips {0, 2}: frame 0: 1, 0 -> 1; frame 1: 0, 4 -> 4; mean 2.5 (the max is over the lip set only)
    assert M.lve(TAKE_A, GT, [0, 2]) == pytest.approx(2.5)


def test_mee_hand_computed():
    # mean of A and B: frame 0: v0=(.5,0,.5) sq .5, v1=(0,1,0) sq 1 -> 1;
    #                  frame 1: v0=0, v1=(1.5,2,0) sq 6.25 -> 6.25; mean (1 + 6.25) / 2 = 3.625
    assert M.mee([TAKE_A, TAKE_B], GT, LIPS) == pytest.approx(3.625)


def test_ce_hand_computed():
    # LVE(A) = 14.5; LVE(B): frame 0: v0 sq 1 -> 1, frame 1: 0 -> mean 0.5; the closest take is B
    assert M.ce([TAKE_A, TAKE_B], GT, LIPS) == pytest.approx(0.5)
    assert M.ce(np.stack([TAKE_B, TAKE_A]), GT, LIPS) == pytest.approx(0.5)


def test_diversity_hand_computed():
    # A - B: frame 0: v0=(1,0,-1) |.|=sqrt 2, v1 2, v2 0; frame 1: v0 0, v1 5, v2 2
    # -> (sqrt 2 + 2 + 0 + 0 + 5 + 2) / 6
    assert M.diversity([TAKE_A, TAKE_B]) == pytest.approx((np.sqrt(2) + 9) / 6)
    # 4 takes: pairs (0, 2) and (1, 3): (A, A) = 0 and (B, A) = the value above -> mean is half of it
    assert M.diversity([TAKE_A, TAKE_B, TAKE_A, TAKE_A]) == pytest.approx((np.sqrt(2) + 9) / 12)


def test_fdd_hand_computed():
    # template offsets everything by (1, 1, 1); displacements from it:
    # gt:   v0: frame 0 (0,0,0), frame 1 (2,0,0) -> squared norms 0, 4 -> std 2
    #       v2: (1,0,0) both frames -> 1, 1 -> std 0
    # pred: v0: 0, (1,0,0) -> 0, 1 -> std .5;  v2: 0, (0,0,1) -> 0, 1 -> std .5
    # std_gt - std_pred over upper face {0, 2}: 1.5, -0.5 -> signed .5, absolute 1.0
    template = np.ones((3, 3))
    gt = np.zeros((2, 3, 3))
    gt[1, 0] = (2, 0, 0)
    gt[:, 2] = (1, 0, 0)
    pred = np.zeros((2, 3, 3))
    pred[1, 0] = (1, 0, 0)
    pred[1, 2] = (0, 0, 1)
    pred[:, 1] = (5, 5, 5)  # not in the upper face: ignored
    result = M.fdd(pred + template, gt + template, template, [0, 2])
    assert result.signed == pytest.approx(0.5)
    assert result.absolute == pytest.approx(1.0)


def test_identical_takes():
    takes = [TAKE_A.copy() for _ in range(4)]
    assert M.diversity(takes) == 0.0
    assert M.mee(takes, GT, LIPS) == pytest.approx(M.lve(TAKE_A, GT, LIPS))
    assert M.ce(takes, GT, LIPS) == pytest.approx(M.lve(TAKE_A, GT, LIPS))


def test_metric_shape_errors():
    with pytest.raises(ValueError, match="differ"):
        M.mve(TAKE_A, GT[:1])
    with pytest.raises(ValueError, match="at least 2"):
        M.diversity([TAKE_A])


# ------------------------------------------------------------------ tiny rig
def tiny_rig() -> Rig:
    """4 vertices: upper lip, lower lip (1 mm below), brow, mouth corner.

    Expression 0 moves the lower lip down 1 m per unit, expression 1 raises the brow.
    Every vertex is skinned to the root joint, so jaw pose leaves them in place.
    """
    v = np.array([[0, 0, 0], [0, -0.001, 0], [0, 0.05, 0], [0.02, -0.0005, 0]], np.float32)
    exprdirs = np.zeros((4, 3, 100), np.float32)
    exprdirs[1, 1, 0] = -1.0
    exprdirs[2, 1, 1] = 1.0
    weights = np.zeros((4, 5), np.float32)
    weights[:, 0] = 1.0
    return Rig(
        name="tiny",
        v_template=v,
        faces=np.array([[0, 1, 3], [0, 3, 2]]),
        shapedirs=np.zeros((4, 3, 300), np.float32),
        exprdirs=exprdirs,
        posedirs=np.zeros((4, 3, 36), np.float32),
        j_regressor=np.full((5, 4), 0.25, np.float32),
        weights=weights,
        kintree_table=np.array(KINTREE_TABLE),
        regions={"lips": np.array([0, 1, 3]), "upper_face": np.array([2])},
        keypoints={"upper_lip": 0, "lower_lip": 1},
    )


def test_lipsync_rates_on_constructed_animation():
    rig = tiny_rig()
    motion = np.zeros((10, MOTION_DIM), np.float32)
    motion[5:, 0] = 0.009  # frames 5-9: lower lip 9 mm further down -> gap 10 mm; frames 0-4: gap 1 mm
    gap = lip_gap(motion_to_vertices(FlameLayer(rig), motion), rig)
    np.testing.assert_allclose(gap, [0.001] * 5 + [0.010] * 5, atol=1e-6)
    phones = [
        (0.00, 0.04, "P"),  # mid 0.02 s -> frame 0, closed: hit
        (0.04, 0.08, "m"),  # frame 1.5 -> 2, closed: hit
        (0.08, 0.16, "AA1"),  # frame 3, gap 1 mm: not open
        (0.16, 0.24, "s"),  # neither class: ignored
        (0.24, 0.32, "b"),  # frame 7, gap 10 mm: not closed
        (0.32, 0.40, "aa"),  # frame 9, open: hit
        (1.00, 1.10, "p"),  # past the last frame: skipped
    ]
    counts = lipsync_counts(gap, 25.0, phones, bilabial={"p", "b", "m"}, open_vowels={"aa"})
    assert (counts.closed_hits, counts.closed_total, counts.open_hits, counts.open_total) == (2, 3, 1, 2)
    assert counts.closure_rate == pytest.approx(2 / 3)
    assert counts.opening_rate == pytest.approx(1 / 2)
    assert counts.score == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_lipsync_default_phone_classes():
    phones_mod = pytest.importorskip("probtalk.corpus.phones", reason="probtalk.corpus.phones not written yet")
    bilabial = sorted(phones_mod.BILABIAL)[0]
    vowel = sorted(phones_mod.OPEN_VOWELS)[0]
    gap = np.array([0.001, 0.001, 0.010, 0.010])
    counts = lipsync_counts(gap, 25.0, [(0.0, 0.04, bilabial), (0.08, 0.12, vowel)])
    assert counts.closure_rate == 1.0 and counts.opening_rate == 1.0


# ---------------------------------------------------------------- classifier
@dataclass
class Item:
    motion: np.ndarray
    emotion: int


def toy_items(n_per_class: int, seed: int) -> list[Item]:
    rng = np.random.default_rng(seed)
    items = []
    for label in range(4):
        for _ in range(n_per_class):
            motion = rng.normal(0.0, 1.0, (int(rng.integers(30, 60)), MOTION_DIM)).astype(np.float32)
            motion[:, 10 + label] += 1.5  # each class raises its own feature
            items.append(Item(motion, label))
    return items


def test_classifier_learns_toy_problem(tmp_path):
    config = EmotionClassifierConfig(hidden=32, layers=2)
    clf = train_emotion_classifier(toy_items(24, 0), config=config, steps=120, crop_frames=32, seed=0)
    test = toy_items(10, 1)
    motions, labels = [t.motion for t in test], [t.emotion for t in test]
    acc = emotion_accuracy(clf, motions, labels)
    assert acc > 0.9
    path = save_emotion_classifier(clf, tmp_path / "emo.pt")
    again = load_emotion_classifier(path)
    np.testing.assert_array_equal(again.predict(motions), clf.predict(motions))


def test_classifier_load_errors(tmp_path):
    from probtalk.errors import CheckpointError

    with pytest.raises(CheckpointError, match="not found"):
        load_emotion_classifier(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_emotion_classifier(bad)


# ------------------------------------------------------------------ evaluate
@dataclass
class Sample:
    keyid: str
    audio: np.ndarray
    motion: np.ndarray
    emotion: int
    intensity: int
    speaker: str
    phones: list | None


class TinyDataset:
    fps = 25.0

    def __init__(self, split: str, n: int, seed: int) -> None:
        self.split = split
        rng = np.random.default_rng(seed)
        self.items = []
        for i in range(n):
            t = 20 + 5 * i
            motion = np.zeros((t, MOTION_DIM), np.float32)
            motion[:, 0] = 0.009 * (np.sin(np.arange(t) / 2.0) > 0)  # mouth opens and closes
            motion[:, 1] = 0.01 * rng.normal(size=t)  # brow jitter
            phones = [(0.0, 0.08, "m"), (0.08, 0.16, "aa")]
            self.items.append(Sample(f"S{i}", np.zeros(t * 640, np.float32), motion, i % 2, 1, "A", phones))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Sample:
        return self.items[i]


def test_evaluate_ground_truth_and_noise():
    rig = tiny_rig()
    data = {"test": TinyDataset("test", 3, 0), "test_unseen_speakers": TinyDataset("test_unseen_speakers", 2, 1)}

    def truth(sample, num_takes, seed):
        return [sample.motion.copy() for _ in range(num_takes)]

    def noise(sample, num_takes, seed):
        rng = np.random.default_rng(seed)
        return [sample.motion + rng.normal(0, 0.01, sample.motion.shape).astype(np.float32) for _ in range(num_takes)]

    good = evaluate(truth, data, rig, takes=4)
    bad = evaluate(noise, data, rig, takes=4)
    assert set(good.splits) == {"test", "test_unseen_speakers"}
    assert good.overall.sequences == 5 and good.splits["test"].sequences == 3
    assert good.overall.frames == sum(len(s.motion) for d in data.values() for s in d.items)
    for key in ("mve", "lve", "mee", "ce", "fdd", "fdd_abs", "diversity"):
        assert getattr(good.overall, key) == pytest.approx(0.0, abs=1e-12), key
    for key in ("mve", "lve", "mee", "ce", "fdd_abs", "diversity"):
        assert getattr(bad.overall, key) > 1e-6, key
    assert bad.overall.ce <= bad.overall.lve
    assert bad.overall.mee < bad.overall.lve  # averaging independent noise brings the mean closer
    assert good.overall.lipsync == good.overall.lipsync_gt
    assert np.isnan(good.overall.emotion_acc)  # no classifier given
    text = good.to_table()
    assert "LVE" in text and "test_unseen_speakers" in text
    as_json = json.loads(bad.to_json())
    assert as_json["overall"]["lve"] == pytest.approx(bad.overall.lve)
    assert as_json["overall"]["emotion_acc"] is None


def test_evaluate_emotion_accuracy_uses_classifier():
    rig = tiny_rig()
    data = TinyDataset("test", 4, 0)
    train = toy_items(16, 2)
    clf = train_emotion_classifier(train, config=EmotionClassifierConfig(hidden=16, layers=1), steps=60, seed=0)

    def generate(sample, num_takes, seed):
        return [sample.motion.copy() for _ in range(num_takes)]

    report = evaluate(generate, data, rig, takes=2, classifier=clf)
    expected = np.mean(clf.predict([s.motion for s in data.items]) == np.array([s.emotion for s in data.items]))
    assert report.overall.emotion_acc_gt == pytest.approx(expected)
    assert report.overall.emotion_acc == pytest.approx(expected)  # generated == ground truth


# ----------------------------------------------------------------------- CLI
@pytest.mark.parametrize(
    ("extra", "words"),
    [([], ("data folder", "nope")), (["--engine", "magic"], ("unknown engine", "magic"))],
)
def test_cli_one_line_errors(tmp_path, extra, words):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    result = CliRunner().invoke(app, ["evaluate", "--data", str(tmp_path / "nope"), *extra])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.strip().splitlines() if ln]
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines


def write_corpus(root, rig_seed: int = 0) -> None:
    """A 4-clip corpus in the dataset layout: 2 train clips, 2 test clips (with alignments)."""
    import soundfile as sf

    from probtalk.audio import load_audio
    from probtalk.layout import PARAM_DIM, PARAM_EXPRESSION

    rng = np.random.default_rng(rig_seed)
    # real speech (the bundled sample), so that the rules baseline's recogniser finds phones
    speech = load_audio(Path(probtalk.__file__).parent / "assets" / "hello.wav")[: 2 * 16000]
    for sub in ("param", "wav", "align", "splits"):
        (root / sub).mkdir(parents=True)
    splits = {"train": ["M001_001_0_0", "M001_002_1_1"], "test": ["M001_003_0_0", "M001_004_1_1"]}
    for keyids in splits.values():
        for keyid in keyids:
            frames = 50
            params = np.zeros((1, frames, PARAM_DIM), np.float32)
            params[0, :, PARAM_EXPRESSION.start] = 0.009 * (np.arange(frames) % 10 >= 5)
            params[0, :, PARAM_EXPRESSION.start + 1] = 0.01 * rng.normal(size=frames)
            np.save(root / "param" / f"{keyid}.npy", params)
            sf.write(root / "wav" / f"{keyid}.wav", speech, 16000)
            phones = {"phones": [[0.0, 0.08, "M"], [0.24, 0.32, "AA1"]]}
            (root / "align" / f"{keyid}.json").write_text(json.dumps(phones))
    for name, keyids in splits.items():
        (root / "splits" / name).write_text("\n".join(keyids) + "\n")


def test_cli_writes_json(tmp_path):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    write_corpus(tmp_path / "corpus")
    rig_path = tiny_rig().save(tmp_path / "tiny_rig.npz")
    out = tmp_path / "eval.json"
    clf = tmp_path / "emo.pt"
    args = [
        "evaluate", "--engine", "truth", "--data", str(tmp_path / "corpus"), "--rig", str(rig_path),
        "--takes", "2", "--json", str(out), "--classifier", str(clf), "--classifier-steps", "5",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "LVE" in result.output
    report = json.loads(out.read_text())["engines"]["truth"]
    assert report["overall"]["sequences"] == 2 and report["overall"]["lve"] == 0.0
    # frame 1 (M) has a 1 mm gap, frame 7 (AA) a 10 mm gap: the ground truth scores 100 %
    assert report["overall"]["lipsync"] == 1.0
    assert clf.is_file()  # the trained classifier was cached ...
    again = CliRunner().invoke(app, args)  # ... and is loaded on the next run
    assert again.exit_code == 0 and f"emotion classifier: {clf}" in again.output


def test_compare_engines_is_the_evaluate_command(tmp_path):
    from probtalk.errors import DatasetError, InputError
    from probtalk.eval import compare_engines

    write_corpus(tmp_path / "corpus")
    clf = tmp_path / "emo.pt"
    calls = []
    result = compare_engines(
        tmp_path / "corpus", ["truth"], rig=tiny_rig(), takes=2, classifier=clf, classifier_steps=5,
        progress=lambda *args: calls.append(args),
    )
    assert list(result.reports) == ["truth"]
    assert result.reports["truth"].overall.sequences == 2 and result.reports["truth"].overall.lve == 0.0
    assert result.reports["truth"].meta["engine"] == "truth" and result.reports["truth"].meta["model"] is None
    assert result.classifier_source == f"trained on train split, saved to {clf}" and clf.is_file()
    assert calls == [
        ("training the emotion classifier on the train split", 0, 2),
        ("truth M001_003_0_0", 1, 2),
        ("truth M001_004_1_1", 2, 2),
    ]
    assert result.to_dict()["classifier"] == {"source": result.classifier_source}
    again = compare_engines(tmp_path / "corpus", ["truth"], rig=tiny_rig(), takes=2, classifier=clf)
    assert again.classifier_source == str(clf)
    with pytest.raises(InputError, match="unknown engine 'nope'"):
        compare_engines(tmp_path / "missing", ["nope"])
    with pytest.raises(DatasetError, match="not found"):
        compare_engines(tmp_path / "missing", ["truth"])


def test_model_adapter_resamples_and_falls_back_to_average_speaker():
    from probtalk.animation import Animation
    from probtalk.eval.engines import model_generate_fn

    calls = []

    class FakeModel:
        speakers = ("A",)

        def animate(self, audio, sample_rate=None, **kw):
            calls.append(kw)
            frames = int(round(len(audio) / sample_rate * 50))  # the model runs at 50 fps
            ramp = np.linspace(0, 1, frames, dtype=np.float32)[:, None] * np.ones(MOTION_DIM, np.float32)
            return [Animation.from_motion(ramp * (k + 1), fps=50) for k in range(kw["num_samples"])]

    gen = model_generate_fn(FakeModel(), temperature=0.5)
    data = TinyDataset("test", 1, 0)
    sample = data[0]  # 20 frames at 25 fps, speaker "A"
    takes = gen(sample, 3, 7)
    assert len(takes) == 3 and all(t.shape == (20, MOTION_DIM) for t in takes)
    np.testing.assert_allclose(takes[1][:, 0], 2 * np.arange(20) / 25 * 50 / 39, atol=1e-5)
    assert calls[-1] == {
        "emotion": "neutral", "intensity": 1.0, "speaker": "A", "num_samples": 3, "seed": 7, "temperature": 0.5,
    }
    sample.speaker = "unseen"
    gen(sample, 1, 0)
    assert calls[-1]["speaker"] is None


def test_cli_rules_baseline(tmp_path):
    pytest.importorskip("probtalk.eval.rules", reason="rule-based baseline not installed")
    from probtalk.flame import bundled_rig_path

    if not bundled_rig_path().is_file():
        pytest.skip("bundled rig flame_assets/probtalk_head.npz not built")
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    write_corpus(tmp_path / "corpus")
    out = tmp_path / "eval.json"
    args = [
        "evaluate", "--engine", "truth", "--baseline", "--data", str(tmp_path / "corpus"), "--takes", "2",
        "--json", str(out), "--classifier-steps", "5",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    engines = json.loads(out.read_text())["engines"]
    assert set(engines) == {"truth", "rules"}
    assert engines["truth"]["overall"]["lve"] == 0.0
    assert engines["rules"]["overall"]["lve"] > 0.0
    assert "rules test" in result.output and "truth test" in result.output
