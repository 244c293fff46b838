"""Corpus v3/v4/v5: takes that differ like retakes (upper face; v4 also the mouth; v5 wider, and the
lips shut or parted in pauses), prosody-driven head motion, neck/ files, motion-only rebuild."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from probtalk.corpus.phones import Phone
from probtalk.corpus.style_profiles import PERFORMANCE_HABITS, make_style, perform_style
from probtalk.corpus.synth import GENERATOR_VERSION, SynthConfig, clip_rng, default_animator, synthesize_corpus
from probtalk.data.dataset import MotionDataset
from probtalk.errors import DatasetError, InputError
from probtalk.eval.evaluate import motion_to_vertices
from probtalk.flame import FlameLayer, load_rig
from probtalk.layout import params_to_motion

# one training speaker (2 happy sentences, 2 performances each) + one held-out speaker
TINY = SynthConfig(
    speakers=2, sentences=2, emotions=("happy",), emotions_per_sentence=1, emotional_fraction=1.0,
    heldout_speakers=1, seed=0, performances=2, heldout_engine_speakers=0,
)
UPPER_FACE_FLOOR_MM = 0.15  # corpus v2's performances differed by 0.074 mm in the upper face


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("v3") / "tiny"
    synthesize_corpus(root, TINY, workers=1)
    return root


@pytest.fixture(scope="module")
def animator():
    return default_animator()


def speech_60s() -> tuple[list[Phone], np.ndarray, float]:
    """A minute of phrase-structured fake speech: phones with stress marks and pauses, and its loudness [T]."""
    rng = np.random.default_rng(7)
    phones, loud_at, t = [], [], 0.2
    while t < 59.0:
        for syllable in range(int(rng.integers(5, 12))):
            stressed = syllable % 2 == 0
            vowel = "AA1" if stressed else "AH0"
            for label, length, level in (("M", 0.07, 0.3), ("D", 0.06, 0.4), (vowel, 0.13, 1.0 if stressed else 0.6)):
                phones.append(Phone(t, t + length, label))
                loud_at.append((t, t + length, level * float(rng.uniform(0.7, 1.3))))
                t += length
        pause = float(rng.uniform(0.2, 0.6))
        phones.append(Phone(t, t + pause, "SIL"))
        t += pause
    duration = t + 0.3
    frames = int(round(duration * 25))
    times = np.arange(frames) / 25.0
    loud = np.full(frames, 0.02)
    for start, end, level in loud_at:
        loud[(times >= start) & (times < end)] = level
    return phones, gaussian_filter1d(loud, 1.0).astype(np.float32), duration  # an RMS envelope is smooth


def head_stats(neck: np.ndarray, loud: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    deg = np.degrees(neck)
    step = np.diff(deg, axis=0)
    speed = np.linalg.norm(step, axis=1)
    return deg.std(axis=0), step.std(axis=0), float(np.corrcoef(speed, loud[1:])[0, 1])


# ------------------------------------------------------------------ head motion
def test_head_motion_meets_the_targets_on_a_minute_of_speech(animator):
    phones, loud, duration = speech_60s()
    style = make_style("M001", 0)
    neck = animator.head_motion(phones, duration, fps=25.0, emotion="neutral", intensity=0, style=style,
                                loudness=loud, rng=np.random.default_rng(3))
    assert neck.dtype == np.float32 and neck.shape == (int(round(duration * 25)), 3)
    std, step_std, r = head_stats(neck, loud)
    assert np.sum((std >= 1.5) & (std <= 6.0)) >= 2, std
    assert np.all(step_std < 0.5), step_std
    assert r > 0.2, r


def test_head_motion_controls(animator):
    phones, loud, duration = speech_60s()
    style = make_style("M001", 0)

    def run(seed=3, **kw):
        args = {"fps": 25.0, "emotion": "neutral", "intensity": 1, "style": style, "loudness": loud,
                "rng": np.random.default_rng(seed) if seed is not None else None, **kw}
        return animator.head_motion(phones, duration, **args)

    still = perform_style(style, np.random.default_rng(0)).__class__(**{**style.__dict__, "head_motion": 0.0})
    assert not np.any(run(style=still))  # a head_motion of 0 is exactly still
    np.testing.assert_array_equal(run(seed=5), run(seed=5))  # seeded: repeatable
    assert np.abs(run(seed=5) - run(seed=6)).mean() > np.radians(0.5)  # takes differ
    assert np.array_equal(run(seed=None), run(seed=None)) and np.any(run(seed=None))  # the prosodic part alone
    np.testing.assert_array_equal(run(seed=5, variation=0.0), run(seed=None))
    angry = np.degrees(run(emotion="angry", intensity=2)).std()
    sad = np.degrees(run(emotion="sad", intensity=2)).std()
    assert angry > 1.5 * sad


def test_nods_fall_on_stressed_syllables(animator):
    phones, loud, duration = speech_60s()
    neck = animator.head_motion(phones, duration, fps=25.0, style=make_style("M001", 0), loudness=loud, rng=None)
    pitch = np.degrees(neck[:, 0])
    times = np.arange(len(pitch)) / 25.0
    stressed = [0.5 * (p.start + p.end) for p in phones if p.phone.endswith("1")]
    unstressed = [0.5 * (p.start + p.end) for p in phones if p.phone.endswith("0")]
    speed = np.abs(np.gradient(pitch))

    def near(centres):
        return float(np.mean([speed[np.abs(times - c) < 0.2].mean() for c in centres]))

    assert near(stressed) > near(unstressed)


# ------------------------------------------------------------------ performances
def _upper_face_diversity(a: np.ndarray, b: np.ndarray, layer, upper) -> float:
    va = motion_to_vertices(layer, params_to_motion(a))
    vb = motion_to_vertices(layer, params_to_motion(b))
    n = min(len(va), len(vb))
    return float(np.linalg.norm(va[:n, upper] - vb[:n, upper], axis=-1).mean() * 1000)


def test_performances_differ_in_the_upper_face(corpus):
    rig = load_rig()
    layer, upper = FlameLayer(rig), np.asarray(rig.regions["upper_face"])
    pairs = sorted(p.stem for p in (corpus / "param").glob("*-p2.npy"))
    assert len(pairs) == 2
    div = [_upper_face_diversity(np.load(corpus / "param" / f"{k[:-3]}.npy")[0],
                                 np.load(corpus / "param" / f"{k}.npy")[0], layer, upper) for k in pairs]
    assert np.mean(div) >= UPPER_FACE_FLOOR_MM, div


def test_perform_style_varies_the_upper_face_habits():
    base = make_style("M001", 0)
    takes = [perform_style(base, clip_rng(0, f"k{i}", "performance")) for i in range(20)]
    for name in ("brow_use", "brow_tone", "smile_rate", "expressiveness", "head_motion", "emphasis_rate"):
        values = [getattr(s, name) for s in takes]
        assert np.ptp(values) > 0.1, name
    assert all(s.identity == base.identity and s.asymmetry == base.asymmetry for s in takes)
    assert all(0.75 <= s.articulation <= 1.4 and 0.75 <= s.jaw_range <= 1.4 for s in takes)
    # v5: each take articulates and opens the jaw by its own factor, and rests with the lips shut or parted
    assert np.ptp([s.articulation for s in takes]) > 0.3 and np.ptp([s.jaw_range for s in takes]) > 0.3
    rest = [s.rest_open for s in takes]
    assert min(rest) == 0.0 and max(rest) > 0.08 and all(0.0 <= r <= 0.14 for r in rest)
    # v6: smiles and cheek raise reach past version 5's limits (smile bias 0.25, smile rate 0.3, squint 0.3)
    assert max(s.smile_bias for s in takes) > 0.25 and max(s.smile_rate for s in takes) > 0.3
    assert max(s.squint_tone for s in takes) > 0.3


def test_takes_rest_with_the_lips_shut_or_parted_in_pauses(animator):
    """v5: the pause pose is the take's own; speech and the p/b/m seals around it are unchanged."""
    phones = [Phone(0.0, 0.8, "SIL"), Phone(0.8, 0.9, "M"), Phone(0.9, 1.1, "AA1"), Phone(1.1, 1.2, "P"),
              Phone(1.2, 2.2, "SIL"), Phone(2.2, 2.3, "B"), Phone(2.3, 2.5, "AA1"), Phone(2.5, 3.4, "SIL")]
    base = make_style("M001", 0)
    jaw = animator.names.index("jawOpen")
    shut, parted = (base.__class__(**{**base.__dict__, "rest_open": r}) for r in (0.0, 0.12))
    a, b = (animator.semantic_weights(phones, 3.4, style=s)[:, jaw] for s in (shut, parted))
    pause = slice(int(1.55 * 25), int(1.85 * 25))  # the middle of the pause between the words
    assert a[pause].max() < 0.02 and b[pause].min() > 0.06  # shut against parted
    for label in ("M", "P", "B"):
        k = [int(0.5 * (p.start + p.end) * 25) for p in phones if p.phone == label][0]
        assert a[k] < 0.05 and b[k] < 0.05, label  # sealed either way


def test_performances_differ_in_the_mouth_and_keep_the_seals(animator):
    """v4/v5: takes articulate with their own energy and emphasis; p/b/m stay sealed in every take."""
    phones, loud, _ = speech_60s()
    duration = 12.0
    phones = [p for p in phones if p.end <= duration]
    loud = loud[: int(duration * 25)]
    base = make_style("M001", 0)
    jaw = animator.names.index("jawOpen")
    takes = []
    for i in range(4):
        style = perform_style(base, clip_rng(0, f"take{i}", "performance"))
        w = animator.semantic_weights(phones, duration, style=style, loudness=loud, rng=clip_rng(0, f"take{i}", "motion"))
        takes.append(w[:, jaw])
    vowels, bilabials = (np.array([int(0.5 * (p.start + p.end) * 25) for p in phones if p.phone == label])
                         for label in ("AA1", "M"))
    spread = np.mean([np.abs(takes[i][vowels] - takes[j][vowels]).mean() for i in range(4) for j in range(i + 1, 4)])
    # relative to the jaw's own opening at stressed vowels: v3's takes differed by 13-17 %, v4's by 28 %,
    # v5's by 35 %
    assert spread >= 0.32 * np.mean([t[vowels].mean() for t in takes]), spread
    assert max(float(t[bilabials].max()) for t in takes) < 0.05  # the seal wins over any emphasis


# ------------------------------------------------------------------ files and rebuild
def test_neck_files_are_written_and_loaded(corpus):
    keyids = sorted(p.stem for p in (corpus / "param").glob("*.npy"))
    assert keyids and sorted(p.stem for p in (corpus / "neck").glob("*.npy")) == keyids
    for keyid in keyids:
        neck = np.load(corpus / "neck" / f"{keyid}.npy")
        params = np.load(corpus / "param" / f"{keyid}.npy")
        assert neck.dtype == np.float32 and neck.shape == (1, params.shape[1], 3)
        assert np.abs(neck).max() > np.radians(0.5)
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest["generator_version"] == GENERATOR_VERSION == 6
    data = MotionDataset(corpus, "train")
    sample = data[0]
    assert sample.neck is not None and sample.neck.shape == (sample.motion.shape[0], 3)
    np.testing.assert_allclose(sample.neck, np.load(corpus / "neck" / f"{sample.keyid}.npy")[0][: len(sample.neck)])


def test_each_take_records_the_performance_it_was_animated_with(corpus):
    from statistics import NormalDist

    seed = json.loads((corpus / "manifest.json").read_text())["seed"]
    keyids = sorted(p.stem for p in (corpus / "param").glob("*.npy"))
    assert sorted(p.stem for p in (corpus / "performance").glob("*.json")) == keyids
    data = MotionDataset(corpus, "train")
    for keyid in keyids:
        record = json.loads((corpus / "performance" / f"{keyid}.json").read_text())
        assert list(record["draws"]) == list(record["scores"]) == list(PERFORMANCE_HABITS)
        base = make_style(keyid.split("_")[0], seed)
        # the recorded draws give the style the clip was animated with, value for value
        assert perform_style(base, None, draws=record["draws"]) == perform_style(
            base, clip_rng(seed, keyid, "performance"))
        for name, u in record["draws"].items():
            assert 0.0 <= u < 1.0 and record["scores"][name] == pytest.approx(NormalDist().inv_cdf(u), abs=1e-9)
    sample = data[0]
    assert sample.performance == json.loads((corpus / "performance" / f"{sample.keyid}.json").read_text())["scores"]
    takes = [data[i].performance for i in range(len(data))]
    assert len({t["articulation"] for t in takes}) == len(takes)  # every take its own


def test_each_take_records_its_timing_tracks(corpus):
    """``timing/<keyid>.npy``: the curves the take's motion stream drew, frame for frame with its motion; the
    dataset carries them; the two performances of a line differ there."""
    from probtalk.corpus.animator import TIMING_TRACKS
    from probtalk.corpus.synth import ClipJob, _read_speech, animate_record

    seed = json.loads((corpus / "manifest.json").read_text())["seed"]
    data = MotionDataset(corpus, "train")
    first = next(k for k in data.keyids if "-p" not in k)
    for keyid in (first, first + "-p2"):
        timing = np.load(corpus / "timing" / f"{keyid}.npy")
        params = np.load(corpus / "param" / f"{keyid}.npy")
        assert timing.dtype == np.float32 and timing.shape == (params.shape[1], len(TIMING_TRACKS))
        audio, record = _read_speech(corpus, keyid)

        class _Voice:
            speaker_id = record["speaker"]

        job = ClipJob(keyid, record["text"], _Voice(), record["emotion"], int(record["intensity"]), seed, 25.0,
                      int(record["performance"]))
        np.testing.assert_array_equal(animate_record(job, audio, record, default_animator())[2], timing)
    one, two = (np.load(corpus / "timing" / f"{k}.npy") for k in (first, first + "-p2"))
    energy = TIMING_TRACKS.index("energy")
    assert 0.8 <= one[:, energy].min() and one[:, energy].max() <= 1.5 and one[:, energy].std() > 0.01
    assert np.abs(one - two).max() > 0.1  # another take, another timing
    sample = data[data.keyids.index(first)]
    np.testing.assert_array_equal(sample.timing, one[: sample.motion.shape[0]])


def test_a_missing_or_malformed_timing_record(corpus, tmp_path):
    copy = tmp_path / "notiming"
    shutil.copytree(corpus, copy)
    keyid = MotionDataset(copy, "train").keyids[0]
    np.save(copy / "timing" / f"{keyid}.npy", np.zeros((3, 7), np.float32))
    with pytest.raises(DatasetError, match=r"timing.*shape.*regenerate"):
        MotionDataset(copy, "train")[0]
    shutil.rmtree(copy / "timing")
    assert MotionDataset(copy, "train")[0].timing is None


def test_a_missing_or_malformed_performance_record(corpus, tmp_path):
    copy = tmp_path / "noperf"
    shutil.copytree(corpus, copy)
    keyid = MotionDataset(copy, "train").keyids[0]
    (copy / "performance" / f"{keyid}.json").write_text('{"scores": {"articulation": "wide"}}')
    with pytest.raises(DatasetError, match=r"performance.*malformed.*regenerate"):
        MotionDataset(copy, "train")[0]
    shutil.rmtree(copy / "performance")
    assert MotionDataset(copy, "train")[0].performance is None


def test_a_corpus_without_neck_files_loads_with_neck_none(corpus, tmp_path):
    copy = tmp_path / "noneck"
    shutil.copytree(corpus, copy)
    shutil.rmtree(copy / "neck")
    assert MotionDataset(copy, "train")[0].neck is None


def test_motion_only_rebuild_writes_no_speech_and_equals_a_full_generation(corpus, tmp_path):
    new = tmp_path / "rebuilt"
    new.mkdir()
    for sub in ("wav", "align"):
        shutil.copytree(corpus / sub, new / sub)
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in (new / "wav").iterdir()}
    result = synthesize_corpus(new, TINY, workers=1)
    assert result.generated == result.clips
    assert {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in (new / "wav").iterdir()} == before
    for sub in ("param", "neck", "timing"):
        for path in sorted((corpus / sub).glob("*.npy")):
            np.testing.assert_array_equal(np.load(new / sub / path.name), np.load(path))
    for path in sorted((corpus / "performance").glob("*.json")):
        assert (new / "performance" / path.name).read_text() == path.read_text()
    # a corpus from before performance records (or timing tracks) is completed by re-making its motion, the same
    for sub in ("performance", "timing"):
        shutil.rmtree(new / sub)
        assert synthesize_corpus(new, TINY, workers=1).generated == result.clips
        for path in sorted((corpus / "param").glob("*.npy")):
            np.testing.assert_array_equal(np.load(new / "param" / path.name), np.load(path))
        assert len(list((new / sub).glob("*"))) == result.clips
    assert (new / "splits" / "train").read_text() == (corpus / "splits" / "train").read_text()


def test_a_take_re_animated_with_another_takes_streams(corpus):
    """``animate_record(streams=...)``: a stream named after the clip itself re-makes the stored motion; one
    from the utterance's other performance moves the take (its habits or its timing, not both)."""
    from probtalk.corpus.synth import ClipJob, _read_speech, animate_record

    seed = json.loads((corpus / "manifest.json").read_text())["seed"]
    first = next(k for k in MotionDataset(corpus, "train").keyids if "-p" not in k)
    audio, record = _read_speech(corpus, first + "-p2")

    class _Voice:
        speaker_id = record["speaker"]

    job = ClipJob(first + "-p2", record["text"], _Voice(), record["emotion"], int(record["intensity"]), seed, 25.0, 2)
    stored = np.load(corpus / "param" / f"{first}-p2.npy")
    animator = default_animator()
    own = animate_record(job, audio, record, animator, {"performance": job.keyid, "motion": job.keyid})[0]
    np.testing.assert_array_equal(own, stored)
    habits = animate_record(job, audio, record, animator, {"motion": first})[0]  # p2's habits, p1's timing
    timing = animate_record(job, audio, record, animator, {"performance": first})[0]  # p1's habits, p2's timing
    for other in (habits, timing):
        assert other.shape == stored.shape and not np.allclose(other, stored, atol=1e-4)
    assert not np.allclose(habits, timing, atol=1e-4)
    with pytest.raises(ValueError, match="unknown stream"):
        animate_record(job, audio, record, animator, {"blinks": first})


def test_an_older_generator_version_is_refused(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    manifest = {"rig": load_rig().rig_id(), "seed": 0, "generator_version": 2, "fps": 25.0}
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"version 2.*cp -al") as err:
        synthesize_corpus(old, TINY, workers=1)
    assert "\n" not in str(err.value)
    assert not (old / "param").exists() or not any((old / "param").iterdir())
