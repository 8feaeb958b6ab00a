"""Who may take a task, and which of the qualified agents is the better choice.

A :class:`Requirement` is everything a workflow step plus the task itself ask of an agent, merged into one
hashable value. Tasks with equal requirements are interchangeable for matching, so the engine pools them, and a
Redis backend can name a sorted set after :meth:`Requirement.signature`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Requirement", "Strategy", "merge_skills", "preference_score", "qualifies"]


class Strategy(StrEnum):
    """How to choose among agents who qualify for a task.

    ``best_skill``: the highest level on the requirement's primary skill, then (among the first few at that level)
    the best preferred-skill score, then the longest idle. ``longest_idle``: the longest idle, whatever the levels.
    """

    BEST_SKILL = "best_skill"
    LONGEST_IDLE = "longest_idle"


def merge_skills(*levels: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
    """Merge minimum skill levels (the highest minimum wins) into the canonical ordered tuple.

    The order is by descending minimum, then name, so the first entry is the most demanding skill: the one
    ``best_skill`` ranks agents by and the engine indexes on.
    """
    merged: dict[str, int] = {}
    for mapping in levels:
        for skill, level in mapping.items():
            if level > merged.get(skill, 0):
                merged[skill] = level
    return tuple(sorted(merged.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True, slots=True)
class Requirement:
    """What an agent needs to be offered a task at one workflow step.

    ``skills`` are (skill, minimum level) pairs, most demanding first; ``languages`` must all be spoken;
    ``agents``, when not ``None``, lists the only agents who qualify (sticky routing).
    """

    channel: str
    skills: tuple[tuple[str, int], ...] = ()
    team: str | None = None
    languages: frozenset[str] = frozenset()
    agents: frozenset[str] | None = None

    def signature(self) -> str:
        """Return a stable text form of the requirement, usable as a storage key."""
        return json.dumps(
            [
                self.channel,
                self.skills,
                self.team,
                sorted(self.languages),
                None if self.agents is None else sorted(self.agents),
            ],
            separators=(",", ":"),
        )


def qualifies(
    requirement: Requirement,
    agent_id: str,
    skills: Mapping[str, int],
    languages: Collection[str],
    team: str | None,
) -> bool:
    """Tell whether an agent with this profile meets ``requirement`` (capacity and activity aside)."""
    if requirement.agents is not None and agent_id not in requirement.agents:
        return False
    if requirement.team is not None and requirement.team != team:
        return False
    for skill, minimum in requirement.skills:
        if skills.get(skill, 0) < minimum:
            return False
    return all(language in languages for language in requirement.languages)


def preference_score(skills: Mapping[str, int], preferred: Mapping[str, int]) -> int:
    """Score how well an agent covers a task's preferred skills: the sum of their levels, capped at each ask."""
    return sum(min(skills.get(skill, 0), wanted) for skill, wanted in preferred.items())
