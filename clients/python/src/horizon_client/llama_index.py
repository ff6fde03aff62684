"""A LlamaIndex reader: `pip install horizon-client[llama-index]`.

    from horizon_client.llama_index import HorizonReader
    documents = HorizonReader().load_data("report.pdf")   # one Document per chunk
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

try:
    from llama_index.core.readers.base import BaseReader
    from llama_index.core.schema import Document
except ImportError as e:  # pragma: no cover - depends on the extra
    raise ImportError("HorizonReader needs LlamaIndex: pip install 'horizon-client[llama-index]'") from e

from . import _loaders
from ._ops import FileInput
from .client import Client

__all__ = ["HorizonReader"]


class HorizonReader(BaseReader):
    """Reads files with Horizon: one `Document` per chunk, its Markdown as text, with the
    metadata of `HorizonLoader` (`source`, `job_id`, `chunk_id`, `page`, `type`, `headings`,
    `bbox`), plus `extra_info` when given."""

    def __init__(
        self,
        *,
        mode: Optional[str] = None,
        languages: Optional[list] = None,
        chunking: Optional[dict] = None,
        client: Optional[Client] = None,
        **client_kwargs: Any,
    ) -> None:
        super().__init__()
        self._client = client
        self._client_kwargs = client_kwargs
        self._extract = {"mode": mode, "languages": languages, "chunking": chunking}

    def load_data(self, file: FileInput, extra_info: Optional[Dict[str, Any]] = None, **_: Any) -> List[Document]:
        source = _loaders.source_of(str(file) if isinstance(file, Path) else file, None)
        job, chunks = _loaders.read(file, self._client, self._client_kwargs, self._extract)
        return [
            Document(
                id_=f"{job.id}/{chunk.id}",
                text=chunk.markdown or chunk.text,
                metadata={**_loaders.metadata(job, chunk, source), **(extra_info or {})},
                # Ids and boxes are for finding the chunk again, not for the embedding or the LLM.
                excluded_embed_metadata_keys=list(_loaders.LOCATORS),
                excluded_llm_metadata_keys=list(_loaders.LOCATORS),
            )
            for chunk in chunks
        ]
