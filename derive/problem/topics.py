"""Topics: how the library files its problems (the `topic` key), and the rows `derive list` shows."""
from __future__ import annotations

from derive.errors import UnknownError


def topics(problems) -> list[str]:
    """The topics of these problems, in order of first appearance."""
    return list(dict.fromkeys(p.topic for p in problems if p.topic))


def with_topic(problems, topic: str | None) -> list:
    """The problems filed under `topic` (all of them for None); an unknown topic is an error that
    lists the known ones."""
    if topic is None:
        return list(problems)
    chosen = [p for p in problems if p.topic == topic]
    if not chosen:
        raise UnknownError(f"unknown topic {topic!r}; known: {', '.join(topics(problems)) or 'none'}")
    return chosen


def index_rows(problems) -> list[dict]:
    """One row per problem, as `derive list --json` prints it."""
    return [{"id": p.id, "alias": p.alias, "title": p.title, "source": p.source, "topic": p.topic,
             "quantities": [q.name for q in p.quantities]} for p in problems]
