"""Bearer tokens → who is calling; roles and ownership decide what they may do (contract: Auth)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from flask import g, request

from api.errors import unauthorized
from api.services import current_services
from domain.errors import Forbidden, NotFound
from domain.values import Actor
from projections.tokens import TokenStore

ADMIN, INSTRUCTOR, SECRETARY, FINANCE, AUDITOR, APPLICANT = (
    "admin", "instructor", "secretary", "finance", "auditor", "applicant")
STAFF = (ADMIN, INSTRUCTOR, SECRETARY, FINANCE)
READERS = (*STAFF, AUDITOR)
EVERYONE = (*READERS, APPLICANT)

#: Given the view's URL arguments, the applicant that owns the resource (raises NotFound if none).
Owner = Callable[[Mapping[str, Any]], UUID]


@dataclass(frozen=True)
class User:
    name: str
    role: str
    applicant_id: UUID | None

    @property
    def actor(self) -> Actor:
        return Actor(name=self.name, role=self.role)

    @property
    def is_applicant(self) -> bool:
        return self.role == APPLICANT

    @property
    def applicant(self) -> UUID:
        """The applicant an applicant's token is bound to."""
        if self.applicant_id is None:
            raise Forbidden("Ce jeton n'est lié à aucun porteur.")
        return self.applicant_id


def bearer(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for no token or another scheme."""
    scheme, _, value = authorization.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def authenticate() -> User:
    """The token's user, or 401: no header, another scheme, or a token the store does not know."""
    token = bearer(request.headers.get("Authorization", ""))
    user = user_for_token(token) if token else None
    if user is None:
        raise unauthorized()
    return user


def user_for_token(value: str, tokens: TokenStore | None = None) -> User | None:
    """The user a token stands for; None if unknown, revoked, or an applicant's token bound to no applicant."""
    info = (tokens or current_services().tokens).authenticate(value)
    if info is None or (info.role == APPLICANT and not info.applicant_id):
        return None  # an applicant's token is always bound to its applicant
    applicant = UUID(str(info.applicant_id)) if info.applicant_id else None
    return User(name=info.name, role=info.role, applicant_id=applicant)


@dataclass(frozen=True)
class Admits:
    """Who a view lets in: the roles listed and, when `owner` is given, the applicant owning the resource
    (`Blueprint.auth` checks it at each request, and puts it on the view as `view.admits`)."""

    roles: tuple[str, ...]
    owner: Owner | None

    def outright(self, user: User) -> bool:
        """Let in on the role alone: no ownership to ask the resource about."""
        return user.role in self.roles and not (user.is_applicant and self.owner is not None)

    def admit(self, view_args: Mapping[str, Any]) -> User:
        """The caller, let in; otherwise 401, 403, or 404 for an applicant that does not own the resource
        (an applicant is never told that another applicant's resource exists)."""
        user = authenticate()
        g.user = user
        if not self.outright(user):
            if not (user.is_applicant and self.owner is not None):
                raise Forbidden(f"Le rôle « {user.role} » ne permet pas cette action.")
            if self.owner(view_args) != user.applicant:
                raise NotFound("Ressource introuvable.")
        return user


def current_user() -> User:
    user: User = g.user
    return user
