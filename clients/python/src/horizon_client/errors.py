"""What the client raises: the API's RFC 9457 problems, a failed job, a wait that ran out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional


class HorizonError(Exception):
    """Every error this package raises."""


@dataclass
class FieldError:
    field: str
    message: str


class ProblemError(HorizonError):
    """The API refused a request: an RFC 9457 problem (`type`, `title`, `status`, `detail`,
    `instance`, and for a malformed body each field's error)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        type: str = "about:blank",
        instance: str = "",
        errors: Optional[List[FieldError]] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.instance = instance
        self.errors = errors or []
        self.retry_after = retry_after
        fields = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(
            f"{status} {title}" + (f": {detail}" if detail else "") + (f" ({fields})" if fields else "")
        )

    @classmethod
    def from_json(cls, status: int, body: Any, retry_after: Optional[float] = None) -> "ProblemError":
        if not isinstance(body, dict):
            return cls(status, "HTTP error", str(body)[:500], retry_after=retry_after)
        errors = [
            FieldError(str(e.get("field", "")), str(e.get("message", "")))
            for e in body.get("errors") or []
            if isinstance(e, dict)
        ]
        return cls(
            status=int(body.get("status", status)),
            title=str(body.get("title", "HTTP error")),
            detail=str(body.get("detail", "")),
            type=str(body.get("type", "about:blank")),
            instance=str(body.get("instance", "")),
            errors=errors,
            retry_after=retry_after,
        )


class JobFailedError(HorizonError):
    """A job ended `failed` (`code` as in the job's `error.code`: `invalid_pdf`, `timeout`,
    `cancelled`, ...)."""

    def __init__(self, job_id: str, code: str, message: str) -> None:
        self.job_id = job_id
        self.code = code
        self.message = message
        super().__init__(f"job {job_id} failed: {code}: {message}")


class WaitTimeout(HorizonError):
    """A job had not finished when the wait's time ran out (the job goes on)."""

    def __init__(self, job_id: str, seconds: float) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id} had not finished after {seconds:g} s")


class WebhookVerificationError(HorizonError):
    """A webhook's signature, id or timestamp did not check out."""
