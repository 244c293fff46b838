"""The procedural animator on the bundled rig: lip-sync criteria, emotions, coarticulation, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from probtalk.corpus.animator import ProceduralAnimator, loudness_envelope
from probtalk.corpus.phones import Phone
from probtalk.corpus.style_profiles import SpeakerStyle, make_style
from probtalk.corpus.visemes import EMOTION_PATTERNS
from probtalk.errors import RigError, StyleError
from probtalk.eval.lipsync import lip_gap, lipsync_counts
from probtalk.flame import FlameLayer, load_rig
from probtalk.layout import PARAM_DIM, PARAM_EXPRESSION, PARAM_JAW, PARAM_SHAPE

FPS = 25.0
CONSONANTS = ["T", "D", "S", "N", "K", "L", "R", "F", "V", "SH", "W", "Y", "HH", "G", "Z", "DH"]
VOWELS = ["AA", "AE", "AH", "AO", "AW", "AY", "IY", "IH", "EH", "EY", "UW", "UH", "OW", "ER"]


@pytest.fixture(scope="module")
def rig():
    return load_rig()


@pytest.fixture(scope="module")
def animator(rig):
    return ProceduralAnimator(rig)


@pytest.fixture(scope="module")
def layer(rig):
    return FlameLayer(rig)


def random_phones(rng, seconds=6.0):
    """A plausible phone stream: syllables of (consonant cluster, vowel), bilabials frequent, pauses."""
    phones, t = [Phone(0.0, 0.3, "SIL")], 0.3
    while t < seconds - 0.5:
        for _ in range(int(rng.integers(0, 3))):
            c = str(rng.choice(["P", "B", "M"] + CONSONANTS)) if rng.random() < 0.6 else str(rng.choice(["P", "B", "M"]))
            d = float(rng.uniform(0.05, 0.11))
            phones.append(Phone(t, t + d, c))
            t += d
        v = str(rng.choice(VOWELS)) + str(rng.choice(["0", "1"]))
        d = float(rng.uniform(0.06, 0.2))
        phones.append(Phone(t, t + d, v))
        t += d
        if rng.random() < 0.1:
            phones.append(Phone(t, t + 0.25, "SIL"))
            t += 0.25
    phones.append(Phone(t, seconds, "SIL"))
    return phones


def gaps(layer, params):
    p = torch.from_numpy(params)
    verts = layer(shape=p[:, PARAM_SHAPE], expression=p[:, PARAM_EXPRESSION], jaw_pose=p[:, PARAM_JAW])
    return verts


@pytest.mark.parametrize("emotion", ["neutral", "happy", "surprised", "disgusted", "angry", "fear", "sad", "contempt"])
def test_lip_closure_and_opening(rig, animator, layer, emotion):
    rng = np.random.default_rng(EMOTION_PATTERNS and list(EMOTION_PATTERNS).index(emotion))
    counts = None
    for k in range(3):
        phones = random_phones(rng)
        style = make_style(f"S{k:03d}", seed=int(rng.integers(1000)))
        params = animator.animate(
            phones, 6.0, fps=FPS, emotion=emotion, intensity=2.0, style=style,
            loudness=rng.uniform(0.2, 1.0, 150).astype(np.float32), rng=rng,
        )
        c = lipsync_counts(lip_gap(gaps(layer, params), rig), FPS, [(p.start, p.end, p.phone) for p in phones])
        counts = c if counts is None else counts + c
    assert counts.closed_total > 20 and counts.open_total > 20
    assert counts.closure_rate >= 0.9, counts
    assert counts.opening_rate >= 0.9, counts


def test_output_layout_and_identity(animator):
    style = make_style("M001", 0)
    params = animator.animate([Phone(0.0, 0.5, "AA")], 1.01, fps=FPS, style=style)
    assert params.shape == (round(1.01 * FPS), PARAM_DIM) and params.dtype == np.float32
    np.testing.assert_allclose(params[:, PARAM_SHAPE], np.broadcast_to(style.shape(), (params.shape[0], 300)))
    assert np.abs(params[:, PARAM_JAW]).max() > 0.01  # the open vowel drops the jaw
    assert animator.animate([], 0.4, fps=50.0).shape == (20, PARAM_DIM)


def _mean_weight(animator, weights, *names):
    return float(np.mean([weights[:, animator.index[n]].mean() for n in names]))


def test_emotion_patterns_in_documented_direction(animator, rig, layer):
    phones = random_phones(np.random.default_rng(3), 4.0)
    w = {
        e: animator.semantic_weights(phones, 4.0, emotion=e, intensity=2.0, rng=np.random.default_rng(0))
        for e in EMOTION_PATTERNS
    }
    m = lambda e, *n: _mean_weight(animator, w[e], *n)  # noqa: E731
    assert m("happy", "mouthSmileLeft", "mouthSmileRight") > m("sad", "mouthSmileLeft", "mouthSmileRight") + 0.3
    assert m("happy", "cheekSquintLeft") > m("neutral", "cheekSquintLeft") + 0.3
    assert m("sad", "browInnerUp") > m("happy", "browInnerUp") + 0.3
    assert m("sad", "mouthFrownLeft", "mouthFrownRight") > m("happy", "mouthFrownLeft", "mouthFrownRight") + 0.3
    assert m("surprised", "eyeWideLeft", "browOuterUpLeft") > m("neutral", "eyeWideLeft", "browOuterUpLeft") + 0.3
    assert m("angry", "browDownLeft", "browDownRight") > m("surprised", "browDownLeft", "browDownRight") + 0.3
    assert m("disgusted", "noseSneerLeft") > m("neutral", "noseSneerLeft") + 0.3
    assert m("fear", "mouthStretchLeft") > m("neutral", "mouthStretchLeft") + 0.2
    assert m("contempt", "mouthSmileLeft") > m("contempt", "mouthSmileRight") + 0.2  # unilateral
    # and the FLAME expression of the upper face differs between happy and sad
    happy, sad = (animator.weights_to_params(w[e]) for e in ("happy", "sad"))
    upper = rig.region("upper_face")
    vh, vs = gaps(layer, happy)[:, upper], gaps(layer, sad)[:, upper]
    moved = (vh - vs).norm(dim=-1).mean(0)  # [V_upper] mean displacement happy vs sad
    assert float(moved.max()) > 2e-3 and float((moved > 5e-4).float().mean()) > 0.1  # brows/cheeks differ by mm


def test_intensity_and_blend(animator):
    phones = [Phone(0.0, 3.0, "SIL")]
    smile = [
        _mean_weight(animator, animator.semantic_weights(phones, 3.0, emotion="happy", intensity=i), "mouthSmileLeft")
        for i in (0.0, 1.0, 2.0)
    ]
    assert smile[0] < smile[1] < smile[2]
    blend = animator.semantic_weights(phones, 3.0, emotion={"happy": 0.5, "sad": 0.5}, intensity=2.0)
    happy = animator.semantic_weights(phones, 3.0, emotion="happy", intensity=2.0)
    sad = animator.semantic_weights(phones, 3.0, emotion="sad", intensity=2.0)
    np.testing.assert_allclose(blend, 0.5 * (happy + sad), atol=1e-5)
    # onset dynamics: the emotion builds up over the first half second
    assert happy[0, animator.index["mouthSmileLeft"]] < 0.6 * happy[20, animator.index["mouthSmileLeft"]]


def test_coarticulation_is_smooth_and_anticipatory(animator):
    fps = 100.0
    phones = [Phone(0.0, 0.3, "IY"), Phone(0.3, 0.6, "AA"), Phone(0.6, 0.9, "UW")]
    w = animator.semantic_weights(phones, 0.9, fps=fps)
    jaw = w[:, animator.index["jawOpen"]]
    pucker = w[:, animator.index["mouthPucker"]]
    assert np.abs(np.diff(jaw)).max() < 0.1  # no step at the phone boundary
    assert jaw[25] > jaw[5] + 0.1 * (jaw[45] - jaw[5])  # the jaw starts opening before AA (t = 0.25 s)
    assert pucker[58] > pucker[45] + 0.1  # lips round ahead of UW (t = 0.6 s)
    mid = jaw[26:30]
    assert np.all((mid > jaw[10] + 0.02) & (mid < jaw[45] - 0.02))  # intermediate values, not a switch


def test_loudness_drives_the_jaw(animator):
    phones = [Phone(0.0, 0.4, "AA"), Phone(0.4, 0.8, "AA")]
    loud = np.concatenate([np.full(10, 0.1), np.full(10, 1.0)]).astype(np.float32)
    w = animator.semantic_weights(phones, 0.8, loudness=loud)
    jaw = w[:, animator.index["jawOpen"]]
    assert jaw[15] > jaw[4] * 1.15
    audio = np.concatenate([np.zeros(8000), 0.5 * np.ones(8000)]).astype(np.float32)
    env = loudness_envelope(audio, 25.0)
    assert env.shape == (25,) and env[2] == 0 and env[-3] == pytest.approx(0.5, rel=1e-3)


def test_determinism_variation_and_blinks(animator):
    phones = random_phones(np.random.default_rng(1), 6.0)
    style = make_style("W002", 7)
    a = animator.animate(phones, 6.0, style=style, rng=np.random.default_rng(5))
    b = animator.animate(phones, 6.0, style=style, rng=np.random.default_rng(5))
    c = animator.animate(phones, 6.0, style=style, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3  # another seed, another valid motion
    d1 = animator.animate(phones, 6.0, style=style)
    d2 = animator.animate(phones, 6.0, style=style)
    np.testing.assert_array_equal(d1, d2)
    w = animator.semantic_weights(phones, 6.0, style=dataclasses.replace(style, blink_rate=0.5), rng=np.random.default_rng(2))
    blink = w[:, animator.index["eyeBlinkLeft"]]
    np.testing.assert_array_equal(blink, w[:, animator.index["eyeBlinkRight"]])
    closed = blink > 0.3
    events = int(np.sum(closed[1:] & ~closed[:-1]) + closed[0])
    assert 1 <= events <= 8
    assert closed.sum() <= events * 4  # each blink lasts at most ~150 ms (4 frames at 25 fps)


def test_styles_are_per_speaker(animator):
    assert make_style("M001", 0) == make_style("M001", 0)
    assert make_style("M001", 0) != make_style("M002", 0)
    assert make_style("M001", 0) != make_style("M001", 1)
    s = make_style("W005", 3)
    assert SpeakerStyle.from_dict(s.to_dict()) == s
    phones = random_phones(np.random.default_rng(0), 3.0)
    big = animator.semantic_weights(phones, 3.0, style=dataclasses.replace(s, articulation=1.2, asymmetry=0.0))
    small = animator.semantic_weights(phones, 3.0, style=dataclasses.replace(s, articulation=0.85, asymmetry=0.0))
    assert big[:, animator.index["mouthStretchLeft"]].sum() > small[:, animator.index["mouthStretchLeft"]].sum()
    lop = animator.semantic_weights(phones, 3.0, emotion="happy", style=dataclasses.replace(s, asymmetry=0.3))
    assert lop[:, animator.index["mouthSmileLeft"]].mean() > lop[:, animator.index["mouthSmileRight"]].mean()


def test_errors(animator, rig):
    with pytest.raises(StyleError, match="unknown emotion"):
        animator.animate([], 1.0, emotion="bored")
    with pytest.raises(StyleError, match="intensity"):
        animator.animate([], 1.0, intensity=3.0)
    with pytest.raises(StyleError, match="duration"):
        animator.animate([], 0.0)
    with pytest.raises(RigError, match="semantic"):
        ProceduralAnimator(dataclasses.replace(rig, semantic_expression=None))


def test_jaw_calibration_compensates_the_rig(rig, layer):
    """A rig whose jaw opens twice as far per unit of jawOpen gets half the jawOpen weight."""
    jaw = rig.semantic_index("jawOpen")
    offsets = rig.semantic_offsets.copy()
    offsets[jaw] *= 2.0
    sem_jaw = rig.semantic_jaw.copy()
    sem_jaw[jaw] *= 2.0
    wide = dataclasses.replace(rig, semantic_offsets=offsets, semantic_jaw=sem_jaw)
    base, scaled = ProceduralAnimator(rig), ProceduralAnimator(wide)
    assert base.jaw_scale == 1.0
    assert scaled.jaw_scale == pytest.approx(0.5, rel=0.05)
    phones = [Phone(0.0, 0.2, "SIL"), Phone(0.2, 0.5, "AA"), Phone(0.5, 0.8, "SIL")]
    g = [lip_gap(gaps(layer, a.animate(phones, 0.8)), rig)[9] for a in (base, scaled)]
    assert g[1] == pytest.approx(g[0], rel=0.05)  # same layer: the scaled jawOpen halves the rotation
