"""Where the service's log lines go: a quiet console and full, rotated files.

    every record ──PHI filter──┬─> console  our packages at INFO; nio, Synapse,
                               │            aiohttp … at WARNING (all at INFO with --verbose)
                               └─> data/logs/curbside.log  everything at logging.level,
                                   rotated: curbside.1.log … curbside.5.log

The console is for a person watching `curbside up`: what started, who
connected, what failed. Libraries' INFO chatter (nio logs every sync) goes to
the file only. Every handler carries the PHI redaction filter
(:mod:`curbside.redaction`); rotated files keep the ``.log`` suffix so the
test suite's PHI canary scan reads them too.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from curbside.redaction import install

# Top-level packages whose INFO lines are ours and go to the console.
OWN_PACKAGES = ("curbside", "bots", "bridge", "referral", "fax_gateway", "screening", "sponsors")
LOG_FILE = "curbside.log"
MAX_BYTES = 10_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ConsoleFilter(logging.Filter):
    """Pass our own records at INFO and above; others only from WARNING."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or record.levelno >= logging.WARNING:
            return True
        return record.name.split(".", 1)[0] in OWN_PACKAGES


def rotated_name(default_name: str) -> str:
    """``curbside.log.3`` → ``curbside.3.log``: rotated files stay ``*.log``."""
    path = Path(default_name)
    stem, _, number = path.name.rpartition(".")
    base = Path(stem)
    return str(path.with_name(f"{base.stem}.{number}{base.suffix}"))


def configure_logging(level: str, log_dir: Path, *, verbose: bool = False) -> Path:
    """Root logging for `curbside up`; returns the log file's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / LOG_FILE
    console = logging.StreamHandler()
    console.setLevel(logging.INFO)
    console.addFilter(ConsoleFilter(verbose))
    console.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
    file = logging.handlers.RotatingFileHandler(log_file, maxBytes=MAX_BYTES, backupCount=BACKUPS)
    file.namer = rotated_name
    file.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers.clear()
    for handler in (console, file):
        install(handler)
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return log_file
