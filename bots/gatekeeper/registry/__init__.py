"""Provider registry: proves a clinician exists in the CMS NPPES registry.

Import the monthly/weekly NPPES files (:func:`import_nppes`) and the NUCC code
set (:func:`import_taxonomy`), check identifiers people type
(:func:`validate_npi`, :func:`validate_dea`), and look providers up
(:func:`find_provider`, :func:`search_providers`).
"""

from pathlib import Path as _Path

from bots.gatekeeper.registry.dea import DeaCheck, validate_dea
from bots.gatekeeper.registry.importer import (
    ImportResult,
    NppesFormatError,
    ProgressCallback,
    Rejection,
    import_nppes,
)
from bots.gatekeeper.registry.lookup import (
    LicenceRecord,
    ProviderRecord,
    find_provider,
    search_providers,
    specialty_codes,
)
from bots.gatekeeper.registry.npi import NpiCheck, validate_npi
from bots.gatekeeper.registry.synthetic import GeneratedFile, generate_nppes_file
from bots.gatekeeper.registry.taxonomy import (
    Classification,
    NuccFormatError,
    classify,
    import_taxonomy,
    is_clinical,
)

#: Where this package's Alembic version scripts live (pass to ``curbside.database.migrate``).
MIGRATIONS = _Path(__file__).resolve().parent.parent / "migrations" / "versions"

__all__ = [
    "MIGRATIONS",
    "Classification",
    "DeaCheck",
    "GeneratedFile",
    "ImportResult",
    "LicenceRecord",
    "NpiCheck",
    "NppesFormatError",
    "NuccFormatError",
    "ProgressCallback",
    "ProviderRecord",
    "Rejection",
    "classify",
    "find_provider",
    "generate_nppes_file",
    "import_nppes",
    "import_taxonomy",
    "is_clinical",
    "search_providers",
    "specialty_codes",
    "validate_dea",
    "validate_npi",
]
