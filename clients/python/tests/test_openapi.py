"""The client's types against the service's OpenAPI document: a field added, renamed or
removed on either side fails here."""

from __future__ import annotations

import os

import httpx
import pytest

from horizon_client import models

CLASSES = [
    models.Chunk,
    models.BlockRef,
    models.TableCell,
    models.SelectionMark,
    models.Progress,
    models.JobError,
    models.Result,
    models.Job,
    models.Upload,
    models.Webhook,
    models.ApiKey,
]


@pytest.fixture(scope="module")
def schemas() -> dict:
    base = os.environ.get("HORIZON_ENDPOINT", "http://127.0.0.1:3000").rstrip("/")
    document = httpx.get(f"{base}/v1/openapi.json").raise_for_status().json()
    return document["components"]["schemas"]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_is_in_the_schema_and_every_property_in_the_class(cls: type, schemas: dict) -> None:
    schema = schemas[cls.SCHEMA]  # type: ignore[attr-defined]
    properties = set(schema.get("properties", {}))
    fields = set(models.json_names(cls))
    assert fields - properties == set(), f"{cls.__name__} has fields the API does not: {fields - properties}"
    # The upload's properties for a PDF's pages and the like are kept in `extra`.
    missing = properties - fields
    if cls is models.Upload:
        missing -= {"pages", "sha256"}
    assert missing == set(), f"the API's {cls.SCHEMA} has properties {cls.__name__} lacks: {missing}"
