"""Errors a reader can act on: each names the file, line or key, and what was expected."""


class LcrecError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(LcrecError, ValueError):
    """A bad preset, key or value."""


class DataError(LcrecError, ValueError):
    """Input data that does not have the expected shape (names file and line/key)."""


class DownloadError(LcrecError, OSError):
    """A download that could not be completed (no network, bad checksum, HTTP error)."""
