"""Dossiers: intake (draft, documents, submission), instruction, and the history auditors replay."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from flask import send_file
from flask.views import MethodView

from api import blobs
from api.auth import APPLICANT, INSTRUCTOR, READERS, current_user
from api.common import (
    CREATED,
    ETAG,
    LOCATION,
    Blueprint,
    application,
    caught_up,
    command,
    create,
    current,
    expected_version,
    fact_ctx,
    location,
    shown,
    stored,
)
from api.schemas import (
    AsOfSchema,
    DeclineSchema,
    DocumentFormSchema,
    DocumentSchema,
    DossierDraftSchema,
    DossierEditSchema,
    DossierPageSchema,
    DossierQuerySchema,
    DossierSchema,
    HistorySchema,
    InstructSchema,
    NotificationListSchema,
    RequestDocumentsSchema,
    SubmitSchema,
    WithdrawSchema,
)
from api.services import current_services
from domain.dossier import Dossier
from domain.errors import Forbidden, InvalidValue, NotFound
from projections import queries
from projections.notifications import notifications_for

blp = Blueprint("dossiers", __name__, url_prefix="/dossiers",
                description="Demandes de subvention : dépôt, pièces, instruction ; historique et état passé.")


def dossier(dossier_id: UUID) -> Dossier:
    found: Dossier = stored(Dossier, dossier_id, "Dossier")
    return found


def owner(view_args: Mapping[str, Any]) -> UUID:
    """The applicant a dossier belongs to (404 if there is no such dossier)."""
    applicant_id: UUID = dossier(view_args["dossier_id"]).applicant_id
    return applicant_id


def applicant_for(asked: UUID | None) -> UUID:
    """An applicant files for itself; an instructor says for whom."""
    user = current_user()
    if user.is_applicant:
        if asked is not None and asked != user.applicant:
            raise Forbidden("Un porteur ne peut déposer un dossier que pour lui-même.")
        return user.applicant
    if asked is None:
        raise InvalidValue("applicant_id", "Obligatoire : le porteur pour lequel le dossier est déposé.")
    return asked


def listed(query: dict[str, Any]) -> dict[str, Any]:
    """A page of the read model; an applicant's filter is forced to itself."""
    caught_up()
    user = current_user()
    if user.is_applicant:
        query["applicant_id"] = user.applicant
    try:
        items, next_cursor = queries.list_dossiers(current_services().read, **query)
    except ValueError:
        raise InvalidValue("cursor", "Curseur de pagination invalide.") from None
    return {"items": items, "next_cursor": next_cursor}


def as_it_stands(dossier_id: UUID, as_of: datetime | None = None, effective_on: date | None = None) -> Any:
    """Now, as recorded at an instant, or through the facts dated on or before a real-world date."""
    if as_of is not None:
        return shown(application().as_of(Dossier, dossier_id, as_of, "Dossier"))
    if effective_on is not None:
        return shown(application().as_of_effective(Dossier, dossier_id, effective_on, "Dossier"))
    return current(Dossier, dossier_id, "Dossier", DossierSchema)


def attach(dossier_id: UUID, form: dict[str, Any]) -> Any:
    """Stores the file once by its SHA-256, then records the attachment on the dossier."""
    upload = form["file"]
    blob = blobs.store(upload.stream, current_services().blobs_dir)
    filename = (upload.filename or "document").replace("\\", "/").rsplit("/", 1)[-1][:200] or "document"
    document = application().attach_document(
        fact_ctx(form.get("received_on")), dossier_id, kind=form["kind"], label=form["label"],
        sha256=blob.sha256, size=blob.size, filename=filename,
        content_type=(upload.mimetype or "application/octet-stream")[:100], expected_version=expected_version())
    return document, 201, {"Location": location(document["id"])}


def download(dossier_id: UUID, document_id: UUID) -> Any:
    document = next((d for d in dossier(dossier_id).documents if d["id"] == str(document_id)), None)
    if document is None:
        raise NotFound(f"Pièce introuvable : {document_id}")
    path = blobs.path_of(current_services().blobs_dir, document["sha256"])
    if not path.exists():
        raise NotFound(f"Le fichier de la pièce {document_id} est absent du stockage.")
    return send_file(path, mimetype=document["content_type"], as_attachment=True,
                     download_name=document["filename"])


@blp.route("")
class DossierList(MethodView):
    @blp.auth(*READERS, APPLICANT)
    @blp.arguments(DossierQuerySchema, location="query")
    @blp.response(200, DossierPageSchema)
    def get(self, query: dict[str, Any]) -> Any:
        """Dossiers by status, programme, applicant; `limit` (1–200) and `cursor` page through them."""
        return listed(query)

    @blp.auth(APPLICANT, INSTRUCTOR)
    @blp.arguments(DossierDraftSchema)
    @blp.response(201, DossierSchema, headers=LOCATION)
    @blp.refusals(404, 409)
    def post(self, args: dict[str, Any]) -> Any:
        """Open a draft dossier (an applicant for itself, an instructor for any applicant)."""
        return create(application().open_dossier, {**args, "applicant_id": applicant_for(args.get("applicant_id"))})


@blp.route("/<uuid:dossier_id>")
class DossierItem(MethodView):
    @blp.current_state(DossierSchema)
    @blp.auth(*READERS, owner=owner)
    @blp.arguments(AsOfSchema, location="query")
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404)
    def get(self, query: dict[str, Any], dossier_id: UUID) -> Any:
        """The whole state now, as recorded at `as_of`, or as of the real date `effective_on` (404 if none yet)."""
        return as_it_stands(dossier_id, **query)

    @blp.auth(owner=owner)
    @blp.arguments(DossierEditSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def patch(self, changes: dict[str, Any], dossier_id: UUID) -> Any:
        """Change the draft (its owner, in draft or incomplete only)."""
        return command(application().edit_dossier, dossier_id, args={"changes": changes})


@blp.route("/<uuid:dossier_id>/documents")
class DossierDocuments(MethodView):
    @blp.auth(INSTRUCTOR, owner=owner)
    @blp.arguments(DocumentFormSchema, location="form_and_files")
    @blp.response(201, DocumentSchema, headers=CREATED)
    @blp.refusals(404, 409, 412, 413)
    def post(self, form: dict[str, Any], dossier_id: UUID) -> Any:
        """Attach a document (multipart: file ≤ 20 MB, kind, label ≤ 50 characters)."""
        return attach(dossier_id, form)


@blp.route("/<uuid:dossier_id>/documents/<uuid:document_id>")
class DossierDocument(MethodView):
    @blp.auth(*READERS, owner=owner)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream")
    @blp.refusals(404)
    def get(self, dossier_id: UUID, document_id: UUID) -> Any:
        """Download an attached document."""
        return download(dossier_id, document_id)


@blp.route("/<uuid:dossier_id>/submit")
class DossierSubmit(MethodView):
    @blp.auth(INSTRUCTOR, owner=owner)
    @blp.arguments(SubmitSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Submit with the sworn statement: before the closing date, with every required document."""
        return command(application().submit_dossier, dossier_id, args=args, dated="submitted_on")


@blp.route("/<uuid:dossier_id>/request-documents")
class DossierRequestDocuments(MethodView):
    @blp.auth(INSTRUCTOR)
    @blp.arguments(RequestDocumentsSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Ask for missing documents: the dossier becomes incomplete and editable again."""
        return command(application().request_documents, dossier_id, args=args, dated="requested_on")


@blp.route("/<uuid:dossier_id>/instruct")
class DossierInstruct(MethodView):
    @blp.auth(INSTRUCTOR)
    @blp.arguments(InstructSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Give the instruction's opinion and proposed amount; the programme's caps are checked."""
        return command(application().instruct_dossier, dossier_id, args=args, dated="instructed_on")


@blp.route("/<uuid:dossier_id>/decline")
class DossierDecline(MethodView):
    @blp.auth(INSTRUCTOR)
    @blp.arguments(DeclineSchema)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Decline the dossier with a reason."""
        return command(application().decline_dossier, dossier_id, args=args, dated="decided_on")


@blp.route("/<uuid:dossier_id>/withdraw")
class DossierWithdraw(MethodView):
    @blp.auth(owner=owner)
    @blp.arguments(WithdrawSchema, required=False)
    @blp.response(200, DossierSchema, headers=ETAG)
    @blp.refusals(404, 409, 412)
    def post(self, args: dict[str, Any], dossier_id: UUID) -> Any:
        """Withdraw the dossier (its owner, before instruction)."""
        return command(application().withdraw_dossier, dossier_id, args=args)


@blp.route("/<uuid:dossier_id>/history")
class DossierHistory(MethodView):
    @blp.auth(*READERS, owner=owner)
    @blp.response(200, HistorySchema)
    @blp.refusals(404)
    def get(self, dossier_id: UUID) -> Any:
        """Every event in order: type, actor, recorded and effective dates, data, chained hashes."""
        return {"items": application().history(dossier(dossier_id).id)}


@blp.route("/<uuid:dossier_id>/notifications")
class DossierNotifications(MethodView):
    @blp.auth(*READERS, owner=owner)
    @blp.response(200, NotificationListSchema)
    @blp.refusals(404)
    def get(self, dossier_id: UUID) -> Any:
        """The mails sent to the applicant about this dossier, oldest first (staff, auditors, the owner)."""
        return {"items": notifications_for(current_services().read, dossier(dossier_id).id)}
