"""Encrypted attachments: upload as ``m.file`` with ``file`` info, download and decrypt."""

from __future__ import annotations

import io
from typing import Any

import nio
from nio.crypto.attachments import decrypt_attachment

from curbside.matrix.content import file_message


class AttachmentError(RuntimeError):
    pass


async def upload_encrypted(
    client: nio.AsyncClient, data: bytes, name: str, mimetype: str
) -> dict[str, Any]:
    """Encrypt and upload ``data``; returns the ``m.file`` content to send."""
    response, keys = await client.upload(
        io.BytesIO(data), content_type="application/octet-stream", filename=None,
        encrypt=True, filesize=len(data),
    )
    if not isinstance(response, nio.UploadResponse) or keys is None:
        raise AttachmentError(f"upload failed: {getattr(response, 'message', response)}")
    return file_message(name, mimetype, len(data), response.content_uri, keys)


async def download_decrypted(client: nio.AsyncClient, content: dict[str, Any]) -> bytes:
    """Fetch the file an encrypted ``m.file``/``m.image`` points at and decrypt it."""
    info = content.get("file")
    if not isinstance(info, dict):
        raise AttachmentError("message has no encrypted file (an unencrypted url is refused)")
    response = await client.download(mxc=info["url"])
    if not isinstance(response, nio.MemoryDownloadResponse):
        raise AttachmentError(f"download failed: {getattr(response, 'message', response)}")
    try:
        return bytes(
            decrypt_attachment(
                response.body, info["key"]["k"], info["hashes"]["sha256"], info["iv"]
            )
        )
    except (KeyError, nio.EncryptionError) as exc:
        raise AttachmentError(f"attachment does not decrypt: {exc}") from exc
