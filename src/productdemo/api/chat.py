"""Conversations and their messages: create, list, read, rename, delete, ask, stop."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import Field

from productdemo.api.deps import CurrentSession, ServicesDep
from productdemo.api.errors import error_responses
from productdemo.realtime.protocol import CamelModel
from productdemo.services.chat.public import ConversationPublic, MessagePublic

router = APIRouter(prefix="/api/conversations", tags=["chat"])


class ConversationCreate(CamelModel):
    title: str | None = Field(None, max_length=200)


class ConversationUpdate(CamelModel):
    title: str = Field(max_length=200)


class MessageCreate(CamelModel):
    content: str = Field(min_length=1, max_length=4000)


class ConversationOut(CamelModel):
    conversation: ConversationPublic


class ConversationsOut(CamelModel):
    conversations: list[ConversationPublic]
    # Who writes answers ([llm] provider), so the page can say how answers are made.
    generator: str


class ConversationDetail(CamelModel):
    conversation: ConversationPublic
    messages: list[MessagePublic]


class Asked(CamelModel):
    """The stored question and its answer, which streams on ``conversation:<id>``."""

    message: MessagePublic
    answer: MessagePublic


class Stopping(CamelModel):
    message: MessagePublic


@router.post("", status_code=status.HTTP_201_CREATED)
async def create(body: ConversationCreate, session: CurrentSession, services: ServicesDep) -> ConversationOut:
    """Start a conversation."""
    return ConversationOut(conversation=await services.chat.create(session.user_id, body.title))


@router.get("")
async def list_conversations(session: CurrentSession, services: ServicesDep) -> ConversationsOut:
    """The caller's conversations, the most recently active first."""
    return ConversationsOut(
        conversations=await services.chat.conversations(session.user_id),
        generator=services.chat.answers.generator.name,
    )


@router.get("/{conversation_id}")
async def read(conversation_id: str, session: CurrentSession, services: ServicesDep) -> ConversationDetail:
    """A conversation and its messages; an answer still streaming has its text so far."""
    conversation, messages = await services.chat.get(session.user_id, conversation_id)
    return ConversationDetail(conversation=conversation, messages=messages)


@router.patch("/{conversation_id}")
async def rename(
    conversation_id: str, body: ConversationUpdate, session: CurrentSession, services: ServicesDep
) -> ConversationOut:
    """Rename a conversation."""
    return ConversationOut(
        conversation=await services.chat.rename(session.user_id, conversation_id, body.title)
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(conversation_id: str, session: CurrentSession, services: ServicesDep) -> Response:
    """Delete a conversation, stopping its answer if one is being written."""
    await services.chat.delete(session.user_id, conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{conversation_id}/messages", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(409)
)
async def ask(
    conversation_id: str, body: MessageCreate, session: CurrentSession, services: ServicesDep
) -> Asked:
    """Ask a question; the answer streams on topic ``conversation:<id>``."""
    asked, answer = await services.chat.ask(session.user_id, conversation_id, body.content)
    return Asked(message=asked, answer=answer)


@router.post(
    "/{conversation_id}/messages/{message_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(409),
)
async def cancel(
    conversation_id: str, message_id: str, session: CurrentSession, services: ServicesDep
) -> Stopping:
    """Stop an answer; the partial text is kept as ``cancelled`` (announced by ``message_end``)."""
    return Stopping(message=await services.chat.cancel(session.user_id, conversation_id, message_id))
