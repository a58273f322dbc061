"""SQLAlchemy 2 models. Schema changes go through an Alembic migration in ``migrations/``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from productdemo.storage.utc import UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger keeps PostgreSQL ids 64-bit.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Session(Base):
    """A server-side session. Only a hash of the session id is stored."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Revocation(Base):
    """Append-only log of ended sessions, read by every instance to close sockets.

    A row names one session (``session_hash``) or every session of a user
    (``session_hash`` null). Instances follow the log by id, so a revocation made
    by the CLI or another instance reaches their sockets within one sweep.
    """

    __tablename__ = "revocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId)
    session_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Document(Base):
    """An uploaded document and where its processing stands (the REST snapshot)."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str | None] = mapped_column(String(32), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # The original: a blob is deleted only where no document references it (services/documents/files.py).
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256", name="fk_documents_blob"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Which instance is processing it, and until when its claim holds (see processor.py).
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Claims so far; a document that stopped its worker or instance too often fails (leases.py).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Blob(Base):
    """An uploaded original, by content hash (documents with the same content share it)."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Chunk(Base):
    """A piece of a document's text, indexed for full-text search.

    The index itself lives beside the table: an FTS5 table ``chunks_fts`` on SQLite, a
    generated ``tsv`` column with a GIN index on PostgreSQL (see migration 0002).
    """

    __tablename__ = "chunks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    section: Mapped[str | None] = mapped_column(String(200), nullable=True)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)


class StoredNotification(Base):
    """A notification kept for later: for one user, or (``user_id`` null) for everyone, once."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    sender: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    link: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationRead(Base):
    """One user has read one notification (above their ``read_up_to`` mark)."""

    __tablename__ = "notification_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )


class NotificationMark(Base):
    """Everything up to ``read_up_to`` is read for this user ("mark all read" moves it)."""

    __tablename__ = "notification_marks"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    read_up_to: Mapped[int] = mapped_column(BigInteger)


class Conversation(Base):
    """A user's chat: questions and answers drawn from that user's documents."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(Base):
    """A question or an answer. An answer is written when it starts and when it ends, never per
    token; while it streams, the instance that owns it (``claimed_by``) holds the text so far
    and renews ``lease_until`` (see services/chat/answers.py)."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # JSON text: the citations [{n, documentId, filename, chunkIndex, page, section, start, end, quote}].
    citations: Mapped[str] = mapped_column(Text, default="[]")
    generator: Mapped[str | None] = mapped_column(String(32), nullable=True)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class McpHost(Base):
    """A remote host MCP servers are installed on. Credentials are encrypted (services/mcp/vault.py)."""

    __tablename__ = "mcp_hosts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    hostname: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    password: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The key the last scan saw (OpenSSH public key line), and the one the admin pinned.
    scanned_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    host_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class McpInstall(Base):
    """One run of a catalogue entry's install command on a host (or a verify-only run)."""

    __tablename__ = "mcp_installs"
    # At most one install of a server on a host at a time (queued or running; migration 0007).
    __table_args__ = (
        Index(
            "ux_mcp_installs_active_pair",
            "host_id",
            "server_id",
            unique=True,
            sqlite_where=text("state IN ('queued', 'connecting', 'running', 'verifying')"),
            postgresql_where=text("state IN ('queued', 'connecting', 'running', 'verifying')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host_id: Mapped[str] = mapped_column(ForeignKey("mcp_hosts.id", ondelete="CASCADE"), index=True)
    server_id: Mapped[str] = mapped_column(String(16))
    server_name: Mapped[str] = mapped_column(String(200))
    command: Mapped[str] = mapped_column(Text)
    launch_command: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(BigId, nullable=True)
    verify_only: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), index=True)
    exit_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(String(500), default="")
    tools: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    log_size: Mapped[int] = mapped_column(BigInteger, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class McpLogChunk(Base):
    """A stored piece of an install's output; ``offset`` is its byte position in the whole log."""

    __tablename__ = "mcp_log_chunks"
    __table_args__ = (Index("ix_mcp_log_chunks_install_id", "install_id", "offset"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    install_id: Mapped[str] = mapped_column(ForeignKey("mcp_installs.id", ondelete="CASCADE"))
    offset: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    stream: Mapped[str] = mapped_column(String(8))
    data: Mapped[str] = mapped_column(Text)


class McpAudit(Base):
    """Who did what to which host, when, and how it ended. Append-only."""

    __tablename__ = "mcp_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(400))
    server_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    command: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str] = mapped_column(String(500))


class ChunkVector(Base):
    """A chunk's embedding: float32 bytes, with the model and dimension that made it.

    ``owner_id`` repeats the document's owner so one user's vectors are read without a join;
    search only ever compares vectors of one ``model_id`` (see services/retrieval/). On a
    PostgreSQL server with pgvector, migration 0011 adds an ``embedding vector`` column (not
    mapped here: it exists only there) that holds the vector instead, and ``vector`` is null.
    """

    __tablename__ = "chunk_vectors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(BigId)
    model_id: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
