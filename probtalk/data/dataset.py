"""Read any corpus in the dataset layout (ours or 3DMEAD as processed by the paper's scripts).

::

    root/manifest.json              optional: speakers, emotions, fps
    root/param/<keyid>.npy          float32 [1, T, 403]
    root/wav/<keyid>.wav            speech (any rate; resampled to 16 kHz)
    root/align/<keyid>.json         optional phone segments
    root/neck/<keyid>.npy           optional float32 [1, T, 3] FLAME neck axis-angle (radians), same T as param
    root/performance/<keyid>.json   optional: the take's habits ({"scores": {habit: standard-normal score}})
    root/timing/<keyid>.npy         optional float32 [T, 7]: the take's timing tracks, same T as param
                                    (:data:`probtalk.corpus.animator.TIMING_TRACKS`)
    root/splits/{train,val,test}    one keyid per line (or use split_mode="sentence_ranges")

keyid = ``<speaker>_<sentence:03d>_<emotion index>_<intensity index>``, optionally
followed by ``-p<n>`` for the n-th performance (n >= 2) of the same utterance: its
motion is ``param/<keyid>.npy`` and, when ``wav/<keyid>.wav`` is absent, it shares
the speech of the first performance (``wav/<keyid without -p<n>>.wav``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from probtalk.animation import resample_motion
from probtalk.emotions import EMOTION_INDEX, EMOTIONS, NUM_EMOTIONS
from probtalk.errors import AudioError, DatasetError
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS, PARAM_DIM, PARAM_SHAPE, params_to_motion

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

KEYID_RE = re.compile(r"^(?P<speaker>.+)_(?P<sentence>\d+)_(?P<emotion>\d+)_(?P<intensity>\d+)(?:-p(?P<performance>\d+))?$")
SPLITS = ("train", "val", "test", "test_unseen_speakers", "test_unseen_engine")
SPLIT_MODES = ("files", "sentence_ranges")
# 3DMEAD's split by sentence number within each speaker: (train, val, test) inclusive ranges.
NEUTRAL_RANGES = {"train": (1, 32), "val": (33, 36), "test": (37, 40)}
EMOTIONAL_RANGES = {"train": (1, 24), "val": (25, 27), "test": (28, 30)}
MAX_LENGTH_MISMATCH_FRAMES = 1


@dataclass(frozen=True)
class KeyId:
    """A parsed keyid such as ``M003_017_6_1``."""

    speaker: str
    sentence: int
    emotion: int
    intensity: int
    performance: int = 1

    def __str__(self) -> str:
        base = f"{self.speaker}_{self.sentence:03d}_{self.emotion}_{self.intensity}"
        return base if self.performance == 1 else f"{base}-p{self.performance}"

    @property
    def utterance(self) -> str:
        """The keyid of the first performance (whose speech every performance shares)."""
        return f"{self.speaker}_{self.sentence:03d}_{self.emotion}_{self.intensity}"


def make_keyid(speaker: str, sentence: int, emotion: int, intensity: int, performance: int = 1) -> str:
    """Format a keyid: ``<speaker>_<sentence:03d>_<emotion index>_<intensity index>[-p<performance>]``."""
    return str(KeyId(speaker, int(sentence), int(emotion), int(intensity), int(performance)))


def parse_keyid(keyid: str) -> KeyId:
    """Parse a keyid; DatasetError when it does not follow the layout."""
    match = KEYID_RE.match(keyid)
    if not match:
        raise DatasetError(f"keyid {keyid!r} is not <speaker>_<sentence>_<emotion>_<intensity> (e.g. M003_017_6_1)")
    emotion = int(match["emotion"])
    if not 0 <= emotion < NUM_EMOTIONS:
        raise DatasetError(f"keyid {keyid!r} has emotion index {emotion}; expected 0-{NUM_EMOTIONS - 1}")
    performance = int(match["performance"]) if match["performance"] else 1
    if performance < 1:
        raise DatasetError(f"keyid {keyid!r} has performance {performance}; performances count from 1")
    return KeyId(match["speaker"], int(match["sentence"]), emotion, int(match["intensity"]), performance)


def sentence_range_split(key: KeyId) -> str | None:
    """The 3DMEAD split ("train"/"val"/"test") of a clip by its sentence number, or None if outside."""
    ranges = NEUTRAL_RANGES if key.emotion == 0 else EMOTIONAL_RANGES
    for split, (lo, hi) in ranges.items():
        if lo <= key.sentence <= hi:
            return split
    return None


@dataclass
class Sample:
    """One clip.

    Attributes:
        keyid: the clip id.
        audio: float32 [N] speech at 16 kHz.
        motion: float32 [T, 53] motion features at the dataset's requested fps.
        shape: float32 [300] identity coefficients.
        speaker: speaker id.
        emotion: emotion index (0 neutral ... 7 contempt).
        intensity: intensity index (0 low, 1 medium, 2 high).
        phones: (start_s, end_s, phone) segments when the corpus has alignments, else None.
        speaker_index: index of ``speaker`` in the dataset's speaker vocabulary (-1 if absent).
        neck: float32 [T, 3] head rotation (FLAME neck axis-angle, radians) at the requested fps,
            frame for frame with ``motion``; None when the corpus has no ``neck/<keyid>.npy`` (3DMEAD).
        performance: the take's habits as standard-normal scores by name (articulation, jaw_range,
            rest_open, ...: :data:`probtalk.corpus.style_profiles.PERFORMANCE_HABITS`); None when the
            corpus has no ``performance/<keyid>.json`` (3DMEAD, our corpora before they recorded it).
        timing: float32 [T, 7] the take's timing tracks (:data:`probtalk.corpus.animator.TIMING_TRACKS`),
            frame for frame with ``motion``; None when the corpus has no ``timing/<keyid>.npy``.
    """

    keyid: str
    audio: np.ndarray
    motion: np.ndarray
    shape: np.ndarray
    speaker: str
    emotion: int
    intensity: int
    phones: list[tuple[float, float, str]] | None = None
    speaker_index: int = -1
    neck: np.ndarray | None = None
    performance: dict[str, float] | None = None
    timing: np.ndarray | None = None


@dataclass
class Batch:
    """Padded batch of samples (B clips).

    Attributes:
        audio: float32 [B, Nmax] zero-padded speech.
        audio_lengths: int64 [B] valid samples.
        motion: float32 [B, Tmax, 53] zero-padded motion.
        motion_mask: bool [B, Tmax], True on valid frames.
        lengths: int64 [B] valid frames.
        speaker_index: int64 [B].
        emotion: int64 [B].
        intensity: int64 [B].
        shape: float32 [B, 300].
        keyids: the B keyids.
        phones: int64 [B, Tmax] per-frame phone tokens (:mod:`probtalk.models.phone_tokens`;
            0 where unknown, everywhere for clips without alignments).
        performance: per clip, the take's habit scores (:attr:`Sample.performance`) or None.
        timing: float32 [B, Tmax, 7] the takes' timing tracks (:attr:`Sample.timing`; zero for clips
            without), or None when no clip of the batch has them.
        timed: bool [B], which clips have timing tracks (None when ``timing`` is None).
    """

    audio: torch.Tensor
    audio_lengths: torch.Tensor
    motion: torch.Tensor
    motion_mask: torch.Tensor
    lengths: torch.Tensor
    speaker_index: torch.Tensor
    emotion: torch.Tensor
    intensity: torch.Tensor
    shape: torch.Tensor
    keyids: list[str]
    phones: torch.Tensor | None = None
    performance: list[dict[str, float] | None] | None = None
    timing: torch.Tensor | None = None
    timed: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        """Move every tensor to ``device``."""
        moved = {k: (v.to(device) if hasattr(v, "to") else v) for k, v in self.__dict__.items()}
        return Batch(**moved)

    def __len__(self) -> int:
        return len(self.keyids)


def collate(samples: Sequence[Sample], fps: float = DATASET_FPS) -> Batch:
    """Pad a list of samples into a :class:`Batch` (for ``torch.utils.data.DataLoader(collate_fn=collate)``).

    ``fps`` is the samples' motion frame rate (for the per-frame phone tokens).
    """
    import torch

    from probtalk.models.phone_tokens import phone_tokens

    if not samples:
        raise DatasetError("cannot collate an empty list of samples")
    b = len(samples)
    n_max = max(s.audio.shape[0] for s in samples)
    t_max = max(s.motion.shape[0] for s in samples)
    dim = samples[0].motion.shape[1]
    audio = torch.zeros(b, n_max)
    motion = torch.zeros(b, t_max, dim)
    mask = torch.zeros(b, t_max, dtype=torch.bool)
    phones = torch.zeros(b, t_max, dtype=torch.long)
    tracks = next((s.timing.shape[1] for s in samples if s.timing is not None), 0)
    timing = torch.zeros(b, t_max, tracks) if tracks else None
    for i, s in enumerate(samples):
        audio[i, : s.audio.shape[0]] = torch.from_numpy(s.audio)
        motion[i, : s.motion.shape[0]] = torch.from_numpy(s.motion)
        mask[i, : s.motion.shape[0]] = True
        if s.phones:
            phones[i, : s.motion.shape[0]] = torch.from_numpy(phone_tokens(s.phones, fps, s.motion.shape[0]))
        if timing is not None and s.timing is not None:
            if s.timing.shape[1] != tracks:
                raise DatasetError(f"clip {s.keyid} has {s.timing.shape[1]} timing tracks, others {tracks}; "
                                   "regenerate the corpus with one generator version")
            timing[i, : s.timing.shape[0]] = torch.from_numpy(s.timing)
    return Batch(
        audio=audio,
        audio_lengths=torch.tensor([s.audio.shape[0] for s in samples], dtype=torch.long),
        motion=motion,
        motion_mask=mask,
        lengths=torch.tensor([s.motion.shape[0] for s in samples], dtype=torch.long),
        speaker_index=torch.tensor([s.speaker_index for s in samples], dtype=torch.long),
        emotion=torch.tensor([s.emotion for s in samples], dtype=torch.long),
        intensity=torch.tensor([s.intensity for s in samples], dtype=torch.long),
        shape=torch.from_numpy(np.stack([s.shape for s in samples]).astype(np.float32)),
        keyids=[s.keyid for s in samples],
        phones=phones,
        performance=[s.performance for s in samples],
        timing=timing,
        timed=None if timing is None else torch.tensor([s.timing is not None for s in samples]),
    )


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The corpus manifest, or None when the corpus has none (3DMEAD)."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc}); regenerate the corpus or delete the manifest") from None


def load_clip_array(path: Path) -> np.ndarray:
    """A clip's ``.npy`` (no pickles), its leading batch axis of 1 dropped; DatasetError when unreadable."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is unreadable ({type(exc).__name__}); regenerate the clip") from None
    return arr[0] if arr.ndim == 3 and arr.shape[0] == 1 else arr


class MotionDataset:
    """A ``torch.utils.data.Dataset`` of (speech, motion, style) clips.

    Args:
        root: corpus folder (``param/``, ``wav/``, optional ``manifest.json``, ``splits/``, ``align/``).
        split: "train", "val", "test", "test_unseen_speakers" or "all".
        fps: motion frame rate to deliver (motion is resampled from the corpus fps).
        max_seconds: crop clips longer than this (from their start); None keeps whole clips.
        speakers: keep only these speaker ids.
        emotions: keep only these emotions (names or indices).
        split_mode: "files" reads ``splits/<split>``; "sentence_ranges" uses 3DMEAD's ranges
            (neutral 1-32/33-36/37-40, emotional 1-24/25-27/28-30) over every clip in ``param/``.
        speaker_vocab: speaker ids defining ``speaker_index``; default the manifest's speakers,
            else the sorted speakers found in ``param/``.

    Raises:
        DatasetError: missing folders or split files, malformed keyids, or no clips left.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        fps: float = DATASET_FPS,
        max_seconds: float | None = None,
        speakers: Iterable[str] | None = None,
        emotions: Iterable[str | int] | None = None,
        split_mode: str = "files",
        speaker_vocab: Sequence[str] | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"dataset folder {self.root} not found; generate it with 'probtalk data synth --out {self.root}'")
        for sub in ("param", "wav"):
            if not (self.root / sub).is_dir():
                raise DatasetError(f"{self.root} has no {sub}/ folder; is it a corpus in the dataset layout?")
        if split_mode not in SPLIT_MODES:
            raise DatasetError(f"split_mode must be one of {', '.join(SPLIT_MODES)}, got {split_mode!r}")
        if split not in (*SPLITS, "all"):
            raise DatasetError(f"split must be one of {', '.join((*SPLITS, 'all'))}, got {split!r}")
        if fps <= 0:
            raise DatasetError(f"fps must be > 0, got {fps}")
        if max_seconds is not None and max_seconds <= 0:
            raise DatasetError(f"max_seconds must be > 0, got {max_seconds}")
        self.split, self.fps, self.max_seconds = split, float(fps), max_seconds
        self.manifest = read_manifest(self.root)
        self.source_fps = float((self.manifest or {}).get("fps", DATASET_FPS))

        keyids = self._split_keyids(split, split_mode)
        parsed = [(k, parse_keyid(k)) for k in keyids]
        if speakers is not None:
            wanted = set(speakers)
            parsed = [(k, p) for k, p in parsed if p.speaker in wanted]
        if emotions is not None:
            wanted_e = {_emotion_index(e) for e in emotions}
            parsed = [(k, p) for k, p in parsed if p.emotion in wanted_e]
        if not parsed:
            raise DatasetError(f"no clips in {self.root} for split {split!r} with the given filters")
        self.keyids = [k for k, _ in parsed]
        self.keys = [p for _, p in parsed]
        if speaker_vocab is None:
            speaker_vocab = self._default_vocab()
        self.speaker_vocab: tuple[str, ...] = tuple(speaker_vocab)
        self._speaker_index = {s: i for i, s in enumerate(self.speaker_vocab)}
        unknown = sorted({p.speaker for p in self.keys} - set(self._speaker_index))
        if unknown:
            log.warning("speakers %s are not in the speaker vocabulary; their speaker_index is -1", unknown[:5])

    # -------------------------------------------------------------- listing
    def _split_keyids(self, split: str, split_mode: str) -> list[str]:
        if split == "all" or split_mode == "sentence_ranges":
            all_ids = sorted(p.stem for p in (self.root / "param").glob("*.npy"))
            if split == "all":
                return all_ids
            if split == "test_unseen_speakers":
                raise DatasetError("split 'test_unseen_speakers' needs split_mode='files' (splits/test_unseen_speakers)")
            return [k for k in all_ids if sentence_range_split(parse_keyid(k)) == split]
        path = self.root / "splits" / split
        if not path.is_file():
            raise DatasetError(
                f"split file {path} not found; add splits/{split} (one keyid per line) or use split_mode='sentence_ranges'"
            )
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _default_vocab(self) -> list[str]:
        speakers = (self.manifest or {}).get("speakers")
        if speakers:
            return [s["id"] if isinstance(s, dict) else str(s) for s in speakers]
        found = {parse_keyid(p.stem).speaker for p in (self.root / "param").glob("*.npy")}
        return sorted(found | {p.speaker for p in self.keys})

    @property
    def speakers(self) -> list[str]:
        """Speaker ids present in this split, sorted."""
        return sorted({k.speaker for k in self.keys})

    def __len__(self) -> int:
        return len(self.keyids)

    # -------------------------------------------------------------- loading
    def __getitem__(self, index: int) -> Sample:
        from probtalk.audio import load_audio

        keyid, key = self.keyids[index], self.keys[index]
        param_path = self.root / "param" / f"{keyid}.npy"
        wav_path = self.root / "wav" / f"{keyid}.wav"
        if key.performance > 1 and not wav_path.is_file():
            wav_path = self.root / "wav" / f"{key.utterance}.wav"
        if not param_path.is_file():
            raise DatasetError(f"{param_path} is missing; the split lists {keyid} but it has no motion file")
        if not wav_path.is_file():
            raise DatasetError(f"{wav_path} is missing; every param/<keyid>.npy needs wav/<keyid>.wav")
        params = load_clip_array(param_path)
        if params.ndim != 2 or params.shape[1] != PARAM_DIM or params.shape[0] == 0:
            raise DatasetError(f"{param_path} has shape {list(params.shape)}; expected [1, T, {PARAM_DIM}]")
        if params.dtype.kind not in "iuf":
            raise DatasetError(f"{param_path} holds {params.dtype} values, not numbers; regenerate the clip")
        if not np.all(np.isfinite(params)):
            raise DatasetError(f"{param_path} holds NaN or infinite values; regenerate or drop the clip")
        try:
            audio = load_audio(wav_path)
        except AudioError as exc:
            raise DatasetError(f"clip {keyid}: {exc}") from None
        motion = resample_motion(params_to_motion(params), self.source_fps, self.fps)
        neck = self._neck(keyid, params.shape[0])
        if neck is not None:
            neck = resample_motion(neck, self.source_fps, self.fps, motion.shape[0])
        timing = self._timing(keyid, params.shape[0])
        if timing is not None:
            timing = resample_motion(timing, self.source_fps, self.fps, motion.shape[0])
        motion, audio = self._reconcile(keyid, motion, audio)
        if self.max_seconds is not None:
            frames = max(int(round(self.max_seconds * self.fps)), 1)
            motion = motion[:frames]
            audio = audio[: int(round(motion.shape[0] * AUDIO_SAMPLE_RATE / self.fps))]
        if neck is not None:
            neck = np.ascontiguousarray(neck[: motion.shape[0]], dtype=np.float32)
        if timing is not None:
            timing = np.ascontiguousarray(timing[: motion.shape[0]], dtype=np.float32)
        return Sample(
            keyid=keyid,
            audio=np.ascontiguousarray(audio, dtype=np.float32),
            motion=np.ascontiguousarray(motion, dtype=np.float32),
            shape=np.asarray(params[0, PARAM_SHAPE], np.float32),
            speaker=key.speaker,
            emotion=key.emotion,
            intensity=key.intensity,
            phones=self._phones(keyid, key),
            speaker_index=self._speaker_index.get(key.speaker, -1),
            neck=neck,
            performance=self._performance(keyid),
            timing=timing,
        )

    def _neck(self, keyid: str, frames: int) -> np.ndarray | None:
        """The clip's neck rotation [T, 3] at the corpus's fps, None without ``neck/<keyid>.npy``."""
        path = self.root / "neck" / f"{keyid}.npy"
        if not path.is_file():
            return None
        neck = load_clip_array(path)
        if neck.ndim != 2 or neck.shape != (frames, 3) or neck.dtype.kind != "f":
            raise DatasetError(f"{path} has shape {list(neck.shape)} ({neck.dtype}); expected float [1, {frames}, 3] "
                               "like its param file; regenerate the clip")
        if not np.all(np.isfinite(neck)):
            raise DatasetError(f"{path} holds NaN or infinite values; regenerate or drop the clip")
        return neck.astype(np.float32)

    def _timing(self, keyid: str, frames: int) -> np.ndarray | None:
        """The take's timing tracks [T, 7] at the corpus's fps, None without ``timing/<keyid>.npy``."""
        path = self.root / "timing" / f"{keyid}.npy"
        if not path.is_file():
            return None
        timing = load_clip_array(path)
        if timing.ndim != 2 or timing.shape[0] != frames or timing.dtype.kind != "f":
            raise DatasetError(f"{path} has shape {list(timing.shape)} ({timing.dtype}); expected float [{frames}, "
                               "tracks] like its param file; regenerate the clip")
        if not np.all(np.isfinite(timing)):
            raise DatasetError(f"{path} holds NaN or infinite values; regenerate or drop the clip")
        return timing.astype(np.float32)

    def _performance(self, keyid: str) -> dict[str, float] | None:
        """The take's habit scores from ``performance/<keyid>.json``, None without one."""
        path = self.root / "performance" / f"{keyid}.json"
        if not path.is_file():
            return None
        try:
            scores = {str(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8"))["scores"].items()}
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DatasetError(f"{path} is malformed ({type(exc).__name__}); regenerate the clip") from None
        if not all(np.isfinite(v) for v in scores.values()):
            raise DatasetError(f"{path} holds NaN or infinite scores; regenerate the clip")
        return scores

    def _reconcile(self, keyid: str, motion: np.ndarray, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Make audio cover exactly the motion's frames (pad/trim); warn when they differ by > 1 frame."""
        audio_frames = audio.shape[0] / AUDIO_SAMPLE_RATE * self.fps
        if abs(audio_frames - motion.shape[0]) > MAX_LENGTH_MISMATCH_FRAMES + 0.5:
            log.warning(
                "clip %s: audio is %.1f frames, motion %d frames; trimming both to the shorter",
                keyid, audio_frames, motion.shape[0],
            )
            motion = motion[: max(int(np.floor(audio_frames)), 1)]
        samples = int(round(motion.shape[0] * AUDIO_SAMPLE_RATE / self.fps))
        if audio.shape[0] >= samples:
            audio = audio[:samples]
        else:
            audio = np.pad(audio, (0, samples - audio.shape[0]))
        return motion, audio

    def _phones(self, keyid: str, key: KeyId) -> list[tuple[float, float, str]] | None:
        path = self.root / "align" / f"{keyid}.json"
        if not path.is_file() and key.performance > 1:
            path = self.root / "align" / f"{key.utterance}.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [(float(s), float(e), str(p)) for s, e, p in data["phones"]]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path} is malformed ({type(exc).__name__}); regenerate the clip") from None


def write_sentence_range_splits(root: str | os.PathLike[str]) -> dict[str, int]:
    """Write ``splits/{train,val,test}`` for every clip in ``param/`` by 3DMEAD's sentence ranges.

    For corpora shipped without split files (3DMEAD as processed by the paper's scripts), so that
    code reading the default ``split_mode="files"`` works on them. Clips outside the ranges
    (e.g. emotional sentences above 30) are left out.

    Returns:
        The number of keyids written to each split.

    Raises:
        DatasetError: no ``param/`` folder or malformed keyids.
    """
    from probtalk.io import atomic_write_text, ensure_writable_dir

    root = Path(root)
    if not (root / "param").is_dir():
        raise DatasetError(f"{root} has no param/ folder; is it a corpus in the dataset layout?")
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for keyid in sorted(p.stem for p in (root / "param").glob("*.npy")):
        split = sentence_range_split(parse_keyid(keyid))
        if split is not None:
            splits[split].append(keyid)
    if not any(splits.values()):
        raise DatasetError(f"{root}/param holds no clips in the 3DMEAD sentence ranges; nothing to split")
    folder = ensure_writable_dir(root / "splits")
    for name, ids in splits.items():
        atomic_write_text(folder / name, "".join(k + "\n" for k in ids))
    return {k: len(v) for k, v in splits.items()}


def _emotion_index(emotion: str | int) -> int:
    if isinstance(emotion, int) or (isinstance(emotion, str) and emotion.isdigit()):
        idx = int(emotion)
        if not 0 <= idx < NUM_EMOTIONS:
            raise DatasetError(f"emotion index {idx} out of range 0-{NUM_EMOTIONS - 1}")
        return idx
    name = emotion.strip().lower()
    if name not in EMOTION_INDEX:
        raise DatasetError(f"unknown emotion {emotion!r}; choose from {', '.join(EMOTIONS)}")
    return EMOTION_INDEX[name]
