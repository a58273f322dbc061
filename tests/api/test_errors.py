"""api/errors.py: every error in the {detail, code} shape, a schema that says so, 405 for a wrong method."""

from __future__ import annotations

from typing import Any

from tests.support import LiveServer


async def _schema(server: LiveServer) -> dict[str, Any]:
    async with server.client() as http:
        schema: dict[str, Any] = (await http.get("/api/openapi.json")).json()
    return schema


async def test_schema_documents_the_errors_actually_sent(server: LiveServer) -> None:
    """No operation documents 422; each documents 400 as ErrorBody, and session routes 401."""
    schema = await _schema(server)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert set(schema["components"]["schemas"]["ErrorBody"]["required"]) == {"detail", "code"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert responses["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }
    assert "401" in schema["paths"]["/api/documents"]["get"]["responses"]
    assert "415" in schema["paths"]["/api/documents"]["post"]["responses"]
    assert "429" in schema["paths"]["/api/auth/login"]["post"]["responses"]
    upload = schema["paths"]["/api/documents"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


async def test_wrong_method_on_a_known_path_is_405(server: LiveServer) -> None:
    """GET on a POST-only path answers 405 with Allow, in the error shape; an unknown path stays 404."""
    async with server.client() as http:
        response = await http.get("/api/auth/login")
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.json() == {"detail": "Method Not Allowed", "code": "method_not_allowed"}
        response = await http.put("/api/documents")
        assert response.status_code == 405
        missing = await http.get("/api/nothing-here")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Not Found", "code": "not_found"}
