"""Errors a user can act on. Each message is one line: what happened, then what to do."""


class SoriError(Exception):
    """Base class: the CLI prints str(error) on one line and exits non-zero."""

    exit_code = 1


class ConfigError(SoriError):
    exit_code = 2


class ModelError(SoriError):
    """A model is missing, damaged or cannot be assembled."""


class AudioInputError(SoriError):
    """An audio file or array cannot be used as speech input."""


class AudioOutputError(SoriError):
    """Audio cannot be played or written where it was asked to go."""


class EngineError(SoriError):
    """An engine failed to load or run."""


class StoreError(SoriError):
    """The conversation store cannot be used."""


class InputError(SoriError):
    """The user's input (a question, a path) cannot be used as given."""


class Cancelled(Exception):
    """Work was stopped on request (not an error the user needs to see)."""
