"""One exception tree for everything hpogrid raises on purpose.

The library never prints or exits; the CLI turns any :class:`HpogridError` into a
single ``Error: <message>`` line with exit code 1. ``str(error)`` must therefore be a
complete, one-line sentence a user can act on (name the field and what is allowed).
This module imports nothing so every layer may depend on it.
"""


class HpogridError(Exception):
    """Base class of all user-facing hpogrid errors."""


class ValidationError(HpogridError):
    """A value given by the user is not allowed.

    ``field`` is the dotted path of the offending value (``search_space.lr.dimension.low``).
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class SearchSpaceError(ValidationError):
    """The search-space JSON does not follow the grammar."""


class InvalidNameError(ValidationError):
    """A name that would reach a file path is not allowed."""


class NotFoundError(HpogridError):
    """A named config, project or study does not exist."""


class NothingYetError(NotFoundError):
    """A study (or its first trial) that a run has not written yet: a live view waits for it."""


class AlreadyExistsError(HpogridError):
    """``create`` was asked for a name that already exists."""


class UnsupportedSpaceError(HpogridError):
    """The chosen algorithm cannot express a parameter of the search space."""


class MissingDependencyError(HpogridError):
    """An optional library needed for the requested feature is not installed."""


class StudyError(HpogridError):
    """The study store cannot be opened or written."""


class BackendError(HpogridError):
    """A run backend (local Ray, Slurm, PanDA) failed."""


class SlurmError(BackendError):
    """Slurm is missing, unreachable, or refused a request (message: one line)."""


class GridError(BackendError):
    """A grid service (PanDA, Rucio, CRIC) refused a request or could not be reached."""


class PandaError(GridError):
    """The PanDA server refused a request (not found, not allowed, server error)."""


class RucioError(GridError):
    """The Rucio server refused a request or its client configuration is incomplete."""


class CredentialsError(GridError):
    """Grid credentials (proxy, token, account) are missing; the message says what to set."""
