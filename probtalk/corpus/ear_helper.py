"""The lip seal's second ear, helper process: pocketsphinx phone recognition of the PCM sent to it.

Pocketsphinx holds Python's GIL while it decodes, so a second thread cannot take a share of one
clip's decoding; a second process can (:mod:`probtalk.corpus.ear`). This program needs only the
standard library and pocketsphinx (it starts in about 0.3 s, most of it loading the acoustic
model). :class:`probtalk.corpus.ear.EarHelper` runs it as ``python -I ear_helper.py <keywords>``
(by path, so that the ``probtalk`` package is never imported), where ``<keywords>`` is the JSON of
the pocketsphinx ``Decoder`` keywords (:func:`probtalk.corpus.align.decoder_config`), followed by
"idle" (the default) or "normal" for its priority, and it speaks this protocol on stdin/stdout:

* start: helper -> ``{"ready": true}`` + newline once its decoder is built, or ``{"error": message}``
  + newline and exit;
* request: parent -> uint32 (little-endian) byte count, then that many bytes of 16 kHz 16-bit
  little-endian PCM;
* response: helper -> ``{"segments": [[label, first frame, last frame], ...]}`` + newline, the best
  path at 100 frames per second from the start of the PCM, or ``{"error": message}`` + newline where
  the search found no path.

It runs at the lowest scheduling priority (:func:`_lowest_priority`) and serves requests until
stdin closes.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import IO, Any


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
    """Serve requests on stdin until it closes; ``argv[1]`` holds the decoder keywords as JSON, ``argv[2]``
    "idle" (the lowest priority) or "normal"."""
    if len(argv) < 3 or argv[2] != "normal":
        _lowest_priority()
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the C library prints goes to stderr, never into the protocol
    try:
        from pocketsphinx import Decoder

        decoder = Decoder(**json.loads(argv[1]))
    except Exception as e:  # noqa: BLE001 - any failure to start is reported to the parent, which decodes itself
        _send(out, {"error": f"{type(e).__name__}: {e}"})
        return
    _send(out, {"ready": True})
    source = sys.stdin.buffer
    while True:
        head = source.read(4)
        if len(head) < 4:
            return
        (size,) = struct.unpack("<I", head)
        pcm = source.read(size)
        if len(pcm) < size:
            return
        decoder.reinit_feat()  # every request starts afresh, as the parent's decoders do
        try:
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
        except RuntimeError as e:
            _send(out, {"error": str(e)})
            continue
        _send(out, {"segments": [[s.word, s.start_frame, s.end_frame] for s in decoder.seg() or ()]})


if __name__ == "__main__":
    main(sys.argv)
