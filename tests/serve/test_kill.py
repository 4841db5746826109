"""kill -9 of a loaded course server, then a restart: every acknowledged attempt is in the database,
none twice (bench/bench_server.py's run, with a small class), on SQLite and on PostgreSQL."""
import pytest

bench_server = pytest.importorskip("bench_server")          # tests/conftest.py puts bench/ on the path


@pytest.mark.slow
def test_a_killed_server_loses_and_duplicates_no_acknowledged_attempt(db_url, tmp_path):
    r = bench_server.load(db_url, tmp_path, students=30, checks=4, think=(0.05, 0.3), workers=1, kill_after=0.3,
                          max_seconds=120)
    assert r["acked_at_kill"] > 0 and r["refused_while_down"] > 0        # it was killed under load
    assert r["checks"] == 30 * 4                                         # every check answered in the end
    assert (r["lost"], r["duplicated"], r["other_id"], r["errors"]) == (0, 0, 0, 0), r
    assert r["stored"] == 30 * 4
