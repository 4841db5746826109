"""An L-layer MLP problem generated in code (for the benchmark and the scaling tests)."""
from __future__ import annotations

import tempfile
from pathlib import Path


def mlp_toml(depth: int, width: int, n_in: int = 4) -> str:
    lines = [f'id = "mlp-{depth}x{width}"', f'title = "MLP, {depth} layers of width {width}"',
             "forward = ["]
    prev = "x"
    for k in range(1, depth + 1):
        lines.append(f'  "Z{k} = W{k} {prev} + b{k}",')
        lines.append(f'  "H{k} = sigma(Z{k})",')
        prev = f"H{k}"
    lines += [f'  "f = V {prev} + c",', '  "L = (y - f)^2",', "]", 'output = "L"',
              f'quantities = ["dL/dW1", "dL/db1", "dL/dW{depth}"]', "", "[symbols]",
              f"x = [{n_in}, 1]", 'y = "scalar"', f"V = [1, {width}]", 'c = "scalar"']
    for k in range(1, depth + 1):
        lines.append(f"W{k} = [{width}, {n_in if k == 1 else width}]")
        lines.append(f"b{k} = [{width}, 1]")
    return "\n".join(lines) + "\n"


def mlp_file(depth: int, width: int, folder: str | None = None) -> Path:
    folder = Path(folder or tempfile.mkdtemp(prefix="derive-mlp-"))
    path = folder / f"mlp-{depth}x{width}.toml"
    path.write_text(mlp_toml(depth, width))
    return path
