"""The lip seal's second ear: the p, b and m that speech recognition hears, on two cores.

The bilabial detector (:mod:`probtalk.bilabial`) learnt from synthetic voices, pocketsphinx's
acoustic model from recorded human speech; offline, the audio-only lip seal listens with both
(:func:`probtalk.bilabial.heard_frames`). The ear recognises the words (``listen="words"``, the
default: :func:`probtalk.corpus.align.recognise_words`, about 0.15 s per second of speech on one
core) or the phones (``listen="phones"``: the allphone search of
:func:`probtalk.corpus.align.recognise_phones`, pruned at ``EAR_BEAM``, about 0.04 s), several
times what the motion model takes on two, and pocketsphinx holds Python's GIL while it decodes,
so threads cannot share it. Instead:

* a clip of :data:`SPLIT_SECONDS` or more is cut in two at a quiet point near its middle
  (:func:`cut_sample`), always at the same sample, so what is heard never depends on who
  decodes which part;
* a helper process (:mod:`probtalk.corpus.ear_helper`, one per Python process, in Linux's idle
  scheduling class: it gets a core only when nothing else wants it) decodes the first part while
  this process runs the motion model and then decodes the second: ``animate`` starts listening
  (:func:`listen`) before it samples the takes and collects the phones (:meth:`Listening.bilabials`)
  when it seals them;
* the helper starts on the first long clip (or earlier, :func:`start_helper`: ``probtalk animate``
  starts it before it loads the model, so that it loads pocketsphinx's models on the second core
  meanwhile) and takes its share as soon as it is ready; a clip shorter than
  :data:`SPLIT_SECONDS` goes to it whole when it is running already;
* while another thread's clip is in it, where it cannot start, or where it falls behind
  (:data:`TAKEOVER`), this process decodes both parts itself.

The helper's low priority is what lets it run beside the model: the model's two threads wait on
each other, and at normal priority the helper, busy on one of the two cores, made the model take
3.4 times as long (0.26 s instead of 0.076 s for 10 s of speech); at nice 19 the model took 0.07 to
0.23 s, in the idle class 0.07 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.corpus.align import (
    ALIGN_DITHER,
    Segment,
    decoder_config,
    pcm16,
    phones_of,
    recognise_phones,
    recognise_words,
)
from probtalk.corpus.helper_process import HelperProcess
from probtalk.corpus.phones import SIL, Phone
from probtalk.dereverb import dereverberate
from probtalk.layout import AUDIO_SAMPLE_RATE

#: Whether long clips share the work with a helper process; False decodes every part in this process
#: (for a sandbox that cannot start processes, or to leave the second core to other work).
HELPER = True
#: Whether the helper runs in the idle scheduling class (see the module's notes). On a machine whose
#: cores other work keeps busy it then never runs, and this process decodes everything; the tests
#: start it at normal priority, so that they pass on a loaded machine.
IDLE_PRIORITY = True
#: Clips at least this long (s) are decoded in two parts (shorter ones gain less than the helper's
#: round trip and the parts' lost context cost).
SPLIT_SECONDS = 5.0
#: The share of a long clip the helper decodes (from its start); more than half, since this process
#: runs the motion model before it decodes its own part.
HELPER_SHARE = 0.55
#: The cut lies in the quietest :data:`QUIET_SECONDS` (a pause, where one part's phones do not need
#: the other's) within this share of the clip either side of :data:`HELPER_SHARE`.
CUT_REACH = 0.05
QUIET_SECONDS = 0.2
#: A recognised phone (not silence) longer than this (s) means the pruned search lost its paths:
#: that part is decoded again at the fit check's beam (see ``probtalk.corpus.align.EAR_BEAM``).
LOST_SECONDS = 1.5
#: After decoding its own part, this process waits for the helper's reply at most this many times
#: as long as that part took per second of audio, times the helper's seconds (plus TAKEOVER_MIN_S);
#: past it (a machine busy with other work, where the helper's low priority starves it) the helper
#: is stopped and this process decodes the part itself.
TAKEOVER = 2.0
TAKEOVER_MIN_S = 0.1
#: Seconds of decoding per second of speech this process allows the helper for a clip it sent there
#: whole (it decodes no part itself to time the helper by), for phones and for words: about twice what
#: each took on one core of the development machines (0.04 and 0.11).
EXPECTED_RTF = {"phones": 0.1, "words": 0.25}
#: The reply's wait allows this much more (s) when the helper was still starting as the part was sent
#: (it loads pocketsphinx's models in 0.3 to 0.6 s).
START_ALLOWANCE_S = 1.5
#: Whether word recognition hears the speech with its late reverberation taken out
#: (:func:`probtalk.dereverb.dereverberate`, about 0.02 s per second of speech, in this process). In a
#: room the ear otherwise loses a fifth to a half of its p, b and m, dereverberated a sixth to a third
#: (``benchmarks/ear_rooms.py``); phone recognition (``listen="phones"``) hears the speech as it is.
DEREVERBERATE = True
#: Helper processes started per Python process at most (one that keeps dying, or keeps being
#: stopped for being too slow, is given up: this process decodes everything itself).
MAX_STARTS = 3
BILABIALS = frozenset({"P", "B", "M"})
_FRAME = AUDIO_SAMPLE_RATE // 100  # samples per pocketsphinx frame
_HELPER_PATH = Path(__file__).with_name("ear_helper.py")
_STARTS: dict[int, int] = {}  # helpers started, per process id


class EarHelper(HelperProcess):
    """The ear's helper process; a thread reads its replies, so the parent can see whether it is
    ready without waiting for it."""

    def __init__(self, words: bool = False) -> None:
        # Run by path in isolated mode: the helper imports only pocketsphinx and the standard library.
        configs = {"phones": decoder_config("ear"), "words": decoder_config("words")}
        super().__init__([sys.executable, "-I", str(_HELPER_PATH), json.dumps(configs),
                          "idle" if IDLE_PRIORITY else "normal", "words" if words else "phones"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.idle = IDLE_PRIORITY  # the scheduling class it was started in
        self.ready = threading.Event()
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, name="probtalk-ear", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                break
            if message.get("ready"):
                self.ready.set()
            elif self.ready.is_set():
                self.replies.put(message)
            else:  # it could not build its decoder
                break
        self.replies.put(None)  # it has exited: wake whoever waits for a reply

    def submit(self, pcm: bytes, words: bool) -> bool:
        """Send one part to decode (``words``: word recognition, else free phone recognition); False if
        the helper has gone. A thread writes it: the pipe holds 64 KiB, and a helper the machine starves
        would otherwise hold the caller until it reads (its reply's wait has a limit, the write none)."""
        if self.proc.poll() is not None:
            return False
        request = len(pcm).to_bytes(4, "little") + bytes([1 if words else 0]) + pcm
        threading.Thread(target=self._write, args=(request,), name="probtalk-ear-write", daemon=True).start()
        return True

    def _write(self, request: bytes) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError, ValueError):  # it has exited or was stopped: the reply's wait sees it
            self.proc.stdin.write(request)
            self.proc.stdin.flush()

    def reply(self, timeout: float) -> dict[str, Any] | None:
        """The reply to the part sent, or None if the helper exited or took longer than ``timeout`` (s);
        then it is stopped (the next long clip starts another) and the caller decodes the part."""
        try:
            message = self.replies.get(timeout=timeout)
        except queue.Empty:
            message = None
        if message is None:
            self.close()
        return message


def _helper(start: bool, words: bool = False) -> EarHelper | None:
    """This process's helper, ready or still starting; with ``start``, one is started where there is none
    (building the decoder of ``words`` first; up to :data:`MAX_STARTS` per process)."""
    if not HELPER:
        return None
    pid = os.getpid()
    current = EarHelper._instances.get(pid)
    if current is not None and current.proc.poll() is None:
        return current
    if not start or _STARTS.get(pid, 0) >= MAX_STARTS or not sys.executable or not hasattr(os, "nice"):
        return None  # (without os.nice, on Windows, the helper could not lower its priority below the model's)
    _STARTS[pid] = _STARTS.get(pid, 0) + 1
    EarHelper._instances.clear()  # a forked child must not share its parent's pipe
    try:
        current = EarHelper._instances[pid] = EarHelper(words)
    except OSError:  # no interpreter to start: decode here
        _STARTS[pid] = MAX_STARTS
        return None
    return current


def start_helper(words: bool = False) -> None:
    """Start this process's helper now, so that it is ready for the first clip (``words``: build the word
    recogniser first). ``probtalk animate`` calls this before it loads the model. Does nothing where the
    helper is off (:data:`HELPER`), already running, or given up."""
    _helper(True, words)


def cut_sample(audio: np.ndarray) -> int:
    """Where the helper's part of 16 kHz speech [N] ends: 0 (no split) below :data:`SPLIT_SECONDS`,
    else the middle of its quietest :data:`QUIET_SECONDS` between ``HELPER_SHARE -/+ CUT_REACH`` of
    its length, on pocketsphinx's 10 ms frame grid."""
    frames = audio.size // _FRAME
    if audio.size < SPLIT_SECONDS * AUDIO_SAMPLE_RATE:
        return 0
    energy = np.square(audio[: frames * _FRAME].astype(np.float64)).reshape(frames, _FRAME).sum(axis=1)
    width = int(round(QUIET_SECONDS * 100))
    windows = np.convolve(energy, np.ones(width), mode="valid")  # windows[i]: frames i .. i + width - 1
    lo = max(0, int((HELPER_SHARE - CUT_REACH) * frames) - width // 2)
    hi = min(windows.size, int((HELPER_SHARE + CUT_REACH) * frames) - width // 2)
    return (lo + int(np.argmin(windows[lo:hi])) + width // 2) * _FRAME


def _decode(pcm: bytes, reply: dict[str, Any] | None = None, words: bool = False) -> list[Phone]:
    """The phones of one part, from the helper's reply or (None) decoded here (``words``: word
    recognition and the phones of the words, else free phone recognition); [] where the search
    found no path."""
    if not pcm:
        return []
    try:
        if reply is None:
            phones = recognise_words(pcm) if words else recognise_phones(pcm, kind="ear")[0]
        elif "segments" in reply:
            phones = phones_of([Segment(str(s[0]), int(s[1]), int(s[2]), 0.0) for s in reply["segments"]])
        else:  # the search found no path in the helper
            return []
        if not words and any(p.phone != SIL and p.end - p.start > LOST_SECONDS for p in phones):
            phones = recognise_phones(pcm, kind="phones")[0]  # the pruned search lost its way: the full one
    except RuntimeError:  # the search found no path (pocketsphinx's "Failed to stop utterance processing")
        return []
    return phones


class Listening:
    """Phone recognition of one clip under way (:func:`listen`): its first part in the helper process
    if the helper took it, the rest decoded here when :meth:`bilabials` is first called."""

    def __init__(self, pcm: bytes, cut: int, helper: EarHelper | None, words: bool = False) -> None:
        self._pcm, self._cut, self._helper, self.words = pcm, cut, helper, words
        self._starting = helper is not None and not helper.ready.is_set()
        self._heard: list[Phone] | None = None

    def bilabials(self) -> list[Phone]:
        """The p, b and m heard, in seconds from the start of the clip."""
        return [p for p in self.phones() if p.phone in BILABIALS]

    def phones(self) -> list[Phone]:
        """Every phone heard (with words: the phones of the words recognised), in seconds from the start
        of the clip."""
        if self._heard is None:
            offset = self._cut / AUDIO_SAMPLE_RATE
            rest = len(self._pcm) / 2 / AUDIO_SAMPLE_RATE - offset
            start = time.perf_counter()
            tail = [Phone(p.start + offset, p.end + offset, p.phone)
                    for p in _decode(self._pcm[2 * self._cut :], None, self.words)]
            # the helper's allowance: as long as this process took per second of its own part, or (a
            # clip sent whole) the expected time
            per_second = (time.perf_counter() - start) / rest if rest > 0 else EXPECTED_RTF["words" if self.words else "phones"]
            allowance = TAKEOVER * per_second * offset + TAKEOVER_MIN_S + (START_ALLOWANCE_S if self._starting else 0.0)
            reply = self._collect(allowance) if self._cut else None
            head = _decode(self._pcm[: 2 * self._cut], reply, self.words)
            self._heard = head + tail
        return list(self._heard)

    def close(self) -> None:
        """Stop the helper if its reply is still due (the caller failed before it needed the phones): the
        reply must not be read as the next clip's; the next long clip starts another helper."""
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.close()
            helper.lock.release()

    def __del__(self) -> None:
        self.close()

    def _collect(self, timeout: float) -> dict[str, Any] | None:
        helper, self._helper = self._helper, None
        if helper is None:
            return None
        try:
            return helper.reply(timeout)
        finally:
            helper.lock.release()


def listen(audio: np.ndarray, words: bool = False) -> Listening:
    """Start hearing the p, b and m of 16 kHz speech [N]: the helper process takes the first part of a
    long clip now, when it is ready and free; :meth:`Listening.bilabials` decodes the rest here.
    ``words``: recognise the words (in the speech with its late reverberation taken out,
    :data:`DEREVERBERATE`) and take the p, b and m of their pronunciations (:data:`LISTEN_MODES`)."""
    audio = np.asarray(audio, dtype=np.float32).ravel()
    if audio.size < AUDIO_SAMPLE_RATE // 10 or not np.isfinite(audio).all() or not np.abs(audio).max() > 0:
        return Listening(b"", 0, None, words)
    pcm = pcm16(dereverberate(audio) if words and DEREVERBERATE else audio, ALIGN_DITHER)
    cut = cut_sample(audio)
    helper = _helper(start=bool(cut), words=words)
    if not cut:  # a short clip goes to a helper that is running already, whole
        cut = audio.size if helper is not None else 0
    if helper is not None and not helper.lock.acquire(blocking=False):
        helper = None  # another thread's clip is in it
    if helper is not None and not helper.submit(pcm[: 2 * cut], words):
        helper.lock.release()
        helper = None
    return Listening(pcm, cut, helper, words)


def recognise_bilabials(audio: np.ndarray, words: bool = False) -> list[Phone]:
    """The p, b and m that free phone recognition (``words``: word recognition) hears in 16 kHz speech
    [N], in seconds from its start; [] where it hears none or cannot decode the audio (:func:`listen`,
    collected at once)."""
    return listen(audio, words).bilabials()
