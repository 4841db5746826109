"""Class statistics from graded rows: per-student totals, and the summary a TA reads.

Both are built row by row as the report is written, so they hold counters, not rows: totals one
line per student, the summary per question its verdicts, its diagnoses and its wrong answers
grouped by meaning (grade.meaning_key), each group capped in the spellings and students it keeps.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from derive.notation.plain import plain
from derive.runtime.spreadsheet import SafeWriter

TOP_CLUSTERS = 5          # wrong-answer groups shown per question
MAX_SPELLINGS = 200       # distinct spellings remembered per group
MAX_STUDENTS = 500        # students remembered per group (the count stays exact)
MAX_SHOWN = 200           # characters of an answer kept for display


class Totals:
    """One row per student: the sum of scores, of max scores, and the count of each verdict, over the
    questions answered; of two answers to one question the last counts (a question answered four
    times scored four times its points)."""

    def __init__(self):
        self.students: dict[str, dict] = {}   # student -> (problem, quantity) -> the last (score, max, verdict)

    def add(self, student: str, g) -> None:
        self.students.setdefault(student, {})[g.problem, g.quantity] = (g.score, g.max_score, g.verdict)

    def write_csv(self, f, verdicts) -> None:
        w = SafeWriter(f)              # a student named =HYPERLINK(...) stays text
        w.writerow(["student", "score", "max_score", "answers", *verdicts])
        for name, answers in self.students.items():
            scores, tops, said = zip(*answers.values())
            counts = Counter(said)
            w.writerow([name, f"{sum(scores):g}", f"{sum(tops):g}", len(answers), *(counts[v] for v in verdicts)])


@dataclass(frozen=True)
class Cluster:
    """Wrong answers that mean the same thing."""
    quantity: str
    count: int                    # answers in the group
    spellings: int                # distinct ways they were typed (whitespace ignored)
    example: str                  # the most common spelling
    interpreted: str
    diagnosis: tuple
    feedback: str
    students: tuple               # the first MAX_STUDENTS, in order of appearance
    more_students: int = 0
    verdict: str = "incorrect"    # incorrect: grouped by meaning; invalid: by what was typed

    @property
    def sentence(self) -> str:
        who = f"{self.count} students gave" if self.count != 1 else "1 student gave"
        ways = f"{self.spellings} different spellings, e.g." if self.spellings > 1 else "typed"
        why = ", ".join(self.diagnosis) if self.diagnosis else "no diagnosis"
        return f"{who} the same wrong {self.quantity} ({ways} `{self.example}`): {why}"


@dataclass(frozen=True)
class Question:
    problem: str
    quantity: str
    answers: int
    verdicts: dict
    diagnoses: tuple              # (code, count), most common first
    clusters: tuple               # Cluster, most common first
    unread: tuple = ()            # Cluster of invalid answers (x', @), most common first

    @property
    def correct(self) -> int:
        return self.verdicts.get("correct", 0)


@dataclass(frozen=True)
class ClassSummary:
    source: str
    rows: int
    students: int
    verdicts: dict
    diagnoses: tuple              # (code, count) over the whole class, most common first
    questions: tuple


class _Group:
    __slots__ = ("count", "spellings", "other_spellings", "interpreted", "diagnosis", "feedback",
                 "students", "seen", "more", "verdict")

    def __init__(self, g):
        self.count, self.spellings, self.other_spellings = 0, Counter(), 0
        self.interpreted, self.diagnosis, self.verdict = g.interpreted, g.diagnosis, g.verdict
        self.feedback = g.feedback[0] if g.feedback else ""
        self.students, self.seen, self.more = [], set(), 0

    def add(self, student: str, answer: str) -> None:
        self.count += 1
        shown = " ".join(answer.split())[:MAX_SHOWN]
        if shown in self.spellings or len(self.spellings) < MAX_SPELLINGS:
            self.spellings[shown] += 1
        else:
            self.other_spellings += 1
        if student not in self.seen:
            if len(self.students) < MAX_STUDENTS:
                self.seen.add(student)
                self.students.append(student)
            else:
                self.more += 1


def _echo(interpreted: str, typed: str) -> str:
    """'interpreted as' in plain text, or '' where it adds nothing: a number is shown as typed
    (0.2, not 1/5 or \\frac{1}{5}), and so is an answer read exactly as it was written."""
    if not interpreted or re.fullmatch(r"[-+−]?\s*(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", typed.strip()):
        return ""
    shown = plain(interpreted)
    return "" if "".join(shown.split()) == "".join(typed.split()) else shown


class SummaryBuilder:
    """Feed it (input fields, Graded) in input order; build() gives the ClassSummary."""

    def __init__(self):
        self.rows = 0
        self.students: set = set()
        self.verdicts: Counter = Counter()
        self.diagnoses: Counter = Counter()
        self.questions: dict = {}           # (problem, quantity) -> [verdicts, diagnoses, {key: _Group}]

    def add(self, fields: dict, g) -> None:
        self.rows += 1
        student = fields.get("student", "")
        self.students.add(student)
        self.verdicts[g.verdict] += 1
        self.diagnoses.update(g.diagnosis)
        q = self.questions.setdefault((g.problem, g.quantity), [Counter(), Counter(), {}])
        q[0][g.verdict] += 1
        q[1].update(g.diagnosis)
        key = g.key if g.verdict == "incorrect" else "typed:" + " ".join(fields.get("answer", "").split())[:MAX_SHOWN] \
            if g.verdict == "invalid" else ""           # what a class typed that could not be read is shown too
        if key:
            group = q[2].get(key) or q[2].setdefault(key, _Group(g))
            group.add(student, fields.get("answer", ""))

    def build(self, source: str) -> ClassSummary:
        questions = []
        order = {p: n for n, p in enumerate(dict.fromkeys(p for p, _ in self.questions))}
        for (problem, quantity), (verdicts, diagnoses, groups) in sorted(self.questions.items(),
                                                                         key=lambda kv: order[kv[0][0]]):
            clusters = {}
            for verdict in ("incorrect", "invalid"):
                top = sorted((c for c in groups.values() if c.verdict == verdict), key=lambda c: -c.count)
                clusters[verdict] = tuple(
                    Cluster(quantity, c.count, len(c.spellings) + c.other_spellings, c.spellings.most_common(1)[0][0],
                            _echo(c.interpreted, c.spellings.most_common(1)[0][0]), c.diagnosis, c.feedback,
                            tuple(c.students), c.more, verdict) for c in top[:TOP_CLUSTERS])
            questions.append(Question(problem, quantity, sum(verdicts.values()), dict(verdicts),
                                      tuple(diagnoses.most_common()), clusters["incorrect"], clusters["invalid"]))
        return ClassSummary(source, self.rows, len(self.students), dict(self.verdicts),
                            tuple(self.diagnoses.most_common()), tuple(questions))
