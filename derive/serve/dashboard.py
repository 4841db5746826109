"""What the instructor's dashboard shows, from the attempts store: per question, how many students
tried, how many got it right and after how many attempts, and the most common wrong answers grouped
by meaning (grade.meaning_key: the same grouping as the class summary of `derive grade`), with
their diagnosis. Plain SQL aggregates that both SQLite and PostgreSQL run; the page polls it."""
from __future__ import annotations

import statistics
import time

TOP_WRONG = 5                  # wrong-answer groups shown per question
WRONG = ("incorrect", "undecided")


def summary(store, catalogue=None) -> dict:
    questions: dict = {}

    def q(problem, quantity):
        return questions.setdefault((problem, quantity), {
            "problem": problem, "quantity": quantity, "students": 0, "attempts": 0, "right": 0,
            "attempts_to_right": {"mean": None, "median": None}, "wrong": []})

    for problem, quantity, students, attempts in store.execute(
            "SELECT problem, quantity, COUNT(DISTINCT student), COUNT(*) FROM attempts GROUP BY problem, quantity"):
        q(problem, quantity).update(students=students, attempts=attempts)
    tries: dict = {}
    for problem, quantity, _student, n in store.execute(
            "SELECT a.problem, a.quantity, a.student, COUNT(*) FROM attempts a JOIN "
            "(SELECT problem, quantity, student, MIN(id) AS first FROM attempts WHERE verdict = 'correct' "
            " GROUP BY problem, quantity, student) f "
            "ON a.problem = f.problem AND a.quantity = f.quantity AND a.student = f.student AND a.id <= f.first "
            "GROUP BY a.problem, a.quantity, a.student"):
        tries.setdefault((problem, quantity), []).append(n)
    for key, counts in tries.items():
        q(*key).update(right=len(counts), attempts_to_right={"mean": round(statistics.fmean(counts), 2),
                                                            "median": statistics.median(counts)})
    marks = ", ".join("?" * len(WRONG))
    for problem, quantity, _meaning, n, students, answer, interpreted, diagnosis in store.execute(
            "SELECT problem, quantity, meaning, COUNT(*), COUNT(DISTINCT student), MIN(answer), MAX(interpreted), "
            f"MAX(diagnosis) FROM attempts WHERE verdict IN ({marks}) AND meaning <> '' "
            "GROUP BY problem, quantity, meaning ORDER BY COUNT(*) DESC, MIN(answer)", WRONG):
        wrong = q(problem, quantity)["wrong"]
        if len(wrong) < TOP_WRONG:
            wrong.append({"answer": answer, "interpreted": interpreted, "count": n, "students": students,
                          "diagnosis": [c for c in diagnosis.split(",") if c]})
    order = {}
    if catalogue is not None:       # questions in the catalogue's order
        for i, p in enumerate(catalogue.problems):
            for j, qq in enumerate(p.quantities):
                order[(p.id, qq.name)] = (i, j)
    rows = sorted(questions.values(), key=lambda d: (order.get((d["problem"], d["quantity"]), (1 << 30, 0)),
                                                     d["problem"], d["quantity"]))
    return {"time": time.time(), "attempts": sum(d["attempts"] for d in rows), "questions": rows}
