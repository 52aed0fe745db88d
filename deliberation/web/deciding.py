"""How the deciding pages show things: tallies as bar charts per actor type, diffs between versions, audit
entries in words. Pure functions of what the services return; the templates draw them."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from deliberation.audit.schemas import AuditEntryOut
from deliberation.conclusions.schemas import TallyOut
from deliberation.i18n import N_
from deliberation.threads.schemas import PostOut
from deliberation.web.page import Page

CHOICES = ("support", "oppose", "abstain")
BAR_ROW = 26  # px per bar in the chart's own units (the SVG scales with its box)
GROUP_GAP = 18


def choice_label(page: Page, choice: str) -> str:
    return {
        "support": page.gettext("Support"),
        "oppose": page.gettext("Oppose"),
        "abstain": page.gettext("Abstain"),
    }[choice]


def status_label(page: Page, status: str) -> str:
    return {
        "draft": page.gettext("Draft"),
        "voting": page.gettext("Voting is open"),
        "adopted": page.gettext("Adopted"),
        "rejected": page.gettext("Not adopted"),
        "published": page.gettext("Published"),
    }[status]


@dataclass
class Bar:
    choice: str
    label: str
    count: int
    y: int
    width: float  # of 100 units: the share of the largest count


@dataclass
class Group:
    actor_type: str
    label: str
    y: int
    bars: list[Bar]
    majority: bool  # support > oppose within this actor type


@dataclass
class Chart:
    groups: list[Group]
    height: int
    consensus: str  # the cross-actor consensus in words


def tally_chart(page: Page, tally: TallyOut, actor_labels: dict[str, str]) -> Chart | None:
    """The bars of a visible tally (None while its counts are hidden), one group per actor type that voted."""
    if tally.hidden:
        return None
    largest = max([getattr(counts, choice) for counts in tally.by_actor_type.values() for choice in CHOICES] + [1])
    groups, y = [], 0
    for actor_type, counts in tally.by_actor_type.items():
        y += 22  # the group's heading line
        bars = []
        for choice in CHOICES:
            count = getattr(counts, choice)
            bars.append(Bar(choice, choice_label(page, choice), count, y, 100 * count / largest))
            y += BAR_ROW
        groups.append(
            Group(
                actor_type,
                actor_labels.get(actor_type, actor_type),
                y - 3 * BAR_ROW - 22,
                bars,
                counts.support > counts.oppose,
            )
        )
        y += GROUP_GAP
    if not tally.voters:
        consensus = page.gettext("Nobody has voted on this version yet.")
    elif tally.cross_actor_consensus:
        consensus = page.gettext(
            "Consensus across actor types: in every actor type that voted, support outweighs opposition."
        )
    else:
        consensus = page.gettext(
            "No consensus across actor types: in at least one actor type that voted, support does not outweigh "
            "opposition."
        )
    return Chart(groups=groups, height=max(y, 1), consensus=consensus)


def flatten(items: list[PostOut]) -> list[PostOut]:
    """A reply tree as a list, each post before its replies."""
    out = []
    for item in items:
        out.append(item)
        out.extend(flatten(item.replies or []))  # type: ignore[arg-type]
    return out


TOKEN = re.compile(r"\s+|[^\s]+")


def diff_html(old: str, new: str) -> Markup:
    """`new` against `old`, word by word: removed words in <del>, added ones in <ins> (escaped text)."""
    a, b = TOKEN.findall(old), TOKEN.findall(new)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(Markup("<del>%s</del>") % "".join(a[i1:i2]))
        if j2 > j1:
            out.append(Markup("<ins>%s</ins>") % "".join(b[j1:j2]))
    return Markup("").join(out)


# What each audit action means, in words ("%(actor)s" is who did it).
ACTIONS = {
    "conclusion.created": N_("%(actor)s drafted a conclusion."),
    "conclusion.edited": N_("%(actor)s wrote a new version of a conclusion."),
    "conclusion.vote_opened": N_("%(actor)s opened the vote on a conclusion."),
    "conclusion.vote_closed": N_("%(actor)s closed the vote on a conclusion."),
    "endorsement.given": N_("%(actor)s endorsed the proposal."),
    "endorsement.withdrawn": N_("%(actor)s withdrew an endorsement of the proposal."),
    "flag.dismissed": N_("%(actor)s dismissed a flag on a post."),
    "member.removed": N_("%(actor)s removed a member from the session."),
    "member.role_changed": N_("%(actor)s changed a member's role."),
    "post.deleted": N_("%(actor)s deleted a post."),
    "post.hidden": N_("%(actor)s hid a post."),
    "post.unhidden": N_("%(actor)s showed a hidden post again."),
    "proposal.created": N_("%(actor)s drafted a proposal."),
    "proposal.edited": N_("%(actor)s wrote a new version of a proposal."),
    "proposal.published": N_("%(actor)s published the proposal; it can no longer change."),
    "representative.verified": N_("%(actor)s verified an elected representative."),
    "representative.unverified": N_("%(actor)s withdrew the verification of an elected representative."),
    "session.discussion_opened": N_("%(actor)s opened the discussion."),
    "session.discussion_closed": N_("%(actor)s closed the discussion."),
    "thread.locked": N_("%(actor)s locked a thread."),
    "thread.unlocked": N_("%(actor)s unlocked a thread."),
    "thread.pinned": N_("%(actor)s pinned a thread."),
    "thread.unpinned": N_("%(actor)s unpinned a thread."),
}


def entry_words(page: Page, entry: AuditEntryOut) -> str:
    """What the entry records, in a sentence of the page's language."""
    if entry.actor is not None:
        actor = entry.actor.display_name or page.gettext("A former member")
    elif entry.action == "conclusion.vote_closed":
        actor = page.gettext("The schedule")
    else:
        actor = page.gettext("The service")
    message = ACTIONS.get(entry.action)
    words = page.gettext(message, actor=actor) if message else f"{actor}: {entry.action}"
    result: Any = entry.data.get("result")
    if entry.action == "conclusion.vote_closed" and result in ("adopted", "rejected"):
        words += " " + page.gettext("Result: %(result)s.", result=status_label(page, result))
    return words
