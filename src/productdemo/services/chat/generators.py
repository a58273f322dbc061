"""The generators that write answers, behind one interface, and the choice among them.

Every generator streams text pieces for a question over numbered sources; the answer
pipeline (``answers.py``) treats them all alike: it merges pieces into chunks, keeps the text
so far, and cancels the generator's task on Stop (which, for an HTTP provider, closes the
connection, so the model stops too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from productdemo.config import LlmSettings
from productdemo.services.chat.events import Source


class GeneratorError(Exception):
    """The generator could not answer; the message says what a person can do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Passage:
    """A numbered source with the text the generator may quote."""

    source: Source
    text: str


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier message of the conversation, sent to a model as chat history."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(slots=True)
class Tally:
    """What a generator reports besides text: token usage, when the provider tells."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    notes: list[str] = field(default_factory=list)


class Generator(Protocol):
    name: str

    def stream(
        self, question: str, passages: list[Passage], tally: Tally, history: Sequence[Turn] = ()
    ) -> AsyncIterator[str]:
        """Yield the answer's text in pieces, citing passages as ``[n]``; ``history`` holds the
        conversation's earlier turns, oldest first (language models read them; others may not).

        Raises:
            GeneratorError: the provider failed (unreachable, refused, malformed, stalled).
        """
        ...

    async def close(self) -> None:
        """Release what the generator holds (a loaded model); called at shutdown."""
        ...


def create_generator(settings: LlmSettings) -> Generator:
    """The generator ``[llm] provider`` names."""
    # Imported here: the llama generator pulls in the model server only when chosen.
    from productdemo.services.chat.extractive import ExtractiveGenerator

    if settings.provider == "openai":
        from productdemo.services.chat.openai import OpenAIGenerator

        return OpenAIGenerator(
            settings.openai_url,
            settings.openai_model,
            settings.api_key(),
            settings.max_tokens,
            settings.temperature,
            settings.connect_timeout,
            settings.stall_timeout,
        )
    if settings.provider == "llama":
        from productdemo.services.chat.llama import LlamaGenerator

        return LlamaGenerator(settings)
    return ExtractiveGenerator()
