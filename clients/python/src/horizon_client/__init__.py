"""Horizon's Python client: upload a document, extract it, read typed chunks and Markdown.

    from horizon_client import Client
    job = Client().extract("report.pdf")   # HORIZON_ENDPOINT, HORIZON_API_KEY
    print(job.markdown)
"""

from . import webhooks
from .client import AsyncClient, Client
from .errors import (
    FieldError,
    HorizonError,
    JobFailedError,
    ProblemError,
    WaitTimeout,
    WebhookVerificationError,
)
from .models import ApiKey, BlockRef, Chunk, Job, JobError, Progress, Result, SelectionMark, TableCell, Upload, Webhook, WebhookEvent

__all__ = [
    "AsyncClient",
    "ApiKey",
    "BlockRef",
    "Chunk",
    "Client",
    "FieldError",
    "HorizonError",
    "Job",
    "JobError",
    "JobFailedError",
    "ProblemError",
    "Progress",
    "Result",
    "SelectionMark",
    "TableCell",
    "Upload",
    "WaitTimeout",
    "Webhook",
    "WebhookEvent",
    "WebhookVerificationError",
    "webhooks",
]
__version__ = "0.1.0"
