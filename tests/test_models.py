"""Models: quantiser sampling, batched == per-item, audio alignment, style, Talker, checkpoints."""

from __future__ import annotations

import pytest
import torch

from probtalk.errors import CheckpointError, StyleError
from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig, align_features
from probtalk.models.blocks import lengths_to_mask
from probtalk.models.checkpoint import load_checkpoint, save_checkpoint
from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
from probtalk.models.style import StyleVocabulary
from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
from probtalk.models.talker import Normalizer, Talker

AUDIO = AudioEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, conv_dim=(16,) * 7)


def tiny_vq(quant_factor: int = 0) -> MotionVQ:
    torch.manual_seed(0)
    cfg = MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=32,
                         quant_factor=quant_factor, dropout=0.0)
    return MotionVQ(cfg).eval()


def tiny_talker(quant_factor: int = 0) -> Talker:
    vq = tiny_vq(quant_factor)
    enc = AudioEncoder.from_config(AUDIO)
    pred = StylePredictor(StylePredictorConfig(audio_dim=enc.out_dim, latent_dim=16, quant_factor=quant_factor,
                                               num_speakers=2, hidden=32, layers=1, heads=2, ff_dim=64, dropout=0.0))
    norm = Normalizer(torch.randn(53) * 0.1, torch.rand(53) + 0.5)
    return Talker(enc, pred, vq, norm, StyleVocabulary(("A", "B"))).eval()


def padded(lengths: list[int], dim: int = 53) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    mask = lengths_to_mask(torch.tensor(lengths))
    return torch.randn(len(lengths), max(lengths), dim) * mask[..., None], mask


def test_quantizer_argmax_deterministic_and_sampling_reproducible():
    vq = tiny_vq()
    z = torch.randn(2, 12, 16)
    a, b = vq.quantize(z), vq.quantize(z)
    assert torch.equal(a.indices, b.indices)
    assert torch.equal(a.indices, vq.quantizer.distances(z).argmin(-1))
    s1 = vq.quantize(z, temperature=5.0, generator=torch.Generator().manual_seed(1)).indices
    s1b = vq.quantize(z, temperature=5.0, generator=torch.Generator().manual_seed(1)).indices
    s2 = vq.quantize(z, temperature=5.0, generator=torch.Generator().manual_seed(2)).indices
    assert torch.equal(s1, s1b) and not torch.equal(s1, s2)
    top1 = vq.quantize(z, temperature=5.0, top_k=1, generator=torch.Generator().manual_seed(3)).indices
    assert torch.equal(top1, a.indices)  # top-1 sampling is the nearest code
    assert 1.0 <= float(a.perplexity) <= 32.0


@pytest.mark.parametrize("qf", [0, 2])
def test_decode_indices_matches_decode(qf):
    vq = tiny_vq(qf)
    x, mask = padded([13, 7])
    with torch.no_grad():
        lmask = vq.latent_mask(mask)
        q = vq.quantize(vq.encode(x, mask), lmask)
        assert q.indices.shape == (2, -(-13 // 2**qf))
        torch.testing.assert_close(vq.decode_indices(q.indices, mask), vq.decode(q.quantized, mask), atol=1e-6, rtol=0)


@pytest.mark.parametrize("qf", [0, 2])
def test_vq_batched_equals_per_item(qf):
    vq = tiny_vq(qf)
    lengths = [13, 6, 10]
    x, mask = padded(lengths)
    with torch.no_grad():
        z = vq.encode(x, mask)
        y = vq.decode(z, mask)
        for i, n in enumerate(lengths):
            zi = vq.encode(x[i : i + 1, :n], mask[i : i + 1, :n])
            torch.testing.assert_close(zi, z[i : i + 1, : zi.shape[1]], atol=1e-5, rtol=0)
            yi = vq.decode(zi, mask[i : i + 1, :n])
            torch.testing.assert_close(yi, y[i : i + 1, :n], atol=1e-5, rtol=0)
        assert y[1, 6:].abs().max() == 0


def test_ema_codebook_moves_and_training_step():
    vq = tiny_vq()
    vq.train()
    x, mask = padded([10, 8])
    before = vq.quantizer.codebook.clone()
    loss, terms = vq.loss(x, mask)
    loss.backward()
    assert not torch.equal(before, vq.quantizer.codebook)
    assert int(vq.quantizer.initialized) == 1  # data-dependent init happened on the first batch
    assert float(terms["perplexity"]) > 4  # codes start on encoder outputs, so many are used
    assert {"expression", "jaw", "quant", "perplexity"} <= set(terms)
    assert vq.enc_in.weight.grad is not None and vq.dec_out.weight.grad is not None


def test_predictor_and_audio_encoder_batched_equals_per_item():
    talker = tiny_talker(qf := 2)
    lens = torch.tensor([16000, 9000, 12345])
    torch.manual_seed(2)
    audio = torch.randn(3, 16000) * lengths_to_mask(lens, 16000)
    style = StyleVocabulary(("A", "B")).make("happy", 1.0, "A").repeat_interleave(3)
    with torch.no_grad():
        feats, mask = talker.audio_encoder(audio, lens)
        lat, lmask = talker.predictor(feats, mask, style)
        for i in range(3):
            n = int(lens[i])
            fi, mi = talker.audio_encoder(audio[i : i + 1, :n], lens[i : i + 1])
            torch.testing.assert_close(fi, feats[i : i + 1, : fi.shape[1]], atol=1e-5, rtol=0)
            li, _ = talker.predictor(fi, mi, _row(style, i))
            torch.testing.assert_close(li, lat[i : i + 1, : li.shape[1]], atol=1e-5, rtol=0)
    assert lat.shape[1] == -(-int(mask.sum(1).max()) // 2**qf)


def _row(style, i):
    from probtalk.models.style import Style

    return Style(style.speaker[i : i + 1], style.emotion[i : i + 1], style.intensity[i : i + 1])


def test_pair_alignment_handles_odd_lengths_and_exact_frames():
    h = 3
    feats = torch.arange(2 * 7 * h, dtype=torch.float32).reshape(2, 7, h)
    flen = torch.tensor([7, 5])  # odd feature counts
    frames = torch.tensor([4, 3])  # 4 frames need 8 features: the last one is repeated
    out = align_features(feats, flen, frames, 25.0)
    assert out.shape == (2, 4, 2 * h)
    torch.testing.assert_close(out[0, 0], torch.cat([feats[0, 0], feats[0, 1]]))
    torch.testing.assert_close(out[0, 3], torch.cat([feats[0, 6], feats[0, 6]]))
    torch.testing.assert_close(out[1, 2], torch.cat([feats[1, 4], feats[1, 4]]))
    enc = AudioEncoder.from_config(AUDIO).eval()
    for n, t in [(16000, None), (8123, None), (8123, 9)]:
        lens = torch.tensor([n])
        f, m = enc(torch.randn(1, n), lens, None if t is None else torch.tensor([t]))
        want = t if t is not None else round(n / 16000 * 25)
        assert f.shape == (1, want, 2 * AUDIO.hidden) and int(m.sum()) == want
    f30, m30 = enc(torch.randn(1, 16000), torch.tensor([16000]), fps=30.0)
    assert f30.shape[1] == 30 and int(m30.sum()) == 30


def test_hubert_save_pretrained_reload_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = AudioEncoder.from_config(AUDIO).eval()
    src.hubert.save_pretrained(tmp_path / "hubert")
    enc = AudioEncoder.from_pretrained(tmp_path / "hubert", freeze="feature_extractor", frozen_layers=1).eval()
    audio = torch.randn(1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(enc(audio, torch.tensor([8000]))[0], src(audio, torch.tensor([8000]))[0])
    assert not any(p.requires_grad for p in enc.hubert.feature_extractor.parameters())
    assert not any(p.requires_grad for p in enc.hubert.encoder.layers[0].parameters())
    assert enc.config.pretrained == str(tmp_path / "hubert")
    with pytest.raises(CheckpointError, match="config.json missing"):
        AudioEncoder.from_pretrained(tmp_path / "missing")


def test_style_blends_and_errors():
    vocab = StyleVocabulary(("M003", "W009"))
    s = vocab.make({"happy": 0.7, "surprised": 0.3}, 1.5, None)
    assert float(s.emotion.sum()) == pytest.approx(1.0) and int(s.speaker) == -1
    assert vocab.make("sad", "high", "W009").intensity.item() == 2.0
    with pytest.raises(StyleError, match="did you mean 'happy'"):
        vocab.make("hapy")
    with pytest.raises(StyleError, match="did you mean 'M003'"):
        vocab.make("happy", 1.0, "M030")
    with pytest.raises(StyleError, match="out of range"):
        vocab.make("happy", 2.5)
    with pytest.raises(StyleError, match="low"):
        vocab.make("happy", "lo w")
    # Continuous conditioning: a blend / fractional intensity lands between its ends.
    emb = StylePredictor(StylePredictorConfig(num_speakers=2, hidden=8, layers=1, heads=2, ff_dim=8)).style
    e = {k: emb(vocab.make(*k)) for k in [("happy", 1.0), ("surprised", 1.0), ("happy", 2.0)]}
    mix = emb(vocab.make({"happy": 0.5, "surprised": 0.5}, 1.0))
    torch.testing.assert_close(mix, 0.5 * (e[("happy", 1.0)] + e[("surprised", 1.0)]))
    mid = emb(vocab.make("happy", 1.5))
    torch.testing.assert_close(mid, 0.5 * (e[("happy", 1.0)] + e[("happy", 2.0)]))


def test_talker_sample_batched_takes_and_determinism():
    talker = tiny_talker()
    audio = torch.randn(2, 12000)
    lens = torch.tensor([12000, 8000])
    style = talker.vocabulary.make("angry", 1.0, "B")
    m1, mask = talker.sample(audio, lens, style, num_samples=3, temperature=None)
    m2, _ = talker.sample(audio, lens, style, num_samples=3, temperature=None)
    assert m1.shape == (6, 19, 53) and mask.sum(1).tolist() == [19, 19, 19, 12, 12, 12]
    assert torch.equal(m1, m2) and torch.equal(m1[0], m1[2])
    g = torch.Generator().manual_seed(0)
    s, _ = talker.sample(audio, lens, style, num_samples=3, temperature=50.0, generator=g)
    assert not torch.equal(s[0], s[1])  # takes differ
    assert s[3:, 12:].abs().max() == 0  # padding stays zero after denormalising


def test_checkpoint_round_trip(tmp_path):
    talker = tiny_talker()
    audio, lens = torch.randn(1, 8000), torch.tensor([8000])
    style = talker.vocabulary.make("sad", 0.5, "A")
    ref, _ = talker.sample(audio, lens, style, temperature=None)
    path = save_checkpoint(tmp_path / "t.pt", talker, rig_id="rig:abc", provenance={"steps": 5})
    loaded, info = load_checkpoint(path)
    out, _ = loaded.sample(audio, lens, style, temperature=None)
    torch.testing.assert_close(out, ref, atol=0, rtol=0)
    assert info.kind == "talker" and info.rig_id == "rig:abc" and info.provenance == {"steps": 5}
    assert info.vocabulary.speakers == ("A", "B") and info.configs["audio"].conv_dim == (16,) * 7
    # fp16 + inference-only: smaller, still samples closely
    small = save_checkpoint(tmp_path / "s.pt", talker, half=True, inference_only=True)
    assert small.stat().st_size < path.stat().st_size
    half, hinfo = load_checkpoint(small)
    assert not hinfo.complete
    torch.testing.assert_close(half.sample(audio, lens, style, temperature=None)[0], ref, atol=0.05, rtol=0.05)
    # stage-1 checkpoints carry their normaliser
    vq = tiny_vq()
    norm = Normalizer(torch.arange(53.0), torch.ones(53))
    vq_loaded, vinfo = load_checkpoint(save_checkpoint(tmp_path / "vq.pt", vq, normalizer=norm))
    assert isinstance(vq_loaded, MotionVQ) and torch.equal(vinfo.normalizer.mean, norm.mean)


def test_bad_checkpoints_raise(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a probtalk checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    good = save_checkpoint(tmp_path / "vq.pt", tiny_vq())
    data = good.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "trunc.pt")


def test_pretrained_hubert_checkpoint_with_and_without_frozen_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    AudioEncoder.from_config(AUDIO).hubert.save_pretrained(tmp_path / "hubert")
    talker = tiny_talker()
    talker.audio_encoder = AudioEncoder.from_pretrained(tmp_path / "hubert", freeze="feature_extractor").eval()
    audio, lens = torch.randn(1, 8000), torch.tensor([8000])
    style = talker.vocabulary.make("fear", 1.0, None)
    ref, _ = talker.sample(audio, lens, style, temperature=None)
    full = save_checkpoint(tmp_path / "full.pt", talker)
    slim = save_checkpoint(tmp_path / "slim.pt", talker, inference_only=True)
    assert slim.stat().st_size < full.stat().st_size
    for path, kwargs in [(full, {}), (slim, {"hubert_path": tmp_path / "hubert"})]:
        model, info = load_checkpoint(path, **kwargs)
        assert info.configs["audio"].pretrained == str(tmp_path / "hubert")
        torch.testing.assert_close(model.sample(audio, lens, style, temperature=None)[0], ref, atol=0, rtol=0)
    (tmp_path / "hubert" / "config.json").unlink()
    with pytest.raises(CheckpointError, match="needs its pretrained HuBERT"):
        load_checkpoint(slim)
    load_checkpoint(full)  # the full file does not need the folder
