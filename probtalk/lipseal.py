"""Seal the lips on p, b and m: a constraint applied to each take after the model.

With a transcript, forced alignment says where every bilabial is. The model
takes those phones as input and closes the lips more often, but not on every
one; this step makes sure (the corpus animator does the same, as JALI does):
on each frame shown (at k / fps) inside an aligned P, B or M
(:func:`shown_bilabials`), the jaw is brought nearly shut and the rig's
``mouthClose`` shape is added until the lips meet, and the change fades in and
out over one more frame on each side, so timing and emotion elsewhere are
the model's own. Without a transcript the frames come from the bilabial
detector (:mod:`probtalk.bilabial`) instead of the alignment, and sampled takes
are also sealed where their deterministic take closes briefly between open lips
(:meth:`LipSeal.shared_closures`: not where the words heard put an open vowel and the detector
hears nothing, or the closure holds a heard p, b or m), so those closures hold in every take. (:meth:`LipSeal.apply`
seals from per-frame phone tokens alone: each bilabial token's frame and the one
after, since a token only says which phone is at the frame's centre.)

The other way round, where the transcript's alignment or the recognised words put an open vowel
(AA AE AH AO AW AY), the frame nearest its centre opens the jaw until the lips part at least
:data:`OPEN_MM` (:meth:`LipSeal.open_frames`, :func:`open_vowel_centres`): on voices unlike the
corpus's, the model under-opens (on real recordings the takes opened 83 % of open vowels); also the
frame beside it where the midpoint is near and the bilabial detector is silent (:data:`SPREAD_FRAMES`;
without a transcript elsewhere too, unless a take's lips are shut there: :func:`seal_takes`).

Numpy only: the lip vector (upper minus lower lip keypoint) is linear in the
expression coefficients and linearised in the jaw rotation at rest, taken from
the rig's arrays, so the torch and onnxruntime paths share it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from probtalk.corpus.phones import OPEN_VOWELS, PHONE_INDEX
from probtalk.layout import JAW_JOINT, MOTION_DIM, MOTION_EXPRESSION_DIM, MOTION_JAW

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

BILABIAL_PHONES = ("P", "B", "M")
#: Phone tokens (see :mod:`probtalk.models.phone_tokens`: token = 1 + phone index) of P, B and M.
BILABIAL_TOKENS = frozenset(1 + PHONE_INDEX[p] for p in BILABIAL_PHONES)
#: Largest jaw rotation (radians) left on a sealed frame: nearly shut, as in speech.
JAW_AT_SEAL = 0.02
#: Frames sealed fully after an aligned bilabial's frames. Phone tokens label frame i with the phone at
#: its centre, (i + 0.5) / fps, but a take's frame k is shown at k / fps (glTF keys, video frames), so
#: the frame shown at a bilabial's end can carry the next token: hold the seal one frame longer
#: (:meth:`LipSeal.apply`; the detector's marks are already shown frames, see probtalk.bilabial).
HOLD_FRAMES = 1
#: Frames over which the change fades in before and out after the sealed frames. One: a second frame
#: of fade closed the lips partly on the vowel beside a bilabial (lips open at 2-4 % fewer open-vowel
#: midpoints on the benchmark's splits, the same closures).
RAMP_FRAMES = 1
#: A frame beside a seal that the take opens at least this wide (mm, the linearised lip gap) keeps
#: this much in the fade: the take opens a vowel there (the benchmarks' open bar is 6 mm of vertex gap;
#: 0.5 more for the linearisation). The full half-weight fade closed the lips partly on 5 % of the
#: open vowels of a neural voice without closing a p, b or m more.
KEEP_OPEN_MM = 6.5
#: Largest weight of the closing shape.
MAX_CLOSE = 1.0
#: Shared closures (:meth:`LipSeal.short_closures`): lips shut means a gap under this (mm), the
#: benchmark's closed criterion...
SHUT_MM = 2.0
#: ... for at most this many frames (a p, b or m lasts 2-4; a pause is longer) ...
SHARED_MAX_FRAMES = 5
#: ... with the lips open past this (mm) within ``SHARED_FLANK_FRAMES`` before and after (speech around it).
SHARED_FLANK_MM = 4.0
SHARED_FLANK_FRAMES = 3
#: The lip gap (mm, linearised) the centre of an open vowel reaches at least (:meth:`LipSeal.open_frames`;
#: the benchmarks' open bar is 6 mm of vertex gap). 7 and 7.5 opened as many on real recordings; 6.5
#: fewer on the corpus's unseen engine.
OPEN_MM = 7.0
#: A frame beside an opened one opens by half as much, unless its lips are closer than this (mm): a
#: closure there (a p, b or m the ears missed) stays shut.
OPEN_SPARE_MM = 3.0
#: The words heard, and forced alignment, place a vowel to within a frame or so: an open vowel also opens
#: the frame beside its nearest one where its midpoint lies within this many frames of it, the frame lies
#: inside the vowel and the detector is silent there (:func:`open_vowel_centres`, ``spread``). On the
#: corpus's unseen engine it opened 3.3 points more open vowels audio-only and shut no p, b or m less;
#: without the detector's condition, an AH's second frame fell on the B after it (heard as N) and opened
#: it. Without a transcript the frame also spreads where the detector is not silent, but opens only
#: lips that are not shut there (:func:`seal_takes`, ``spread_anywhere``).
SPREAD_FRAMES = 0.75


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The runs of True in a bool mask [T], as ``(start, stop)`` frame ranges (stop exclusive), in order."""
    edges = np.diff(np.concatenate([[0], np.asarray(mask, bool).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


@dataclass(frozen=True)
class LipSeal:
    """The rig's lip geometry in motion-feature space.

    Attributes:
        lip_jacobian: float64 [53, 3] change of the upper-minus-lower lip vector (mm) per unit of each
            motion feature (expression 0-49, jaw axis-angle), at rest.
        close_direction: float64 [53] the motion features of the closing shape at weight 1.
    """

    lip_jacobian: np.ndarray
    close_direction: np.ndarray

    @classmethod
    def from_rig(cls, rig: Rig, shape: str = "mouthClose") -> LipSeal:
        """The seal of ``rig`` (it needs ``upper_lip``/``lower_lip`` keypoints and the named semantic shape).

        Raises:
            KeyError: the rig lacks the keypoints or the shape.
        """
        up, low = rig.keypoints["upper_lip"], rig.keypoints["lower_lip"]
        k = rig.semantic_names.index(shape)
        jac = np.zeros((MOTION_DIM, 3))
        ex = np.asarray(rig.exprdirs, np.float64)
        jac[:MOTION_EXPRESSION_DIM] = (ex[up, :, :MOTION_EXPRESSION_DIM] - ex[low, :, :MOTION_EXPRESSION_DIM]).T * 1000.0
        # Jaw: d v / d theta_i = w_jaw(v) * (e_i x (v - j)) at rest, for each keypoint.
        joint = np.asarray(rig.j_regressor, np.float64)[JAW_JOINT] @ np.asarray(rig.v_template, np.float64)
        for sign, vid in ((1.0, up), (-1.0, low)):
            arm = np.asarray(rig.v_template[vid], np.float64) - joint
            w = float(rig.weights[vid, JAW_JOINT])
            for i in range(3):
                jac[MOTION_JAW.start + i] += sign * w * np.cross(np.eye(3)[i], arm) * 1000.0
        close = np.zeros(MOTION_DIM)
        close[:MOTION_EXPRESSION_DIM] = np.asarray(rig.semantic_expression[k], np.float64)[:MOTION_EXPRESSION_DIM]
        close[MOTION_JAW] = np.asarray(rig.semantic_jaw[k], np.float64)
        return cls(lip_jacobian=jac, close_direction=close)

    def lip_vector(self, motion: np.ndarray) -> np.ndarray:
        """Upper-minus-lower lip vector (mm) [T, 3] of raw motion [T, 53], linearised at rest."""
        return np.asarray(motion, np.float64) @ self.lip_jacobian

    def short_closures(self, motion: np.ndarray) -> np.ndarray:
        """bool [T]: the frames of the brief closures in speech of raw motion [T, 53] (shut for at most
        :data:`SHARED_MAX_FRAMES` frames, open on both sides), the closures a take makes for a p, b or m
        rather than a pause. Sampled takes keep those of their deterministic take (the takes'
        shared closures, see :meth:`probtalk.runtime.model.RuntimeModel.seal`)."""
        gap = np.linalg.norm(self.lip_vector(motion), axis=1)
        shut = gap < SHUT_MM
        out = np.zeros(shut.size, bool)
        t = 0
        while t < shut.size:
            if not shut[t]:
                t += 1
                continue
            start = t
            while t < shut.size and shut[t]:
                t += 1
            before, after = gap[max(0, start - SHARED_FLANK_FRAMES) : start], gap[t : t + SHARED_FLANK_FRAMES]
            if (t - start <= SHARED_MAX_FRAMES and before.size and after.size
                    and before.max() > SHARED_FLANK_MM and after.max() > SHARED_FLANK_MM):
                out[start:t] = True
        return out

    def shared_closures(self, reference: np.ndarray, marked: np.ndarray, centres: np.ndarray,
                        unheard: np.ndarray) -> np.ndarray:
        """bool [T]: the brief closures that sampled takes keep from their deterministic take without a
        transcript (see :meth:`probtalk.runtime.model.RuntimeModel.seal`): those of ``reference`` (raw
        motion [T, 53], the deterministic take) sealed at ``marked`` (:meth:`short_closures`), less
        the frames where the words heard put an open vowel's centre (``centres``,
        :func:`open_vowel_centres`) and either the detector hears no p, b or m (``unheard``,
        :func:`probtalk.bilabial.unheard_frames`): there the model closed on a vowel, and it opens
        (on the corpus's three test splits, 0.6 / 0 / 2.0 points more open vowels open and no p, b or
        m less shut: docs/default_model_metrics.md, "The detector's edge frames"); or the closure holds
        a marked frame or touches one: the ears have that p, b or m already, and the closure's frames
        on the vowel are the model's timing of it (docs/default_model_metrics.md, "A vowel beside a
        heard p, b or m").
        """
        closures = self.short_closures(self.seal_frames(reference, marked)[0])
        n = min(closures.size, np.asarray(centres).size, np.asarray(unheard).size)
        on_vowel = np.zeros(closures.size, bool)
        on_vowel[:n] = np.asarray(centres, bool)[:n]
        held = np.zeros(closures.size + 2, bool)  # marked frames, padded by one frame each side
        m = min(closures.size, np.asarray(marked).size)
        held[1 : m + 1] = np.asarray(marked, bool)[:m]
        drop = np.zeros(closures.size, bool)
        drop[:n] = on_vowel[:n] & np.asarray(unheard, bool)[:n]
        for start, stop in true_runs(closures):
            if held[start : stop + 2].any():  # a marked frame in the closure or beside it
                drop[start:stop] |= on_vowel[start:stop]
        return closures & ~drop

    def open_frames(self, motion: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, int]:
        """Open the jaw on ``frames`` until the lips part at least :data:`OPEN_MM`.

        Only the jaw's opening rotation changes, and only upwards: a frame already open that wide is
        left alone. Each neighbour of an opened frame opens by half as much (unless its lips are shut,
        :data:`OPEN_SPARE_MM`, or it is opened itself by more).

        Args:
            motion: raw motion float32 [T, 53] (one take).
            frames: bool [T'] (T' may differ from T; frames past the shorter are left alone).

        Returns:
            (the take, frames opened).
        """
        out = np.asarray(motion, np.float64).copy()
        n = min(out.shape[0], int(np.asarray(frames).size))
        want = np.zeros(out.shape[0], bool)
        want[:n] = np.asarray(frames, bool)[:n]
        vec = out @ self.lip_jacobian
        step = self.lip_jacobian[MOTION_JAW.start]  # the lip vector's change per radian of jaw opening
        ss, vs, vv = float(step @ step), vec @ step, np.einsum("ij,ij->i", vec, vec)
        need = want & (vv < OPEN_MM**2)
        # the smallest opening a >= 0 with |vec + a * step| = OPEN_MM
        raise_by = np.zeros(out.shape[0])
        raise_by[need] = (-vs[need] + np.sqrt(np.maximum(vs[need] ** 2 - ss * (vv[need] - OPEN_MM**2), 0.0))) / ss
        raise_by = np.maximum(raise_by, 0.0)
        beside = np.zeros_like(raise_by)
        beside[1:] = 0.5 * raise_by[:-1]
        beside[:-1] = np.maximum(beside[:-1], 0.5 * raise_by[1:])
        beside[np.sqrt(vv) < OPEN_SPARE_MM] = 0.0
        out[:, MOTION_JAW.start] += np.maximum(raise_by, beside)
        return out.astype(np.float32), int((raise_by > 0).sum())

    def sealed_frame(self, frame: np.ndarray) -> np.ndarray:
        """One raw motion frame [53] with the jaw nearly shut and the lips brought together."""
        out = np.asarray(frame, np.float64).copy()
        jaw = out[MOTION_JAW]
        norm = float(np.linalg.norm(jaw))
        if norm > JAW_AT_SEAL:
            out[MOTION_JAW] = jaw * (JAW_AT_SEAL / norm)
        gap = out @ self.lip_jacobian
        step = self.close_direction @ self.lip_jacobian
        weight = float(np.clip(-(gap @ step) / max(float(step @ step), 1e-12), 0.0, MAX_CLOSE))
        return out + weight * self.close_direction

    def apply(self, motion: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, int]:
        """Seal the lips on every frame whose phone token is P, B or M.

        Args:
            motion: raw motion float32 [T, 53] (one take).
            tokens: per-frame phone tokens int64 [T'] (0 = unknown); frames past T' are left alone.

        Returns:
            (the sealed motion float32 [T, 53], the number of frames sealed fully: each bilabial
            frame and ``HOLD_FRAMES`` after it).
        """
        tokens = np.asarray(tokens)[: np.asarray(motion).shape[0]]
        bilabial = np.isin(tokens, list(BILABIAL_TOKENS))
        shown = bilabial.copy()
        for d in range(1, HOLD_FRAMES + 1):
            shown[d:] |= bilabial[:-d]
        return self.seal_frames(motion, shown)

    def seal_frames(self, motion: np.ndarray, bilabial: np.ndarray) -> tuple[np.ndarray, int]:
        """Seal the lips on the marked frames (as shown: the detector's marks, or :meth:`apply`'s), fading
        in and out over ``RAMP_FRAMES`` on each side; a faded frame the take opens past ``KEEP_OPEN_MM``
        fades only as far as keeps that opening (a vowel beside the bilabial stays open).

        Args:
            motion: raw motion float32 [T, 53] (one take).
            bilabial: bool [T'] shown frames inside a p, b or m; frames past T' are left alone.

        Returns:
            (the sealed motion float32 [T, 53], the number of frames sealed fully).
        """
        motion = np.asarray(motion, np.float32)
        frames = motion.shape[0]
        marked = np.asarray(bilabial, bool)[:frames]
        inside = np.zeros(frames, bool)
        inside[: marked.size] = marked
        if not inside.any():
            return motion, 0
        delta = np.zeros(motion.shape, np.float64)
        for t in np.flatnonzero(inside):
            delta[t] = self.sealed_frame(motion[t]) - motion[t]
        weight = inside.astype(np.float64)
        ramp = delta.copy()
        for d in range(1, RAMP_FRAMES + 1):
            fade = 0.5 * (1.0 + np.cos(np.pi * d / (RAMP_FRAMES + 1)))  # raised cosine (0.5 for one frame)
            for shift in (d, -d):  # the bilabial frame d frames away (after, then before)
                src = np.arange(frames) + shift
                ok = (src >= 0) & (src < frames)
                take = np.zeros(frames, bool)
                take[ok] = inside[src[ok]]
                take &= ~inside & (fade > weight)
                weight[take] = fade
                ramp[take] = delta[src[take]]
        weight[~inside] = self._keep_open(motion[~inside], ramp[~inside], weight[~inside])
        out = motion + (weight[:, None] * ramp).astype(np.float32)
        return out, int(inside.sum())

    def _keep_open(self, motion: np.ndarray, ramp: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Fade weights [n] lowered where ``motion + weight * ramp`` would close a frame the take opens past
        ``KEEP_OPEN_MM`` below it: the largest weight that keeps that gap (the lip vector is linear)."""
        gap = self.lip_vector(motion)
        step = np.asarray(ramp, np.float64) @ self.lip_jacobian
        a = np.einsum("ij,ij->i", step, step)
        b = np.einsum("ij,ij->i", gap, step)
        c = np.einsum("ij,ij->i", gap, gap) - KEEP_OPEN_MM**2
        w = np.asarray(weight, np.float64)
        end = gap + w[:, None] * step
        lower = (w > 0) & (c >= 0) & (np.einsum("ij,ij->i", end, end) < KEEP_OPEN_MM**2) & (a > 0)
        if not lower.any():
            return w
        out = w.copy()
        root = (-b[lower] - np.sqrt(np.maximum(b[lower] ** 2 - a[lower] * c[lower], 0.0))) / a[lower]
        out[lower] = np.clip(root, 0.0, w[lower])
        return out


def open_vowel_centres(phones: Iterable[Any], fps: float, num_frames: int, avoid: np.ndarray | None = None,
                       spread: np.ndarray | None = None) -> np.ndarray:
    """bool [num_frames]: the frame (shown at k / fps) nearest the midpoint of each open vowel, where
    :meth:`LipSeal.open_frames` opens the jaw.

    Args:
        phones: ``(start_s, end_s, phone)`` segments (ARPAbet; stress digits ignored) or :class:`Phone`.
        fps: frame rate.
        num_frames: frames of the take.
        avoid: bool [num_frames], the sealed frames: a centre on one is left out. A centre beside one
            opens (:meth:`LipSeal.open_frames` leaves the shut frame itself alone): a short vowel next
            to a p, b or m opens in the frame after or before its closure.
        spread: bool [T'], the frames where a vowel's centre may spread to the frame beside its nearest
            one (where the detector is silent, or anywhere: :func:`seal_takes`): that frame joins too where
            the midpoint lies within :data:`SPREAD_FRAMES` of it and it lies inside the vowel. None: the
            nearest frame only.
    """
    out = np.zeros(max(0, int(num_frames)), bool)
    extra = np.zeros_like(out)
    for seg in phones:
        start, end, label = (seg.start, seg.end, seg.phone) if hasattr(seg, "phone") else seg
        if str(label).upper().rstrip("012") in OPEN_VOWELS:
            first, last, mid = float(start) * fps, float(end) * fps, 0.5 * (float(start) + float(end)) * fps
            k = int(round(mid))
            if 0 <= k < out.size:
                out[k] = True
            for j in (k - 1, k + 1):  # a frame inside the vowel is shown within half a frame of it
                if 0 <= j < out.size and abs(j - mid) <= SPREAD_FRAMES and first - 0.5 <= j <= last + 0.5:
                    extra[j] = True
    if spread is not None:
        n = min(out.size, int(np.asarray(spread).size))
        out[:n] |= extra[:n] & np.asarray(spread, bool)[:n]
    if avoid is not None:
        n = min(out.size, int(np.asarray(avoid).size))
        out[:n] &= ~np.asarray(avoid, bool)[:n]
    return out


@dataclass(frozen=True)
class SealedTakes:
    """What :func:`seal_takes` did.

    Attributes:
        takes: the takes, raw motion float32 [T, 53] each, sealed and opened.
        sealed: frames sealed fully in the first take at the marks (the deterministic take's shared
            closures not counted).
        shared: frames sealed as the deterministic take's shared closures.
        opened: open-vowel centres held open in the first take.
    """

    takes: list[np.ndarray]
    sealed: int
    shared: int
    opened: int


def seal_takes(seal: LipSeal, takes: list[np.ndarray], marked: np.ndarray, vowels: Iterable[Any], fps: float,
               silent: np.ndarray | None = None, unheard: np.ndarray | None = None,
               reference: np.ndarray | None = None, detected: Iterable[Any] = (), *,
               spread_anywhere: bool = False) -> SealedTakes:
    """The lip seal's whole rule on a clip's takes, as ``animate()`` applies it
    (:meth:`probtalk.runtime.model.RuntimeModel.seal`; ``benchmarks/lipsync.py`` scores the same call).

    The open-vowel centres of ``vowels`` (:func:`open_vowel_centres`, spreading where ``silent``) that
    are not sealed; with ``unheard`` and ``reference`` (audio only, sampled takes) the deterministic
    take's brief closures join the marks (:meth:`LipSeal.shared_closures`) and stay shut; every take
    sealed at the marks (:meth:`LipSeal.seal_frames`), then opened at the centres
    (:meth:`LipSeal.open_frames`). Less sure, and so opened only where a take's lips are not shut there
    (the lip gap under :data:`SHUT_MM`) and yielding no shared closure: the centres of ``detected`` (the
    open vowels the open-vowel detector heard, :func:`probtalk.vowels.heard_vowels`) and, with
    ``spread_anywhere``, the frame beside a centre where the detector is not silent, since a detector, or
    a word heard a frame off, can put a vowel on a p, b or m the ears missed.

    Args:
        seal: the rig's seal.
        takes: raw motion float32 [T, 53] per take (at least one).
        marked: bool [T'], the shown frames to seal (the transcript's aligned p, b and m, or what the ear heard).
        vowels: the phones whose open vowels open (the transcript's alignment, the words heard; may be empty).
        fps: frame rate.
        silent: bool [T'], where the detector is silent (:func:`probtalk.bilabial.unheard_frames` at
            :data:`~probtalk.bilabial.EDGE_MIN_P`): there a centre spreads to the frame beside it; None:
            centres do not spread.
        unheard: bool [T'], where the detector hears no p, b or m (at its threshold); with ``reference``.
        reference: raw motion [T, 53], the deterministic take whose brief closures the takes keep.
        detected: the open-vowel detector's phones (audio only; may be empty).
        spread_anywhere: a centre spreads elsewhere too, as a less sure one (without a transcript).
    """
    frames = takes[0].shape[0]
    marked = np.asarray(marked, bool)
    centres = open_vowel_centres(vowels, fps, frames, avoid=marked, spread=silent)
    anywhere = np.ones(frames, bool) if spread_anywhere else silent
    tentative = open_vowel_centres(detected, fps, frames, avoid=marked, spread=anywhere)
    if spread_anywhere:
        tentative |= open_vowel_centres(vowels, fps, frames, avoid=marked, spread=anywhere)
    tentative &= ~centres
    shared = 0
    if unheard is not None and reference is not None:
        closures = seal.shared_closures(reference, marked, centres, unheard)
        n = min(marked.size, closures.size)
        shared = int((closures[:n] & ~marked[:n]).sum())
        marked = marked.copy()
        marked[:n] |= closures[:n]
        m = min(centres.size, closures.size)
        centres[:m] &= ~closures[:m]  # a shared closure stays shut
        tentative[:m] &= ~closures[:m]
    sealed = [seal.seal_frames(m, marked) for m in takes]
    out, opened = [], []
    for m, _ in sealed:
        at = centres | (tentative & (np.linalg.norm(seal.lip_vector(m), axis=1) >= SHUT_MM)) if tentative.any() else centres
        out.append(seal.open_frames(m, at)[0] if at.any() else m)
        opened.append(int(at.sum()))
    return SealedTakes(out, sealed[0][1] - shared, shared, opened[0])


def shown_bilabials(phones: Iterable[Any], fps: float, num_frames: int) -> np.ndarray:
    """bool [num_frames]: the frames, as shown (frame k at k / fps), inside an aligned p, b or m.

    A bilabial shorter than a frame that holds no shown frame marks the frame nearest its midpoint
    (the one lip sync is scored at). The transcript path seals these (see :meth:`LipSeal.seal_frames`).

    Args:
        phones: ``(start_s, end_s, phone)`` segments (ARPAbet; stress digits ignored) or :class:`Phone`.
        fps: frame rate.
        num_frames: frames of the take.
    """
    marked = np.zeros(max(0, int(num_frames)), bool)
    times = np.arange(marked.size) / float(fps)
    for seg in phones:
        start, end, label = (seg.start, seg.end, seg.phone) if hasattr(seg, "phone") else seg
        if str(label).upper().rstrip("012") not in BILABIAL_PHONES:
            continue
        inside = (times >= float(start)) & (times < float(end))
        if inside.any():
            marked |= inside
        else:
            k = int(round(0.5 * (float(start) + float(end)) * fps))
            if 0 <= k < marked.size:
                marked[k] = True
    return marked


def widen_to_heard(aligned: np.ndarray, heard: np.ndarray, reach: int = 1) -> np.ndarray:
    """bool [T]: the aligned bilabial frames (:func:`shown_bilabials`), and the frames within ``reach`` of
    them where the bilabial detector hears a p, b or m (:meth:`probtalk.bilabial.BilabialNet.frames`).

    A forced alignment places a phone to within a frame or two; where the detector hears the closure
    run on past the aligned phone, the seal follows it. Frames the detector hears away from any
    aligned p, b or m are left alone (the transcript says what was said).
    """
    aligned = np.asarray(aligned, bool)
    heard = np.asarray(heard, bool)[: aligned.size]
    near = aligned.copy()
    for d in range(1, int(reach) + 1):
        near[d:] |= aligned[:-d]
        near[:-d] |= aligned[d:]
    out = aligned.copy()
    out[: heard.size] |= heard & near[: heard.size]
    return out


@functools.lru_cache(maxsize=1)
def bundled_lip_seal() -> tuple[str, LipSeal]:
    """(rig id, seal) of the bundled head, the rig the embedded model is trained on."""
    from probtalk.flame import load_rig

    rig = load_rig()
    return rig.rig_id(), LipSeal.from_rig(rig)


def lip_seal_for(rig_id: str | None) -> LipSeal | None:
    """The seal for a model trained on rig ``rig_id`` (None: unknown, taken as the bundled head);
    None for any other rig (its lips are not known here)."""
    bundled, seal = bundled_lip_seal()
    return seal if rig_id in (None, bundled) else None
