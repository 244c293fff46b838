"""festival (``festival --pipe``) run in a helper process fed scheme commands.

The kal/ked diphone voices and the CMU slt HTS voice; ``utt.save.segs`` gives
each phone's exact end time and ``utt.save.words`` each word's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile

import numpy as np

from probtalk.corpus.helper_process import HelperProcess, Spans, SpeechEngineError, WordSpans
from probtalk.corpus.phones import SIL, festival_to_arpabet

log = logging.getLogger(__name__)

_DONE = "@@probtalk-done@@"
_FESTIVAL_PRELUDE = """
(define (probtalk_scale_f0 fm fs)
  (if (assoc 'target_f0_mean int_lr_params)
    (set! int_lr_params
      (list (list 'target_f0_mean (* fm (cadr (assoc 'target_f0_mean int_lr_params))))
            (list 'target_f0_std (* fs (cadr (assoc 'target_f0_std int_lr_params))))
            (list 'model_f0_mean (cadr (assoc 'model_f0_mean int_lr_params)))
            (list 'model_f0_std (cadr (assoc 'model_f0_std int_lr_params)))))))
"""


class Festival(HelperProcess):
    """A ``festival --pipe`` process fed scheme commands; completion is signalled on stderr."""

    def __init__(self) -> None:
        exe = shutil.which("festival")
        if exe is None:
            raise SpeechEngineError(
                "festival is not installed; apt-get install festival festvox-us-slt-hts festvox-kallpc16k "
                "festvox-kdlpc16k (see scripts/setup.sh)"
            )
        self.tmp = tempfile.mkdtemp(prefix="probtalk-festival-")
        super().__init__([exe, "--pipe"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1)
        self._run(_FESTIVAL_PRELUDE)

    def close(self) -> None:
        """Stop the helper process and remove its scratch folder (only in the process that started it)."""
        super().close()
        if os.getpid() == self.owner_pid:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _run(self, commands: str) -> None:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        try:
            self.proc.stdin.write(f'{commands}\n(format stderr "{_DONE}\\n")\n')
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise SpeechEngineError("festival exited unexpectedly; run `festival --version` to check it") from None
        errors = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                self.proc.kill()  # reap it so that the next call starts a fresh one
                self.proc.wait()
                raise SpeechEngineError(f"festival exited unexpectedly ({' '.join(errors) or 'no message'})")
            if line.strip() == _DONE:
                break
            if "error" in line.lower():
                errors.append(line.strip())
        if errors:
            raise SpeechEngineError(f"festival failed: {errors[0]}")

    def synth(
        self, text: str, voice: str, rate: float, pitch_st: float, pitch_range: float
    ) -> tuple[np.ndarray, int, Spans, WordSpans]:
        """Speak ``text``: float32 audio [N] at the voice's rate, phone and word spans in samples."""
        import soundfile as sf

        safe = " ".join(text.replace("\\", " ").replace('"', " ").split())
        wav, segs, wrds = (os.path.join(self.tmp, f"u.{ext}") for ext in ("wav", "segs", "words"))
        if "hts" in voice:
            # HTS engine: -r speed factor. festival 2.5 ignores its pitch (-fm) option and has no
            # pitch-range control; synthesize() shifts this voice's pitch by resampling instead.
            setup = (
                f"({voice})(set! hts_engine_params (append hts_engine_params "
                f'(list (list "-r" {rate:.4f}))))'
                f"(Parameter.set 'Duration_Stretch 1.0)"
            )
        else:
            setup = (
                f"({voice})(probtalk_scale_f0 {2.0 ** (pitch_st / 12.0):.5f} {pitch_range:.4f})"
                f"(Parameter.set 'Duration_Stretch {1.0 / rate:.4f})"
            )
        cmd = (
            f'{setup}(set! probtalk_utt (Utterance Text "{safe}"))(utt.synth probtalk_utt)'
            f'(utt.save.wave probtalk_utt "{wav}" \'riff)(utt.save.segs probtalk_utt "{segs}")'
            f'(utt.save.words probtalk_utt "{wrds}")'
        )
        with self.lock:
            for stale in (wav, segs, wrds):  # never read a previous utterance's files
                with contextlib.suppress(FileNotFoundError):
                    os.remove(stale)
            self._run(cmd)
            if not os.path.exists(wav):
                raise SpeechEngineError(f"festival produced no audio for {text!r}; give a sentence with words")
            audio, sr = sf.read(wav, dtype="float32", always_2d=False)
            seg_rows, word_rows = _read_label_file(segs), _read_label_file(wrds)
        if audio.ndim == 2:
            audio = audio.mean(axis=1)
        spans: Spans = []
        t0 = 0
        for end_s, name in seg_rows:
            end = min(int(round(end_s * sr)), audio.shape[0])
            phones = festival_to_arpabet(name)
            if phones is None:
                log.warning("festival phone %r has no ARPAbet mapping; read as silence", name)
                phones = (SIL,)
            if end > t0:
                spans.append((t0, end, phones))
                t0 = end
        words: WordSpans = []
        for end_s, word in word_rows:
            end = int(round(end_s * sr))
            if word.startswith("'") and words:  # festival splits "Anna's" into "Anna" + "'s" (often end 0)
                words[-1] = (words[-1][0], max(end, words[-1][1]), words[-1][2] + word)
                continue
            # A word starts at the first non-silent phone that starts at or after the previous word's end.
            prev = words[-1][1] if words else 0
            start = next((s for s, _, p in spans if s >= prev and p != (SIL,)), prev)
            words.append((min(start, end), end, word))
        return audio.astype(np.float32), int(sr), spans, words


def _read_label_file(path: str) -> list[tuple[float, str]]:
    """Rows (end_s, label) of a festival/xwaves label file (header ends at '#')."""
    rows, body = [], False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not body:
                body = line.strip() == "#"
                continue
            parts = line.split()
            if len(parts) >= 3:
                rows.append((float(parts[0]), parts[2]))
    return rows
