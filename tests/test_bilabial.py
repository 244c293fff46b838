"""The bilabial detector: its front end, its numpy net against the torch twin, its files, its training,
and the lip seal it drives when there is no transcript."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_default_model import speak_bilabial_line

import probtalk
from probtalk.bilabial import DEFAULT_CONFIG, BilabialNet, log_mel
from probtalk.errors import CheckpointError, InputError
from probtalk.eval.lipsync import phone_midpoints
from probtalk.framenet import FrameNetConfig
from probtalk.life.head import HeadNet, HeadNetConfig
from probtalk.life.train import HeadConv
from probtalk.lipseal import BILABIAL_TOKENS, LipSeal
from probtalk.models.phone_tokens import phone_tokens
from probtalk.train.frameconv import FrameConv


@pytest.fixture(scope="module")
def bilabial_speech():
    return speak_bilabial_line()


def _small_net(seed: int = 1) -> tuple[FrameConv, BilabialNet]:
    torch.manual_seed(seed)
    conv = FrameConv(FrameNetConfig(inputs=12, hidden=8, layers=((5, 1, 2), (3, 2, 2)), outputs=1), dropout=0.3)
    conv.eval()
    return conv, conv.to_numpy(BilabialNet, {"threshold": 0.6})


# ------------------------------------------------------------------ front end
def test_log_mel_shape_gain_and_colouring():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    wav = (np.sin(2 * np.pi * 220 * t) * (t > 0.3) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    x = log_mel(wav, 25.0, 25)
    assert x.shape == (25, DEFAULT_CONFIG.inputs) and x.dtype == np.float32
    np.testing.assert_allclose(log_mel(wav * 30.0, 25.0, 25), x, atol=1e-4)  # loudness does not matter
    bands = x.reshape(25 * 4, 40)
    np.testing.assert_allclose(bands.mean(0), 0.0, atol=1e-5)  # each band less its clip mean
    # a fixed microphone colouring (a gentle low-pass) moves the bands by a constant: little is left of it
    coloured = np.convolve(wav, [0.5, 0.3, 0.2], mode="same").astype(np.float32)
    raw_change = np.abs(np.log(np.abs(np.fft.rfft(coloured)) + 1e-3) - np.log(np.abs(np.fft.rfft(wav)) + 1e-3)).mean()
    assert np.abs(log_mel(coloured, 25.0, 25) - x).mean() < 0.5 * raw_change * 0.25
    assert log_mel(wav[:0], 25.0, 3).shape == (3, DEFAULT_CONFIG.inputs)  # no audio: zeros, not an error


def test_log_mel_in_pieces_is_the_whole(monkeypatch):
    import probtalk.bilabial as bilabial

    wav = np.random.default_rng(1).standard_normal(16000 * 3).astype(np.float32)
    whole = log_mel(wav, 25.0, 75)
    monkeypatch.setattr(bilabial, "CHUNK_WINDOWS", 7)  # long audio is transformed piece by piece
    np.testing.assert_array_equal(log_mel(wav, 25.0, 75), whole)


# ------------------------------------------------------------------ the net
def test_numpy_net_matches_torch_and_a_stream_window_matches_the_clip():
    conv, net = _small_net()
    x = torch.randn(2, 37, 12)
    mask = torch.ones(2, 37, dtype=torch.bool)
    mask[1, 25:] = False
    x[1, 25:] = 0
    with torch.no_grad():
        want = torch.sigmoid(conv.raw(x, mask)).numpy()
    np.testing.assert_allclose(net.run(x[0].numpy())[:, 0], want[0, :, 0], atol=1e-5)
    np.testing.assert_allclose(net.run(x[1, :25].numpy())[:, 0], want[1, :25, 0], atol=1e-5)
    # frames 10..19 from a window holding only their context and look-ahead
    c, la = net.config.context, net.config.lookahead
    part = net.forward(x[0, 10 - c : 20 + la].numpy(), 10 - c, 37)
    np.testing.assert_allclose(part[:, 0], want[0, 10:20, 0], atol=1e-5)


def test_head_net_is_the_same_frame_net_scaled():
    torch.manual_seed(2)
    conv = HeadConv(HeadNetConfig())
    x = torch.randn(1, 30, HeadNetConfig().inputs)
    head = conv.to_numpy()
    assert isinstance(head, HeadNet)
    np.testing.assert_allclose(head.run(x[0].numpy()), head.raw(np.concatenate(
        [np.zeros((head.config.context, x.shape[2]), np.float32), x[0].numpy(),
         np.zeros((head.config.lookahead, x.shape[2]), np.float32)]), -head.config.context, 30) * 0.1, atol=1e-6)


def test_detector_file_round_trip_and_refusals(tmp_path):
    _, net = _small_net()
    path = tmp_path / "bilabial.npz"
    net.save(path)
    back = BilabialNet.load(path)
    x = np.random.default_rng(0).standard_normal((30, 12)).astype(np.float32)
    np.testing.assert_array_equal(back.run(x), net.run(x))
    assert back.threshold == 0.6
    HeadConv(HeadNetConfig()).to_numpy().save(tmp_path / "head.npz")
    with pytest.raises(CheckpointError, match="not a probtalk bilabial detector"):
        BilabialNet.load(tmp_path / "head.npz")  # a head net is not a detector
    arrays = net.to_arrays()
    arrays["w1"] = arrays["w1"][:, :3]
    with pytest.raises(CheckpointError, match="w1"):
        BilabialNet.from_arrays(arrays)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="unreadable"):
        BilabialNet.load(tmp_path / "bad.npz")


def test_checkpoint_carries_the_detector_and_the_head(tmp_path, model):
    from probtalk.models.checkpoint import load_checkpoint, save_checkpoint

    _, net = _small_net(5)
    head = HeadConv(HeadNetConfig()).to_numpy()
    path = save_checkpoint(tmp_path / "m.pt", model.talker, rig_id=model.rig_id, head=head, bilabial=net,
                           inference_only=True, half=True)
    _, info = load_checkpoint(path)
    x = np.random.default_rng(1).standard_normal((20, 12)).astype(np.float32)
    np.testing.assert_array_equal(info.bilabial.run(x), net.run(x))
    assert info.bilabial.threshold == 0.6 and isinstance(info.head, HeadNet)
    _, info = load_checkpoint(save_checkpoint(tmp_path / "plain.pt", model.talker, inference_only=True))
    assert info.bilabial is None and info.head is None


# ------------------------------------------------------------------ the shipped detector
def test_shipped_detector_hears_the_bilabials_of_an_unheard_voice(model, bilabial_speech):
    audio, phones = bilabial_speech
    net = model.bilabial_net
    assert net is not None and 0.0 < net.threshold < 1.0
    frames = int(round(len(audio) / 16000 * 25))
    p = net.probabilities(audio, 25.0, frames)
    sealed = net.frames(audio, 25.0, frames)
    closed, opened = phone_midpoints(phones, 25.0, frames)
    found = np.mean([sealed[max(0, k - 1) : k + 2].any() for k in closed])
    marked = np.mean(sealed[opened])
    # measured with the shipped detector: 7 of the 11 sealed (4 missed at probability <= 0.09), none
    # of the 10 open vowels
    assert len(closed) >= 10 and found >= 0.6, (found, len(closed))
    assert marked <= 0.1, marked
    truth = np.isin(phone_tokens(phones, 25.0, frames), list(BILABIAL_TOKENS))
    assert p[truth].mean() > p[~truth].mean() + 0.3


def _gaps_mm(anim) -> np.ndarray:
    from probtalk.flame import FlameLayer, load_rig

    rig = load_rig()
    with torch.no_grad():
        v = FlameLayer(rig).from_animation(anim).numpy()
    return np.linalg.norm(v[:, rig.keypoints["upper_lip"]] - v[:, rig.keypoints["lower_lip"]], axis=-1) * 1000


def _shared(model, audio) -> np.ndarray:
    det = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    return model.lip_seal().short_closures(np.concatenate([det.expression[:, :50], det.jaw_pose], 1))


def test_audio_only_takes_are_sealed_where_the_detector_hears_bilabials(model, bilabial_speech):
    audio, phones = bilabial_speech
    sealed = model.animate(audio, 16000, num_samples=2, seed=4, blinks=False)
    plain = model.animate(audio, 16000, num_samples=2, seed=4, blinks=False, seal_lips=False)
    heard = model.heard_bilabials(audio, sealed[0].num_frames)
    assert heard.sum() >= 5 and (heard >= model.bilabial_net.frames(audio, 25.0, sealed[0].num_frames)).all()
    for s, p in zip(sealed, plain, strict=True):
        assert s.meta["sealed_from"] == "audio" and s.meta["sealed_frames"] >= heard.sum()
        assert p.meta["sealed_from"] is None and p.meta["sealed_frames"] == 0
        assert _gaps_mm(s)[heard].max() < 2.0  # shut wherever a bilabial was heard, in every take
        # beyond the hold and the fades of the heard frames and of the closures shared from the deterministic take
        far = np.convolve(heard, np.ones(2 * 3 + 1), mode="same") == 0
        far &= s.meta["shared_closure_frames"] == 0 or np.convolve(_shared(model, audio), np.ones(3), mode="same") == 0
        np.testing.assert_array_equal(s.expression[far], p.expression[far])
    closed, _ = phone_midpoints(phones, 25.0, sealed[0].num_frames)
    rate = [np.mean(_gaps_mm(a)[closed] < 2.0) for a in (sealed[0], plain[0])]
    assert rate[0] > rate[1], rate  # more p/b/m shut than the model alone (measured 6 of 11 against 4)


def test_sampled_takes_keep_the_deterministic_takes_brief_closures(model):
    import soundfile as sf

    audio, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    takes = model.animate(audio, 16000, num_samples=4, seed=7, blinks=False)
    det = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    assert det.meta["shared_closure_frames"] == 0  # the deterministic take is its own reference
    seal = model.lip_seal()
    shared = seal.short_closures(np.concatenate([det.expression[:, :50], det.jaw_pose], 1))
    heard = model.heard_bilabials(audio, det.num_frames)
    extra = shared & ~heard
    assert extra.sum() >= 1, "the model closes somewhere the detector did not hear"
    for take in takes:
        assert _gaps_mm(take)[shared].max() < 2.0  # every take keeps those closures
        assert take.meta["shared_closure_frames"] == extra.sum()
    assert np.abs(takes[0].jaw_pose - takes[1].jaw_pose).max() > 1e-2  # and the takes still differ
    # The reference row does not change the takes themselves (up to the float rounding of a larger batch).
    from probtalk.runtime.engine import sample_takes, sample_takes_with_reference

    style = model.style_inputs("neutral", 1.0, None)
    kw = dict(num_samples=2, temperature=0.2, top_k=None, seed=3, window_seconds=30.0, overlap_seconds=1.0)
    plain = sample_takes(model.backend, audio, style, **kw)
    with_ref, ref = sample_takes_with_reference(model.backend, audio, style, **kw)
    for a, b in zip(plain, with_ref, strict=True):
        assert np.mean(np.abs(a - b).max(axis=1) < 1e-3) > 0.95
    nearest = sample_takes(model.backend, audio, style, **{**kw, "num_samples": 1, "temperature": None})[0]
    assert np.mean(np.abs(ref - nearest).max(axis=1) < 1e-3) > 0.95


class _HeardByStandIn:
    """A stand-in for :class:`probtalk.corpus.ear.Listening` that hears the phones it is given."""

    def __init__(self, phones) -> None:
        self.heard, self.closed = phones, False

    def bilabials(self):
        return list(self.heard)

    def phones(self):
        return list(self.heard)

    def close(self) -> None:
        self.closed = True


def test_the_audio_seal_also_hears_free_phone_recognition(model, bilabial_speech, monkeypatch):
    import probtalk.corpus.ear as ear
    from probtalk.bilabial import RECOGNISED_MIN_P
    from probtalk.corpus.phones import Phone

    audio, _ = bilabial_speech
    monkeypatch.setattr(model, "_last_heard", None, raising=False)  # the marks heard here are the stand-ins'
    calls = []
    monkeypatch.setattr(ear, "listen", lambda wav, words=False: calls.append(_HeardByStandIn([])) or calls[-1])
    plain = model.animate(audio, 16000, deterministic=True, blinks=False, listen="phones")[0]
    model.animate(audio, 16000, deterministic=True, blinks=False, emotion="happy", listen="phones")
    assert len(calls) == 1 and calls[0].closed  # another emotion of the same clip listens once
    p = model.bilabial_net.probabilities(audio, 25.0, plain.num_frames)
    detector = model.bilabial_net.frames(audio, 25.0, plain.num_frames)
    assert plain.meta["sealed_frames"] == detector.sum()
    quiet = [k for k in range(4, plain.num_frames - 4) if not detector[k - 3 : k + 4].any() and _gaps_mm(plain)[k] > 3.0]
    unsure = [k for k in quiet if p[k - 1 : k + 2].max() >= RECOGNISED_MIN_P]
    deaf = [k for k in quiet if p[k - 1 : k + 2].max() < RECOGNISED_MIN_P]
    assert unsure and deaf, "frames the detector does not mark, lips apart, with and without a little probability"
    for k, sealed in ((unsure[len(unsure) // 2], True), (deaf[len(deaf) // 2], False)):
        # the recogniser hears an M there: sealed where the detector gives it a little probability
        monkeypatch.setattr(ear, "listen", lambda wav, words=False, k=k: _HeardByStandIn([Phone((k - 0.4) / 25.0, (k + 0.4) / 25.0, "M")]))
        model._last_heard = None  # a new recogniser: forget the last clip's marks
        heard = model.animate(audio, 16000, deterministic=True, blinks=False, listen="phones")[0]
        assert (_gaps_mm(heard)[k] < 2.0) == sealed
        assert heard.meta["sealed_frames"] == detector.sum() + sealed
        onnx = probtalk.load_onnx_model().animate(audio, 16000, deterministic=True, blinks=False, listen="phones")[0]
        assert onnx.meta["sealed_frames"] == heard.meta["sealed_frames"]
        # the p, b and m of recognised words need no bar: sealed even where the detector is deaf
        asked = []
        monkeypatch.setattr(ear, "listen", lambda wav, words=False, k=k, asked=asked: asked.append(words) or _HeardByStandIn(
            [Phone((k - 0.4) / 25.0, (k + 0.4) / 25.0, "M")]))
        worded = model.animate(audio, 16000, deterministic=True, blinks=False)[0]  # the default
        # (words: a second hearing, faster, where the words miss the detector's confident frames; see rehear)
        assert asked and all(asked) and worded.meta["listen"] == "words" and heard.meta["listen"] == "phones"
        assert _gaps_mm(worded)[k] < 2.0 and worded.meta["sealed_frames"] == detector.sum() + 1


def test_words_that_miss_the_detectors_sure_marks_are_heard_again_faster(monkeypatch):
    """:func:`probtalk.bilabial.rehear` with a stand-in ear: a second hearing only where the words miss most
    of the detector's confident frames, of the speech played 1.26 times faster, its times scaled back, kept
    only where it agrees better."""
    import probtalk.corpus.ear as ear
    from probtalk.bilabial import CONFIDENT_P, WARP, rehear, words_agreement
    from probtalk.corpus.phones import Phone

    fps, frames = 25.0, 100
    p = np.zeros(frames)
    p[[20, 21, 60, 61]] = 0.9  # confident at shown frames 21 and 61
    assert CONFIDENT_P < 0.9
    wav = np.zeros(4 * 16000, np.float32)
    warp = WARP[0] / WARP[1]
    on_them = [Phone(20.6 / fps, 21.4 / fps, "M"), Phone(60.6 / fps, 61.4 / fps, "B")]
    elsewhere = [Phone(40.6 / fps, 41.4 / fps, "P")]
    assert words_agreement(on_them, p, fps) == (1.0, 2) and words_agreement(elsewhere, p, fps) == (0.0, 2)
    heard = []

    def ear_hearing(phones):
        def fake(audio, words=False):
            heard.append((audio.size, words))
            return _HeardByStandIn(phones)
        return fake

    monkeypatch.setattr(ear, "listen", ear_hearing([Phone(q.start / warp, q.end / warp, q.phone) for q in on_them]))
    assert rehear(wav, on_them, p, fps) == (on_them, 1.0) and heard == []  # they agree: no second hearing
    kept, used = rehear(wav, elsewhere, p, fps)
    assert used == pytest.approx(warp) and len(heard) == 1 and heard[0][1] is True
    assert abs(heard[0][0] - wav.size / warp) <= 2  # the speech played faster
    np.testing.assert_allclose([q.start for q in kept], [q.start for q in on_them])  # its times scaled back
    heard.clear()
    monkeypatch.setattr(ear, "listen", ear_hearing(elsewhere))
    assert rehear(wav, elsewhere, p, fps) == (elsewhere, 1.0) and len(heard) == 1  # no better: the first kept
    heard.clear()
    assert rehear(wav, elsewhere, np.zeros(frames), fps) == (elsewhere, 1.0) and heard == []  # the detector unsure


def test_speech_played_faster_keeps_its_shape_at_the_higher_pitch():
    from probtalk.bilabial import WARP, played_faster

    sr, seconds, tone = 16000, 2.0, 440.0
    t = np.arange(int(sr * seconds)) / sr
    x = (0.5 * np.sin(2 * np.pi * tone * t) * np.hanning(t.size)).astype(np.float32)
    y = played_faster(x, *WARP)
    warp = WARP[0] / WARP[1]
    assert y.dtype == np.float32 and y.size == round(x.size / warp)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    peak = np.fft.rfftfreq(y.size, 1 / sr)[int(np.argmax(spectrum))]
    assert abs(peak - tone * warp) < 2.0  # 554 Hz: the pitch up by 4 semitones
    assert abs(float(np.abs(y).max()) - float(np.abs(x).max())) < 0.02  # as loud, its envelope 1.26 times sooner
    assert abs(int(np.argmax(np.abs(y))) - int(np.argmax(np.abs(x))) / warp) < 0.02 * y.size


def test_a_low_voice_is_heard_again_faster(model, bilabial_speech):
    """End to end with the real word ear: the line moved 5 semitones down (a vocal tract a third longer)
    is heard again at 1.26 times the speed; the line as spoken is not (meta ``ear_warp``)."""
    from probtalk.bilabial import WARP
    from probtalk.train.augment import pitch_shift

    audio, _ = bilabial_speech
    low = pitch_shift(torch.from_numpy(audio), -5.0).numpy()
    model._last_heard = None
    as_spoken = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    lowered = model.animate(low, 16000, deterministic=True, blinks=False)[0]
    assert as_spoken.meta["ear_warp"] == 1.0
    assert lowered.meta["ear_warp"] == pytest.approx(WARP[0] / WARP[1])
    assert model.animate(low, 16000, deterministic=True, blinks=False, listen="phones")[0].meta["ear_warp"] is None


def test_free_phone_recognition_hears_bilabials():
    import soundfile as sf

    from probtalk.corpus.ear import recognise_bilabials

    hello, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    heard = recognise_bilabials(hello)
    # measured: 14 p/b/m in the 5.6 s sample ("... Bob ... maybe ...")
    assert len(heard) >= 5 and {p.phone for p in heard} <= {"P", "B", "M"}
    assert all(0.0 <= p.start < p.end <= hello.size / 16000 for p in heard)
    assert recognise_bilabials(hello[:800]) == [] and recognise_bilabials(np.zeros(16000, np.float32)) == []
    # a minute of speech is heard to its end (a search pruned too hard lost its paths after a few seconds)
    minute = recognise_bilabials(np.tile(hello, 11))
    assert len(minute) >= 5 * len(heard) and minute[-1].start > 10 * hello.size / 16000  # measured: 74 (lost: 7)


def test_threads_recognise_with_their_own_decoders():
    """A pocketsphinx decoder is not thread-safe: animate() called from several threads must not share one."""
    import threading

    import soundfile as sf

    from probtalk.corpus.align import _decoder
    from probtalk.corpus.ear import recognise_bilabials

    hello, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    alone = recognise_bilabials(hello)
    seen, heard = [], []

    def work():
        seen.append(id(_decoder("ear")))
        heard.append(recognise_bilabials(hello))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 2 and id(_decoder("ear")) not in seen
    assert heard == [alone, alone]


def test_word_recognition_hears_the_bilabials_of_the_words(monkeypatch):
    """listen="words": the words recognised, aligned phone by phone; the same whoever decodes a part."""
    import soundfile as sf

    from probtalk.corpus import ear

    hello, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    long = np.tile(hello, 2)[: 10 * 16000]
    import os

    monkeypatch.setattr(ear, "IDLE_PRIORITY", False)  # as tests/test_ear.py: a helper that runs on a loaded machine
    monkeypatch.setattr(ear, "TAKEOVER", 1e4)
    monkeypatch.setitem(ear._STARTS, os.getpid(), 0)
    current = ear.EarHelper._instances.get(os.getpid())
    if current is not None and current.idle:
        current.close()
    with monkeypatch.context() as m:
        m.setattr(ear, "HELPER", False)
        alone = ear.recognise_bilabials(long, words=True)
    assert len(alone) >= 5 and {p.phone for p in alone} <= {"P", "B", "M"}  # measured: 7 in the sample twice
    assert all(0.0 <= p.start < p.end <= long.size / 16000 for p in alone)
    helper = None
    for _ in range(600):  # the helper (started here, or before) loads
        helper = ear._helper(True, words=True)
        if helper is not None and helper.ready.is_set():
            break
        import time

        time.sleep(0.1)
    assert helper is not None and helper.ready.is_set()
    listening = ear.listen(long, words=True)
    assert listening._helper is helper and listening.bilabials() == alone
    assert ear.recognise_bilabials(np.zeros(16000, np.float32), words=True) == []


def test_onnx_model_seals_like_torch(model, bilabial_speech):
    audio, _ = bilabial_speech
    onnx = probtalk.load_onnx_model()
    assert onnx.bilabial_net is not None
    a = model.animate(audio, 16000, seed=2, num_samples=1)[0]
    b = onnx.animate(audio, 16000, seed=2, num_samples=1)[0]
    assert a.meta["sealed_from"] == b.meta["sealed_from"] == "audio"
    assert a.meta["sealed_frames"] == b.meta["sealed_frames"] > 0
    # Both share the deterministic take's brief closures the same way (hello.wav has some the detector misses).
    import soundfile as sf

    hello, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    a = model.animate(hello, 16000, seed=7, num_samples=2)
    b = onnx.animate(hello, 16000, seed=7, num_samples=2)
    assert [t.meta["shared_closure_frames"] for t in a] == [t.meta["shared_closure_frames"] for t in b]
    assert a[0].meta["shared_closure_frames"] > 0


def test_sealing_marked_frames_is_sealing_their_tokens():
    from probtalk.flame import load_rig

    seal = LipSeal.from_rig(load_rig())
    rng = np.random.default_rng(0)
    motion = (rng.standard_normal((40, 53)) * 0.1).astype(np.float32)
    tokens = phone_tokens([(0.0, 0.4, "AA1"), (0.4, 0.5, "M"), (0.5, 1.2, "AE1"), (1.2, 1.3, "P")], 25.0, 40)
    a, n = seal.apply(motion, tokens)
    bilabial = np.isin(tokens, list(BILABIAL_TOKENS))
    shown = bilabial | np.concatenate([[False], bilabial[:-1]])  # a token's phone is shown until the next frame
    b, m = seal.seal_frames(motion, shown)
    np.testing.assert_array_equal(a, b)
    assert n == m == shown.sum() > 0
    c, _ = seal.seal_frames(motion, bilabial)
    assert not np.array_equal(a, c)


def test_detector_marks_the_frames_as_shown():
    from probtalk.bilabial import shown_frames

    # Shown frame k sits half-way between the centres of frames k - 1 and k.
    p = np.array([0.0, 0.2, 0.9, 0.9, 0.2, 0.0])
    np.testing.assert_array_equal(np.flatnonzero(shown_frames(p, 0.6)), [3])
    np.testing.assert_array_equal(np.flatnonzero(shown_frames(p, 0.5)), [2, 3, 4])
    # An edge frame, one of whose centres lies clearly outside the bilabial (below EDGE_MIN_P), is left to
    # the seal's fade even where the mean passes the threshold: the vowel after the release stays open.
    p = np.array([0.0, 0.0, 0.9, 0.9, 0.9, 0.05, 0.0])
    np.testing.assert_array_equal(np.flatnonzero(shown_frames(p, 0.4)), [3, 4])
    # ... unless the closure would last one frame: then it keeps the edge after it.
    np.testing.assert_array_equal(np.flatnonzero(shown_frames(np.array([0.0, 0.0, 0.9, 0.9, 0.05, 0.0]), 0.4)), [3, 4])
    # One centre above the threshold whose means are not: one frame still marked, the likelier side.
    np.testing.assert_array_equal(np.flatnonzero(shown_frames(np.array([0.0, 0.3, 0.7, 0.0]), 0.5)), [2])
    np.testing.assert_array_equal(np.flatnonzero(shown_frames(np.array([0.0, 0.0, 0.7, 0.3]), 0.5)), [3])
    assert not shown_frames(np.full(5, 0.2), 0.5).any() and shown_frames(np.zeros(0), 0.5).size == 0


# ------------------------------------------------------------------ training
def test_training_writes_a_detector_with_a_chosen_threshold(tmp_path, tiny_corpus):
    from probtalk.train.bilabial import train_bilabial

    path, metrics = train_bilabial(tiny_corpus, tmp_path / "run", steps=4, batch_size=4, variants=2, max_clips=3)
    net = BilabialNet.load(path)
    assert net.config == DEFAULT_CONFIG
    assert net.threshold == metrics["threshold"] and 0.0 < net.threshold < 1.0
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert net.provenance["variants"] == 2 and net.provenance["hearings"] > 0


def test_a_larger_detector_keeps_the_streams_delay(tmp_path, tiny_corpus):
    from probtalk.bilabial import LOOKAHEAD, detector_config
    from probtalk.train.bilabial import train_bilabial

    assert detector_config() == DEFAULT_CONFIG and DEFAULT_CONFIG.lookahead == LOOKAHEAD
    for depth in range(1, LOOKAHEAD + 1):
        assert detector_config(64, depth).lookahead == LOOKAHEAD and len(detector_config(64, depth).layers) == depth
    with pytest.raises(ValueError, match="depth"):
        detector_config(64, LOOKAHEAD + 1)
    path, _ = train_bilabial(tiny_corpus, tmp_path / "run", steps=2, batch_size=4, variants=1, max_clips=2,
                             hidden=48, depth=4)
    net = BilabialNet.load(path)
    assert net.config == detector_config(48, 4) and net.provenance["depth"] == 4
    x = np.random.default_rng(0).normal(size=(40, net.config.inputs)).astype(np.float32)
    whole = net.run(x)
    first = 10 - net.config.context  # a stream's window: the frames up to 10 + lookahead give frame 10 exactly
    part = net.forward(x[first : 10 + LOOKAHEAD + 1], first, 40)
    np.testing.assert_allclose(part[0], whole[10], atol=1e-5)
    with pytest.raises(InputError, match="depth"):
        train_bilabial(tiny_corpus, tmp_path / "bad", steps=1, depth=7)


def test_cli_refuses_unknown_settings(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "probtalk", "train", "bilabial", "--data", "x", "--out",
                        str(tmp_path / "o"), "--set", "velocity_weight=2"], capture_output=True, text=True)
    assert r.returncode == 2 and "train bilabial takes" in r.stderr and "Traceback" not in r.stderr


def _speech_folder(root, bilabial_speech) -> None:
    """Two recordings with transcripts (one the bilabial line, one a slowed copy) and one whose
    transcript belongs to other speech; a file without a transcript is ignored."""
    import soundfile as sf
    from test_default_model import BILABIAL_LINE

    audio, _ = bilabial_speech
    root.mkdir()
    sf.write(root / "a.wav", audio, 16000)
    sf.write(root / "b.wav", np.interp(np.arange(0, audio.size, 0.9), np.arange(audio.size), audio), 16000)
    sf.write(root / "wrong.wav", audio, 16000)
    sf.write(root / "untranscribed.wav", audio, 16000)
    for name in ("a", "b"):
        (root / f"{name}.txt").write_text(BILABIAL_LINE + "\n")
    (root / "wrong.txt").write_text("Seven yellow ducks are swimming across the quiet green lake today.\n")


def test_recordings_with_transcripts_are_aligned_and_a_misfit_is_left_out(tmp_path, bilabial_speech):
    from probtalk.train.bilabial import aligned_speech, hear_speech

    _speech_folder(tmp_path / "speech", bilabial_speech)
    cache: dict = {}
    found = aligned_speech(tmp_path / "speech", cache)
    assert sorted(p.name for p, _ in found) == ["a.wav", "b.wav"]
    assert cache["wrong.wav"] is None and "untranscribed.wav" not in cache
    phones = dict(found)[tmp_path / "speech" / "a.wav"]
    assert sum(p == "M" or p == "B" or p == "P" for _, _, p in phones) >= 8
    heard = hear_speech(found, 2, seed=0)
    assert len(heard) == 4 and all(h.target.any() and h.inputs.shape[1] == DEFAULT_CONFIG.inputs for h in heard)


def test_training_draws_on_recordings_and_records_them(tmp_path, tiny_corpus, bilabial_speech):
    import json

    from probtalk.train.bilabial import train_bilabial

    _speech_folder(tmp_path / "speech", bilabial_speech)
    path, _ = train_bilabial(tiny_corpus, tmp_path / "run", steps=3, batch_size=4, variants=1, max_clips=2,
                             speech=[tmp_path / "speech"])
    net = BilabialNet.load(path)
    assert net.provenance["speech_hearings"] == 2 and net.provenance["speech"] == [str(tmp_path / "speech")]
    cached = json.loads((tmp_path / "run" / "speech_alignments.json").read_text())[str(tmp_path / "speech")]
    assert cached["a.wav"] and cached["wrong.wav"] is None


def test_cli_refuses_speech_for_other_stages_and_a_missing_folder(tmp_path, tiny_corpus):
    import subprocess
    import sys

    base = [sys.executable, "-m", "probtalk", "train"]
    r = subprocess.run(base + ["head", "--data", str(tiny_corpus), "--out", str(tmp_path / "o"), "--speech", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--speech is for 'probtalk train bilabial'" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(base + ["bilabial", "--data", str(tiny_corpus), "--out", str(tmp_path / "o"), "--speech",
                               str(tmp_path / "nope"), "--set", "steps=1", "--set", "max_clips=1"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def _streamed(model, audio, **options):
    stream = model.stream(16000, **options)
    parts = [stream.feed(audio[i : i + 1600]) for i in range(0, audio.size, 1600)] + [stream.flush()]
    takes = []
    for k in range(len(parts[0])):
        pieces = [p[k] for p in parts]
        takes.append(probtalk.Animation(25.0, np.concatenate([a.expression for a in pieces]),
                                        np.concatenate([a.jaw_pose for a in pieces]), meta=pieces[0].meta))
    return stream, takes


def test_streams_seal_the_lips_where_the_detector_hears_bilabials(model, bilabial_speech):
    audio, _ = bilabial_speech
    stream, sealed = _streamed(model, audio, num_samples=2, seed=4, blinks=False, gaze=False)
    # The detector looks 6 frames ahead and the seal's fade one more.
    assert stream.lookahead_seconds >= (model.bilabial_net.config.lookahead + 1) / 25.0 - 1e-9
    _, plain = _streamed(model, audio, num_samples=2, seed=4, blinks=False, gaze=False, seal_lips=False,
                         lookahead_seconds=stream.lookahead_seconds)  # the same windows
    heard = model.bilabial_net.frames(audio, 25.0, sealed[0].num_frames)  # the offline marks
    assert heard.sum() >= 5
    for s, p in zip(sealed, plain, strict=True):
        assert s.meta["sealed_from"] == "audio" and p.meta["sealed_from"] is None
        assert s.meta["shared_closure_frames"] == 0  # streams do not share closures (see docs/realtime.md)
        gaps, open_gaps = _gaps_mm(s), _gaps_mm(p)
        # Each window normalises its own audio, so a mark or two may differ from the whole clip's.
        assert np.mean(gaps[heard] < 2.0) >= 0.85 > np.mean(open_gaps[heard] < 2.0)
        far = np.convolve(heard, np.ones(2 * 4 + 1), mode="same") == 0
        assert np.mean(np.abs(s.expression[far] - p.expression[far]).max(axis=1) < 1e-6) > 0.95


def test_the_seal_opens_the_open_vowels_of_the_words_heard_and_of_the_transcript(model, bilabial_speech, monkeypatch):
    import probtalk.corpus.ear as ear
    from probtalk.corpus.phones import Phone

    audio, _ = bilabial_speech
    monkeypatch.setattr(model, "_last_heard", None, raising=False)
    monkeypatch.setattr(model, "vowel_net", None)  # the words' vowels alone (the detector's: test_vowels.py)
    monkeypatch.setattr(ear, "listen", lambda wav, words=False: _HeardByStandIn([]))
    plain = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    assert plain.meta["opened_vowel_frames"] == 0  # no words heard: nothing opened
    gaps = _gaps_mm(plain)
    marked = model.heard_bilabials(audio, plain.num_frames)
    near = np.convolve(marked, np.ones(3), mode="same") > 0
    shut = [k for k in range(3, plain.num_frames - 3) if 2.0 < gaps[k] < 5.0 and not near[k]]
    assert shut, "a frame the take leaves less open than a vowel, away from the seals"
    k = shut[len(shut) // 2]
    vowel = [Phone((k - 1.5) / 25.0, (k + 1.5) / 25.0, "AA")]  # an open vowel centred on frame k
    model._last_heard = None
    monkeypatch.setattr(ear, "listen", lambda wav, words=False: _HeardByStandIn(vowel if words else []))
    opened = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    assert opened.meta["opened_vowel_frames"] == 1 and _gaps_mm(opened)[k] > 6.0  # the benchmarks' open bar
    far = np.abs(np.arange(plain.num_frames) - k) > 1
    np.testing.assert_array_equal(opened.jaw_pose[far], plain.jaw_pose[far])  # the rest of the take is as it was
    model._last_heard = None
    phones = model.animate(audio, 16000, deterministic=True, blinks=False, listen="phones")[0]
    assert phones.meta["opened_vowel_frames"] == 0  # free phone recognition's vowels are not trusted
    assert model.animate(audio, 16000, deterministic=True, blinks=False, seal_lips=False)[0].meta["opened_vowel_frames"] == 0
    # the transcript's aligned vowels open the same way
    motion = np.concatenate([plain.expression[:, :50], plain.jaw_pose], 1)
    aligned = np.zeros(plain.num_frames, bool)
    takes, _, source, _, count = model.seal([motion], audio, aligned, True, vowels=vowel)
    assert source == "transcript" and count == 1
    seal = model.lip_seal()
    assert np.linalg.norm(seal.lip_vector(takes[0][k : k + 1]), axis=1)[0] >= 6.99


def test_a_heard_open_vowel_opens_a_shared_closure_the_detector_does_not_hear_and_spreads(model, monkeypatch):
    """End to end through ``animate()``: the two rules of the audio-only seal that read the words heard
    beside the detector (:meth:`LipSeal.shared_closures`' yield, :func:`open_vowel_centres`' spread)."""
    import soundfile as sf

    import probtalk.corpus.ear as ear
    from probtalk.bilabial import unheard_frames
    from probtalk.corpus.phones import Phone

    audio, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    monkeypatch.setattr(model, "vowel_net", None)  # the words' vowels alone (the detector's: test_vowels.py)

    def hearing(phones):
        model._last_heard = None
        monkeypatch.setattr(ear, "listen", lambda wav, words=False: _HeardByStandIn(phones if words else []))

    hearing([])
    takes = model.animate(audio, 16000, num_samples=2, seed=7, blinks=False)
    frames = takes[0].num_frames
    p = model.detector_probabilities(audio, frames)
    extra = _shared(model, audio) & ~model.heard_bilabials(audio, frames) & unheard_frames(p, model.bilabial_net.threshold)
    assert extra.any(), "the model closes somewhere the detector hears no p, b or m"
    k = int(np.flatnonzero(extra)[0])
    assert all(_gaps_mm(t)[k] < 2.0 for t in takes)  # every take keeps the deterministic take's closure
    hearing([Phone((k - 0.5) / 25.0, (k + 0.5) / 25.0, "AA")])  # the words heard put an open vowel there
    opened = model.animate(audio, 16000, num_samples=2, seed=7, blinks=False)
    for before, after in zip(takes, opened, strict=True):
        assert after.meta["shared_closure_frames"] < before.meta["shared_closure_frames"]
        assert after.meta["opened_vowel_frames"] == 1 and _gaps_mm(after)[k] > 6.0  # the benchmarks' open bar

    # A vowel whose midpoint lies 0.4 frames after a frame opens the next frame too, its lips apart there
    # (without a transcript, whether or not the detector is silent).
    det = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    near = np.convolve(model.heard_bilabials(audio, frames), np.ones(7), mode="same") > 0
    gaps = _gaps_mm(det)
    spots = [j for j in range(3, frames - 4) if not near[j - 1 : j + 3].any() and gaps[j] < 6.0 and 2.5 < gaps[j + 1] < 6.0]
    assert spots, "two frames side by side that the take leaves less open than a vowel, the lips apart"
    j = spots[len(spots) // 2]
    hearing([Phone((j + 0.4 - 1.0) / 25.0, (j + 0.4 + 1.0) / 25.0, "AA")])
    spread = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    assert spread.meta["opened_vowel_frames"] == 2 and (_gaps_mm(spread)[j : j + 2] > 6.0).all()
    monkeypatch.setattr("probtalk.lipseal.SPREAD_FRAMES", 0.5)  # the next frame's 0.6 is past the spread
    hearing([Phone((j + 0.4 - 1.0) / 25.0, (j + 0.4 + 1.0) / 25.0, "AA")])
    assert model.animate(audio, 16000, deterministic=True, blinks=False)[0].meta["opened_vowel_frames"] == 1
