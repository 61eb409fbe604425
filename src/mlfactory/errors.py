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


def validation_summary(exc: Exception) -> str:
    """``field.path: message`` of the first error of a pydantic ``ValidationError``."""
    first = exc.errors()[0]  # type: ignore[attr-defined]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return f"{field}: {first['msg']}"
