"""What changed between two offer revisions, field by field and milestone by milestone."""

from dataclasses import dataclass, field

from marketplace.money import format_money

TERM_FIELDS = [
    ("title", "Title"),
    ("scope", "Scope of work"),
    ("acceptance_criteria", "What success looks like"),
    ("revision_rounds", "Revision rounds"),
]
MILESTONE_FIELDS = [
    ("title", "Title"),
    ("deliverable", "Deliverable"),
    ("due_date", "Delivery date"),
    ("amount", "Amount"),
]


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class MilestoneDiff:
    status: str  # "added", "removed", "changed", "unchanged"
    title: str
    position: int
    changes: list[FieldChange] = field(default_factory=list)
    moved_from: int | None = None


@dataclass
class RevisionDiff:
    terms: list[FieldChange]
    milestones: list[MilestoneDiff]

    @property
    def has_changes(self) -> bool:
        return bool(self.terms) or any(m.status != "unchanged" or m.moved_from for m in self.milestones)


def _show(name: str, value) -> str:
    if name == "amount":
        return format_money(value)
    if name == "due_date":
        return value.strftime("%b %-d, %Y")
    return str(value)


def _changes(old, new, fields) -> list[FieldChange]:
    return [
        FieldChange(label, _show(name, getattr(old, name)), _show(name, getattr(new, name)))
        for name, label in fields
        if getattr(old, name) != getattr(new, name)
    ]


def revision_diff(old, new) -> RevisionDiff:
    """Compare two revisions (with their milestones prefetched); milestones are matched by key."""
    old_milestones = {m.key: m for m in old.milestones.all()}
    result = []
    for milestone in new.milestones.all():
        before = old_milestones.pop(milestone.key, None)
        if before is None:
            result.append(MilestoneDiff("added", milestone.title, milestone.position))
            continue
        changes = _changes(before, milestone, MILESTONE_FIELDS)
        result.append(
            MilestoneDiff(
                "changed" if changes else "unchanged",
                milestone.title,
                milestone.position,
                changes,
                moved_from=before.position if before.position != milestone.position else None,
            )
        )
    result.extend(MilestoneDiff("removed", m.title, m.position) for m in old_milestones.values())
    return RevisionDiff(terms=_changes(old, new, TERM_FIELDS), milestones=result)
