"""The lip seal's second ear on two cores: a long clip's first part decoded in a helper process."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import probtalk
from probtalk.corpus import ear
from probtalk.corpus.align import ALIGN_DITHER, pcm16, recognise_phones


@pytest.fixture(scope="module")
def long_speech() -> np.ndarray:
    hello, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    return np.tile(hello, 2)[: 10 * 16000]  # 10 s of speech


@pytest.fixture(autouse=True)
def _fresh_starts(monkeypatch):
    """Each test may start helpers afresh (a process starts at most ear.MAX_STARTS), and waits for the
    helper however busy the machine is (in the idle scheduling class it only runs on a free core; the
    take-over has a test of its own)."""
    monkeypatch.setitem(ear._STARTS, os.getpid(), 0)
    monkeypatch.setattr(ear, "TAKEOVER", 1e4)
    monkeypatch.setattr(ear, "IDLE_PRIORITY", False)
    helper = ear.EarHelper._instances.get(os.getpid())
    if helper is not None and helper.idle:  # one another test started at idle priority: start a normal one
        helper.close()


def _ready(timeout: float = 60.0) -> ear.EarHelper:
    """This process's helper, once it has loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        helper = ear._helper(True)
        if helper is not None and helper.ready.is_set():
            return helper
        time.sleep(0.05)
    raise AssertionError("the ear's helper process never became ready")


def _decoded_here(audio: np.ndarray) -> list:
    """What this process hears in ``audio`` decoding both parts itself."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ear, "HELPER", False)
        return ear.recognise_bilabials(audio)


def _counting(monkeypatch) -> list[int]:
    """Bytes of PCM decoded in this process, per call."""
    sizes: list[int] = []

    def counted(pcm: bytes, kind: str = "phones"):
        sizes.append(len(pcm))
        return recognise_phones(pcm, kind)

    monkeypatch.setattr(ear, "recognise_phones", counted)
    return sizes


def test_a_long_clip_is_cut_in_a_pause_near_the_helpers_share():
    rng = np.random.default_rng(0)
    speechy = (0.3 * rng.standard_normal(12 * 16000)).astype(np.float32)
    speechy[int(6.2 * 16000) : int(6.6 * 16000)] *= 0.001  # a pause at 52-55 % of the clip
    cut = ear.cut_sample(speechy)
    assert 6.2 * 16000 < cut < 6.6 * 16000 and cut % 160 == 0  # inside the pause, on the 10 ms frame grid
    speechy[int(1.0 * 16000) : int(1.4 * 16000)] *= 0.001  # a quieter pause far from the share does not move it
    assert ear.cut_sample(speechy) == cut
    assert ear.cut_sample(speechy[: int(ear.SPLIT_SECONDS * 16000) - 1]) == 0  # short clips are not cut


def test_the_helper_decodes_the_first_part_and_hears_what_this_process_would(long_speech, monkeypatch):
    cut = ear.cut_sample(long_speech)
    assert cut > 0
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ear, "HELPER", False)
        sizes = _counting(m)
        alone = ear.recognise_bilabials(long_speech)
    assert sizes == [2 * (long_speech.size - cut), 2 * cut]  # both parts decoded here
    _ready()
    sizes = _counting(monkeypatch)
    shared = ear.recognise_bilabials(long_speech)
    assert sizes == [2 * (long_speech.size - cut)]  # only the second part here: the helper heard the first
    assert shared == alone  # the same phones, whoever decodes the first part
    assert len(shared) >= 10 and any(p.start < cut / 16000 for p in shared) and shared[-1].start > cut / 16000
    # What the split hears, next to one search over the whole clip (measured: 15 against 14, 12 the same).
    pcm = pcm16(long_speech, ALIGN_DITHER)
    whole = {round(p.start, 1) for p in recognise_phones(pcm, "ear")[0] if p.phone in ("P", "B", "M")}
    assert len(whole & {round(p.start, 1) for p in shared}) >= 0.75 * len(whole)


def test_a_helper_that_dies_leaves_the_part_to_this_process(long_speech, monkeypatch):
    alone = _decoded_here(long_speech)
    helper = _ready()
    listening = ear.listen(long_speech)
    assert listening._helper is helper
    helper.proc.kill()
    sizes = _counting(monkeypatch)
    assert listening.bilabials() == alone
    assert len(sizes) == 2  # both parts decoded here
    assert not helper.lock.locked()
    assert _ready() is not helper  # the next long clip starts another


def test_an_interpreter_that_cannot_start_the_helper_decodes_here(long_speech, monkeypatch):
    alone = _decoded_here(long_speech)
    pid = os.getpid()
    if pid in ear.EarHelper._instances:
        ear.EarHelper._instances[pid].close()
    monkeypatch.setattr(ear.sys, "executable", "/nonexistent/python")
    for _ in range(ear.MAX_STARTS + 2):
        assert ear.recognise_bilabials(long_speech) == alone
    assert ear._STARTS[pid] == ear.MAX_STARTS  # it stops trying


def test_a_helper_taken_by_another_clip_is_not_waited_for(long_speech, monkeypatch):
    helper = _ready()
    first = ear.listen(long_speech)
    assert first._helper is helper
    sizes = _counting(monkeypatch)
    second = ear.listen(np.roll(long_speech, 8000))
    assert second._helper is None  # the helper is busy with the first clip's part: decode here
    second.bilabials()
    assert len(sizes) == 2
    first.bilabials()
    assert not helper.lock.locked() and ear.listen(long_speech)._helper is helper


def test_a_reply_left_unread_never_reaches_the_next_clip(long_speech, monkeypatch):
    alone = _decoded_here(long_speech)
    other = np.roll(long_speech, 8000)
    other_alone = _decoded_here(other)
    helper = _ready()
    abandoned = ear.listen(long_speech)  # the caller fails before it needs the phones
    assert abandoned._helper is helper
    abandoned.close()
    assert helper.proc.wait(timeout=10) is not None and not helper.lock.locked()
    assert ear.recognise_bilabials(other) == other_alone
    assert ear.recognise_bilabials(long_speech) == alone


def test_a_helper_that_falls_behind_is_taken_over(long_speech, monkeypatch):
    import signal

    alone = _decoded_here(long_speech)
    helper = _ready()
    monkeypatch.setattr(ear, "TAKEOVER", 0.0)
    monkeypatch.setattr(ear, "TAKEOVER_MIN_S", 0.05)
    os.kill(helper.proc.pid, signal.SIGSTOP)  # starved: it reads nothing and cannot answer
    sizes = _counting(monkeypatch)
    heard: list = []
    caller = threading.Thread(target=lambda: heard.append(ear.recognise_bilabials(long_speech)), daemon=True)
    caller.start()
    caller.join(timeout=120)
    assert heard == [alone], "the caller waited on a starved helper (its part is more than a pipe holds)"
    assert len(sizes) == 2 and helper.proc.wait(timeout=10) is not None  # this process took its part; it is stopped
    assert not helper.lock.locked()


def test_animate_starts_listening_before_it_samples_the_takes(long_speech, monkeypatch):
    import probtalk.runtime.model as runtime_model

    model = probtalk.load_model(None, device="cpu")
    _ready()
    order: list[str] = []
    listen, sample = ear.listen, runtime_model.sample_takes_with_reference
    monkeypatch.setattr(ear, "listen", lambda wav, words=False: order.append("listen") or listen(wav, words))
    monkeypatch.setattr(runtime_model, "sample_takes_with_reference",
                        lambda *a, **k: order.append("sample") or sample(*a, **k))
    monkeypatch.setattr(model, "_last_heard", None, raising=False)
    take = model.animate(long_speech, 16000, deterministic=True, blinks=False)[0]
    assert order == ["listen", "sample"]
    helper = ear.EarHelper._instances[os.getpid()]
    assert not helper.lock.locked()  # its reply was taken
    heard = model.heard_bilabials(long_speech, take.num_frames)
    from probtalk.bilabial import heard_frames

    words = ear.recognise_bilabials(long_speech, words=True)  # the default ear: the words' p, b and m, no bar
    assert (heard == heard_frames(model.bilabial_net, long_speech, 25.0, take.num_frames, words, 0.0)).all()


def test_no_helper_where_it_could_not_lower_its_priority(long_speech, monkeypatch):
    alone = _decoded_here(long_speech)
    pid = os.getpid()
    if pid in ear.EarHelper._instances:
        ear.EarHelper._instances[pid].close()
    monkeypatch.delattr(ear.os, "nice")  # Windows: the helper would slow the model it runs beside
    sizes = _counting(monkeypatch)
    assert ear.recognise_bilabials(long_speech) == alone and len(sizes) == 2
    assert ear._STARTS[pid] == 0  # none started


def test_a_short_clip_goes_whole_to_a_running_helper(long_speech, monkeypatch):
    short = long_speech[: 3 * 16000]
    assert ear.cut_sample(short) == 0
    alone = _decoded_here(short)
    helper = _ready()
    sizes = _counting(monkeypatch)
    listening = ear.listen(short)
    assert listening._helper is helper
    assert listening.bilabials() == alone and sizes == []  # the helper heard all of it
    assert not helper.lock.locked()


def test_a_short_clip_starts_no_helper(long_speech, monkeypatch):
    pid = os.getpid()
    if pid in ear.EarHelper._instances:
        ear.EarHelper._instances[pid].close()
    short = long_speech[: 3 * 16000]
    sizes = _counting(monkeypatch)
    heard = ear.recognise_bilabials(short)
    assert sizes == [2 * short.size] and ear._STARTS[pid] == 0  # decoded here; nothing started
    assert heard == _decoded_here(short)


def test_a_helper_started_early_takes_the_first_clip_while_it_loads(long_speech, monkeypatch):
    """``start_helper`` (``probtalk animate`` calls it before it loads the model): the first clip is sent
    while the helper still loads its language model, and its reply is waited for."""
    short = long_speech[: 3 * 16000]
    monkeypatch.setattr(ear, "dereverberate", lambda audio: audio)  # leaves the helper no time to finish loading
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ear, "HELPER", False)
        alone = ear.recognise_bilabials(short, words=True)
    assert alone  # measured: 3 p/b/m in the sample
    pid = os.getpid()
    if pid in ear.EarHelper._instances:
        ear.EarHelper._instances[pid].close()
    decoded_here: list[int] = []
    monkeypatch.setattr(ear, "recognise_words", lambda pcm: decoded_here.append(len(pcm)) or [])
    ear.start_helper(words=True)
    helper = ear.EarHelper._instances[pid]
    assert helper.proc.args[-1] == "words"  # it builds the word recogniser before it says it is ready
    listening = ear.listen(short, words=True)
    assert listening._helper is helper and listening._starting
    assert listening.bilabials() == alone and decoded_here == []
    ear.start_helper(words=True)
    assert ear.EarHelper._instances[pid] is helper and ear._STARTS[pid] == 1  # running: not started twice


def test_animate_command_starts_the_helper_before_the_model_loads(tmp_path, monkeypatch):
    import probtalk.pipeline as pipeline
    from probtalk.options import AnimateOptions

    hello = Path(probtalk.__file__).parent / "assets" / "hello.wav"
    order: list[object] = []
    monkeypatch.setattr(ear, "start_helper", lambda words=False: order.append(("helper", words)))

    def engine(job):
        order.append("model")
        raise SystemExit  # the model's load is all this test needs to see

    monkeypatch.setattr(pipeline, "_engine", engine)

    def run(**changes) -> list[object]:
        order.clear()
        fields = {"inputs": [hello], "out": tmp_path / "o", "emotions": ["neutral"], "options": AnimateOptions(),
                  "formats": ["npz"], **changes}
        with pytest.raises(SystemExit):
            pipeline.run_job(pipeline.AnimateJob(**fields))
        return list(order)

    assert run() == [("helper", True), "model"]
    assert run(options=AnimateOptions(listen="phones")) == [("helper", False), "model"]
    assert run(text="hello") == ["model"]  # sealed from the transcript: no ear
    assert run(options=AnimateOptions(seal_lips=False)) == ["model"]
    speech = tmp_path / "line.wav"
    speech.write_bytes(hello.read_bytes())
    speech.with_suffix(".txt").write_text("a line", encoding="utf-8")
    assert run(inputs=[speech]) == ["model"]  # every input has its transcript beside it
