"""The installation's grading secret: the random key that chooses where answers are checked (the
secret points of equivalence grading, the draws of property grading), so no fixed point is public."""
from __future__ import annotations

import functools
import hashlib
import os
import secrets
from pathlib import Path


def secret_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "derive" / "secret"


@functools.lru_cache(maxsize=1)
def secret() -> bytes:
    """DERIVE_SECRET if set (for reproducible regrading elsewhere), else a random key created once
    per installation in the user's config folder; a process that cannot keep one draws its own."""
    env = os.environ.get("DERIVE_SECRET")
    if env:
        return env.encode()
    path = secret_path()
    try:
        return path.read_bytes().strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)
    except OSError:
        return secrets.token_hex(32).encode()


def _new_secret(path: Path) -> bytes:
    key = secrets.token_hex(32).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key
    except FileExistsError:                  # another process created it first: use theirs
        return path.read_bytes().strip() or key
    except OSError:
        return key


def secret_seed(n: int) -> int:
    return int.from_bytes(hashlib.sha256(secret() + b"\0point\0" + str(n).encode()).digest()[:8], "big")
