"""The desk's own tables (kept in step with migration ``referral_desk_0001``).

    referral_desk_conversations   a thread where the desk asks something: the guided
                                  form (answers sealed, PHI) or a decline reason
    referral_desk_threads         where a referral is talked about: the referrer's thread
                                  and the recipient's DM thread (root = the packet)
    referral_desk_direct_rooms    the desk's DM room with each recipient
    referral_desk_escalations     one row per referral and level: escalations fire once
    referral_desk_cursors         how far the desk has read a feed (fax job changes)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curbside.database import Base
from curbside.phi import EncryptedText

# Conversation purposes and states.
FORM = "referral-form"
DECLINE_REASON = "decline-reason"
ASKING = "asking"      # questions remain
DRAFT = "draft"        # form complete, referral is a draft: attach files, !send
CLOSED = "closed"      # sent, cancelled or answered

# Thread roles.
REFERRER = "referrer"
RECIPIENT = "recipient"


class DeskConversation(Base):
    __tablename__ = "referral_desk_conversations"
    __table_args__ = (UniqueConstraint("room_id", "thread_root"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(255))
    thread_root: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)
    answers: Mapped[str] = mapped_column(EncryptedText("referral_desk_conversations.answers"))
    referral_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeskThread(Base):
    __tablename__ = "referral_desk_threads"

    referral_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    thread_root: Mapped[str] = mapped_column(String(255), index=True)


class DeskDirectRoom(Base):
    __tablename__ = "referral_desk_direct_rooms"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))


class DeskEscalation(Base):
    __tablename__ = "referral_desk_escalations"
    __table_args__ = (UniqueConstraint("referral_id", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
