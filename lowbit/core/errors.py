"""The one exception type that the CLI turns into a single error line (exit code 2)."""


class LowbitError(Exception):
    """A user-facing error: bad parameter, unknown unit, missing tool.

    The message is one line that names what was wrong and what is allowed; the CLI prints
    it as ``lowbit: error: <message>`` and exits with status 2, without a traceback.
    """
