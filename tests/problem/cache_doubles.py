"""What the disk-cache tests share: a copy of a catalogue problem under a new id, and a record of
the calls a cache should spare."""
from derive.problem.index import catalogue_dir


def problem_copy(tmp_path, new_id: str):
    """scalar-chain as tmp_path/NEW_ID.toml, without its alias: (the file, its text)."""
    text = (catalogue_dir() / "scalar-chain.toml").read_text(encoding="utf-8")
    text = text.replace('alias = "problem1"', 'alias = ""').replace('id = "scalar-chain"', f'id = "{new_id}"')
    f = tmp_path / f"{new_id}.toml"
    f.write_text(text, encoding="utf-8")
    return f, text


def record_calls(monkeypatch, owner, name: str, real=None) -> list:
    """owner.name replaced by a wrapper that appends its first argument to the list returned."""
    calls, real = [], real or getattr(owner, name)

    def wrapper(first, *args, **kwargs):
        calls.append(first)
        return real(first, *args, **kwargs)
    monkeypatch.setattr(owner, name, wrapper)
    return calls
