"""Batch grading: many answers (CSV, JSONL, answer files) -> a report, per-student totals, a
class summary and Gradescope results, resumable through a journal; the Gradescope autograder.

Modules: rows, answer_file, checking (the checker behind a batch), groups (step-level grading of
a student's rows), run (derive grade), journal, statistics, gradescope, autograder."""
