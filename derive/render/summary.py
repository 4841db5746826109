"""The class summary as one self-contained HTML page (inline CSS, no scripts, no external assets).

Everything a student typed reaches the page through jinja2's autoescaping."""
from __future__ import annotations

import functools

import jinja2

from derive.batch.statistics import ClassSummary
from derive.render.templates import templates_dir

VERDICTS = ("correct", "incorrect", "invalid", "undecided")


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.globals["pct"] = lambda n, d: round(100 * n / d) if d else 0
    return env


def html(summary: ClassSummary) -> str:
    verdicts = VERDICTS + tuple(v for v in summary.verdicts if v not in VERDICTS)
    return _environment().get_template("summary.html.j2").render(s=summary, verdicts=verdicts)
