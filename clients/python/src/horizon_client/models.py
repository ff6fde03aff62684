"""The API's objects as typed dataclasses, field for field as the OpenAPI document names them.

Each class names its schema in `SCHEMA`; a field's JSON name is its name in camelCase unless its
metadata says otherwise (`jobId` is `Job.id`). `tests/test_openapi.py` holds every class against
the live `/v1/openapi.json`, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Type, TypeVar

from .errors import JobFailedError

BBox = Tuple[float, float, float, float]
T = TypeVar("T")


def _json_name(f: "dataclasses.Field[Any]") -> str:
    explicit = f.metadata.get("json")
    if explicit:
        return str(explicit)
    head, *rest = f.name.split("_")
    return head + "".join(part.title() for part in rest)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:  # Optional[X]
        inner = [a for a in args if a is not type(None)]
        return _decode(inner[0], value) if len(inner) == 1 else value
    if origin in (list, List):
        return [_decode(args[0], v) for v in value]
    if origin in (tuple, Tuple):
        return tuple(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_json(tp, value)
    return value


def from_json(cls: Type[T], data: Dict[str, Any]) -> T:
    """Builds `cls` from the API's JSON; fields the JSON leaves out take their defaults, fields
    this version does not know are kept in `extra`."""
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    kwargs: Dict[str, Any] = {}
    known = set()
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init or f.name == "extra":
            continue
        name = _json_name(f)
        known.add(name)
        if name in data:
            kwargs[f.name] = _decode(hints[f.name], data[name])
    if "extra" in {f.name for f in dataclasses.fields(cls)}:  # type: ignore[arg-type]
        kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
    return cls(**kwargs)


def json_names(cls: type) -> List[str]:
    """The JSON names of a class's fields (what the OpenAPI schema must hold)."""
    return [_json_name(f) for f in dataclasses.fields(cls) if f.init and f.name != "extra"]


@dataclass
class TableCell:
    SCHEMA: ClassVar[str] = "TableCell"
    row: int
    col: int
    row_span: int = 1
    col_span: int = 1
    text: str = ""
    header: bool = False
    bbox: Optional[BBox] = None


@dataclass
class SelectionMark:
    SCHEMA: ClassVar[str] = "SelectionMark"
    state: str
    bbox: BBox


@dataclass
class BlockRef:
    """One block of a chunk gathered by `chunking` (its id as the `block` strategy gives it)."""

    SCHEMA: ClassVar[str] = "BlockRef"
    id: str
    type: str
    page: int
    bbox: BBox


@dataclass
class Chunk:
    """One typed piece of the document: a heading, paragraphs, a list, a table (with `cells`),
    a caption, a figure's words, a footnote, a slide's notes, a page header or footer. `bbox` is
    `[x0, y0, x1, y1]` from the top left, in page points (pixels for images; zero for documents
    without pages, such as DOCX or HTML)."""

    SCHEMA: ClassVar[str] = "Chunk"
    id: str
    text: str
    page: int
    segment_index: int = 0
    type: str = "paragraph"
    markdown: str = ""
    bbox: BBox = (0.0, 0.0, 0.0, 0.0)
    source: str = "text"
    confidence: Optional[float] = None
    headings: List[str] = field(default_factory=list)
    level: Optional[int] = None
    cells: List[TableCell] = field(default_factory=list)
    pages: List[int] = field(default_factory=list)
    selection_marks: List[SelectionMark] = field(default_factory=list)
    blocks: List[BlockRef] = field(default_factory=list)


@dataclass
class Progress:
    SCHEMA: ClassVar[str] = "Progress"
    pages_done: int
    pages_total: int


@dataclass
class JobError:
    SCHEMA: ClassVar[str] = "JobError"
    code: str
    message: str


@dataclass
class Result:
    SCHEMA: ClassVar[str] = "ResultView"
    pages: int
    chunk_count: int
    ocr_pages: List[int] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    markdown_url: Optional[str] = None
    #: The document's type as its bytes showed it (`application/pdf`, `text/html`, a DOCX's…).
    content_type: Optional[str] = None
    chunks: Optional[List[Chunk]] = None
    next_cursor: Optional[str] = None


@dataclass
class Job:
    """An extraction job. `chunks` and `markdown` are the whole document once a client has
    waited for it (`extract(wait=True)`, `jobs.wait`); `jobs.get` gives the first chunks only."""

    SCHEMA: ClassVar[str] = "JobView"
    id: str = field(metadata={"json": "jobId"})
    job_type: str
    status: str
    created_at: str
    updated_at: str
    status_url: str = ""
    webhook_url: Optional[str] = None
    result: Optional[Result] = None
    error: Optional[JobError] = None
    events: List[str] = field(default_factory=list)
    progress: Optional[Progress] = None
    tags: List[str] = field(default_factory=list)
    metadata: Optional[Dict[str, Any]] = None
    webhook_secret: Optional[str] = None
    markdown: Optional[str] = field(default=None, init=False)
    chunks: List[Chunk] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.result is not None and self.result.chunks:
            self.chunks = list(self.result.chunks)

    @property
    def done(self) -> bool:
        return self.status in ("completed", "failed")

    def raise_for_status(self) -> "Job":
        """Raises `JobFailedError` (with the job's error code and message) when the job failed."""
        if self.status == "failed":
            error = self.error or JobError("failed", "the job failed")
            raise JobFailedError(self.id, error.code, error.message)
        return self


@dataclass
class Upload:
    SCHEMA: ClassVar[str] = "UploadView"
    id: str
    content_type: str
    size: int
    created_at: str
    url: str
    filename: Optional[str] = None
    width: Optional[int] = None
    height: Optional[int] = None
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Webhook:
    SCHEMA: ClassVar[str] = "SubscriptionView"
    id: str
    url: str
    events: List[str]
    created_at: str
    secret: Optional[str] = None
    previous_secret_until: Optional[str] = None


@dataclass
class ApiKey:
    SCHEMA: ClassVar[str] = "ApiKeyView"
    id: str
    key: str
    account: str
    created_at: str


@dataclass
class WebhookEvent:
    """A verified webhook delivery: `job.processing`, `job.completed` or `job.failed`, with the
    job as `GET /v1/jobs/{jobId}` shows it."""

    type: str
    timestamp: str
    data: Job
