"""User-facing errors.

Every mistake a user can make (bad file, bad option, missing extra) raises a
subclass of :class:`ProbtalkError` with a one-line message that names the
problem and the fix. The CLI prints the message and exits with status 2.
"""

from __future__ import annotations


class ProbtalkError(Exception):
    """Base class of every error caused by user input or environment."""

    exit_code = 2


class InputError(ProbtalkError, ValueError):
    """A file or value given by the user is missing, malformed or out of range (also a ``ValueError``)."""


class OptionError(InputError):
    """An option value is out of range or malformed.

    Attributes:
        option: the option's name when the message starts with it (the CLI swaps in its flag), else None.
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class OptionTypeError(OptionError, TypeError):
    """An option (or argument) has the wrong type, e.g. ``None`` or a list where a number is needed."""


class AudioError(InputError):
    """An audio input cannot be read or is unusable (empty, silent, too short)."""


class AudioTypeError(AudioError, TypeError):
    """Audio given as something that is neither a path nor an array of samples."""


class RigError(InputError):
    """A rig file cannot be read or does not match the expected FLAME layout."""


class AnimationFileError(InputError):
    """An animation file is corrupt or does not follow the Animation contract."""


class CheckpointError(InputError):
    """A model checkpoint is missing, corrupt or of the wrong format."""


class DatasetError(InputError):
    """A dataset folder does not follow the dataset layout."""


class StyleError(OptionError):
    """An unknown emotion or speaker name, or an intensity out of range."""


class MissingExtraError(ProbtalkError):
    """An optional dependency (extra) is needed but not installed."""

    def __init__(self, what: str, extra: str, hint: str | None = None) -> None:
        msg = f"{what} needs the '{extra}' extra: pip install 'probtalk[{extra}]'"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class OutputError(ProbtalkError):
    """An output path cannot be written (folder missing, read-only, ...)."""
