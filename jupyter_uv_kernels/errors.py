"""Typed domain errors.

Domain modules raise these; ``handlers.py`` maps them to HTTP status codes and the CLI
turns them into one line and a non-zero exit. Every message is written for the user:
it names the problem and, where there is one, the command that fixes it.
"""

from __future__ import annotations


class UvKernelsError(Exception):
    """Base class of every error this package raises on purpose."""

    #: HTTP status used by the REST handlers.
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidRequest(UvKernelsError):
    """The caller sent something malformed (bad JSON, wrong type, unknown option)."""

    status = 400


class InvalidRequirement(InvalidRequest):
    """A package string is not a PEP 508 requirement (or looks like an option)."""


class InvalidPath(InvalidRequest):
    """A path is malformed: empty, too long, NUL bytes, control characters."""


class NotAnEnvironment(InvalidRequest):
    """A path exists but is neither a uv project nor a virtual environment."""


class OutsideRoots(UvKernelsError):
    """A path resolves to somewhere outside every configured root."""

    status = 403


class EnvironmentNotFound(UvKernelsError):
    """No environment with that id or path is known."""

    status = 404


class OperationNotFound(UvKernelsError):
    """No operation with that id is known."""

    status = 404


class KernelspecNotFound(UvKernelsError):
    """No kernelspec with that name exists, or it is not ours to touch."""

    status = 404


class Conflict(UvKernelsError):
    """The request clashes with what is on disk (the target exists, a spec is not ours...)."""

    status = 409


class PayloadTooLarge(UvKernelsError):
    """The request body is larger than ``UvKernels.max_request_bytes``."""

    status = 413


class UvNotFound(UvKernelsError):
    """No uv binary could be found."""

    status = 503


class CommandFailed(UvKernelsError):
    """A command we ran (uv, a scheduler's) failed or timed out. Carries its argv, its exit
    code (None: stopped at the timeout) and its stderr."""

    status = 502

    def __init__(
        self, message: str, *, argv: list[str], returncode: int | None, stderr: str
    ) -> None:
        super().__init__(message)
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class UvFailed(CommandFailed):
    """uv exited non-zero. Carries the command and uv's stderr."""


class UvTimeout(UvFailed):
    """uv ran longer than its timeout and was stopped."""


class KernelspecDirNotWritable(UvKernelsError):
    """The kernelspec directory cannot be written."""

    status = 503


class JobNotFound(UvKernelsError):
    """No batch job with that id was submitted from here."""

    status = 404


class SchedulerNotFound(UvKernelsError):
    """No batch scheduler's commands (qsub, sbatch) are on PATH."""

    status = 503


class SchedulerFailed(CommandFailed):
    """A scheduler command (qsub, qstat, sbatch, …) failed or timed out; carries its stderr."""


class InvalidNotebook(InvalidRequest):
    """A notebook, or its PEP 723 script block or lock, cannot be used as it is; the message
    names the problem and the fix."""


class NotebookChanged(Conflict):
    """The notebook changed on disk while an edit ran; the edit was not written."""
