"""The base of every error meant for a person rather than a traceback."""


class EvidenceError(Exception):
    """Raised by library code with a message that names the file, record or option and the fix.

    The CLI turns these into ``Error: ...`` and exit code 1.
    """
