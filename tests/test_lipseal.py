"""The lip seal: on transcript bilabials the lips meet, elsewhere the take is the model's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probtalk.flame import FlameLayer, load_rig
from probtalk.layout import MOTION_DIM, MOTION_EXPRESSION, MOTION_JAW
from probtalk.lipseal import BILABIAL_TOKENS, HOLD_FRAMES, KEEP_OPEN_MM, RAMP_FRAMES, LipSeal, lip_seal_for
from probtalk.models.phone_tokens import phone_tokens


@pytest.fixture(scope="module")
def rig():
    return load_rig()


@pytest.fixture(scope="module")
def seal(rig):
    return LipSeal.from_rig(rig)


def _gap_mm(rig, motion: np.ndarray) -> np.ndarray:
    m = torch.as_tensor(motion, dtype=torch.float32)
    with torch.no_grad():
        v = FlameLayer(rig)(expression=m[:, MOTION_EXPRESSION], jaw_pose=m[:, MOTION_JAW]).numpy()
    return np.linalg.norm(v[:, rig.keypoints["upper_lip"]] - v[:, rig.keypoints["lower_lip"]], axis=-1) * 1000


def _lips_apart(seal, gaps_mm: np.ndarray) -> np.ndarray:
    """Raw motion float32 [T, 53] whose linearised lip gap is ``gaps_mm`` on each frame: the jaw alone, along
    the direction that opens the lips by 1 mm per unit (the seal's lip vector is linear)."""
    unit = np.zeros(MOTION_DIM)
    unit[MOTION_JAW.start] = 1.0
    unit /= np.linalg.norm(seal.lip_vector(unit[None])[0])
    return (np.asarray(gaps_mm, np.float64)[:, None] * unit[None]).astype(np.float32)


def _open_mouth(rig, frames: int) -> np.ndarray:
    """A talking mouth: jaw and the rig's mouth openers moving, lips apart most of the time."""
    t = np.arange(frames) / 25.0
    motion = np.zeros((frames, MOTION_DIM), np.float32)
    motion[:, MOTION_JAW.start] = 0.12 + 0.08 * np.sin(2 * np.pi * 2.0 * t)
    for name, amp in (("mouthLowerDownLeft", 0.4), ("mouthUpperUpRight", 0.3), ("mouthSmileLeft", 0.5)):
        k = rig.semantic_names.index(name)
        motion[:, MOTION_EXPRESSION] += amp * rig.semantic_expression[k, :50] * (0.6 + 0.4 * np.cos(2 * np.pi * t))[:, None]
    return motion


def test_lip_vector_matches_the_flame_layer(rig, seal):
    motion = _open_mouth(rig, 40)
    motion[:, MOTION_JAW] *= 0.2  # the map is linearised at rest: check it near closed
    linear = np.linalg.norm(seal.lip_vector(motion), axis=1)
    np.testing.assert_allclose(linear, _gap_mm(rig, motion), atol=0.2)


def test_bilabial_frames_close_and_the_rest_is_untouched(rig, seal):
    frames = 50
    motion = _open_mouth(rig, frames)
    phones = [(0.0, 0.4, "AA1"), (0.4, 0.52, "M"), (0.52, 1.2, "AE1"), (1.2, 1.28, "B"), (1.28, 2.0, "IY1")]
    tokens = phone_tokens(phones, 25.0, frames)
    bilabial = np.isin(tokens, list(BILABIAL_TOKENS))
    assert _gap_mm(rig, motion)[bilabial].min() > 2.0  # open before
    sealed, count = seal.apply(motion, tokens)
    held = np.zeros(frames, bool)
    for t in np.flatnonzero(bilabial):
        held[t: t + HOLD_FRAMES + 1] = True
    assert count == int(held.sum()) >= int(bilabial.sum()) + 2 >= 6
    gap = _gap_mm(rig, sealed)
    assert gap[held].max() < 2.0  # the closure metric's threshold, the frame after too
    near = np.zeros(frames, bool)
    for t in np.flatnonzero(bilabial):
        near[max(0, t - RAMP_FRAMES): t + HOLD_FRAMES + RAMP_FRAMES + 1] = True
    np.testing.assert_array_equal(sealed[~near], motion[~near])  # timing and emotion elsewhere stay
    assert np.abs(sealed[near & ~held] - motion[near & ~held]).max() > 0  # faded in and out
    # smooth: no frame-to-frame jump larger than the seal itself needs
    assert np.abs(np.diff(gap)).max() < np.abs(np.diff(_gap_mm(rig, motion))).max() + 12.0


def test_the_fade_keeps_a_vowel_beside_the_seal_open(rig, seal):
    motion = _open_mouth(rig, 30)
    motion[:, MOTION_JAW.start] = 0.1  # open about 10 mm: a vowel on each side of the bilabial
    motion[20:, MOTION_JAW.start] = 0.0  # ... then only a little open
    marked = np.zeros(30, bool)
    marked[[10, 25]] = True
    before = np.linalg.norm(seal.lip_vector(motion), axis=1)
    assert before[[9, 11]].min() > KEEP_OPEN_MM + 2 and before[[24, 26]].max() < KEEP_OPEN_MM
    sealed, count = seal.seal_frames(motion, marked)
    after = np.linalg.norm(seal.lip_vector(sealed), axis=1)
    assert count == 2 and after[[10, 25]].max() < 2.0
    # the open neighbours fade toward the seal but keep the opening of a vowel
    np.testing.assert_allclose(after[[9, 11]], KEEP_OPEN_MM, atol=0.05)
    # a neighbour already less open than that fades by half, as before
    for t in (24, 26):
        half = motion[t] + 0.5 * (seal.sealed_frame(motion[25]) - motion[25])
        np.testing.assert_allclose(sealed[t], half, atol=1e-5)


def test_a_vowel_beside_a_seal_opens_and_the_seal_holds(rig, seal):
    """"ma" at 25 fps: the M shut on frames 8-9, the A's centre on frame 10, beside the seal. The seal
    shuts frames 8-9; the vowel's frame then opens to OPEN_MM, and the shut frames stay shut."""
    from probtalk.lipseal import OPEN_MM, open_vowel_centres, shown_bilabials

    motion = _open_mouth(rig, 20)
    motion[:, MOTION_JAW.start] = 0.03  # a mouth only a little open: the model under-opening
    phones = [(0.30, 0.38, "M"), (0.38, 0.44, "AA1"), (0.44, 0.8, "N")]
    shut = shown_bilabials(phones, 25.0, 20)
    centres = open_vowel_centres(phones, 25.0, 20, avoid=shut)
    assert np.flatnonzero(shut).tolist() == [8, 9] and np.flatnonzero(centres).tolist() == [10]
    out, _ = seal.open_frames(seal.seal_frames(motion, shut)[0], centres)
    gap = np.linalg.norm(seal.lip_vector(out), axis=1)
    assert gap[[8, 9]].max() < 2.0 and gap[10] >= OPEN_MM - 0.05
    assert _gap_mm(rig, out)[[8, 9]].max() < 2.0 and _gap_mm(rig, out)[10] > 6.0  # through the FLAME layer


def test_no_bilabials_or_no_tokens_leave_the_take_alone(rig, seal):
    motion = _open_mouth(rig, 20)
    tokens = phone_tokens([(0.0, 0.8, "AA1")], 25.0, 20)
    same, count = seal.apply(motion, tokens)
    assert count == 0 and np.array_equal(same, motion)
    same, count = seal.apply(motion, np.zeros(5, np.int64))  # shorter than the take
    assert count == 0 and np.array_equal(same, motion)


def test_only_the_bundled_rig_is_sealed(rig):
    assert lip_seal_for(rig.rig_id()) is not None and lip_seal_for(None) is not None
    assert lip_seal_for("FLAME2020:0123456789ab") is None


def test_transcript_seals_the_frames_shown_inside_each_bilabial():
    from probtalk.lipseal import shown_bilabials

    # frames at 0, 40, 80, ... ms: M [0.10, 0.20) holds the frames at 120 and 160 ms; B [0.33, 0.35)
    # holds none, so the frame nearest its midpoint (0.34 s -> frame 8 at 320 ms) stands for it.
    phones = [(0.0, 0.1, "AA1"), (0.1, 0.2, "M"), (0.2, 0.33, "AE1"), (0.33, 0.35, "B"), (0.35, 0.6, "IY0")]
    np.testing.assert_array_equal(np.flatnonzero(shown_bilabials(phones, 25.0, 15)), [3, 4, 8])
    assert not shown_bilabials(phones[:1], 25.0, 15).any() and shown_bilabials(phones, 25.0, 0).size == 0


def test_short_closures_are_brief_closures_in_speech_not_pauses(seal):
    from probtalk.lipseal import SHARED_MAX_FRAMES

    gaps = np.array([1.0, 1.0, 8, 8, 1, 1, 8, 8, *[0.5] * (SHARED_MAX_FRAMES + 3), 8, 8, 0.5, 9, 3, 3, 3, 3, 1, 3, 3, 3])
    marks = seal.short_closures(_lips_apart(seal, gaps))
    expected = np.zeros(gaps.size, bool)
    expected[4:6] = True  # two shut frames with open lips on both sides
    k = 8 + SHARED_MAX_FRAMES + 3
    expected[k + 2] = True  # one shut frame between open ones
    # not: the clip's first frames (no speech before), the pause (too long), a closure among half-open frames
    np.testing.assert_array_equal(marks, expected)


def test_a_shared_closure_on_a_heard_open_vowel_the_detector_does_not_hear_opens(seal):
    gaps = np.array([1.0, 8, 8, 1, 1, 8, 8, 1, 8, 8])  # brief closures at 3-4 and at 7
    reference = _lips_apart(seal, gaps)
    none = np.zeros(gaps.size, bool)
    every = np.ones(gaps.size, bool)
    centres = none.copy()
    centres[[4, 7]] = True  # the words heard put an open vowel's centre on 4 and on 7
    unheard = every.copy()
    unheard[7] = False  # ... and the detector hears a p, b or m at 7
    np.testing.assert_array_equal(np.flatnonzero(seal.shared_closures(reference, none, none, every)), [3, 4, 7])
    np.testing.assert_array_equal(np.flatnonzero(seal.shared_closures(reference, none, centres, unheard)), [3, 7])
    np.testing.assert_array_equal(np.flatnonzero(seal.shared_closures(reference, none, centres, none)), [3, 4, 7])
    # shorter marks (a detector run on fewer frames) leave the frames past them to the closures
    np.testing.assert_array_equal(np.flatnonzero(seal.shared_closures(reference, none, centres[:4], unheard[:4])),
                                  [3, 4, 7])


def test_a_heard_open_vowel_opens_a_shared_closure_that_holds_a_heard_bilabial(seal):
    """"um" heard a frame early by the ears: the deterministic take shuts 3-5, the ears mark 4-5 (the M)
    and the words heard put the U's centre on 3. The closure's frame on the vowel is the model's timing of
    the M the ears already hold: it opens, even though the detector hears the M there; a closure that
    holds no mark (7) stays shut where the detector hears a p, b or m."""
    gaps = np.array([8.0, 8, 8, 1, 1, 1, 8, 1, 8, 8])  # brief closures at 3-5 and at 7
    reference = _lips_apart(seal, gaps)
    marked = np.zeros(gaps.size, bool)
    marked[[4, 5]] = True
    centres = np.zeros(gaps.size, bool)
    centres[[3, 7]] = True
    heard_everywhere = np.zeros(gaps.size, bool)  # unheard nowhere: the detector hears p/b/m on every frame
    np.testing.assert_array_equal(np.flatnonzero(seal.shared_closures(reference, marked, centres, heard_everywhere)),
                                  [4, 5, 7])
    np.testing.assert_array_equal(  # no marks: both closures hold where the detector hears
        np.flatnonzero(seal.shared_closures(reference, np.zeros(gaps.size, bool), centres, heard_everywhere)), [3, 4, 5, 7])


def test_without_a_transcript_a_vowel_spreads_where_the_detector_hears_but_opens_no_shut_lips(seal):
    """Where the detector is silent a vowel's centre spreads to the frame beside it; without a transcript
    (``spread_anywhere``) it spreads elsewhere too, but as a less sure centre: it opens a take only where
    the take's lips are apart there, and it yields no shared closure."""
    from probtalk.lipseal import OPEN_MM, SHUT_MM, seal_takes

    gaps = np.array([8.0, 8, 8, 3, 3, 8, 8, 8, 1, 8, 8, 8, 8])
    take = _lips_apart(seal, gaps)
    # AA's midpoint at 3.4 frames spreads to 4 (lips at 3 mm); AE's at 7.4 spreads to 8 (lips shut)
    phones = [(3.4 / 25 - 0.04, 3.4 / 25 + 0.04, "AA"), (7.4 / 25 - 0.04, 7.4 / 25 + 0.04, "AE")]
    silent = np.ones(gaps.size, bool)
    hears = np.zeros(gaps.size, bool)  # the detector hears something on every frame
    unmarked = np.zeros(gaps.size, bool)  # ... and no p, b or m is marked

    def lip_gap(done):
        return np.linalg.norm(seal.lip_vector(done.takes[0]), axis=1)

    firm = lip_gap(seal_takes(seal, [take], unmarked, phones, 25.0, silent))  # the detector silent: both spread
    assert firm[[3, 4, 7, 8]].min() >= OPEN_MM - 0.05
    alone = lip_gap(seal_takes(seal, [take], unmarked, phones, 25.0, hears))  # not silent: the nearest frames only
    assert alone[[3, 7]].min() >= OPEN_MM - 0.05 and alone[4] < OPEN_MM - 0.5 and alone[8] < SHUT_MM
    anywhere = lip_gap(seal_takes(seal, [take], unmarked, phones, 25.0, hears, spread_anywhere=True))
    assert anywhere[[3, 4, 7]].min() >= OPEN_MM - 0.05 and anywhere[8] < SHUT_MM  # the shut frame stays shut
    # sampled takes keep the deterministic take's closure at 8 (the detector hearing nothing there, a
    # vowel's nearest frame on it would open it; a frame it spreads to does not)
    shared = seal_takes(seal, [take], unmarked, phones, 25.0, hears, unheard=silent, reference=take, spread_anywhere=True)
    assert shared.shared == 1 and lip_gap(shared)[8] < SHUT_MM and lip_gap(shared)[4] >= OPEN_MM - 0.05


def test_the_transcript_seal_follows_a_closure_heard_beside_the_aligned_phone():
    from probtalk.lipseal import widen_to_heard

    aligned = np.zeros(12, bool)
    aligned[[3, 4]] = True
    heard = np.zeros(12, bool)
    heard[[5, 6, 9]] = True  # 5 is beside the aligned p/b/m; 6 two frames off; 9 far from any
    assert np.flatnonzero(widen_to_heard(aligned, heard)).tolist() == [3, 4, 5]
    assert np.flatnonzero(widen_to_heard(aligned, heard, reach=2)).tolist() == [3, 4, 5, 6]
    assert np.flatnonzero(widen_to_heard(aligned, heard[:5])).tolist() == [3, 4]  # a shorter detector output
    assert not widen_to_heard(np.zeros(12, bool), heard).any()  # nothing aligned: nothing heard counts


def test_open_vowel_centres_are_the_frames_nearest_each_open_vowels_midpoint():
    from probtalk.lipseal import open_vowel_centres

    phones = [(0.0, 0.2, "AA1"), (0.2, 0.28, "M"), (0.28, 0.6, "IY1"), (0.6, 0.84, "AE0"), (0.84, 1.0, "B"),
              (1.0, 1.2, "AH")]
    centres = open_vowel_centres(phones, 25.0, 30)
    assert list(np.flatnonzero(centres)) == [2, 18, 28]  # AA, AE and AH; not IY, not the bilabials
    sealed = np.zeros(30, bool)
    sealed[18] = True  # a seal on the AE's centre: it stays shut
    assert list(np.flatnonzero(open_vowel_centres(phones, 25.0, 30, avoid=sealed))) == [2, 28]
    sealed[18], sealed[19] = False, True  # a seal beside it: the vowel opens in the frame before
    assert list(np.flatnonzero(open_vowel_centres(phones, 25.0, 30, avoid=sealed))) == [2, 18, 28]
    assert not open_vowel_centres(phones, 25.0, 0).size
    # Where the detector is silent, a centre spreads to the frame beside it that lies within SPREAD_FRAMES of
    # the midpoint and inside the vowel: AA's midpoint is 2.5 frames, AH's 27.5, AE's 18.0 (no neighbour near).
    silent = np.ones(30, bool)
    assert list(np.flatnonzero(open_vowel_centres(phones, 25.0, 30, spread=silent))) == [2, 3, 18, 27, 28]
    silent[3] = False  # the detector hears something there: the AA opens on its nearest frame only
    assert list(np.flatnonzero(open_vowel_centres(phones, 25.0, 30, spread=silent))) == [2, 18, 27, 28]
    assert list(np.flatnonzero(open_vowel_centres(phones, 25.0, 30, spread=silent[:20]))) == [2, 18, 28]


def test_open_frames_part_the_lips_at_an_open_vowels_centre(rig, seal):
    from probtalk.lipseal import OPEN_MM, OPEN_SPARE_MM

    motion = _open_mouth(rig, 30)
    motion[:, MOTION_JAW.start] = 0.04  # about 5 mm open ...
    motion[12:15, MOTION_JAW.start] = 0.2  # ... but wide around frame 13
    motion[21] *= 0.0  # shut at rest
    before = np.linalg.norm(seal.lip_vector(motion), axis=1)
    assert OPEN_SPARE_MM < before[5] < OPEN_MM - 1.5 and before[13] > OPEN_MM + 2 and before[21] < OPEN_SPARE_MM
    frames = np.zeros(30, bool)
    frames[[5, 13, 20]] = True
    opened, count = seal.open_frames(motion, frames)
    after = np.linalg.norm(seal.lip_vector(opened), axis=1)
    assert count == 2  # frame 13 was open wide enough already
    np.testing.assert_allclose(after[[5, 20]], OPEN_MM, atol=0.05)
    assert _gap_mm(rig, opened)[[5, 20]].min() > 6.0  # the benchmarks' open bar, through the FLAME layer
    change = opened - motion
    assert not np.delete(change, MOTION_JAW.start, axis=1).any()  # only the jaw's opening rotation moves
    jaw = change[:, MOTION_JAW.start]
    assert (jaw >= 0).all() and jaw[13] == 0
    np.testing.assert_allclose(jaw[[4, 6, 19]], 0.5 * jaw[[5, 5, 20]], rtol=1e-5)  # neighbours open by half ...
    assert jaw[21] == 0  # ... unless shut: a closure there stays
    assert not jaw[np.setdiff1d(np.arange(30), [4, 5, 6, 19, 20])].any()
