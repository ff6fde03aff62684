"""What the LangChain and LlamaIndex loaders share: a file read into a job, and each chunk's
text and metadata."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, Optional, Tuple

from ._ops import FileInput
from .client import Client
from .models import Chunk, Job

def source_of(file: FileInput, source: Optional[str]) -> str:
    if source:
        return source
    if isinstance(file, (str, os.PathLike)):
        return os.fspath(file)
    name = getattr(file, "name", None)
    return name if isinstance(name, str) else "document"

#: The metadata that locates a chunk (for citations and highlighting) rather than describes it.
LOCATORS = ("job_id", "chunk_id", "bbox")


def metadata(job: Job, chunk: Chunk, source: str) -> Dict[str, Any]:
    return {
        "source": source,
        "job_id": job.id,
        "chunk_id": chunk.id,
        "page": chunk.page,
        "type": chunk.type,
        "headings": list(chunk.headings),
        "bbox": list(chunk.bbox),
    }

def read(
    file: FileInput,
    client: Optional[Client],
    client_kwargs: Dict[str, Any],
    extract_kwargs: Dict[str, Any],
) -> Tuple[Job, Iterator[Chunk]]:
    """Extracts `file` with the given client (or one made from `client_kwargs`) and returns the
    finished job and its chunks; a failed job raises `JobFailedError`."""
    own = client is None
    horizon = client or Client(**client_kwargs)
    try:
        job = horizon.extract(file, wait=True, **{k: v for k, v in extract_kwargs.items() if v is not None})
    finally:
        if own:
            horizon.close()
    job.raise_for_status()
    return job, iter(job.chunks)
