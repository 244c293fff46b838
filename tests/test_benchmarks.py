"""The lip-sync benchmarks run end to end on a tiny corpus and model (their figures are in docs/; here: they still run)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_lipsync import needs_flite, tiny_talker

from probtalk.models.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parent.parent
SPLIT = "test_unseen_engine"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from probtalk.corpus.synth import SynthConfig, synthesize_corpus

    root = tmp_path_factory.mktemp("bench") / "corpus"
    cfg = SynthConfig(speakers=2, sentences=2, emotions=("neutral",), heldout_speakers=0, heldout_engine_speakers=1,
                      seed=0)
    synthesize_corpus(root, cfg, workers=1)
    return root


def _run(script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@needs_flite
def test_transcript_fit_benchmark_runs(corpus, tmp_path):
    out = tmp_path / "fit.json"
    text = _run("transcript_fit.py", "--data", str(corpus), "--split", SPLIT, "--limit", "1", "--json", str(out))
    cases = json.loads(out.read_text())["cases"]
    kinds = {c["kind"] for c in cases}
    assert {"right", "drop1", "half", "reversed"} <= kinds  # "other" needs a second clip
    assert {c["condition"] for c in cases} >= {"clean", "room", "+5 st"}
    assert all(isinstance(c["used"], bool) for c in cases)
    assert "right" in text


@needs_flite
def test_lipsync_benchmark_scores_a_refused_transcript_as_animate_does(corpus, tmp_path):
    """Every column is scored, and a clip whose transcript the fit check refuses counts in "text+seal" as what
    ``animate(text=...)`` returns for it: the audio-only takes, sealed from the detector."""
    from probtalk.models.checkpoint import load_checkpoint

    ckpt, detector = tmp_path / "tiny.pt", tmp_path / "detector.npz"
    save_checkpoint(ckpt, tiny_talker(), provenance={"fps": 25.0})
    load_checkpoint(ROOT / "probtalk" / "assets" / "default_model.pt")[1].bilabial.save(detector)
    wrong = tmp_path / "corpus"
    shutil.copytree(corpus, wrong)
    for path in (wrong / "align").glob("*.json"):  # another line: refused, so audio only
        meta = json.loads(path.read_text())
        path.write_text(json.dumps({**meta, "text": "Seven cold fish swim near the green shore."}))
    out = tmp_path / "lipsync.json"
    _run("lipsync.py", "--data", str(wrong), "--model", f"tiny={ckpt}", "--bilabial", str(detector), "--split", SPLIT,
         "--limit", "1", "--takes", "2", "--temperatures", "0.2", "--variations", "0,1", "--text", "on",
         "--json", str(out))
    result = json.loads(out.read_text())["models"][SPLIT]
    cells = result["cells"]
    assert result["transcripts_rejected"] == 1
    assert {"tiny|audio|T=0.2", "tiny|audio+seal|T=0.2", "tiny|text|T=0.2", "tiny|text+seal|T=0.2"} <= set(cells)
    assert {"tiny|audio|T=0.2,v=0", "tiny|audio+seal|T=0.2,v=0"} <= set(cells)  # --variations: 1 is T=0.2
    sealed, text = cells["tiny|audio+seal|T=0.2"], cells["tiny|text+seal|T=0.2"]
    assert sealed["bilabials"] > 0
    for key in ("closure_take", "closure_every_take", "opening_take", "lve"):
        assert text[key] == pytest.approx(sealed[key]), key


@needs_flite
def test_ear_split_benchmark_runs(corpus):
    out = _run("ear_split.py", "--data", str(corpus), "--splits", "train", "--join", "4", "--limit", "8")
    import re

    from probtalk.corpus.ear import SPLIT_SECONDS

    rows = [line for line in out.splitlines() if line.startswith("| train")]
    assert len(rows) == 1, out
    shortest = float(re.search(r"clips of ([\d.]+)-", rows[0]).group(1))
    assert shortest >= SPLIT_SECONDS  # long enough to be cut in two
    rates = [float(x) for x in re.findall(r"([\d.]+) / ([\d.]+) %", rows[0]) for x in x]
    assert len(rates) == 4 and all(0.0 <= r <= 100.0 for r in rates), rows  # one search / cut, marked and false marks


def test_the_benchmark_conditions_keep_the_clip_and_its_timing():
    pytest.importorskip("av")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from conditions import CONDITIONS, TEMPO, babble, retimed
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    import numpy as np

    from probtalk.audio import load_audio

    speech = load_audio(ROOT / "probtalk" / "assets" / "hello.wav")
    others = [speech[::-1].copy(), np.roll(speech, 4000)]
    for name, make in CONDITIONS.items():
        heard = make(speech, 1, others)
        assert np.isfinite(heard).all(), name
        if name in TEMPO:  # a speaking rate: the clip as long as its phones, retimed, say
            assert heard.size == pytest.approx(speech.size / TEMPO[name], abs=2), name
            assert retimed([(0.5, 1.0, "AA")], name) == [(0.5 / TEMPO[name], 1.0 / TEMPO[name], "AA")]
            continue
        assert heard.shape == speech.shape, name
        assert retimed([(0.5, 1.0, "AA")], name) == [(0.5, 1.0, "AA")]
        if name == "as recorded":
            assert np.array_equal(heard, speech)
            continue
        assert not np.allclose(heard, speech, atol=1e-3), name
        if name == "moved voice's room" or name.startswith("voice "):
            continue  # no separate direct sound to find (a tail; a voice moved in pitch)
        lags = [float(np.dot(speech[: speech.size - lag], heard[lag:])) for lag in range(0, 80)]
        assert int(np.argmax(lags)) <= 3, name  # the direct sound stays where it was: no phone moves
    crowd = babble(speech, others, 0, 10.0) - speech
    assert 10 * np.log10(np.sum(speech.astype(np.float64) ** 2) / np.sum(crowd.astype(np.float64) ** 2)) \
        == pytest.approx(10.0, abs=0.01)


def test_the_speech_benchmark_reports_the_models_in_the_order_given(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from lipsync_speech import report
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    row = {"closure_take": 0.5, "closure_every_take": 0.25, "opening_take": 1.0, "bilabials": 4}
    res = {"folder": "speech", "perturbation": "", "clips": 2, "rejected": [], "coarse": [], "takes": 3,
           "temperature": 0.2, "cells": {"old|model": row, "old|audio": row, "new|model": row, "new|audio": row},
           "detector": {}, "alignment_seconds_per_clip": 0.5}
    report(res)
    head = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| |"))
    assert head == "| | old: model | old: audio | new: model | new: audio |"  # not sorted by name


def test_corpus_diversity_splits_the_performances_difference_by_source(corpus):
    """``--sources``: the two performances apart with only their habits different, and with only their timing."""
    out = _run("corpus_diversity.py", str(corpus), "--pairs", "1", "--head-seconds", "1", "--sources")
    rows = {}
    for line in out.splitlines():
        if line.strip().startswith(("habits differ", "timing differs", "GT performance diversity")):
            label, _, values = line.strip().partition(" (mm): ")
            rows[label] = {k: float(v) for k, v in (item.split() for item in values.split(", "))}
    assert set(rows) == {"GT performance diversity", "habits differ, timing shared", "timing differs, habits shared"}
    for values in rows.values():
        assert set(values) == {"all", "lips", "upper_face"} and values["all"] > 0


def test_codebook_capacity_measures_a_stage_one_checkpoint(corpus, tmp_path):
    """``--vq``: a stage-1 checkpoint's codebook and its own encoder's reconstructions, beside the truth."""
    import torch

    from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
    from probtalk.models.talker import Normalizer

    torch.manual_seed(0)
    vq = MotionVQ(MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=8, dropout=0.0))
    path = save_checkpoint(tmp_path / "vq.pt", vq.eval(), normalizer=Normalizer())
    out = _run("codebook_capacity.py", "--data", str(corpus), "--vq", str(path), "--pairs", "1", "--frames", "12",
               "--sweeps", "1")
    rows = {line.split(":")[0]: [float(x) for x in line.split(":")[1].split(" / ")]
            for line in out.splitlines() if line.count(" / ") == 2 and "(mm:" not in line}
    assert set(rows) == {"ground truth apart", "fitted codes apart", "fit error (truth, fit)", "reconstructions apart",
                         "reconstruction error"}
    assert rows["ground truth apart"][0] > 0 and all(x >= 0 for r in rows.values() for x in r)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "codebook_capacity.py"), "--data", str(corpus),
                           "--vq", str(tmp_path / "missing.pt")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode != 0 and "--vq:" in done.stderr and "Traceback" not in done.stderr
