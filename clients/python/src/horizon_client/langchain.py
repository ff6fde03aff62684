"""A LangChain document loader: `pip install horizon-client[langchain]`.

    from horizon_client.langchain import HorizonLoader
    docs = HorizonLoader("report.pdf").load()   # one Document per chunk, its Markdown as content
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

try:
    from langchain_core.document_loaders import BaseLoader
    from langchain_core.documents import Document
except ImportError as e:  # pragma: no cover - depends on the extra
    raise ImportError("HorizonLoader needs LangChain: pip install 'horizon-client[langchain]'") from e

from . import _loaders
from ._ops import FileInput
from .client import Client

__all__ = ["HorizonLoader"]


class HorizonLoader(BaseLoader):
    """Reads a file with Horizon: one `Document` per chunk, `page_content` the chunk's Markdown,
    `metadata` its `source`, `job_id`, `chunk_id`, `page`, `type`, `headings` and `bbox`.

    Client settings (`base_url`, `api_key`, ...) are keyword arguments; or pass `client=`."""

    def __init__(
        self,
        path: FileInput,
        *,
        mode: Optional[str] = None,
        pages: Optional[str] = None,
        languages: Optional[list] = None,
        chunking: Optional[dict] = None,
        source: Optional[str] = None,
        client: Optional[Client] = None,
        **client_kwargs: Any,
    ) -> None:
        self.path = path
        self.source = _loaders.source_of(path, source)
        self._client = client
        self._client_kwargs = client_kwargs
        self._extract = {"mode": mode, "pages": pages, "languages": languages, "chunking": chunking}

    def lazy_load(self) -> Iterator[Document]:
        job, chunks = _loaders.read(self.path, self._client, self._client_kwargs, self._extract)
        for chunk in chunks:
            yield Document(
                page_content=chunk.markdown or chunk.text,
                metadata=_loaders.metadata(job, chunk, self.source),
                id=f"{job.id}/{chunk.id}",
            )
