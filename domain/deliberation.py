"""Deliberations of the Commission Permanente: attendance, the vote, and the contrôle de légalité."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid5

from domain.errors import Check, InvalidFields, RuleViolation
from domain.legality import Authority, check_act_id, executory_on, referral_deadline
from domain.programme import NAMESPACE
from domain.record import Record
from domain.values import Ctx

LETTER_KINDS = ("observations", "request_documents", "referral")
PUBLICATION_MODES = ("display", "electronic")


def validate_attendance(members_in_office: int, attendance: dict[str, Any]) -> dict[str, Any]:
    """Checks the attendance lists (rule 7): no one twice, proxies from an absent member to a present one,
    one proxy given and one held per member at most."""
    errors: dict[str, list[str]] = {}
    present = list(attendance.get("present") or [])
    excused = list(attendance.get("excused") or [])
    absent = list(attendance.get("absent") or [])
    proxies = [dict(p) for p in attendance.get("proxies") or []]
    everyone = present + excused + absent
    duplicates = sorted({n for n in everyone if everyone.count(n) > 1})
    if duplicates:
        errors["attendance"] = [f"Membre cité deux fois : {', '.join(duplicates)}."]
    if members_in_office <= 0:
        errors["members_in_office"] = ["Nombre de membres en exercice attendu (> 0)."]
    elif len(everyone) > members_in_office:
        errors["attendance"] = [f"{len(everyone)} membres listés pour {members_in_office} en exercice."]
    givers = [p.get("from") for p in proxies]
    holders = [p.get("to") for p in proxies]
    for index, proxy in enumerate(proxies):
        if proxy.get("from") not in excused + absent:
            errors[f"attendance.proxies.{index}.from"] = [
                f"« {proxy.get('from')} » doit être excusé ou absent pour donner pouvoir."]
        if proxy.get("to") not in present:
            errors[f"attendance.proxies.{index}.to"] = [
                f"« {proxy.get('to')} » doit être présent pour recevoir un pouvoir."]
        if givers.count(proxy.get("from")) > 1:
            errors[f"attendance.proxies.{index}.from"] = ["Un membre ne peut donner qu'un seul pouvoir."]
        if holders.count(proxy.get("to")) > 1:
            errors[f"attendance.proxies.{index}.to"] = [
                "Un membre ne peut détenir qu'un seul pouvoir (CGCT L.3121-14)."]
    if errors:
        raise InvalidFields(errors)
    return {"present": present, "excused": excused, "absent": absent, "proxies": proxies}


class Deliberation(Record):
    """One deliberation (N° 2025-344): its items, attendance, vote, signature and legality dates."""

    if TYPE_CHECKING:  # state set by apply(); runtime annotations would become dataclass fields
        number: str
        title: str
        session_on: date
        members_in_office: int
        attendance: dict[str, Any]
        items: list[dict[str, Any]]
        status: str
        vote: dict[str, Any] | None
        result: str | None
        signed: dict[str, Any] | None
        act_id: str | None
        transmitted_on: date | None
        acknowledged_on: date | None
        published_on: date | None
        publication_mode: str | None
        letters: list[dict[str, Any]]
        extended_deadline: date | None
        referred: bool

    @staticmethod
    def id_for(number: str) -> UUID:
        return uuid5(NAMESPACE, f"deliberation:{number}")

    class Drafted(Record.Created):
        number: str
        title: str
        session_on: date
        members_in_office: int
        attendance: dict[str, Any]
        items: list[dict[str, Any]]

        def apply(self, d: Deliberation) -> None:
            d.number, d.title, d.session_on = self.number, self.title, self.session_on
            d.members_in_office, d.attendance = self.members_in_office, self.attendance
            d.items = [dict(i) for i in self.items]
            d.status, d.vote, d.result, d.signed = "draft", None, None, None
            d.act_id = d.transmitted_on = d.acknowledged_on = d.published_on = d.publication_mode = None
            d.letters, d.extended_deadline, d.referred = [], None, False

    class VoteRecorded(Record.Event):
        votes_for: int
        votes_against: int
        abstention: int
        not_participating: list[str]
        interested: list[str]
        president_casting_vote: str | None
        result: str

        def apply(self, d: Deliberation) -> None:
            d.status = d.result = self.result
            d.vote = {"voted_on": self.effective_on, "for": self.votes_for, "against": self.votes_against,
                      "abstention": self.abstention, "not_participating": list(self.not_participating),
                      "interested": list(self.interested), "president_casting_vote": self.president_casting_vote}

    class Signed(Record.Event):
        signatory: str

        def apply(self, d: Deliberation) -> None:
            d.signed = {"signed_on": self.effective_on, "signatory": self.signatory}

    class Transmitted(Record.Event):
        act_id: str
        transmitted_on: date

        def apply(self, d: Deliberation) -> None:
            d.act_id, d.transmitted_on, d.acknowledged_on = self.act_id, self.transmitted_on, self.effective_on

    class Published(Record.Event):
        mode: str

        def apply(self, d: Deliberation) -> None:
            d.published_on, d.publication_mode = self.effective_on, self.mode

    class PrefectLetterReceived(Record.Event):
        kind: str
        summary: str

        def apply(self, d: Deliberation) -> None:
            d.letters.append({"kind": self.kind, "received_on": self.effective_on, "summary": self.summary})
            if self.kind == "referral":
                d.referred = True
            else:
                extended = referral_deadline(self.effective_on)
                d.extended_deadline = max(d.extended_deadline or extended, extended)

    # --- commands -------------------------------------------------------------------------

    @classmethod
    def draft(cls, ctx: Ctx, *, number: str, title: str, session_on: date, members_in_office: int,
              attendance: dict[str, Any], items: list[dict[str, Any]]) -> Deliberation:
        clean = validate_attendance(members_in_office, attendance)
        if not items:
            raise InvalidFields({"items": ["Au moins un dossier est attendu."]})
        seen = [str(i["dossier_id"]) for i in items]
        if len(set(seen)) != len(seen):
            raise InvalidFields({"items": ["Un dossier figure deux fois dans la délibération."]})
        return cls._start(cls.Drafted, ctx, cls.id_for(number), number=number, title=title, session_on=session_on,
                          members_in_office=members_in_office, attendance=clean,
                          items=[{"dossier_id": i["dossier_id"], "amount": i["amount"],
                                  "budget_line_id": i["budget_line_id"]} for i in items])

    def vote_on(self, ctx: Ctx, *, votes_for: int, votes_against: int, abstention: int,
                not_participating: list[str], interested: list[str],
                president_casting_vote: str | None) -> str:
        """Records the vote if quorum, counts and interests hold (rules 7–9); returns the result."""
        if self.status != "draft":
            raise RuleViolation("already_voted", f"La délibération {self.number} a déjà été votée ({self.status}).")
        if ctx.effective_on < self.session_on:
            raise RuleViolation("invalid_date", f"Le vote ne peut précéder la séance du {self.session_on:%d/%m/%Y}.")
        present = self.attendance["present"]
        proxies = self.attendance["proxies"]
        givers = {p["from"] for p in proxies}
        voters = len(present) + len(proxies)
        if voters * 2 <= self.members_in_office:
            raise RuleViolation("quorum_not_reached",
                                f"Quorum non atteint : {len(present)} présents et {len(proxies)} pouvoirs pour "
                                f"{self.members_in_office} membres en exercice (majorité requise : "
                                f"{self.members_in_office // 2 + 1}).")
        unknown = sorted(set(not_participating) - set(present) - givers)
        if unknown:
            raise RuleViolation("vote_count_mismatch",
                                f"Ne prenant pas part au vote mais ni présents ni représentés : {', '.join(unknown)}.")
        for name in interested:
            if name in present and name not in not_participating:
                raise RuleViolation("interested_member_voted",
                                    f"{name}, intéressé(e) à l'affaire, doit être listé(e) comme ne prenant pas part "
                                    "au vote.")
            if name in givers:
                raise RuleViolation("interested_member_voted",
                                    f"{name}, intéressé(e) à l'affaire, ne peut avoir donné pouvoir.")
        if min(votes_for, votes_against, abstention) < 0:
            raise RuleViolation("vote_count_mismatch", "Un décompte de voix ne peut être négatif.")
        if votes_for + votes_against + abstention != voters:
            raise RuleViolation("vote_count_mismatch",
                                f"Pour {votes_for} + contre {votes_against} + abstention {abstention} = "
                                f"{votes_for + votes_against + abstention}, mais {len(present)} présents + "
                                f"{len(proxies)} pouvoirs = {voters}.")
        if abstention < len(not_participating):
            raise RuleViolation("vote_count_mismatch",
                                f"{len(not_participating)} membres n'ont pas pris part au vote : ils comptent parmi "
                                f"les abstentions ({abstention}).")
        if votes_for > votes_against:
            result = "adopted"
        elif votes_for < votes_against:
            result = "rejected"
        elif president_casting_vote in ("for", "against"):
            result = "adopted" if president_casting_vote == "for" else "rejected"
        else:
            raise RuleViolation("casting_vote_required",
                                "Partage des voix : la voix du président est prépondérante et doit être indiquée.")
        self._record(self.VoteRecorded, ctx, votes_for=votes_for, votes_against=votes_against, abstention=abstention,
                     not_participating=sorted(not_participating), interested=sorted(interested),
                     president_casting_vote=president_casting_vote, result=result)
        return result

    def sign(self, ctx: Ctx, signatory: str) -> None:
        self._require(("adopted", "rejected"), "signer la délibération")
        if self.signed:
            raise RuleViolation("already_signed", "La délibération est déjà signée.")
        self._not_before(ctx.effective_on, self.session_on, "la séance")
        self._record(self.Signed, ctx, signatory=signatory)

    def transmit(self, ctx: Ctx, *, act_id: str, transmitted_on: date, authority: Authority) -> None:
        """Records the prefecture's acknowledgment (effective date = acknowledged_on)."""
        self._require(("adopted", "rejected"), "transmettre la délibération")
        if self.act_id:
            raise RuleViolation("already_transmitted", f"Déjà transmise (acte {self.act_id}).")
        self._not_before(transmitted_on, self.session_on, "la séance")
        self._not_before(ctx.effective_on, transmitted_on, "la télétransmission")
        check_act_id(act_id, authority=authority, decided_on=self.session_on, nature="DE")
        self._record(self.Transmitted, ctx, act_id=act_id.strip(), transmitted_on=transmitted_on)

    def publish(self, ctx: Ctx, mode: str) -> None:
        self._require(("adopted", "rejected"), "publier la délibération")
        if self.published_on:
            raise RuleViolation("already_published", f"Déjà publiée le {self.published_on:%d/%m/%Y}.")
        self._not_before(ctx.effective_on, self.session_on, "la séance")
        self._record(self.Published, ctx, mode=mode)

    def receive_letter(self, ctx: Ctx, kind: str, summary: str) -> None:
        if not self.acknowledged_on:
            raise RuleViolation("not_transmitted", "Aucun courrier du préfet avant la transmission de l'acte.")
        self._not_before(ctx.effective_on, self.acknowledged_on, "l'accusé de réception")
        self._record(self.PrefectLetterReceived, ctx, kind=kind, summary=summary)

    def _not_before(self, day: date, earlier: date, what: str) -> None:
        if day < earlier:
            raise RuleViolation("invalid_date", f"La date du {day:%d/%m/%Y} précède {what} ({earlier:%d/%m/%Y}).")

    # --- legality -------------------------------------------------------------------------

    @property
    def executory_on(self) -> date | None:
        return executory_on(self.acknowledged_on, self.published_on)

    @property
    def referral_deadline(self) -> date | None:
        if self.acknowledged_on is None:
            return None
        first = referral_deadline(self.acknowledged_on)
        return max(first, self.extended_deadline) if self.extended_deadline else first

    def legality_checks(self, on: date) -> list[Check]:
        """What makes the act a valid basis for payment on a date."""
        executory = self.executory_on
        return [
            Check("deliberation_adopted", self.status == "adopted", f"délibération {self.number} : {self.status}"),
            Check("deliberation_executory", executory is not None and executory <= on,
                  f"exécutoire le {executory:%d/%m/%Y}" if executory else "non exécutoire (transmission ou "
                  "publication manquante)"),
            Check("no_referral", not self.referred, "déférée au tribunal administratif" if self.referred
                  else "aucun déféré"),
        ]

    def legality(self) -> dict[str, Any]:
        return {"act_id": self.act_id, "transmitted_on": self.transmitted_on, "acknowledged_on": self.acknowledged_on,
                "published_on": self.published_on, "publication_mode": self.publication_mode,
                "executory_on": self.executory_on, "referral_deadline": self.referral_deadline,
                "letters": [dict(x) for x in self.letters], "referred": self.referred}

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "number": self.number, "title": self.title, "session_on": self.session_on,
                "members_in_office": self.members_in_office, "attendance": self.attendance,
                "status": self.status, "vote": self.vote, "result": self.result,
                "signed_on": self.signed["signed_on"] if self.signed else None,
                "signatory": self.signed["signatory"] if self.signed else None,
                "legality": self.legality(),
                "items": [{"dossier_id": str(i["dossier_id"]), "amount": i["amount"],
                           "budget_line_id": str(i["budget_line_id"])} for i in self.items],
                "version": self.version}


def item_total(items: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(i["amount"]) for i in items), Decimal("0.00"))
