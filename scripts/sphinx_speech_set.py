"""Write a small set of real human speech with transcripts, from pocketsphinx's own test data.

Every other speech set here is synthetic (the corpus's engines, Piper's neural voice). The
pocketsphinx source release on PyPI carries a few recordings of people with their transcripts,
for its own tests: five sentences of a LibriVox reading of *Sense and Sensibility* (public
domain; read speech, MP3-coded at 64 kb/s), "go forward ten meters" and five playing-card
phrases, three speakers in all. This script fetches that release from PyPI (the only network
this project uses, and only here, never at run time), checks it against PyPI's sha256, and
writes each recording as ``<name>.wav`` (16 kHz mono PCM16) with its transcript in a ``.txt``
beside it, the layout ``benchmarks/lipsync_speech.py`` and ``probtalk animate`` folder mode
read, plus ``SOURCE.txt`` (where each came from, and the release's BSD licence).

It is eleven clips and about 45 s: too few for a stable percentage, but real voices, rooms,
microphones and codecs, which no synthetic set has. The recogniser of the lip seal and the
scoring's forced alignment use pocketsphinx's acoustic model; whether these recordings were in
its training data is not documented.

Usage::

    python scripts/sphinx_speech_set.py --out datasets/speech_sphinx
    python benchmarks/lipsync_speech.py --folder datasets/speech_sphinx --text on
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

PACKAGE = "pocketsphinx"
VERSION = "5.1.1"
LIBRIVOX = {
    "sense_and_sensibility_01_austen_64kb-0870": "and mister john dashwood had then leisure to consider how much there "
                                                 "might be prudently in his power to do for them",
    "sense_and_sensibility_01_austen_64kb-0880": "he was not an ill disposed young man",
    "sense_and_sensibility_01_austen_64kb-0890": "unless to be rather cold hearted and rather selfish is to be ill "
                                                 "disposed",
    "sense_and_sensibility_01_austen_64kb-0920": "had he married a more a amiable woman he might have been made still "
                                                 "more respectable than he was",
    "sense_and_sensibility_01_austen_64kb-0930": "he might even have been made amiable himself",
}
CARDS = {"001": "ten of clubs", "002": "four queen of clubs", "003": "seven of clubs", "004": "five five",
         "005": "eight of spades four of clubs seven of hearts"}
# name in the set: (path in the release, transcript); the transcripts are the release's own
# (test/data/librivox/transcription, test/data/cards/cards.transcription, cython/test/*: goforward.raw)
FILES = {
    **{f"librivox_{key[-4:]}": (f"test/data/librivox/{key}.wav", text) for key, text in LIBRIVOX.items()},
    "goforward": ("test/data/goforward.raw", "go forward ten meters"),
    **{f"cards_{key}": (f"test/data/cards/{key}.wav", text) for key, text in CARDS.items()},
}
RAW_RATE = 16000  # goforward.raw: headerless 16 kHz 16-bit little-endian mono


def release_url() -> tuple[str, str]:
    """The sdist's URL and sha256 from PyPI's JSON API."""
    with urllib.request.urlopen(f"https://pypi.org/pypi/{PACKAGE}/json", timeout=60) as r:
        meta = json.load(r)
    for entry in meta["releases"].get(VERSION, []):
        if entry["packagetype"] == "sdist":
            return entry["url"], entry["digests"]["sha256"]
    print(f"error: PyPI lists no source release of {PACKAGE} {VERSION}; pass a downloaded one with --sdist",
          file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write (created; existing files are kept)")
    parser.add_argument("--sdist", default=None, help=f"a downloaded {PACKAGE}-{VERSION}.tar.gz instead of fetching it")
    args = parser.parse_args()
    out = Path(args.out)
    if args.sdist:
        blob = Path(args.sdist).read_bytes()
        url, digest = args.sdist, None
    else:
        url = f"PyPI's {PACKAGE} {VERSION}"
        try:
            url, digest = release_url()
            with urllib.request.urlopen(url, timeout=300) as r:
                blob = r.read()
        except OSError as e:
            print(f"error: could not fetch {url} ({e}); download {PACKAGE}-{VERSION}.tar.gz elsewhere and pass --sdist",
                  file=sys.stderr)
            raise SystemExit(2) from None
    if digest is not None and hashlib.sha256(blob).hexdigest() != digest:
        print(f"error: {url} does not match PyPI's sha256; fetch it again", file=sys.stderr)
        raise SystemExit(2)
    out.mkdir(parents=True, exist_ok=True)
    root = f"{PACKAGE}-{VERSION}/"
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        licence = tar.extractfile(root + "LICENSE").read().decode("utf-8")  # type: ignore[union-attr]
        for name, (member, text) in FILES.items():
            wav, txt = out / f"{name}.wav", out / f"{name}.txt"
            if wav.is_file() and txt.is_file():
                continue
            data = tar.extractfile(root + member).read()  # type: ignore[union-attr]
            if member.endswith(".raw"):
                audio, rate = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0, RAW_RATE
            else:
                audio, rate = sf.read(io.BytesIO(data), dtype="float32")
            if rate != 16000 or audio.ndim != 1:
                print(f"error: {member} is not 16 kHz mono; the release changed: pin its version in this script",
                      file=sys.stderr)
                raise SystemExit(2)
            tmp = wav.with_suffix(".tmp")
            sf.write(tmp, audio, rate, subtype="PCM_16", format="WAV")
            tmp.replace(wav)
            txt.write_text(text + "\n", encoding="utf-8")
    lines = [f"Recordings from the {PACKAGE} {VERSION} source release on PyPI ({url}), its test data:", ""]
    lines += [f"{name}.wav  <-  {member}" for name, (member, _) in FILES.items()]
    lines += ["", "The LibriVox recording is in the public domain. The release's licence:", "", licence]
    (out / "SOURCE.txt").write_text("\n".join(lines), encoding="utf-8")
    print(f"{len(FILES)} recordings with transcripts in {out}")


if __name__ == "__main__":
    main()
