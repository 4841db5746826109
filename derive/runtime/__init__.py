"""Runtime: wall-clock and size limits, the pool of killable worker processes, safe output files,
signals and stdio for the command line, an identity memo. No mathematics here.

Modules: limits (deadlines), pool (run a job under a hard limit) over workers (the forked
processes), commandline (output files, signals, stdio), memo."""
