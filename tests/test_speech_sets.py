"""scripts/sphinx_speech_set.py: real recordings with transcripts, extracted from pocketsphinx's source release."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import sphinx_speech_set as sss  # noqa: E402


def _release(path: Path, rate: int = 16000) -> None:
    """A stand-in for the release: its licence and every member the script reads, as tones."""
    root = f"{sss.PACKAGE}-{sss.VERSION}/"
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(root + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("LICENSE", b"Copyright (c) 1999-2016 Carnegie Mellon University.\n")
        tone = (0.3 * np.sin(np.arange(rate) * 2 * np.pi * 220 / rate)).astype(np.float32)
        for member, _ in sss.FILES.values():
            if member.endswith(".raw"):
                add(member, (tone * 32767).astype("<i2").tobytes())
            else:
                buf = io.BytesIO()
                sf.write(buf, tone, rate, format="WAV", subtype="PCM_16")
                add(member, buf.getvalue())


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "sphinx_speech_set.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_the_set_is_written_with_transcripts_and_sources(tmp_path):
    release = tmp_path / "release.tar.gz"
    _release(release)
    out = tmp_path / "speech"
    done = _run("--out", str(out), "--sdist", str(release))
    assert done.returncode == 0, done.stderr
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == len(sss.FILES) == 11
    for wav in wavs:
        audio, rate = sf.read(wav, dtype="float32")
        assert rate == 16000 and audio.ndim == 1 and audio.size == 16000
        assert wav.with_suffix(".txt").read_text().strip() == sss.FILES[wav.stem][1]
    assert (out / "goforward.txt").read_text().strip() == "go forward ten meters"
    source = (out / "SOURCE.txt").read_text()
    assert "Carnegie Mellon" in source and "public domain" in source
    # run again: what exists is kept, byte for byte
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _run("--out", str(out), "--sdist", str(release)).returncode == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_release_that_is_not_16_khz_is_refused(tmp_path):
    release = tmp_path / "release.tar.gz"
    _release(release, rate=22050)
    done = _run("--out", str(tmp_path / "speech"), "--sdist", str(release))
    assert done.returncode == 2 and "not 16 kHz mono" in done.stderr and "Traceback" not in done.stderr
