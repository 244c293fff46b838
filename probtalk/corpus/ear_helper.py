"""The lip seal's second ear, helper process: pocketsphinx phone recognition of the PCM sent to it.

Pocketsphinx holds Python's GIL while it decodes, so a second thread cannot take a share of one
clip's decoding; a second process can (:mod:`probtalk.corpus.ear`). This program needs only the
standard library and pocketsphinx (it starts in about 0.3 s, most of it loading the acoustic
model). :class:`probtalk.corpus.ear.EarHelper` runs it as ``python -I ear_helper.py <keywords>``
(by path, so that the ``probtalk`` package is never imported), where ``<keywords>`` is the JSON of
the pocketsphinx ``Decoder`` keywords of each mode, ``{"phones": {...}, "words": {...}}``
(:func:`probtalk.corpus.align.decoder_config`), followed by
"idle" (the default) or "normal" for its priority and, optionally, the mode whose decoder it builds
before it is ready ("phones", the default, or "words"; the other is built on its first request), and
it speaks this protocol on stdin/stdout:

* start: helper -> ``{"ready": true}`` + newline once that decoder is built, or ``{"error": message}``
  + newline and exit;
* request: parent -> uint32 (little-endian) byte count, a mode byte (0: free phone recognition,
  1: word recognition then the phone alignment of the words), then that many bytes of 16 kHz
  16-bit little-endian PCM;
* response: helper -> ``{"segments": [[phone, first frame, last frame], ...]}`` + newline, at 100
  frames per second from the start of the PCM, or ``{"error": message}`` + newline where the search
  found no path.

It runs at the lowest scheduling priority (:func:`_lowest_priority`) and serves requests until
stdin closes.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import IO, Any

WORDS = 1  # a request's mode byte: 0 free phone recognition, 1 word recognition and phone alignment


def _send(out: IO[bytes], message: dict[str, Any]) -> None:
    out.write(json.dumps(message).encode("utf-8") + b"\n")
    out.flush()


def _lowest_priority() -> None:
    """Run only where a core is idle: the parent's model runs beside this helper (Linux's idle
    scheduling class; nice 19 where there is none)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        if hasattr(os, "nice"):
            os.nice(19)


def main(argv: list[str]) -> None:
    """Serve requests on stdin until it closes; ``argv[1]`` holds the decoder keywords of each mode as JSON,
    ``argv[2]`` "idle" (the lowest priority) or "normal", ``argv[3]`` (optional) the mode to build first."""
    if len(argv) < 3 or argv[2] != "normal":
        _lowest_priority()
    first = argv[3] if len(argv) > 3 else "phones"
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the C library prints goes to stderr, never into the protocol
    try:
        from pocketsphinx import Decoder

        configs = json.loads(argv[1])
        decoders = {first: Decoder(**configs[first])}
    except Exception as e:  # noqa: BLE001 - any failure to start is reported to the parent, which decodes itself
        _send(out, {"error": f"{type(e).__name__}: {e}"})
        return
    _send(out, {"ready": True})
    source = sys.stdin.buffer
    while True:
        head = source.read(5)
        if len(head) < 5:
            return
        size, mode = struct.unpack("<IB", head)
        pcm = source.read(size)
        if len(pcm) < size:
            return
        kind = "words" if mode == WORDS else "phones"
        try:
            if kind not in decoders:  # the other mode's decoder is built on its first request
                decoders[kind] = Decoder(**configs[kind])
            segments = word_phone_segments(decoders[kind], pcm) if kind == "words" else _phones(decoders[kind], pcm)
        except RuntimeError as e:
            _send(out, {"error": str(e)})
            continue
        _send(out, {"segments": segments})


def _phones(decoder: Any, pcm: bytes) -> list[list[Any]]:
    """Free phone recognition: the best path's segments."""
    decoder.reinit_feat()  # every request starts afresh, as the parent's decoders do
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return [[s.word, s.start_frame, s.end_frame] for s in decoder.seg() or ()]


def word_phone_segments(decoder: Any, pcm: bytes) -> list[list[Any]]:
    """Word recognition with ``decoder`` (a language-model decoder), then the phone alignment of the
    words recognised: [[phone, first frame, last frame], ...] ([] where it recognised no words).
    ``probtalk.corpus.align.recognise_words`` runs the same steps in the parent."""
    decoder.reinit_feat()
    decoder.activate_search()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    if decoder.hyp() is None or not decoder.hyp().hypstr.strip():
        return []
    decoder.set_alignment()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return [[ph.name, ph.start, ph.start + ph.duration - 1] for word in decoder.get_alignment() or () for ph in word]


if __name__ == "__main__":
    main(sys.argv)
