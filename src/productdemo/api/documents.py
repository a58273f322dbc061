"""Documents: upload, list, fetch, download, delete, search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from productdemo.api.deps import CurrentSession, ServicesDep
from productdemo.api.errors import error_responses
from productdemo.errors import BadRequest, TooLarge
from productdemo.realtime.protocol import CamelModel
from productdemo.services.documents.search import Mode, SearchHit
from productdemo.services.documents.service import MAX_FILES, Upload
from productdemo.storage.models import Document

router = APIRouter(prefix="/api/documents", tags=["documents"])

# The upload is parsed by hand (after the session check), so its schema is stated here.
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
            }
        }
    },
}


class DocumentPublic(CamelModel):
    id: str
    filename: str
    kind: str
    size: int
    status: str
    stage: str
    progress: int
    message: str
    error: str | None
    chunk_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: Document) -> DocumentPublic:
        # The fields are the row's own attributes (and no others: claims and hashes stay private).
        return cls.model_validate(doc, from_attributes=True)


class DocumentsPublic(CamelModel):
    documents: list[DocumentPublic]


class SearchResults(CamelModel):
    results: list[SearchHit]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses=error_responses(415),
)
async def upload(request: Request, session: CurrentSession, services: ServicesDep) -> DocumentsPublic:
    """Upload one or more documents (form field ``files``); each is processed in the background."""
    # The session is checked (above) before the body is read; its size is capped as it
    # streams (api/body_limit.py), so parsing spools at most the limit.
    limit = services.documents.max_size
    uploads = []
    async with request.form(max_files=MAX_FILES, max_fields=MAX_FILES) as form:
        for part in form.getlist("files"):
            if not isinstance(part, UploadFile):
                raise BadRequest("the form field 'files' must hold files")
            data = await part.read(limit + 1)
            name = part.filename or ""
            if len(data) > limit:
                raise TooLarge(f"{name}: larger than the limit of {limit} bytes")
            uploads.append(Upload(name, data))
    docs = await services.documents.upload(session.user_id, uploads)
    return DocumentsPublic(documents=[DocumentPublic.of(d) for d in docs])


@router.get("")
async def list_documents(session: CurrentSession, services: ServicesDep) -> DocumentsPublic:
    """The caller's documents with their current status, newest first."""
    docs = await services.documents.list(session.user_id)
    return DocumentsPublic(documents=[DocumentPublic.of(d) for d in docs])


@router.get("/search")
async def search(
    session: CurrentSession,
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    mode: Mode = "hybrid",
) -> SearchResults:
    """Ranked, highlighted chunks from the caller's documents: by words, meaning, or both fused."""
    hits = await services.search.search(session.user_id, q, mode)
    return SearchResults(results=hits)


@router.get("/{doc_id}")
async def get_document(doc_id: str, session: CurrentSession, services: ServicesDep) -> DocumentPublic:
    """One of the caller's documents (404 for anyone else's)."""
    return DocumentPublic.of(await services.documents.get(session.user_id, doc_id))


@router.get("/{doc_id}/file")
async def download(doc_id: str, session: CurrentSession, services: ServicesDep) -> Response:
    """The original file, as uploaded."""
    doc = await services.documents.get(session.user_id, doc_id)
    data = await services.documents.original(doc)
    disposition = f"attachment; filename*=utf-8''{quote(doc.filename)}"
    return Response(data, media_type="application/octet-stream", headers={"Content-Disposition": disposition})


@router.delete("/{doc_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(doc_id: str, session: CurrentSession, services: ServicesDep) -> Response:
    """Delete a document, cancelling its processing."""
    await services.documents.delete(session.user_id, doc_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
