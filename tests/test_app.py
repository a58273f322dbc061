"""app.py: how the wired application answers what no route handles itself."""

from __future__ import annotations

from tests.support import LiveServer


async def test_request_validation_errors_are_400_with_a_readable_message(server: LiveServer) -> None:
    """A body that fails validation gets 400 bad_request naming the field, like every other client error."""
    async with server.client() as http:
        response = await http.post("/api/auth/login", json={"username": "x"})
    assert response.status_code == 400
    assert response.json() == {"detail": "password: Field required", "code": "bad_request"}
