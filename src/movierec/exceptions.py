"""Error types of movierec: every error a user can cause is one of these."""


class MovieRecError(Exception):
    """Base class of every error movierec raises on purpose."""


class DataError(MovieRecError, ValueError):
    """Input data is missing, malformed or inconsistent (names the file, line or field)."""


class DownloadError(MovieRecError):
    """A data set could not be fetched or failed its checksum."""


class SplitError(MovieRecError, ValueError):
    """A split is invalid: overlapping parts, unknown users, bad parameters."""


class ConfigError(MovieRecError, ValueError):
    """A configuration value or option is invalid."""


class NothingToTune(ConfigError):
    """A model has no parameter to search (popularity, or every parameter fixed)."""


class NotFittedError(MovieRecError, RuntimeError):
    """A model was asked to score before `fit` was called."""
