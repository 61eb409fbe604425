"""One error family for user-facing failures.

Every boundary (files, configs, CLI flags, arrays) raises a subclass of ``MlfactoryError`` with a
message that names the file, row or field and says what to do. The CLI turns these into a
one-paragraph message and a non-zero exit code; anything else is a bug and keeps its traceback.
"""


class MlfactoryError(Exception):
    """Base class for errors caused by user input or configuration."""


class DataError(MlfactoryError):
    """Input bars are unreadable or violate a validation policy set to ``fail``."""


class ConfigError(MlfactoryError):
    """A config file, CLI flag or parameter is missing or invalid."""


class ArtifactError(MlfactoryError):
    """A run directory or saved artifact is missing, incomplete or tampered with."""


def validation_summary(exc: Exception, limit: int = 1) -> str:
    """``field.path: message`` of the first ``limit`` errors of a pydantic ``ValidationError``
    (``; ``-joined, with how many more there are)."""
    errors = exc.errors()  # type: ignore[attr-defined]
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {str(e['msg']).removeprefix('Value error, ')}"
        for e in errors[:limit]
    ]
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return "; ".join(parts) + more
