"""The procedural animator's tables: viseme targets, lip-closure settings and emotion patterns.

All weights are over the rig's semantic (ARKit-named) shapes; a symmetric name
without Left/Right stands for both sides. :mod:`probtalk.corpus.animator` blends
them over time.
"""

from __future__ import annotations

# --------------------------------------------------------------- the visemes
# Each entry: semantic targets (symmetric names without Left/Right expand to both
# sides), dominance strength alpha and dominance width tau (s).
Viseme = tuple[dict[str, float], float, float]
REST_VISEME: Viseme = ({}, 0.6, 0.06)
VISEMES: dict[str, Viseme] = {
    "SIL": REST_VISEME,
    # bilabials: lips sealed, jaw nearly shut (closure also enforced below)
    "P": ({"jawOpen": 0.01, "mouthPress": 0.45, "mouthRollLower": 0.1, "mouthRollUpper": 0.05}, 3.0, 0.025),
    "B": ({"jawOpen": 0.01, "mouthPress": 0.35, "mouthRollLower": 0.1}, 3.0, 0.025),
    "M": ({"jawOpen": 0.01, "mouthPress": 0.25, "mouthRollLower": 0.05}, 3.0, 0.025),
    # labiodentals: lower lip tucked under the upper teeth
    "F": ({"jawOpen": 0.04, "mouthRollLower": 0.7, "mouthUpperUp": 0.25, "mouthShrugUpper": 0.1}, 4.0, 0.035),
    "V": ({"jawOpen": 0.04, "mouthRollLower": 0.6, "mouthUpperUp": 0.2, "mouthShrugUpper": 0.1}, 4.0, 0.035),
    # rounded
    "W": ({"jawOpen": 0.05, "mouthPucker": 0.85, "mouthFunnel": 0.35}, 3.0, 0.045),
    "UW": ({"jawOpen": 0.12, "mouthPucker": 0.75, "mouthFunnel": 0.45}, 2.0, 0.06),
    "UH": ({"jawOpen": 0.16, "mouthPucker": 0.45, "mouthFunnel": 0.35}, 1.6, 0.06),
    "OW": ({"jawOpen": 0.29, "mouthFunnel": 0.6, "mouthPucker": 0.35}, 2.0, 0.06),
    "OY": ({"jawOpen": 0.29, "mouthFunnel": 0.5, "mouthPucker": 0.25}, 2.0, 0.06),
    "AO": ({"jawOpen": 0.42, "mouthFunnel": 0.45, "mouthLowerDown": 0.15}, 2.5, 0.06),
    # open vowels: the jaw drops
    "AA": ({"jawOpen": 0.52, "mouthLowerDown": 0.3, "mouthUpperUp": 0.05}, 3.0, 0.06),
    "AE": ({"jawOpen": 0.45, "mouthLowerDown": 0.3, "mouthStretch": 0.25}, 3.0, 0.06),
    "AH": ({"jawOpen": 0.39, "mouthLowerDown": 0.25}, 3.0, 0.055),
    "AW": ({"jawOpen": 0.49, "mouthLowerDown": 0.25, "mouthFunnel": 0.15}, 3.0, 0.06),
    "AY": ({"jawOpen": 0.49, "mouthLowerDown": 0.25, "mouthStretch": 0.15}, 3.0, 0.06),
    # mid / spread vowels
    "EH": ({"jawOpen": 0.29, "mouthStretch": 0.35, "mouthLowerDown": 0.2}, 2.0, 0.055),
    "EY": ({"jawOpen": 0.26, "mouthStretch": 0.45, "mouthLowerDown": 0.15}, 2.0, 0.055),
    "ER": ({"jawOpen": 0.2, "mouthFunnel": 0.35, "mouthPucker": 0.25}, 1.8, 0.055),
    "IH": ({"jawOpen": 0.16, "mouthStretch": 0.5, "mouthLowerDown": 0.1}, 1.8, 0.05),
    "IY": ({"jawOpen": 0.12, "mouthStretch": 0.65, "mouthSmile": 0.12}, 1.8, 0.05),
    # other consonants
    "R": ({"jawOpen": 0.1, "mouthFunnel": 0.35, "mouthPucker": 0.35}, 1.5, 0.045),
    "SH": ({"jawOpen": 0.08, "mouthFunnel": 0.55, "mouthPucker": 0.3, "mouthUpperUp": 0.1}, 2.0, 0.045),
    "ZH": ({"jawOpen": 0.08, "mouthFunnel": 0.55, "mouthPucker": 0.3, "mouthUpperUp": 0.1}, 2.0, 0.045),
    "CH": ({"jawOpen": 0.08, "mouthFunnel": 0.5, "mouthPucker": 0.3, "mouthUpperUp": 0.1}, 2.0, 0.045),
    "JH": ({"jawOpen": 0.08, "mouthFunnel": 0.5, "mouthPucker": 0.3, "mouthUpperUp": 0.1}, 2.0, 0.045),
    "S": ({"jawOpen": 0.05, "mouthStretch": 0.35, "mouthClose": 0.0}, 1.5, 0.04),
    "Z": ({"jawOpen": 0.05, "mouthStretch": 0.3}, 1.5, 0.04),
    "TH": ({"jawOpen": 0.1, "tongueOut": 0.25, "mouthStretch": 0.15}, 1.2, 0.04),
    "DH": ({"jawOpen": 0.1, "tongueOut": 0.2, "mouthStretch": 0.15}, 1.0, 0.04),
    "T": ({"jawOpen": 0.1, "mouthStretch": 0.2}, 0.8, 0.04),
    "D": ({"jawOpen": 0.1, "mouthStretch": 0.2}, 0.8, 0.04),
    "N": ({"jawOpen": 0.08, "mouthStretch": 0.15}, 0.8, 0.04),
    "L": ({"jawOpen": 0.14, "mouthStretch": 0.1}, 0.8, 0.045),
    "Y": ({"jawOpen": 0.08, "mouthStretch": 0.4}, 0.9, 0.04),
    "K": ({"jawOpen": 0.14}, 0.5, 0.04),
    "G": ({"jawOpen": 0.14}, 0.5, 0.04),
    "NG": ({"jawOpen": 0.12}, 0.5, 0.04),
    "HH": ({"jawOpen": 0.2}, 0.2, 0.03),
}
DEFAULT_VISEME: Viseme = ({"jawOpen": 0.1}, 0.5, 0.04)
SILENCE_LABELS = {"SIL", "SP", "SPN", "<SIL>", "<S>", "</S>", "PAU", "H#", "", "NOISE", "+NSN+", "+SPN+"}
BILABIAL_CLOSURE = frozenset({"P", "B", "M"})

# Shapes that part the lips: damped while the lips are sealed. When the rig has the
# upper_lip/lower_lip keypoints, every shape that moves them apart by more than
# OPENER_MIN_M at weight 1 is added to these.
LIP_OPENERS = ("jawOpen", "mouthLowerDown", "mouthUpperUp", "mouthFunnel", "mouthShrugUpper", "tongueOut",
                "mouthRollLower", "mouthRollUpper", "mouthClose")
OPENER_MIN_M = 0.0005
# Lip gap (m) the open vowel AA should give at full articulation. Rigs whose jaw opens the lips
# more or less per unit of jawOpen are compensated by scaling every viseme's jawOpen, so the
# lip-sync criteria (shut < 2 mm on p/b/m, open > 6 mm on open vowels) hold on any FLAME rig
# that carries semantic shapes and lip keypoints. 18.8 mm on the bundled head = scale 1.
OPEN_VOWEL_GAP_M = 0.0188
# The sealed-lips pose the closure constraint pulls towards (added to the viseme's own shape).
CLOSURE_POSE = {"jawOpen": 0.0, "mouthPress": 0.3}
# The seal starts CLOSURE_PAD_S before the phone after a raised-cosine ramp of CLOSURE_RAMP_S
# and, since the release is a burst, opens over RELEASE_RAMP_S right at the phone's end.
CLOSURE_PAD_S = 0.008
CLOSURE_RAMP_S = 0.025
RELEASE_RAMP_S = 0.015

# --------------------------------------------------------- emotion patterns
# Weights at full gain (high intensity) over the semantic shapes, by FACS action unit.
EMOTION_PATTERNS: dict[str, dict[str, float]] = {
    "neutral": {},
    # AU6 cheek raiser + AU12 lip-corner puller
    "happy": {"cheekSquint": 0.65, "mouthSmile": 0.7, "eyeSquint": 0.2},
    # AU1 inner brow raiser + AU4 brow lowerer + AU15 lip-corner depressor
    "sad": {"browInnerUp": 0.75, "browDown": 0.3, "mouthFrown": 0.65, "mouthShrugLower": 0.15},
    # AU1 + AU2 outer brow raiser + AU5 upper-lid raiser + AU26 jaw drop
    "surprised": {"browInnerUp": 0.7, "browOuterUp": 0.75, "eyeWide": 0.75, "jawOpen": 0.12},
    # AU1 + AU2 + AU4 + AU5 + AU20 lip stretcher
    "fear": {"browInnerUp": 0.75, "browOuterUp": 0.4, "browDown": 0.3, "eyeWide": 0.65, "mouthStretch": 0.55},
    # AU9 nose wrinkler + AU10 upper-lip raiser + AU15
    "disgusted": {"noseSneer": 0.75, "mouthUpperUp": 0.45, "mouthFrown": 0.45, "browDown": 0.2},
    # AU4 + AU5 + AU7 lid tightener + AU23 lip tightener
    "angry": {"browDown": 0.8, "eyeWide": 0.25, "eyeSquint": 0.45, "mouthPress": 0.45},
    # unilateral AU12 + AU14 dimpler
    "contempt": {"mouthSmileLeft": 0.5, "mouthDimpleLeft": 0.55},
}
# Emotion also changes how big speech movements are (sad speakers mumble, angry ones bite).
EMOTION_ARTICULATION = {"happy": 1.05, "sad": 0.88, "surprised": 1.08, "fear": 0.95, "angry": 1.1}

NOISE_CHANNELS = {  # low-frequency "aliveness", weight std at variation 1
    "browInnerUp": 0.035, "browOuterUp": 0.025, "browDown": 0.02, "cheekSquint": 0.02,
    "mouthSmile": 0.02, "eyeSquint": 0.02, "noseSneer": 0.01, "mouthDimple": 0.01,
}
UNGATED_SIDES = ("eyeBlink",)  # shapes not touched by the speaker's asymmetry
