"""One sheet per student of a roster: each student's own variant of every problem, a page
break between students, and their name, id and seed in the page header (templates/roster.tex.j2)."""
from __future__ import annotations

import dataclasses

from derive import variants
from derive.render.fonts import coded, header_plan
from derive.render.graph import Tex
from derive.render.header import Header, SheetOptions
from derive.render.sheet import problem_context, resolve
from derive.render.templates import render_template
from derive.verify.solve import solve


def roster_parts(names, roster_csv, questions: bool = True, salt=None, all_: bool = False, extra=None,
                 topic=None, options: SheetOptions | None = None) -> list:
    """One part per student of the roster: their own variant of each problem (problems without
    [variants] are the same for everyone)."""
    options = dataclasses.replace(options or SheetOptions(), questions=questions)
    students = variants.read_roster(roster_csv, salt or "")
    bases = [s.problem for s in resolve(names, all_, extra, topic)]
    solved: dict = {}
    parts = []
    for st in students:
        problems = []
        for number, base in enumerate(bases, 1):
            p = variants.variant_of(base, st.seed)
            key = (p.path, tuple(p.value_text.items()), tuple(p.choices.items()))
            if key not in solved:
                solved[key] = solve(p)
            problems.append(problem_context(dataclasses.replace(solved[key], problem=p), options=options,
                                            number=number))
        parts.append({"id": st.id, "name": st.name, "seed": st.seed, "code": variants.variant_code(st.seed),
                      "problems": problems})
    return parts


def render_parts(parts, questions: bool = True, header: Header | None = None) -> str:
    """The LaTeX of these parts: each starts on a new page numbered 1, the student in the header."""
    parts = [{**part, "problems": [dict(c) for c in part["problems"]]} for part in parts]   # boxing rewrites graphs
    boxes = _shared_graphs(parts)
    fonts, header, codes = header_plan(header or Header(), [t for part in parts for t in (part["name"], part["id"])])
    parts = [{**part, "name": coded(part["name"], codes), "id": coded(part["id"], codes)} for part in parts]
    return render_template("roster.tex.j2", parts=parts, boxes=boxes, questions=questions, fonts=fonts,
                           header=header, kind="Questions" if questions else "Solutions")


def render_roster(names, roster_csv, questions: bool = True, header: Header | None = None, salt=None,
                  all_: bool = False, extra=None, topic=None, options: SheetOptions | None = None) -> str:
    """The whole roster's sheet as one LaTeX document."""
    return render_parts(roster_parts(names, roster_csv, questions, salt, all_, extra, topic, options), questions,
                        header)


def _shared_graphs(parts) -> list:
    """A graph drawn the same for several students (a question sheet's has no numbers) is typeset
    once into a box and reused: TikZ is nine tenths of a roster's compile time."""
    uses: dict = {}
    for part in parts:
        for ctx in part["problems"]:
            if ctx["graph"]:
                uses[str(ctx["graph"])] = uses.get(str(ctx["graph"]), 0) + 1
    names = {}
    for g, n in uses.items():
        if n > 1:
            k, name = len(names), ""
            while True:                          # \dgraphA, \dgraphB, ..., \dgraphBA: letters only
                name, k = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[k % 26] + name, k // 26
                if not k:
                    break
            names[g] = rf"\dgraph{name}"
    for part in parts:
        for ctx in part["problems"]:
            if ctx["graph"] and str(ctx["graph"]) in names:
                ctx["graph"] = Tex(rf"\usebox{{{names[str(ctx['graph'])]}}}")
    return [{"name": Tex(n), "tex": Tex(g)} for g, n in names.items()]
