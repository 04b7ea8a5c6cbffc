"""Encrypted document store: fax documents are PHI, so nothing rests in clear.

    put(bytes) ──FieldCipher.encrypt_bytes(aad = "fax-document:<ref>")──>
        <root>/<ref[:2]>/<ref>.fax   (written to .part, fsynced, renamed)

The associated data binds each ciphertext to its reference, so a file copied
over another one does not decrypt. Files are written before the database row
that points at them commits; an orphan file left by a crash in between is
harmless (unreadable without the keys, never referenced).

Tools that need a file path (spandsp, the TIFF->PDF converter) get a
plaintext copy in a private (0700) scratch directory that :meth:`plain_copy`
removes when the block ends.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from curbside.phi import FieldCipher


class DocumentMissing(FileNotFoundError):
    """No stored document has this reference."""


class DocumentStore:
    def __init__(self, root: Path, cipher: FieldCipher) -> None:
        self._root = root
        self._cipher = cipher

    def _path(self, ref: str) -> Path:
        if not ref.isalnum():
            raise ValueError("document references are alphanumeric")
        return self._root / ref[:2] / f"{ref}.fax"

    @staticmethod
    def _aad(ref: str) -> bytes:
        return f"fax-document:{ref}".encode()

    def put(self, data: bytes) -> str:
        """Encrypt and store ``data`` durably; return its reference."""
        ref = secrets.token_hex(16)
        path = self._path(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        token = self._cipher.encrypt_bytes(data, self._aad(ref))
        part = path.with_suffix(".part")
        with open(part, "w", encoding="ascii") as handle:
            handle.write(token)
            handle.flush()
            os.fsync(handle.fileno())
        part.replace(path)
        return ref

    def get(self, ref: str) -> bytes:
        try:
            token = self._path(ref).read_text(encoding="ascii")
        except FileNotFoundError:
            raise DocumentMissing(ref) from None
        return self._cipher.decrypt_bytes(token, self._aad(ref))

    def delete(self, ref: str) -> None:
        self._path(ref).unlink(missing_ok=True)

    @contextmanager
    def scratch_dir(self) -> Iterator[Path]:
        """A private directory for plaintext working files, removed afterwards."""
        self._root.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="scratch-", dir=self._root))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    @contextmanager
    def plain_copy(self, ref: str, suffix: str) -> Iterator[Path]:
        """The decrypted document as a file that exists only inside the block."""
        with self.scratch_dir() as scratch:
            path = scratch / f"document{suffix}"
            path.write_bytes(self.get(ref))
            yield path
