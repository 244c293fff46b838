"""A transcript recognised by Whisper where the user gives none (``animate(audio, listen="whisper")``).

Without a transcript the lip seal hears p, b and m with its bilabial detector and pocketsphinx's word
recogniser (:mod:`probtalk.corpus.ear`). Pocketsphinx learnt from close-talking speech: in noise, in a
room, under other voices or in a low voice it hears far fewer of them (docs/default_model_metrics.md,
"The ear in noise, other voices and codecs"). Whisper recognises the words of such speech far better.
With ``listen="whisper"`` its transcript of the clip is used as a user's transcript is
(:meth:`probtalk.runtime.model.RuntimeModel.transcript`): force-aligned, checked against the speech by
the fit check, the model's phone input and the seal's frames, which also take what the default ears
hear (a recogniser can mishear a word); a recognised transcript the fit check refuses (or no words
heard) falls back to the default word ear, with one warning.

The weights are not shipped (nothing is downloaded at run time): ``make whisper`` installs the
``whisper`` extra (faster-whisper, CTranslate2) and writes Whisper base (MIT, converted to CTranslate2)
to ``models/whisper-base``; any CTranslate2 Whisper folder (``model.bin``, ``config.json``,
``tokenizer.json``) works, given by path (``whisper_model=``, ``--whisper-model``) or by the environment
variable :data:`ENV`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.errors import InputError, MissingExtraError
from probtalk.layout import AUDIO_SAMPLE_RATE

#: The environment variable naming the Whisper folder when no path is given.
ENV = "PROBTALK_WHISPER_MODEL"
#: Where ``make whisper`` writes Whisper base, relative to the repository; used when it exists and
#: neither a path nor :data:`ENV` names another.
DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / "models" / "whisper-base"
#: The files a CTranslate2 Whisper folder must hold (the tokenizer too: without it faster-whisper would
#: fetch one from the network).
REQUIRED = ("model.bin", "config.json", "tokenizer.json")
#: Recognition settings: English (the aligner's dictionary is English), greedy search, no timestamps
#: (the aligner times the words), each clip on its own.
#: The fix every error about the folder names.
FIX = "give a CTranslate2 Whisper folder (`make whisper` writes one to models/whisper-base)"
TRANSCRIBE = {"language": "en", "beam_size": 1, "without_timestamps": True, "vad_filter": False,
              "condition_on_previous_text": False}


def whisper_folder(path: str | os.PathLike[str] | None = None) -> Path:
    """The Whisper folder to use: ``path``, else :data:`ENV`, else :data:`DEFAULT_FOLDER`.

    Raises:
        InputError: none is given and none is installed, or the folder lacks a file of :data:`REQUIRED`.
    """
    given = path if path is not None else os.environ.get(ENV) or None
    if given is None:
        if not DEFAULT_FOLDER.is_dir():
            raise InputError(
                f'listen="whisper" needs a Whisper model folder: run `make whisper`, or pass '
                f"whisper_model=PATH (--whisper-model PATH) or set {ENV} to a CTranslate2 Whisper folder"
            )
        given = DEFAULT_FOLDER
    folder = Path(given).expanduser()
    if not folder.is_dir():
        raise InputError(f"Whisper model folder {str(folder)!r} does not exist; {FIX}")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise InputError(f"Whisper model folder {str(folder)!r} has no {', '.join(missing)}; {FIX}")
    return folder


def check_ready(path: str | os.PathLike[str] | None = None) -> Path:
    """The Whisper folder (:func:`whisper_folder`), with the ``whisper`` extra checked installed: a job
    refuses a missing one before any work.

    Raises:
        InputError: no usable Whisper folder. MissingExtraError: the extra is missing.
    """
    folder = whisper_folder(path)
    _whisper_model_class()  # imports the extra (the first recognition loads it anyway)
    return folder


def _whisper_model_class() -> Any:
    """faster-whisper's ``WhisperModel``.

    Raises:
        MissingExtraError: the ``whisper`` extra is not installed.
    """
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise MissingExtraError('listen="whisper"', "whisper", "or run `make whisper`") from None
    return WhisperModel


#: CTranslate2's compute type. Not int8: on an AMD EPYC its int8 kernels decoded an espeak line into
#: repetition loops, whose temperature fallback then sampled a different transcript on every call and took
#: 15-18 s a clip; float32 gave the right words every call, and on real speech took the same time
#: (1.54 against 1.56 s for the 5.5 s hello.wav; docs/default_model_metrics.md).
COMPUTE_TYPE = "float32"


@functools.lru_cache(maxsize=2)
def _load(folder: str, threads: int) -> Any:
    whisper_model = _whisper_model_class()
    try:
        return whisper_model(folder, device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=threads,
                             local_files_only=True)
    except (RuntimeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"Whisper model folder {folder!r} could not be loaded ({first}); {FIX}") from None


def recognise(wav: np.ndarray, path: str | os.PathLike[str] | None = None) -> str:
    """The words Whisper hears in 16 kHz speech [N], as one line of text ("" where it hears none).

    Raises:
        InputError: no usable Whisper folder (:func:`whisper_folder`).
        MissingExtraError: the ``whisper`` extra is not installed.
    """
    folder = whisper_folder(path)
    model = _load(str(folder.resolve()), max(1, min(4, os.cpu_count() or 1)))
    audio = np.asarray(wav, dtype=np.float32).ravel()
    if audio.size < AUDIO_SAMPLE_RATE // 10:
        return ""
    segments, _ = model.transcribe(audio, **TRANSCRIBE)
    return " ".join(" ".join(s.text.split()) for s in segments).strip()
