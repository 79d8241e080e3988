"""The exit statuses of the ``shipyard`` command, defined once.

A script can tell apart a command that could not do its work (``ERROR``), one it
was called wrongly (``USAGE``, reported by Click) and a check that ran and found a
problem (``CHECK_FAILED``: a dataset that breaks its contract, a promotion the
policy refused, online/offline skew found with ``--fail``).

>>> exit_code_for(PromotionRefused("auc 0.7 < 0.8"))
<ExitCode.CHECK_FAILED: 3>
"""

from __future__ import annotations

from enum import IntEnum

from shipyard.errors import PromotionRefused, ShipyardError

__all__ = ["EPILOG", "ExitCode", "exit_code_for"]


class ExitCode(IntEnum):
    """What the status of a finished ``shipyard`` command means."""

    OK = 0
    ERROR = 1  # the command failed: one line on stderr, "error: Kind: message"
    USAGE = 2  # an unknown command or option, a missing or malformed argument
    CHECK_FAILED = 3  # the command ran its check, and the check failed


# Errors that report a failed check rather than a failure to run one.
_CHECKS: tuple[type[ShipyardError], ...] = (PromotionRefused,)


def exit_code_for(error: ShipyardError) -> ExitCode:
    """The status a command that raised ``error`` exits with."""
    return ExitCode.CHECK_FAILED if isinstance(error, _CHECKS) else ExitCode.ERROR


EPILOG = (
    "Exit codes: 0 done; 1 error (one line on stderr: 'error: Kind: message'); 2 usage mistake "
    "(unknown command or option, bad argument); 3 a check failed (data breaks its contract, "
    "a promotion policy refused, skew found with --fail)."
)
