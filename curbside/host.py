"""What the ``curbside`` command hands the sub-commands of the packages below it.

    curbside/cli (composition root) ──ctx.obj──> fax / referral / bot command groups
                  implements Host                 ask for Host, never import curbside.cli

A package's command group (``curbside fax …``, ``curbside verify …``) needs the
settings, the migrated database, the PHI cipher and the audit log, which only
the composition root can build. Importing the root from a package would point
an arrow upwards (and is an import cycle: the root imports every package's
group), so the packages name this Protocol instead and the root's context
object satisfies it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

import click
from sqlalchemy import Engine

from curbside.audit import AuditLog
from curbside.phi import FieldCipher
from curbside.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


class Host(Protocol):
    """Each is built on first use, so a command that only prints help touches nothing."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine:
        """The database, migrated to the head of every package's branch."""
        ...

    @property
    def cipher(self) -> FieldCipher:
        """The PHI cipher, already installed for ``EncryptedText`` columns."""
        ...

    @property
    def audit(self) -> AuditLog: ...


def host_of(ctx: click.Context) -> Host:
    """The ``curbside`` command's context object, seen from any sub-command."""
    host: Host = ctx.find_root().obj
    return host


def pass_host(command: Callable[Concatenate[Host, P], R]) -> Callable[P, R]:
    """Like ``click.pass_obj``, for a command that takes the :class:`Host` first."""

    def invoke(*args: P.args, **kwargs: P.kwargs) -> R:
        return command(host_of(click.get_current_context()), *args, **kwargs)

    return functools.update_wrapper(invoke, command)
