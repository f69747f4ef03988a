"""Errors that name the problem and what to do about it."""


class EcgreproError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class DataError(EcgreproError):
    """A dataset is missing, malformed or inconsistent with its metadata."""


class ChecksumError(DataError):
    """A file's sha256 or size differs from the recorded one."""


class DownloadError(DataError):
    """A file could not be obtained from its source."""


class DiskFullError(EcgreproError):
    """A file could not be written: its filesystem is full (or over quota)."""
