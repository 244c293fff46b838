"""Timing channels (issue 16): the corpus animator's timing tracks, their standard-normal scores at the noise
knots, and a stage 2 trained on them (tiny models and corpora; the corpus files in test_corpus_v3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from test_lipsync import spy_noise

from probtalk.corpus.animator import GESTURE_TRACKS, GESTURES, TIMING_TRACKS
from probtalk.corpus.phones import Phone
from probtalk.corpus.synth import default_animator
from probtalk.errors import DatasetError, InputError
from probtalk.models.style_predictor import StylePredictorConfig
from probtalk.train.objective import fit_knots, hat_weights, timing_quantiles, timing_scores

PHONES = [Phone(0.0, 0.2, "SIL"), Phone(0.2, 0.3, "HH"), Phone(0.3, 0.55, "EH1"), Phone(0.55, 0.65, "L"),
          Phone(0.65, 0.9, "OW1"), Phone(0.9, 1.1, "SIL"), Phone(1.1, 1.2, "W"), Phone(1.2, 1.5, "ER1"),
          Phone(1.5, 1.6, "L"), Phone(1.6, 1.7, "D"), Phone(1.7, 2.4, "SIL"), Phone(2.4, 2.5, "M"),
          Phone(2.5, 2.9, "AA1"), Phone(2.9, 3.0, "M"), Phone(3.0, 3.5, "SIL")]


@pytest.fixture(scope="module")
def animator():
    return default_animator()


def test_recording_the_timing_draws_nothing_more(animator):
    """The same rng state gives the same take with or without its tracks recorded."""
    kwargs = dict(emotion="happy", intensity=1.0)
    plain = animator.semantic_weights(PHONES, 3.5, rng=np.random.default_rng(3), **kwargs)
    timing: dict[str, np.ndarray] = {}
    recorded = animator.semantic_weights(PHONES, 3.5, rng=np.random.default_rng(3), timing=timing, **kwargs)
    np.testing.assert_array_equal(plain, recorded)
    assert set(timing) == set(TIMING_TRACKS)
    tracks = animator.timing_tracks(PHONES, 3.5, rng=np.random.default_rng(3), **kwargs)
    assert tracks.shape == (plain.shape[0], len(TIMING_TRACKS)) and tracks.dtype == np.float32
    np.testing.assert_array_equal(tracks, np.stack([timing[n] for n in TIMING_TRACKS], 1))


def test_the_tracks_say_when_each_gesture_falls(animator):
    """Without an rng every accent gets a brow raise: the raise track holds it where the brows move, the other
    gesture tracks stay zero, energy and smiles hold still; with one, takes differ in their tracks."""
    tracks = animator.timing_tracks(PHONES, 3.5, style=dataclasses.replace(_style(), brow_use=0.6))
    weights = animator.semantic_weights(PHONES, 3.5, style=dataclasses.replace(_style(), brow_use=0.6))
    still = animator.semantic_weights(PHONES, 3.5, style=dataclasses.replace(_style(), brow_use=0.0))
    raise_ = tracks[:, TIMING_TRACKS.index("brow_raise")]
    inner = animator.names.index("browInnerUp")
    moved = weights[:, inner] - still[:, inner]
    assert raise_.max() > 0.5 and np.corrcoef(raise_, moved)[0, 1] > 0.99
    for name in ("brow_frown", "eyes_wide", "squint", "smile"):
        assert not tracks[:, TIMING_TRACKS.index(name)].any(), name
    np.testing.assert_array_equal(tracks[:, TIMING_TRACKS.index("energy")], 1.0)
    smiling = dataclasses.replace(_style(), smile_rate=0.5)
    takes = [animator.timing_tracks(PHONES, 3.5, emotion="happy", style=smiling, rng=np.random.default_rng(s))
             for s in range(6)]
    for name in ("energy", "brow_raise", "smile", "emotion"):
        k = TIMING_TRACKS.index(name)
        assert max(np.abs(a[:, k] - takes[0][:, k]).max() for a in takes[1:]) > 0.05, name
    assert len(GESTURE_TRACKS) == len(GESTURES) and set(GESTURE_TRACKS) <= set(TIMING_TRACKS)


def _style():
    from probtalk.corpus.style_profiles import DEFAULT_STYLE

    return DEFAULT_STYLE


def test_knots_follow_the_track_where_the_clip_is():
    t = 100
    track = torch.zeros(1, t, 1)
    track[0, 60:70, 0] = 2.0  # a gesture at 2.6 s
    knots = fit_knots(track, torch.ones(1, t, dtype=torch.bool), 9)
    hat = hat_weights(t, 9)
    assert torch.allclose(hat.sum(0), torch.ones(t))  # interpolation weights of each frame sum to one
    centres = hat.argmax(1)
    assert int(knots[0, :, 0].argmax()) == int((centres - 65).abs().argmin())  # the knot nearest the gesture
    assert float(knots[0, :3, 0].abs().max()) == 0.0 and float(knots.min()) >= 0.0  # no ringing around it
    # frames past the clip do not count
    mask = torch.ones(1, t, dtype=torch.bool)
    mask[0, 50:] = False
    padded = track.clone()
    padded[0, 50:] = 7.0
    assert torch.equal(fit_knots(padded, mask, 9)[0, :4], fit_knots(torch.zeros(1, t, 1), mask, 9)[0, :4])


def test_scores_are_standard_normal_over_the_corpus(animator):
    """Knots through the corpus's quantiles give standard-normal scores (gesture tracks' zeros included), what
    sampling draws at run time; a gesture scores high at its knot."""
    rng = np.random.default_rng(0)
    smiling = dataclasses.replace(_style(), smile_rate=0.3)
    clips = [animator.timing_tracks(PHONES, 3.5, emotion="happy", style=smiling, rng=np.random.default_rng(int(s)))
             for s in rng.integers(0, 10**6, 300)]
    table = timing_quantiles(clips[:200], 2.0, 25.0)
    assert len(table) == len(TIMING_TRACKS) and all(len(row) == 101 for row in table)
    held = torch.as_tensor(np.stack(clips[200:]))
    mask = torch.ones(held.shape[:2], dtype=torch.bool)
    z = timing_scores(held, mask, 9, table)
    assert z.shape == (100, 9, len(TIMING_TRACKS)) and torch.isfinite(z).all()
    for k, name in enumerate(TIMING_TRACKS):
        if name == "emotion":  # the envelope rises at the start and falls at the end: look mid-clip
            continue
        assert abs(float(z[..., k].mean())) < 0.25 and 0.75 < float(z[..., k].std()) < 1.25, name
    raise_ = TIMING_TRACKS.index("brow_raise")
    values = fit_knots(held, mask, 9)[..., raise_]
    assert float(z[..., raise_][values > np.quantile(values, 0.95)].min()) > 1.0
    assert float(z[..., raise_][values == 0].max()) < 1.5  # no gesture: a low score (drawn within the zeros' ranks)


def test_config_names_tracks_and_leaves_the_quantiles_to_training():
    from probtalk.train.config import load_train_config

    cfg = load_train_config(None, ["predictor.noise_dim=4", 'predictor.performance_habits=["articulation"]',
                                   'predictor.timing_tracks=["energy", "smile"]'])
    assert cfg.predictor.timing_tracks == ("energy", "smile")
    with pytest.raises(InputError, match="timing tracks out of energy"):
        load_train_config(None, ['predictor.timing_tracks=["jitter"]'])
    with pytest.raises(InputError, match="filled by training"):
        load_train_config(None, ["predictor.timing_quantiles=[[0.0]]"])
    with pytest.raises(ValueError, match="noise_dim"):
        StylePredictorConfig(noise_dim=2, performance_habits=("articulation",), timing_tracks=("energy", "smile"))


def _tiny_talker(tracks: tuple[str, ...], quantiles: tuple[tuple[float, ...], ...]):
    from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
    from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
    from probtalk.models.style import StyleVocabulary
    from probtalk.models.style_predictor import StylePredictor
    from probtalk.models.talker import Normalizer, Talker

    torch.manual_seed(0)
    enc = AudioEncoder.from_config(AudioEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, conv_dim=(16,) * 7))
    pcfg = StylePredictorConfig(audio_dim=enc.out_dim, latent_dim=16, num_speakers=2, hidden=32, layers=1, heads=2,
                                ff_dim=64, dropout=0.0, noise_dim=4, hypotheses=4, performance_habits=("articulation",),
                                timing_tracks=tracks, timing_quantiles=quantiles)
    vq = MotionVQ(MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=32, dropout=0.0))
    return Talker(enc, StylePredictor(pcfg), vq, Normalizer(), StyleVocabulary(("A", "B")))


def test_the_drawn_take_gets_the_takes_own_timing(monkeypatch, animator):
    """Training with timing tracks: two rows per clip, the deterministic take (zero noise) and one whose timing
    channels hold the take's own tracks' scores (clips without tracks: drawn); that row's loss counts."""
    from probtalk.train.objective import StageTwoObjective

    clips = [animator.timing_tracks(PHONES, 3.5, rng=np.random.default_rng(s)) for s in range(40)]
    names = ("energy", "brow_raise")
    index = [TIMING_TRACKS.index(n) for n in names]
    table = timing_quantiles([c[:, index] for c in clips], 2.0, 25.0)
    talker = _tiny_talker(names, table).train()
    obj = StageTwoObjective(talker, None).train()
    seen = spy_noise(monkeypatch, talker)
    b, t = 2, 50
    timing = torch.as_tensor(np.stack([clips[0][:t], clips[1][:t]]))
    timed = torch.tensor([True, False])
    torch.manual_seed(1)
    loss, terms = obj(torch.randn(b, t * 640) * 0.1, torch.tensor([t * 640] * b), torch.randn(b, t, 53) * 0.1,
                      torch.ones(b, t, dtype=torch.bool), torch.tensor([0, 1]), torch.tensor([0, 1]),
                      torch.tensor([0, 1]), None, [{"articulation": 0.4}, None], timing, timed)
    rows = seen[0].view(b, 2, -1, 4)
    assert not rows[:, 0, :, 1:].any() and not rows[1, 0].any()  # the deterministic take (the clip's habits kept)
    knots = rows.shape[2]
    want = timing_scores(timing[:1, :, index], torch.ones(1, t, dtype=torch.bool), knots, table)[0]
    energy = rows[0, 1, :, 1]
    assert torch.allclose(energy, want[:, 0], atol=1e-5)  # energy has no ties: its score is exact
    assert float(rows[0, 1, :, 0].sub(0.4).abs().max()) == 0.0  # the habit channel as before
    assert float(rows[1, 1, :, 1:].abs().min()) > 0  # a clip without tracks: drawn
    assert torch.isfinite(loss) and "spread" in terms
    loss.backward()
    assert talker.predictor.noise_in.weight.grad[:, 1:3].abs().sum() > 0


def test_a_timing_model_saves_what_its_channels_mean(tmp_path):
    from probtalk.models.checkpoint import load_checkpoint, save_checkpoint

    table = ((0.8, 1.0, 1.5), (0.0, 0.0, 2.0))
    talker = _tiny_talker(("energy", "brow_raise"), tuple(tuple(np.linspace(r[0], r[2], 101)) for r in table))
    save_checkpoint(tmp_path / "m.pt", talker)
    loaded, _ = load_checkpoint(tmp_path / "m.pt")
    assert loaded.predictor.config == talker.predictor.config
    assert loaded.predictor.config.timing_quantiles[1][100] == pytest.approx(2.0)


def test_augmentation_carries_the_tracks_with_the_motion():
    from probtalk.data.dataset import Batch
    from probtalk.train.augment import augment_batch, random_crop
    from probtalk.train.config import AugmentConfig

    b, t = 2, 100
    timing = torch.arange(t, dtype=torch.float32)[None, :, None].expand(b, t, 7).contiguous()
    batch = Batch(audio=torch.randn(b, t * 640) * 0.1, audio_lengths=torch.tensor([t * 640] * b),
                  motion=torch.arange(t, dtype=torch.float32)[None, :, None].expand(b, t, 53).contiguous(),
                  motion_mask=torch.ones(b, t, dtype=torch.bool), lengths=torch.tensor([t, t]),
                  speaker_index=torch.zeros(b, dtype=torch.long), emotion=torch.zeros(b, dtype=torch.long),
                  intensity=torch.zeros(b, dtype=torch.long), shape=torch.zeros(b, 300), keyids=["a", "b"],
                  timing=timing, timed=torch.tensor([True, True]))
    gen = torch.Generator().manual_seed(0)
    cropped = random_crop(batch, 1.2, 25.0, gen)
    assert cropped.timing.shape[:2] == cropped.motion.shape[:2] == (b, 30)
    assert torch.equal(cropped.timing[..., 0], cropped.motion[..., 0])
    fast = augment_batch(batch, AugmentConfig(speed_prob=1.0, speed_range=(1.2, 1.2)), 25.0, gen)
    assert fast.timing.shape[:2] == fast.motion.shape[:2] and fast.motion.shape[1] < t
    assert torch.allclose(fast.timing[0, : fast.lengths[0], 0], fast.motion[0, : fast.lengths[0], 0])


def test_training_on_timing_tracks(tmp_path):
    """``predictor.timing_tracks``: training fills the quantiles from the corpus and saves them; a corpus without
    timing files is a one-line error naming the fix."""
    from test_train import make_corpus, tiny

    from probtalk.models.checkpoint import load_checkpoint
    from probtalk.train import train_predictor, train_vq

    corpus = make_corpus(tmp_path / "corpus")
    train_vq(corpus, tmp_path / "vq", tiny("steps=2"), progress=False)
    cfg = tiny("steps=3", "predictor.noise_dim=3", 'predictor.timing_tracks=["energy", "smile"]')
    with pytest.raises(InputError, match=r"timing/<keyid>.npy.*probtalk data synth"):
        train_predictor(corpus, tmp_path / "none", tmp_path / "vq" / "last.pt", cfg, progress=False)
    rng = np.random.default_rng(0)
    (corpus / "timing").mkdir()
    for path in sorted((corpus / "param").glob("*.npy")):
        frames = np.load(path).shape[1]
        tracks = np.zeros((frames, len(TIMING_TRACKS)), np.float32)
        tracks[:, 0] = 1.0 + 0.2 * rng.standard_normal(frames)
        tracks[frames // 2 :, TIMING_TRACKS.index("smile")] = rng.uniform(0.1, 0.5)
        np.save(corpus / "timing" / path.name, tracks)
    talker, _ = train_predictor(corpus, tmp_path / "pred", tmp_path / "vq" / "last.pt", cfg, progress=False)
    loaded, _ = load_checkpoint(Path(tmp_path / "pred" / "last.pt"))
    table = loaded.predictor.config.timing_quantiles
    assert len(table) == 2 and table[0][0] < 1.0 < table[0][100] and table[1][0] == 0.0 < table[1][100]
    np.save(corpus / "timing" / path.name, np.ones(5, np.float32))  # a malformed record: named, no traceback
    with pytest.raises(DatasetError, match=r"timing.*regenerate the clip"):
        train_predictor(corpus, tmp_path / "bad", tmp_path / "vq" / "last.pt", cfg, progress=False)
