"""Why the bridge could not start, with the exit code the operator's tools see.

Each cause gets its own code (as mautrix bridges do) so a supervisor or a
script can tell "fix the config" from "wait for the homeserver".
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    HOMESERVER_UNREACHABLE = 10
    REGISTRATION_NOT_INSTALLED = 11
    BRIDGE_UNREACHABLE = 12
    HS_TOKEN_MISMATCH = 13
    LOGIN_FAILED = 14


class BridgeStartupError(RuntimeError):
    """The bridge cannot run; ``str()`` says what is wrong and what to do."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
