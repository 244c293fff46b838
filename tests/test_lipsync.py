"""Transcript input, retakes and the held-out engine: tiny models and corpora (the shipped model in test_default_model)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from probtalk.data.dataset import MotionDataset, collate, make_keyid, parse_keyid
from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
from probtalk.models.phone_tokens import NUM_PHONE_TOKENS, phone_tokens
from probtalk.models.style import StyleVocabulary
from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
from probtalk.models.talker import Normalizer, Talker

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed (apt-get install flite)")


def tiny_talker(phone_input: bool = True, noise_dim: int = 4, hypotheses: int = 3, seed: int = 0,
                noise_after: int = 0, habits: tuple[str, ...] = (), noise_posterior: float = 0.0,
                weight_latent: float = 1.0, noise_memory: float = 0.0, habit_spread: tuple[float, ...] = ()) -> Talker:
    torch.manual_seed(seed)
    enc = AudioEncoder.from_config(AudioEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, conv_dim=(16,) * 7))
    pcfg = StylePredictorConfig(audio_dim=enc.out_dim, latent_dim=16, num_speakers=2, hidden=32,
                                layers=noise_after + 1, heads=2, ff_dim=64, dropout=0.0, phone_input=phone_input,
                                noise_dim=noise_dim, noise_after=noise_after, hypotheses=hypotheses,
                                weight_phone=0.1, weight_lip=0.1, performance_habits=habits,
                                noise_posterior=noise_posterior, weight_latent=weight_latent,
                                noise_memory=noise_memory, habit_spread=habit_spread)
    vq = MotionVQ(MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=32, dropout=0.0))
    talker = Talker(enc, StylePredictor(pcfg), vq, Normalizer(), StyleVocabulary(("A", "B")))
    if talker.predictor.phone_in is not None:  # a trained model's embedding is not zero
        with torch.no_grad():
            torch.nn.init.normal_(talker.predictor.phone_in.weight)
            talker.predictor.phone_in.weight[0] = 0.0  # the padding row (no phone) stays zero in training
    return talker.eval()


def spy_noise(monkeypatch, talker: Talker) -> list[torch.Tensor]:
    """Record the noise each call of ``talker``'s predictor gets (a list that fills as it runs)."""
    seen: list[torch.Tensor] = []
    forward = talker.predictor.forward

    def spy(features, mask, style, phones=None, noise=None):
        seen.append(noise.detach().clone())
        return forward(features, mask, style, phones, noise)

    monkeypatch.setattr(talker.predictor, "forward", spy)
    return seen


@pytest.fixture(scope="module")
def speech():
    t = torch.arange(16000) / 16000
    return (0.3 * torch.sin(2 * torch.pi * 180 * t) * (0.5 + 0.5 * torch.sin(2 * torch.pi * 3 * t)))[None]


def test_phone_tokens_follow_the_timings():
    tokens = phone_tokens([(0.0, 0.1, "SIL"), (0.1, 0.2, "M"), (0.2, 0.4, "AA1")], 25.0, 12)
    assert tokens.shape == (12,) and tokens.dtype == np.int64
    assert tokens[0] > 0 and tokens[3] == tokens[4] != tokens[6]
    assert (tokens[10:] == 0).all()  # past the last phone: unknown
    assert tokens.max() < NUM_PHONE_TOKENS


def test_phones_reach_the_model(speech):
    talker = tiny_talker()
    style = talker.vocabulary.make("neutral")
    n = torch.tensor([speech.shape[1]])
    plain, _ = talker.sample(speech, n, style, temperature=None)
    ph = torch.from_numpy(phone_tokens([(0.0, 0.3, "SIL"), (0.3, 0.5, "M"), (0.5, 1.0, "AA")], 25.0, 25))[None]
    with_text, _ = talker.sample(speech, n, style, temperature=None, phones=ph)
    assert (with_text - plain).abs().max() > 1e-4
    unknown, _ = talker.sample(speech, n, style, temperature=None, phones=torch.zeros_like(ph))
    torch.testing.assert_close(unknown, plain)  # token 0 = no transcript = audio only


def test_deterministic_takes_identical_and_seeded_takes_repeat(speech):
    talker = tiny_talker()
    style = talker.vocabulary.make("happy", 1.0, "A")
    n = torch.tensor([speech.shape[1]])
    det, _ = talker.sample(speech, n, style, num_samples=3, temperature=None)
    assert torch.equal(det[0], det[1]) and torch.equal(det[1], det[2])
    a, _ = talker.sample(speech, n, style, num_samples=4, generator=torch.Generator().manual_seed(5))
    b, _ = talker.sample(speech, n, style, num_samples=4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_noise_input_makes_takes_differ(speech):
    talker = tiny_talker()
    style = talker.vocabulary.make("neutral")
    n = torch.tensor([speech.shape[1]])
    # top_k=1 keeps the nearest code: whatever differs between takes comes from the noise input.
    takes, _ = talker.sample(speech, n, style, num_samples=4, top_k=1, generator=torch.Generator().manual_seed(0))
    spread = (takes[0] - takes[1]).abs().mean()
    assert spread > 1e-3
    quiet, _ = talker.sample(speech, n, style, num_samples=4, top_k=1, noise_scale=0.0,
                             generator=torch.Generator().manual_seed(0))
    assert torch.equal(quiet[0], quiet[1])


def test_best_of_k_objective_terms():
    from probtalk.train.objective import StageTwoObjective

    talker = tiny_talker()
    lip_map = (np.random.default_rng(0).normal(size=(53, 3)).astype(np.float32) * 0.1, np.array([0, 3, 0], np.float32))
    obj = StageTwoObjective(talker, lip_map).train()
    b, t = 2, 20
    audio = torch.randn(b, t * 640) * 0.1
    motion = torch.randn(b, t, 53) * 0.1
    mask = torch.ones(b, t, dtype=torch.bool)
    phones = torch.randint(1, NUM_PHONE_TOKENS, (b, t))
    loss, terms = obj(audio, torch.tensor([t * 640] * b), motion, mask, torch.tensor([0, 1]), torch.tensor([0, 1]),
                      torch.tensor([0, 1]), phones)
    assert torch.isfinite(loss) and {"latent", "expression", "jaw", "phone", "lip", "spread"} <= set(terms)
    loss.backward()
    assert talker.predictor.noise_in.weight.grad is not None and obj.phone_head.weight.grad is not None


def test_noise_posterior_draws_the_free_channels_from_the_takes_motion(monkeypatch):
    from probtalk.train.objective import StageTwoObjective

    talker = tiny_talker(habits=("articulation",), noise_posterior=0.05)
    obj = StageTwoObjective(talker, None).train()
    assert obj.posterior is not None
    seen = spy_noise(monkeypatch, talker)
    # One line, two performances: the same speech, motion that differs only in when it moves.
    b, t = 2, 50
    audio = (torch.randn(1, t * 640) * 0.1).expand(b, -1).contiguous()
    motion = torch.zeros(b, t, 53)
    motion[0, 5:15, :10] = 1.0
    motion[1, 30:40, :10] = 1.0
    mask = torch.ones(b, t, dtype=torch.bool)
    perf = [{"articulation": 0.5}, {"articulation": 0.5}]
    args = (audio, torch.tensor([t * 640] * b), motion, mask, torch.tensor([0, 0]), torch.tensor([0, 0]),
            torch.tensor([0, 0]), None, perf)
    loss, terms = obj(*args)
    rows = seen[0].view(b, 2, -1, 4)
    assert not rows[:, 0, :, 1:].any()  # row 0: the deterministic take (zero free noise)
    assert torch.equal(rows[:, :, :, 0], torch.full_like(rows[:, :, :, 0], 0.5))  # the clips' own performance
    assert rows[:, 1, :, 1:].abs().min() > 0  # row 1: drawn from the posterior
    assert "kl" in terms and float(terms["kl"].detach()) == pytest.approx(0.0, abs=1e-6)  # it starts at the standard normal
    loss.backward()
    assert obj.posterior.head.weight.grad is not None and obj.posterior.head.weight.grad.abs().sum() > 0
    # It sees the take's motion where each knot sits: motion that differs only near the end of a
    # 6 s clip moves the last knots' proposals, not the first ones' (out of the convolutions' reach).
    torch.nn.init.normal_(obj.posterior.head.weight)
    t = 150
    a = torch.zeros(1, t, 53)
    moved = a.clone()
    moved[0, 120:130, :10] = 1.0
    features = torch.randn(1, t, talker.audio_encoder.out_dim)
    knots = talker.predictor.noise_knots(t, 25.0)
    with torch.no_grad():
        (ma, va, _), (mb, vb, _) = (obj.posterior(m, features, torch.ones(1, t, dtype=torch.bool), knots)
                                    for m in (a, moved))
    assert ma.shape == (1, knots, 3)
    assert torch.allclose(ma[0, :3], mb[0, :3]) and torch.allclose(va[0, :3], vb[0, :3])
    assert float((ma[0, -4:] - mb[0, -4:]).abs().max()) > 1e-3


def test_without_the_latent_term_the_stage_one_encoder_is_not_run(monkeypatch):
    """weight_latent = 0: only the decoded motion counts, so an inference-only model (no stage-1 encoder) can be
    continued."""
    from probtalk.train.objective import StageTwoObjective

    talker = tiny_talker(habits=("articulation",), noise_posterior=0.05, weight_latent=0.0)
    obj = StageTwoObjective(talker, None).train()

    def no_encoder(*args, **kwargs):
        raise AssertionError("the stage-1 encoder ran")

    monkeypatch.setattr(talker.vq, "encode", no_encoder)
    b, t = 2, 40
    loss, terms = obj(torch.randn(b, t * 640) * 0.1, torch.tensor([t * 640] * b), torch.randn(b, t, 53) * 0.1,
                      torch.ones(b, t, dtype=torch.bool), torch.tensor([0, 1]), torch.tensor([0, 1]),
                      torch.tensor([0, 1]))
    assert torch.isfinite(loss) and "latent" not in terms and {"expression", "jaw", "kl"} <= set(terms)
    loss.backward()
    assert talker.predictor.out.weight.grad.abs().sum() > 0


def test_gaussian_kl_is_zero_at_the_standard_normal_only():
    from probtalk.train.objective import gaussian_kl

    valid = torch.ones(1, 4, dtype=torch.bool)
    zero = torch.zeros(1, 4, 3)
    assert float(gaussian_kl(zero, zero, valid)) == pytest.approx(0.0)
    assert float(gaussian_kl(zero + 1.0, zero, valid)) == pytest.approx(0.5)  # a unit shift: half a nat
    assert float(gaussian_kl(zero, zero + 1.0, valid)) > 0
    valid[0, 2:] = False  # knots past the clip do not count
    mean = zero.clone()
    mean[0, 2:] = 5.0
    assert float(gaussian_kl(mean, zero, valid)) == pytest.approx(0.0)


def test_objective_gives_every_hypothesis_the_clips_own_performance(monkeypatch):
    from probtalk.train.objective import StageTwoObjective

    talker = tiny_talker(hypotheses=3, habits=("articulation", "rest_open"))
    obj = StageTwoObjective(talker, None).train()
    seen = spy_noise(monkeypatch, talker)
    b, t = 2, 60
    audio = torch.randn(b, t * 640) * 0.1
    perf = [{"articulation": 1.5, "rest_open": -0.7, "brow_use": 0.2}, None]
    obj(audio, torch.tensor([t * 640] * b), torch.randn(b, t, 53) * 0.1, torch.ones(b, t, dtype=torch.bool),
        torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([0, 1]), None, perf)
    rows = seen[0].view(b, 3, -1, 4)
    assert torch.equal(rows[0, :, :, :2], torch.tensor([1.5, -0.7]).expand(3, rows.shape[2], 2))
    assert not rows[1, 0].any()  # a clip without a record: hypothesis 0 is the deterministic take
    held = rows[1, 1:, :, :2]
    assert torch.equal(held, held[:, :1].expand_as(held)) and held.abs().min() > 0  # drawn, one value per take
    assert rows[0, 1:, :, 2:].std(1).min() > 0  # the other channels still vary along the take


def test_performance_keyids_share_speech(tmp_path):
    assert make_keyid("M001", 3, 1, 2, 2) == "M001_003_1_2-p2"
    key = parse_keyid("M001_003_1_2-p2")
    assert key.performance == 2 and key.utterance == "M001_003_1_2" and key.speaker == "M001"
    assert parse_keyid("M001_003_1_2").performance == 1
    root = tmp_path / "c"
    for sub in ("param", "wav", "splits", "align"):
        (root / sub).mkdir(parents=True)
    import soundfile as sf

    sf.write(root / "wav" / "A_001_0_0.wav", np.zeros(16000, np.float32) + 0.01, 16000)
    for k in ("A_001_0_0", "A_001_0_0-p2"):
        np.save(root / "param" / f"{k}.npy", np.random.default_rng(len(k)).normal(size=(1, 25, 403)).astype(np.float32))
    (root / "align" / "A_001_0_0.json").write_text(json.dumps({"phones": [[0, 0.5, "M"], [0.5, 1.0, "AA"]]}))
    (root / "splits" / "train").write_text("A_001_0_0\nA_001_0_0-p2\n")
    data = MotionDataset(root, "train")
    one, two = data[0], data[1]
    assert np.array_equal(one.audio, two.audio) and not np.array_equal(one.motion, two.motion)
    assert two.phones == one.phones
    batch = collate([one, two])
    assert batch.phones.shape == (2, 25) and (batch.phones[:, 5] > 0).all()


@needs_flite
def test_heldout_engine_split_is_disjoint(tmp_path):
    from probtalk.corpus.synth import SynthConfig, synthesize_corpus

    cfg = SynthConfig(speakers=2, sentences=2, emotions=("neutral",), heldout_speakers=0, performances=2,
                      heldout_engine_speakers=1, seed=0)
    synthesize_corpus(tmp_path / "c", cfg, workers=1)
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    engine_of = {s["id"]: s["voice"]["engine"] for s in manifest["speakers"]}
    train = MotionDataset(tmp_path / "c", "train")
    held = MotionDataset(tmp_path / "c", "test_unseen_engine")
    assert {engine_of[s] for s in held.speakers} == {"flite"}
    assert "flite" not in {engine_of[s] for s in train.speakers}
    assert not set(held.speakers) & set(train.speakers)
    assert any(parse_keyid(k).performance == 2 for k in train.keyids)
    assert all(parse_keyid(k).performance == 1 for k in held.keyids)


@pytest.mark.parametrize("noise_after", [0, 1, 2])
def test_noise_rows_share_the_layers_before_the_noise(noise_after):
    """R noise rows per clip equal the clip repeated R times; zero noise is the noise-free take."""
    talker = tiny_talker(noise_after=noise_after, seed=3)
    with torch.no_grad():  # a trained noise projection is not small
        torch.nn.init.normal_(talker.predictor.noise_in.weight)
    pred = talker.predictor
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 30, pred.config.audio_dim, generator=gen)
    mask = torch.ones(2, 30, dtype=torch.bool)
    mask[1, 22:] = False
    style = talker.vocabulary.make("happy", intensity=1.0)
    style = type(style)(style.speaker.expand(2), style.emotion.expand(2, -1), style.intensity.expand(2))
    noise = torch.randn(6, 4, pred.config.noise_dim, generator=gen)
    with torch.no_grad():
        rows, rmask = pred(features, mask, style, None, noise)
        rep = type(style)(style.speaker.repeat_interleave(3), style.emotion.repeat_interleave(3, 0),
                          style.intensity.repeat_interleave(3))
        each, emask = pred(features.repeat_interleave(3, 0), mask.repeat_interleave(3, 0), rep, None, noise)
        plain, _ = pred(features, mask, style)
        zero, _ = pred(features, mask, style, None, torch.zeros(2, 4, pred.config.noise_dim))
    assert rows.shape == (6, 30, 16) and torch.equal(rmask, emask)
    torch.testing.assert_close(rows, each, atol=1e-5, rtol=0)
    torch.testing.assert_close(zero, plain, atol=1e-6, rtol=0)
    assert (rows[0] - rows[1]).abs().max() > 1e-3  # the noise reaches the output
    with pytest.raises(ValueError, match="multiple of the batch"):
        pred(features, mask, style, None, noise[:5])


def test_noise_after_must_leave_a_layer():
    with pytest.raises(ValueError, match="noise_after"):
        StylePredictor(StylePredictorConfig(audio_dim=8, latent_dim=4, hidden=8, layers=2, heads=2, ff_dim=8,
                                            noise_dim=2, noise_after=2))
