"""Reference implementation of batchnorm-backward (problem5): The full backward pass of batch
normalization.

Written by `derive code batchnorm-backward` from the derivation on the solution sheet: forward()
is the problem's forward pass and returns every node; backward() computes dL/dbeta, dL/dgamma,
dL/dh one chain-rule step a line, given the upstream gradient dL/dy. Run this file as a script
to check the gradients against central finite differences at random sizes.
"""
import sys

import numpy as np


def forward(X, W, b, gamma, beta, eps):
    """Every node of the forward pass, by name."""
    h = X @ W + b
    mu = h.mean(axis=0, keepdims=True)
    c = h - mu
    var = (c ** 2).mean(axis=0, keepdims=True)
    s = 1 / np.sqrt(var + eps)
    hhat = s * c
    y = gamma * hhat + beta
    return {"h": h, "mu": mu, "c": c, "var": var, "s": s, "hhat": hhat, "y": y}


def backward(X, W, b, gamma, beta, eps, dL_dy):
    """The gradients dL/dbeta, dL/dgamma, dL/dh by the derived formulas, one step a line."""
    N = X.shape[0]
    nodes = forward(X, W, b, gamma, beta, eps)
    c, var, s, hhat = nodes["c"], nodes["var"], nodes["s"], nodes["hhat"]
    dL_dhhat = gamma * dL_dy  # the gradient of a Hadamard product
    # the gradient of a Hadamard product, then the gradient of a broadcast (summed over the copies)
    dL_ds = (c * dL_dhhat).sum(axis=0, keepdims=True)
    dL_dvar = -dL_ds / (2 * (var + eps) ** (3/2))  # the power rule
    dL_dc = 2 * dL_dvar * c / N + s * dL_dhhat  # the sum over the 2 paths into c (via hhat, var)
    dL_dmu = -dL_dc.sum(axis=0, keepdims=True)  # the gradient of a broadcast (summed over the copies)
    dL_dh = dL_dc + dL_dmu / N  # the sum over the 2 paths into h (via c, mu)
    dL_dbeta = dL_dy.sum(axis=0, keepdims=True)  # the gradient of a broadcast (summed over the copies)
    # the gradient of a Hadamard product, then the gradient of a broadcast (summed over the copies)
    dL_dgamma = (dL_dy * hhat).sum(axis=0, keepdims=True)
    return {"dL/dbeta": dL_dbeta, "dL/dgamma": dL_dgamma, "dL/dh": dL_dh}


# ---- the gradient check: run this file as a script ----------------------------------------------
DIMS = ("N", "D", "H")
INPUTS = ("X", "W", "b", "gamma", "beta", "eps")
SHAPES = {
    "X": ("N", "D"),
    "W": ("D", "H"),
    "b": (1, "H"),
    "gamma": (1, "H"),
    "beta": (1, "H"),
    "eps": (1, 1),
    "dL/dy": ("N", "H"),
}  # the inputs, then the upstream gradients
POSITIVE, ONEHOT = ("eps",), ()
GRADIENTS = (
    ("dL/dbeta", "beta", False),
    ("dL/dgamma", "gamma", False),
    ("dL/dh", "h", False),
)  # quantity, the node it is the gradient at, returned transposed


def _objective(values, node=None, value=None):
    """The scalar differentiated; with `node`, that node is set to `value` (finite differences
    at an intermediate node)."""
    X, W, b, gamma, beta, eps = (values[k] for k in INPUTS)
    h = X @ W + b
    h = value if node == "h" else h
    mu = h.mean(axis=0, keepdims=True)
    c = h - mu
    var = (c ** 2).mean(axis=0, keepdims=True)
    s = 1 / np.sqrt(var + eps)
    hhat = s * c
    y = gamma * hhat + beta
    return float((values["dL/dy"] * y).sum())


def _framework(values):
    """The draws as the module computes with them (numpy arrays already)."""
    return dict(values)


def _array(v):
    return np.asarray(v, dtype=float)


def _draw(rng):
    """Distinct random sizes for the dimensions (a missing transpose cannot hide) and values,
    scaled by 1/sqrt(the longer axis) so that wide layers do not saturate."""
    sizes = dict(zip(DIMS, rng.permutation(range(2, 9))[:len(DIMS)].tolist()))
    values = {}
    for name, shape in SHAPES.items():
        shape = tuple(sizes.get(d, d) for d in shape)
        v = rng.normal(size=shape) / np.sqrt(max(shape, default=1))
        if name in POSITIVE:
            v = np.abs(v) + 0.1
        if name in ONEHOT:
            v = np.eye(v.size)[rng.integers(v.size)].reshape(v.shape)
        values[name] = v if shape else float(v)
    return sizes, values


def _error(values, nodes, node, grad, step=1e-6):
    """Relative error of grad against central differences at node: entry by entry, or along
    three random directions for a node of more than 60 entries."""
    x0 = np.array(values[node] if node in INPUTS else _array(nodes[node]), dtype=float)
    base = _framework(values)

    def f(x):
        v = x.reshape(x0.shape) if x0.ndim else float(x[0])
        if node in INPUTS:
            return _objective(_framework({**values, node: v}))
        return _objective(base, node, _framework({node: v})[node])
    n = x0.size
    directions = np.eye(n) if n <= 60 else np.random.default_rng(7).normal(size=(3, n))
    flat = x0.reshape(-1)
    want = np.array([(f(flat + step * d) - f(flat - step * d)) / (2 * step) for d in directions])
    got = directions @ np.reshape(grad, -1)
    scale = max(np.linalg.norm(got), np.linalg.norm(want))
    return float(np.linalg.norm(got - want) / scale) if scale > 1e-12 else float(np.linalg.norm(got - want))


def main(seed=0, tolerance=1e-5):
    """backward() against central finite differences at random sizes and values
    (`python FILE.py SEED` draws others)."""
    sizes, values = _draw(np.random.default_rng(seed))
    args = _framework(values)
    grads = backward(*(args[k] for k in SHAPES))
    nodes = forward(*(args[k] for k in INPUTS))
    at = ", ".join(f"{k} = {v}" for k, v in sizes.items())
    print(f"gradient check{' at ' + at if at else ''}:")
    worst = 0.0
    for name, node, transposed in GRADIENTS:
        got = _array(grads[name])
        err = _error(values, nodes, node, got.T if transposed else got)
        worst = max(worst, err)
        print(f"  {name:<14} relative error {err:.1e}")
    ok = worst <= tolerance
    print(f"{'passed' if ok else 'FAILED'}: max relative error {worst:.1e} (tolerance {tolerance:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
