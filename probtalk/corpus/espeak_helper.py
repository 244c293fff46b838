"""The espeak-ng helper process: initialise libespeak-ng once, fork a child per utterance.

libespeak-ng keeps state between utterances that is never reset (the pitch-flutter
phase, the echo buffer, ``rand()`` for breath noise), so the same call gives slightly
different audio each time. For bit-identical output, this program initialises espeak
once and forks a child per utterance: every utterance starts from the same pristine
state. It needs only the standard library (it starts in ~20 ms), is run by
:class:`probtalk.corpus.espeak.Espeak` as ``python -I espeak_helper.py <libespeak-ng>``
(by path, so that the ``probtalk`` package is never imported), and speaks this line
protocol on stdin/stdout:

* start: helper -> ``{"sr": int}`` + newline
* request: parent -> ``{"voice", "rate", "pitch", "range", "text"}`` + newline (JSON)
* response: helper -> int32 meta_len, int32 pcm_len, meta JSON, int16 PCM
  (``meta_len < 0``: the child crashed)

The meta JSON holds ``error`` (None, ``"novoice"`` or ``"synth <code>"``) and
``events``: ``[type, sample, text_position, length, phoneme name]`` for every word
(type 1) and phoneme (type 7) event.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import sys

EVENT_WORD, EVENT_PHONEME = 1, 7  # espeak_EVENT_TYPE
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS, INITIALIZE_DONT_EXIT = 0x0001, 0x8000
PARAM_RATE, PARAM_PITCH, PARAM_RANGE = 1, 3, 4  # espeak_PARAMETER
POS_CHARACTER, CHARS_UTF8 = 1, 1


class Event(ctypes.Structure):
    """``espeak_EVENT``, as far as the fields read here."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("uid", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(Event))


def _load(library: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(library)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    return lib


def _speak(lib: ctypes.CDLL, request: dict, events: list) -> dict:
    """Speak one request in this (forked) process; the callback fills ``events`` and the PCM list."""
    meta = {"error": None, "events": events}
    if lib.espeak_SetVoiceByName(request["voice"].encode()) != 0:
        meta["error"] = "novoice"
        return meta
    for param, value in (
        (PARAM_RATE, request["rate"]),
        (PARAM_PITCH, request["pitch"]),
        (PARAM_RANGE, request["range"]),
    ):
        lib.espeak_SetParameter(param, value, 0)
    data = request["text"].encode()
    err = lib.espeak_Synth(data, len(data) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
    if err != 0:
        meta["error"] = f"synth {err}"
    return meta


def main(argv: list[str]) -> None:
    """Serve requests on stdin until it closes; ``argv[1]`` names the libespeak-ng shared library."""
    lib = _load(argv[1])
    sr = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT)
    pcm: list[bytes] = []
    events: list[tuple[int, int, int, int, str]] = []

    def on_synth(wav, num, ev):  # noqa: ANN001, ANN202 - a ctypes callback
        i = 0
        while ev[i].type != 0:
            e = ev[i]
            if e.type in (EVENT_WORD, EVENT_PHONEME):
                name = bytes(e.id).split(b"\0")[0].decode("utf-8", "replace") if e.type == EVENT_PHONEME else ""
                events.append((e.type, e.sample, e.text_position, e.length, name))
            i += 1
        if wav and num > 0:
            pcm.append(ctypes.string_at(wav, 2 * num))
        return 0

    callback = SynthCallback(on_synth)  # kept referenced for as long as espeak may call it
    lib.espeak_SetSynthCallback(callback)
    out = sys.stdout.buffer
    out.write(json.dumps({"sr": sr}).encode() + b"\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                meta = _speak(lib, request, events)
                blob, audio = json.dumps(meta).encode(), b"".join(pcm)
                out.write(struct.pack("<ii", len(blob), len(audio)) + blob + audio)
                out.flush()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            out.write(struct.pack("<ii", -1, 0))
            out.flush()


if __name__ == "__main__":
    main(sys.argv)
