"""The generator with no model: the sentences of the best passages that share the most words
with the question, quoted with their citations. Deterministic and always available."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from productdemo.services.chat.generators import Passage, Tally, Turn

LABEL = "Extractive answer (quoted from your documents, no language model):"
NOT_FOUND = "I found nothing in your documents about this."
MAX_SENTENCES = 4
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no meaning of their own; a sentence sharing only these with the question
# is no answer to it.
_STOP = frozenset(
    "a an and are as at be by can do does for from had has have how i in is it its of on or "
    "that the their there this to was were what when where which who why will with you your".split()
)


def _terms(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP}


def compose(question: str, passages: list[Passage]) -> str:
    """The answer: up to four sentences, best first, each followed by its source's ``[n]``."""
    wanted = _terms(question)
    scored: list[tuple[int, int, int, str]] = []
    for rank, passage in enumerate(passages):
        for position, match in enumerate(_SENTENCE.finditer(passage.text)):
            sentence = " ".join(match.group(0).split())
            overlap = len(wanted & _terms(sentence))
            if overlap and len(sentence) > 3:
                # More shared words first; then the better-ranked passage, then its order.
                scored.append((-overlap, rank, position, sentence))
    if not scored:
        return NOT_FOUND
    scored.sort()
    lines, used = [], set()
    for _, rank, _, sentence in scored:
        if sentence in used:
            continue
        used.add(sentence)
        lines.append(f"- {sentence} [{passages[rank].source.n}]")
        if len(lines) == MAX_SENTENCES:
            break
    return LABEL + "\n\n" + "\n".join(lines)


class ExtractiveGenerator:
    name = "extractive"

    async def close(self) -> None:
        """Nothing to release."""

    async def stream(
        self, question: str, passages: list[Passage], tally: Tally, history: Sequence[Turn] = ()
    ) -> AsyncIterator[str]:
        # Quoting passages for this question alone: earlier turns have nothing to add.
        answer = compose(question, passages)
        tally.completion_tokens = 0
        for piece in re.findall(r"\S+\s*|\s+", answer):
            tally.completion_tokens += 1
            yield piece
            # Give the loop a turn per word, as a model would: other answers keep flowing.
            await asyncio.sleep(0)
