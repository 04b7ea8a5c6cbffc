"""The fax gateway's public API: what the bridge, bots and the CLI may use.

    open_gateway(settings, …) ─► Gateway
        submit(pdf, number, idempotency_key) ─► JobView      (IdempotencyConflict,
        job(id) · changes_after(seq) ─► JobChange             InvalidDocument,
        received_after(seq) · subscribe_inbound() ─► InboundRecord   InvalidNumber)
        inbound_envelope(id) ─► InboundEnvelope · inbound_document(id) ─► PDF (audited)
        owner_of(number) ─► Owner | None · assign_route(number, Owner) (audited)
        documents ─► Sandbox: inspect(bytes) ─► DocumentFacts · as_pdf(bytes)
                     (DocumentRefused with a reason and a 413/415/422 status)
    shared_sandbox(DocumentSettings) ─► Sandbox   for callers without a gateway
    rasterise_pdf(pdf, dpi) ─► grey page images (reading a received fax's pages)
        dispose(id, Disposition) · dispositions_after(seq) ─► DispositionRecord
        undisposed() · disposition_counts()    (what became of every received fax)

Everything passed out is a frozen dataclass or an enum; no ORM row and no
internal object (outbox, inbox, router) is part of the API, so the tables
and their feeds can change behind it. Callers import from ``fax_gateway``
only (tests/bridge checks the bridge does).
"""

from fax_gateway.dispositions import Disposition, DispositionRecord
from fax_gateway.gateway import VERSIONS_DIR, FaxSettings, Gateway, derive_pepper, open_gateway
from fax_gateway.inbox import InboundEnvelope, InboundRecord
from fax_gateway.models import number_hash
from fax_gateway.numbers import InvalidNumber, normalise_number
from fax_gateway.outbox import IdempotencyConflict, InvalidDocument, JobChange, JobView
from fax_gateway.probe import DocumentFacts, DocumentRefused
from fax_gateway.render import RenderError, rasterise_pdf
from fax_gateway.routing import Owner, OwnerKind
from fax_gateway.sandbox import DocumentSettings, Sandbox, shared_sandbox
from fax_gateway.status import JobState

__all__ = [
    "VERSIONS_DIR",
    "Disposition",
    "DispositionRecord",
    "DocumentFacts",
    "DocumentRefused",
    "DocumentSettings",
    "FaxSettings",
    "Gateway",
    "IdempotencyConflict",
    "InboundEnvelope",
    "InboundRecord",
    "InvalidDocument",
    "InvalidNumber",
    "JobChange",
    "JobState",
    "JobView",
    "Owner",
    "OwnerKind",
    "RenderError",
    "Sandbox",
    "derive_pepper",
    "normalise_number",
    "number_hash",
    "open_gateway",
    "rasterise_pdf",
    "shared_sandbox",
]
