"""Transcripts: the fit check, model.animate(text=...), the CLI's --text and folder .txt files (tiny model)."""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from probtalk.animation import Animation
from probtalk.errors import AudioError, InputError
from probtalk.models.checkpoint import save_checkpoint

LINE = "Bob made a big map of the bay."
OTHER = "Seven cold fish swim near the green shore."


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """An espeak-ng recording of LINE (16 kHz wav) and its path."""
    from probtalk.corpus.tts import synthesize
    from probtalk.corpus.voices import Voice

    utt = synthesize(LINE, Voice("M001", "espeak", "en-us+m3"), "neutral", 0.0, np.random.default_rng(0))
    path = tmp_path_factory.mktemp("speech") / "line.wav"
    sf.write(path, utt.audio, 16000)
    return path, utt.audio


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from test_lipsync import tiny_talker

    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(path, tiny_talker(), provenance={"fps": 25.0})
    return path


def test_fit_check_accepts_the_line_and_rejects_another(speech):
    from probtalk.transcript import MAX_UNCOVERED, MIN_FIT, align_transcript

    _, audio = speech
    good = align_transcript(audio, LINE)
    assert good.used and good.phones and good.fit >= MIN_FIT and good.uncovered <= MAX_UNCOVERED
    for wrong in (OTHER, " ".join(LINE.split()[::-1])):
        bad = align_transcript(audio, wrong)
        assert not bad.used and bad.reason
    half = align_transcript(audio, " ".join(LINE.split()[:4]))
    assert not half.used and "unaligned" in half.reason
    with pytest.raises(InputError, match="no words"):
        align_transcript(audio, "  ")


def test_fit_check_keeps_the_line_in_a_room_and_a_lower_voice(speech):
    """The previous phone-class check refused both (agreement 0.40 and 0.07 < 0.45): the free
    recogniser's phone labels degrade with the speech, the acoustic fit much less."""
    import torch

    from probtalk.train.augment import add_noise, pitch_shift, reverb
    from probtalk.transcript import align_transcript

    _, audio = speech
    gen = torch.Generator().manual_seed(0)
    room = add_noise(reverb(torch.from_numpy(audio), 0.3, gen), 20.0, gen).numpy()
    lower = pitch_shift(torch.from_numpy(audio), -3.0).numpy()
    for moved in (room, lower):
        assert align_transcript(moved, LINE).used
        assert not align_transcript(moved, OTHER).used


def test_acoustic_fit_compares_alignment_with_recognition_window_by_window():
    from probtalk.corpus.align import Segment
    from probtalk.transcript import FIT_WINDOW_FRAMES, acoustic_fit

    recognised = [Segment("SIL", 0, 49, 0.0)] + [Segment("AA", 50 + 10 * k, 59 + 10 * k, -5.0) for k in range(30)]
    words = [Segment("<sil>", 0, 49, 0.0), Segment("words", 50, 349, -150.0, phones=12)]
    assert acoustic_fit(words, recognised, 350) == (0.0, 0.0)  # as good as free recognition, everywhere
    # Three times worse over the last second: the windows there (a third of them) score down to -1 nat per frame.
    bad = [Segment("<sil>", 0, 49, 0.0), Segment("words", 50, 249, -100.0, 8), Segment("words", 250, 349, -150.0, 4)]
    fit, uncovered = acoustic_fit(bad, recognised, 350)
    assert -1.0 <= fit < -0.5 and uncovered == 0.0 and FIT_WINDOW_FRAMES == 50
    # Half the speech left to silence: uncovered.
    half = [Segment("<sil>", 0, 49, 0.0), Segment("words", 50, 199, -75.0, 6), Segment("<sil>", 200, 349, -150.0)]
    assert acoustic_fit(half, recognised, 350)[1] == 0.5
    # Or to a two-phone word stretched over it: 50 frames covered, the other 250 not.
    stretched = [Segment("<sil>", 0, 49, 0.0), Segment("a", 50, 349, -150.0, phones=2)]
    assert acoustic_fit(stretched, recognised, 350)[1] == pytest.approx(250 / 300)


def test_alignment_does_not_depend_on_what_was_aligned_before(speech):
    from probtalk.corpus.align import align_phones

    _, audio = speech
    first = align_phones(audio, None), align_phones(audio, LINE)
    align_phones(audio[::-1].copy(), None)  # another clip in between
    with contextlib.suppress(AudioError):  # may not align at all; it still runs the decoder
        align_phones(audio[::-1].copy(), OTHER)
    assert (align_phones(audio, None), align_phones(audio, LINE)) == first


def test_text_reaches_the_model_and_mismatch_falls_back(speech, tiny_ckpt, caplog):
    import probtalk

    path, _ = speech
    model = probtalk.load_model(tiny_ckpt, device="cpu")
    plain = model.animate(path, deterministic=True)[0]
    with_text = model.animate(path, deterministic=True, text=LINE)[0]
    assert with_text.meta["text_used"] is True and plain.meta["text_used"] is False
    assert np.abs(with_text.motion() - plain.motion()).max() > 1e-4
    with caplog.at_level(logging.WARNING):
        wrong = model.animate(path, deterministic=True, text=OTHER)[0]
    assert wrong.meta["text_used"] is False and wrong.meta["text_ignored"]  # did not align, or did not fit
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "transcript ignored" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    np.testing.assert_array_equal(wrong.motion(), plain.motion())


def test_cli_text_and_folder_transcripts(speech, tiny_ckpt, tmp_path):
    from probtalk.cli.main import app

    path, _ = speech
    runner = CliRunner()
    out = tmp_path / "one"
    res = runner.invoke(app, ["animate", str(path), "--model", str(tiny_ckpt), "-o", str(out), "--deterministic",
                              "--text", LINE])
    assert res.exit_code == 0, res.output
    assert Animation.load(next(out.glob("*.npz"))).meta["text_used"] is True
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b"):
        sf.write(folder / f"{name}.wav", sf.read(path)[0], 16000)
    (folder / "a.txt").write_text(LINE + "\n", encoding="utf-8")
    out = tmp_path / "many"
    res = runner.invoke(app, ["animate", str(folder), "--model", str(tiny_ckpt), "-o", str(out), "--deterministic"])
    assert res.exit_code == 0, res.output
    used = {p.name.split("_")[0]: Animation.load(p).meta["text_used"] for p in out.glob("*.npz")}
    assert used == {"a": True, "b": False}
    res = runner.invoke(app, ["animate", str(folder), "--model", str(tiny_ckpt), "-o", str(out), "--text", LINE])
    assert res.exit_code == 2 and "beside each file" in res.output


def test_mismatched_tokens_are_cut_per_window(tiny_ckpt):
    import probtalk
    from probtalk.runtime.engine import encoder_inputs

    backend = probtalk.load_model(tiny_ckpt, device="cpu").backend
    phones = np.arange(1, 11)
    cut = [encoder_inputs(backend, start, 6, num_samples=1, temperature=None, seed=0, phones=phones)["phones"]
           for start in (0, 4, 8)]
    assert [c.tolist() for c in cut] == [[[1, 2, 3, 4, 5, 6]], [[5, 6, 7, 8, 9, 10]], [[9, 10, 0, 0, 0, 0]]]


def test_a_failed_phone_pass_is_retried_and_an_even_split_is_flagged(speech, monkeypatch):
    """The phone pass fails on some voices; later attempts (other dithers) are tried, and only when all
    fail are the phones split evenly within the words, flagged ``phone_level=False``."""
    import probtalk.corpus.align as align
    from probtalk.transcript import align_transcript

    real = align._phone_pass
    calls = []

    def failing_first(n):
        def phone_pass(d, pcm):
            calls.append(1)
            return [] if len(calls) <= n else real(d, pcm)
        return phone_pass

    _, audio = speech
    monkeypatch.setattr(align, "_phone_pass", failing_first(3))  # the first three attempts fail
    r = align_transcript(audio, LINE)
    assert r.phone_level and len(calls) == 4 and any(p.phone == "M" for p in r.phones)
    calls.clear()
    monkeypatch.setattr(align, "_phone_pass", failing_first(len(align.ALIGN_ATTEMPTS)))
    r = align_transcript(audio, LINE)
    assert r.used and not r.phone_level and len(calls) == len(align.ALIGN_ATTEMPTS) and r.phones


class _Ear:
    """A stand-in bilabial detector: hears a p, b or m everywhere (``hears``) or nowhere."""

    threshold = 0.5

    def __init__(self, hears: bool) -> None:
        self.hears = hears

    def probabilities(self, wav, fps, num_frames):
        return np.full(num_frames, 1.0 if self.hears else 0.0, np.float32)

    def frames(self, wav, fps, num_frames):
        return self.probabilities(wav, fps, num_frames) >= self.threshold


def test_bilabials_heard_counts_the_aligned_pbm_the_detector_hears():
    from probtalk.corpus.phones import Phone
    from probtalk.transcript import bilabials_heard

    phones = [Phone(0.0, 0.2, "SIL"), Phone(0.2, 0.28, "B"), Phone(0.28, 0.4, "AA1"), Phone(0.4, 0.48, "M"),
              Phone(0.48, 0.6, "IY"), Phone(0.6, 0.68, "P")]
    p = np.zeros(20, np.float32)
    p[5] = 0.9  # inside the B (frames 5-6); frame 11 beside the M (10-11) and the P (15-16) stay silent
    assert bilabials_heard(phones, p, 25.0, 0.5) == pytest.approx(1 / 3)
    p[17] = 0.6  # one frame after the P counts
    assert bilabials_heard(phones, p, 25.0, 0.5) == pytest.approx(2 / 3)
    assert np.isnan(bilabials_heard(phones[:1], p, 25.0, 0.5))


@pytest.mark.parametrize("fit", [-3.8, -4.5])
def test_a_fit_just_below_the_bar_passes_when_the_detector_hears_its_pbm(speech, monkeypatch, fit):
    import probtalk.transcript as tr

    _, audio = speech
    monkeypatch.setattr(tr, "acoustic_fit", lambda *a: (fit, 0.0))
    assert -4.5 < tr.FLOOR_FIT <= -3.8 < tr.MIN_FIT  # the two cases: in the grey zone, below it
    plain = tr.align_transcript(audio, LINE)
    assert not plain.used and np.isnan(plain.heard)
    deaf = tr.align_transcript(audio, LINE, _Ear(False))
    assert not deaf.used and "\n" not in deaf.reason
    heard = tr.align_transcript(audio, LINE, _Ear(True))
    if fit >= tr.FLOOR_FIT:
        assert heard.used and heard.heard == 1.0 and heard.phones
        assert deaf.heard == 0.0 and "detector hears 0%" in deaf.reason
    else:  # below the floor no ear is asked
        assert not heard.used and np.isnan(heard.heard)
    monkeypatch.setattr(tr, "acoustic_fit", lambda *a: (-3.8, 0.5))  # words missing: no ear saves that
    missing = tr.align_transcript(audio, LINE, _Ear(True))
    assert not missing.used and np.isnan(missing.heard)


def test_animate_records_a_transcript_passed_by_ear(speech, tiny_ckpt, monkeypatch):
    import probtalk
    import probtalk.transcript as tr

    path, _ = speech
    monkeypatch.setattr(tr, "acoustic_fit", lambda *a: (-3.8, 0.0))
    assert not probtalk.load_model(tiny_ckpt, device="cpu").animate(path, deterministic=True, text=LINE)[0].meta[
        "text_used"]  # no detector: refused
    model = probtalk.load_model(tiny_ckpt, device="cpu")
    model.bilabial_net = _Ear(True)
    meta = model.animate(path, deterministic=True, text=LINE, seal_lips=False)[0].meta
    assert meta["text_used"] is True and meta["text_heard"] == 1.0


def test_the_transcript_seal_widens_to_what_the_detector_hears(speech, tiny_ckpt):
    import probtalk

    path, _ = speech
    plain = probtalk.load_model(tiny_ckpt, device="cpu").animate(path, deterministic=True, text=LINE)[0].meta
    model = probtalk.load_model(tiny_ckpt, device="cpu")
    model.bilabial_net = _Ear(True)  # hears a p/b/m everywhere: every frame beside an aligned one joins
    eared = model.animate(path, deterministic=True, text=LINE)[0].meta
    assert plain["sealed_from"] == eared["sealed_from"] == "transcript"
    assert eared["sealed_frames"] > plain["sealed_frames"] > 0


# --- listen="whisper": a transcript recognised by a local Whisper model (probtalk.whisper_ear) --------------


def test_numbers_in_digits_are_spelled_as_spoken():
    from probtalk.corpus.text import number_words, words_of

    assert words_of("Go forward 10 meters.") == ["go", "forward", "ten", "meters"]
    assert words_of("8 of spades, 4 of clubs") == ["eight", "of", "spades", "four", "of", "clubs"]
    assert " ".join(words_of("3.5 km, the 21st, 3rd and 12th")) == "three point five km the twenty first third and twelfth"
    assert " ".join(words_of("1,200 people")) == "one thousand two hundred people"
    assert number_words(2_000_019) == "two million nineteen"
    assert words_of("no digits here") == ["no", "digits", "here"]


@pytest.fixture
def whisper_folder(tmp_path, monkeypatch):
    """A folder with the files a CTranslate2 Whisper folder holds, and ``recognise`` replaced by what the test
    says Whisper heard (the real model is not shipped; the plumbing around it is tested here)."""
    from probtalk import whisper_ear

    folder = tmp_path / "whisper"
    folder.mkdir()
    for name in whisper_ear.REQUIRED:
        (folder / name).write_bytes(b"{}")
    heard = {"text": LINE, "calls": 0}

    def recognise(wav, path=None):
        whisper_ear.whisper_folder(path)
        heard["calls"] += 1
        return heard["text"]

    monkeypatch.setattr(whisper_ear, "recognise", recognise)
    monkeypatch.delenv(whisper_ear.ENV, raising=False)
    return folder, heard


def test_a_recognised_transcript_is_used_as_a_given_one(speech, tiny_ckpt, whisper_folder):
    import probtalk

    path, _ = speech
    folder, heard = whisper_folder
    model = probtalk.load_model(tiny_ckpt, device="cpu")
    given = model.animate(path, deterministic=True, text=LINE)[0]
    recognised = model.animate(path, deterministic=True, listen="whisper", whisper_model=str(folder))[0]
    assert recognised.meta["text_used"] is True and recognised.meta["text_source"] == "recognised"
    assert recognised.meta["recognised_text"] == LINE and given.meta["text_source"] == "given"
    np.testing.assert_array_equal(recognised.motion(), given.motion())
    model.animate(path, deterministic=True, listen="whisper", whisper_model=str(folder), emotion="happy")
    assert heard["calls"] == 1  # another emotion of one clip is recognised once
    text_wins = model.animate(path, deterministic=True, listen="whisper", whisper_model=str(folder), text=OTHER)[0]
    assert heard["calls"] == 1 and text_wins.meta["text_source"] == "given"  # a given transcript is not recognised


def test_a_recognised_transcript_also_seals_what_the_ears_hear(speech, tiny_ckpt, whisper_folder, monkeypatch):
    """Whisper can mishear a word ("clubs" as "cloves"): where the detector and the word ear hear a p, b or m
    the recognised transcript does not put, the seal closes too; a given transcript is trusted as it is."""
    import probtalk

    path, _ = speech
    folder, _ = whisper_folder
    model = probtalk.load_model(tiny_ckpt, device="cpu")
    model.bilabial_net = _Ear(False)  # a detector that hears nothing: the transcript's seal is not widened
    given = model.animate(path, deterministic=True, text=LINE)[0]
    extra = np.zeros(given.num_frames, bool)
    extra[[2, 3]] = True  # the ears hear a p/b/m in the lead-in silence, where LINE has none
    monkeypatch.setattr(model, "heard_bilabials", lambda wav, frames, words=True: extra[:frames].copy())
    recognised = model.animate(path, deterministic=True, listen="whisper", whisper_model=str(folder))[0]
    assert recognised.meta["sealed_from"] == given.meta["sealed_from"] == "transcript"
    assert recognised.meta["sealed_frames"] == given.meta["sealed_frames"] + 2
    assert recognised.meta["listen"] == "words" and given.meta["listen"] is None
    np.testing.assert_array_equal(recognised.motion()[10:], given.motion()[10:])  # the rest as with the text


@pytest.mark.parametrize("heard_text", [OTHER, ""])
def test_a_refused_or_empty_recognition_falls_back_to_the_audio(speech, tiny_ckpt, whisper_folder, caplog, heard_text):
    import probtalk

    path, _ = speech
    folder, heard = whisper_folder
    heard["text"] = heard_text
    model = probtalk.load_model(tiny_ckpt, device="cpu")
    plain = model.animate(path, deterministic=True)[0]
    with caplog.at_level(logging.WARNING):
        fallback = model.animate(path, deterministic=True, listen="whisper", whisper_model=str(folder))[0]
    assert fallback.meta["text_used"] is False and fallback.meta["text_source"] == "recognised"
    assert fallback.meta["recognised_text"] == heard_text
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "\n" not in warned[0]
    assert ("recognised transcript ignored" if heard_text else "Whisper heard no words") in warned[0]
    np.testing.assert_array_equal(fallback.motion(), plain.motion())


def test_whisper_folder_and_extra_are_checked_with_the_fix_named(speech, tiny_ckpt, tmp_path, monkeypatch):
    import sys

    import probtalk
    from probtalk import whisper_ear
    from probtalk.errors import MissingExtraError

    path, _ = speech
    model = probtalk.load_model(tiny_ckpt, device="cpu")
    monkeypatch.delenv(whisper_ear.ENV, raising=False)
    monkeypatch.setattr(whisper_ear, "DEFAULT_FOLDER", tmp_path / "not-installed")
    with pytest.raises(InputError, match="make whisper"):
        model.animate(path, listen="whisper")
    with pytest.raises(InputError, match="does not exist"):
        model.animate(path, listen="whisper", whisper_model=str(tmp_path / "nope"))
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "model.bin").write_bytes(b"x")
    monkeypatch.setenv(whisper_ear.ENV, str(partial))  # the environment names the folder
    with pytest.raises(InputError, match="config.json, tokenizer.json"):
        model.animate(path, listen="whisper")
    for name in whisper_ear.REQUIRED:
        (partial / name).write_bytes(b"{}")
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # the extra is not installed
    whisper_ear._load.cache_clear()
    with pytest.raises(MissingExtraError, match=r"probtalk\[whisper\]"):
        model.animate(path, listen="whisper")
    with pytest.raises(MissingExtraError):
        whisper_ear.check_ready()


def test_cli_listen_whisper_refuses_a_missing_model_before_any_work(speech, tiny_ckpt, tmp_path, monkeypatch):
    from probtalk import whisper_ear
    from probtalk.cli.main import app

    path, _ = speech
    monkeypatch.delenv(whisper_ear.ENV, raising=False)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["animate", str(path), "--model", str(tiny_ckpt), "-o", str(out), "--listen", "whisper",
                                   "--whisper-model", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output and "Traceback" not in res.output
    assert not out.exists() or not any(out.iterdir())
    res = CliRunner().invoke(app, ["animate", str(path), "--model", str(tiny_ckpt), "-o", str(out), "--listen", "whisper",
                                   "--whisper-model", str(tmp_path / "nope"), "--text", LINE])
    assert res.exit_code == 0, res.output  # with a transcript nothing is recognised


def _installed_whisper():
    import importlib.util

    from probtalk import whisper_ear

    if importlib.util.find_spec("faster_whisper") is None:
        return None
    try:
        return whisper_ear.whisper_folder()
    except InputError:
        return None


@pytest.mark.skipif(_installed_whisper() is None, reason="no Whisper installed (`make whisper`)")
def test_the_installed_whisper_recognises_the_line(speech, tiny_ckpt):
    import probtalk
    from probtalk.corpus.text import words_of
    from probtalk.whisper_ear import recognise

    path, audio = speech
    heard = words_of(recognise(audio))
    assert len(set(heard) & set(words_of(LINE))) >= 5, heard
    take = probtalk.load_model(tiny_ckpt, device="cpu").animate(path, deterministic=True, listen="whisper")[0]
    assert take.meta["text_source"] == "recognised" and take.meta["text_used"] is True, take.meta


def test_info_says_whether_the_whisper_ear_can_run(tmp_path, monkeypatch):
    import importlib.util

    from probtalk import whisper_ear
    from probtalk.cli import info

    monkeypatch.delenv(whisper_ear.ENV, raising=False)
    monkeypatch.setattr(whisper_ear, "DEFAULT_FOLDER", tmp_path / "none")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "faster_whisper" else real(name, *a))
    assert info._whisper() == "no (make whisper)"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "faster_whisper" else real(name, *a))
    assert info._whisper().startswith("extra installed, no Whisper folder")
    folder = tmp_path / "w"
    folder.mkdir()
    for name in whisper_ear.REQUIRED:
        (folder / name).write_bytes(b"{}")
    monkeypatch.setenv(whisper_ear.ENV, str(folder))
    assert info._whisper() == f"yes ({folder})"
