"""The exported record as a Markdown document for people (`GET /api/proposals/{id}/export?format=markdown`).

Every piece of user text has its HTML made inert (`<`, `>`, `&` as entities, `escape_html`), so a renderer that
allows HTML shows a participant's `<img onerror=...>` as text. Proposal and conclusion bodies are Markdown written
by moderators and keep their Markdown; everything else users wrote in one line (names, titles, reasons) has
Markdown's special characters escaped too, and posts and statements are quoted line by line.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from deliberation.accounts.models import ActorType
from deliberation.audit.schemas import AuditEntryOut
from deliberation.conclusions.schemas import TallyOut
from deliberation.proposals.schemas import EndorsementOut, ExportConclusion, ProposalExport
from deliberation.threads.schemas import PostOut

_SPECIAL = re.compile(r"([\\`*_\[\]|#])")
STANCES = {"endorse": "Endorses", "endorse_with_reservations": "Endorses with reservations"}
RULES = {"support_over_oppose": "more support than opposition"}
# Tallies list actor types from the local level up, then the other actors.
ACTOR_ORDER = {actor_type.value: n for n, actor_type in enumerate(ActorType)}


def escape_html(text: str) -> str:
    """User text with no HTML left in it: `<`, `>` and `&` become entities (rendered as the characters)."""
    return html.escape(text, quote=False)


def inline(text: str | None) -> str:
    """One line of user text, with HTML and Markdown's special characters escaped."""
    return _SPECIAL.sub(r"\\\1", escape_html(" ".join((text or "").split())))


def block(text: str) -> str:
    """A moderator's Markdown (a body, a summary): kept as Markdown, its HTML escaped."""
    return escape_html(text.strip())


def quote(text: str) -> str:
    """User text quoted line by line, its HTML escaped."""
    return "\n".join(f"> {line}".rstrip() for line in escape_html(text.strip()).splitlines()) or ">"


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "-"


def label(actor_type: str) -> str:
    return actor_type.replace("_", " ").capitalize()


def _tally(tally: TallyOut) -> list[str]:
    lines = ["| Actor type | Support | Oppose | Abstain |", "|---|---:|---:|---:|"]
    actor_types = sorted(tally.by_actor_type, key=lambda name: ACTOR_ORDER.get(name, len(ACTOR_ORDER)))
    for actor_type in actor_types:
        counts = tally.by_actor_type[actor_type]
        lines.append(f"| {label(actor_type)} | {counts.support} | {counts.oppose} | {counts.abstain} |")
    lines.append(
        f"| **All ({tally.voters} voters)** | **{tally.support}** | **{tally.oppose}** | **{tally.abstain}** |"
    )
    lacking = [label(t) for t in actor_types if not _majority(tally, t)]
    if tally.cross_actor_consensus:
        note = "Cross-actor consensus: **yes**, support outnumbered opposition in every actor type that voted."
    else:
        note = "Cross-actor consensus: **no**, support did not outnumber opposition among: " + ", ".join(lacking) + "."
    if tally.stale:
        note += f" {tally.stale} vote(s) cast on earlier versions did not count."
    return [*lines, "", note]


def _majority(tally: TallyOut, actor_type: str) -> bool:
    counts = tally.by_actor_type[actor_type]
    return counts.support > counts.oppose


def _source(post: PostOut, threads: dict) -> list[str]:
    where = threads.get(post.thread_id)
    byline = f"**{inline(post.author.display_name)}** ({label(post.author.actor_type)}), {when(post.created_at)}"
    if where:
        byline += f", in “{inline(where)}”"
    if post.deleted:
        text = "*This post was deleted; only its place in the debate remains.*"
    elif post.hidden is not None:
        text = f"*This post was hidden by a moderator. Public reason: {inline(post.hidden.reason)}*"
    else:
        text = post.body
    return [quote(text), ">", f"> — {byline}", ""]


def _conclusion(number: int, conclusion: ExportConclusion, threads: dict) -> list[str]:
    voting = conclusion.voting
    decided = f"**{conclusion.status.capitalize()}**"
    if voting is not None:
        decided += f" on {when(voting.closed_at)}, by the rule “{RULES.get(voting.rule, inline(voting.rule))}”"
        decided += f", quorum {voting.quorum}" if voting.quorum else ", no quorum"
        if voting.results_visibility == "after_close":
            decided += ", results hidden until the close"
    decided += f". Voted on version {conclusion.version} of {len(conclusion.versions)}."
    lines = [f"### {number}. {inline(conclusion.title)}", "", block(conclusion.body), "", decided, ""]
    lines += [*_tally(conclusion.final_tally), ""]
    earlier = [version for version in conclusion.versions if version.version != conclusion.version]
    if earlier:
        lines += ["#### Other versions", ""]
        for version in earlier:
            lines += [f"- Version {version.version} ({when(version.created_at)}): {inline(version.title)}", ""]
            lines += ["  " + line if line else "" for line in quote(version.body).splitlines()] + [""]
    if conclusion.sources:
        lines += ["#### What the debate said", ""]
        for post in conclusion.sources:
            lines += _source(post, threads)
    return lines


def _endorsement(endorsement: EndorsementOut) -> list[str]:
    who = endorsement.representative
    heading = f"### {inline(who.display_name)}: {inline(who.office)}, {inline(who.territory)}"
    status = f"**{STANCES[endorsement.stance]}**, {when(endorsement.created_at)}."
    if endorsement.withdrawn_at is not None:
        status += f" *Withdrawn on {when(endorsement.withdrawn_at)}.*"
    if not endorsement.representative_verified:
        status += " *No longer a verified representative.*"
    lines = [heading, "", status, ""]
    if endorsement.statement:
        lines += [quote(endorsement.statement), ""]
    return lines


def _details(entry: AuditEntryOut) -> str:
    """The public reason, then what the entry's data says in a few words."""
    data = entry.data
    parts = [inline(entry.reason)] if entry.reason else []
    if "result" in data:
        tally = data.get("tally") or {}
        parts.append(f"{data['result']} ({tally.get('support')}-{tally.get('oppose')}-{tally.get('abstain')})")
    if "stance" in data:
        parts.append(STANCES.get(data["stance"], inline(str(data["stance"]))).lower())
    if "version" in data:
        parts.append(f"version {data['version']}")
    if "content_sha256" in data:
        parts.append(f"SHA-256 `{str(data['content_sha256'])[:12]}…`")
    return "; ".join(parts)


def _audit_row(entry: AuditEntryOut) -> str:
    actor = inline(entry.actor.display_name) if entry.actor is not None else "(schedule)"
    target = f"{entry.target_type} `{entry.target_id[:8]}`" if entry.target_id else entry.target_type
    return f"| {entry.seq} | {when(entry.at)} | {actor} | {entry.action} | {target} | {_details(entry)} |"


def render(export: ProposalExport) -> str:
    """The exported record as one Markdown document."""
    proposal, session = export.proposal, export.session
    threads = {thread.id: thread.title for thread in export.threads}
    if proposal.status == "published":
        state = f"Published on {when(proposal.published_at)}, version {proposal.version}."
    else:
        state = f"**Draft** (version {proposal.version}, not published: it may still change)."
    lines = [
        f"# {inline(proposal.title)}",
        "",
        f"Final proposal of session {inline(session.code)}, *{inline(session.title)}*.  ",
        state + "  ",
    ]
    if proposal.content_sha256:
        lines.append(f"Content SHA-256: `{proposal.content_sha256}`")
    lines += ["", "## Summary", "", block(proposal.summary), "", "## Proposal", "", block(proposal.body), ""]
    lines += ["## Adopted conclusions", ""]
    for number, conclusion in enumerate(export.conclusions, 1):
        lines += _conclusion(number, conclusion, threads)
    active = sum(1 for endorsement in export.endorsements if endorsement.withdrawn_at is None)
    lines += ["## Endorsements by elected representatives", ""]
    if export.endorsements:
        lines += [f"{active} active endorsement{'' if active == 1 else 's'}, oldest first.", ""]
        for endorsement in export.endorsements:
            lines += _endorsement(endorsement)
    else:
        lines += ["No endorsements yet.", ""]
    lines += [
        "## Transparency log of the session",
        "",
        "| Seq | Time | By | Action | Target | Reason and details |",
        "|---:|---|---|---|---|---|",
        *(_audit_row(entry) for entry in export.audit.entries),
        "",
        f"Head of the audit chain when exported: entry {export.audit.head_seq}, hash `{export.audit.head_hash}`. "
        "Anyone can recompute the chain with `GET /api/audit/verify`. The service signed this checkpoint of it "
        "(verify it with `GET /api/audit/public-key`; keep it to check later that the log was neither cut short "
        "nor rewritten):",
        "",
        "```",
        export.audit.checkpoint.rstrip("\n"),
        "```",
        "",
        "---",
        "",
        f"Exported {when(export.exported_at)} ({export.format}). The JSON export (`?format=json`) holds everything "
        f"needed to recompute the content hash ({export.canonical_form}).",
        "",
    ]
    return "\n".join(lines)
