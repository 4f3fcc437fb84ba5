"""Typed errors: every failure a user can cause or meet has a class, a message and an HTTP status.

The CLI prints ``str(error)``; the REST API maps ``http_status``/``code``; nothing shows a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class StudioError(Exception):
    """Base of all expected failures."""

    code: str = "error"
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(StudioError):
    """The caller sent something we cannot process (bad file, bad parameter)."""

    code = "invalid_input"
    http_status = 400


class ImageDecodeError(InputError):
    """The bytes are not a readable image: empty, truncated, unknown or corrupt."""

    code = "invalid_image"
    http_status = 415


class ImageTooLargeError(InputError):
    """The image exceeds a configured byte or pixel limit (decompression-bomb guard)."""

    code = "image_too_large"
    http_status = 413


class UnknownOperationError(InputError):
    code = "unknown_operation"
    http_status = 404


class UnknownWeightsError(InputError):
    """A name that is not in the weights manifest."""

    code = "unknown_weights"
    http_status = 404


@dataclass(frozen=True)
class Violation:
    """One broken parameter rule: where (dotted path) and why."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class ParamValidationError(InputError):
    """All violated parameter rules of a request, reported together."""

    code = "invalid_params"
    http_status = 422

    def __init__(self, violations: list[Violation], context: str = "") -> None:
        self.violations = violations
        head = f"invalid parameters for {context}" if context else "invalid parameters"
        body = "; ".join(str(v) for v in violations)
        super().__init__(f"{head}: {body}")


class EngineUnavailableError(StudioError):
    """No engine of the operation can run here: not built yet, or weights not installed.

    A 4xx on purpose: the request is understood but asks for something this installation
    cannot do (as spec 002 answers an unsupported model with a 400), and retrying will not help
    until an operator installs it; the server itself is fine."""

    code = "engine_unavailable"
    http_status = 422


class EngineNotImplementedError(EngineUnavailableError):
    """The operation is declared (spec) but its engines arrive in a later release."""

    code = "engine_not_implemented"


class ProcessingError(StudioError):
    """An engine failed on valid input: a bug or resource problem, not the caller's fault."""

    code = "processing_failed"
    http_status = 500


class BusyError(StudioError):
    """The server is at its memory budget; the same request can succeed shortly."""

    code = "busy"
    http_status = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkLimitError(InputError):
    """Model work estimated to take longer than the configured limit on this device."""

    code = "work_limit_exceeded"
    http_status = 422
