"""Reference implementation of two-hidden-deltas (problem6): Backpropagation through two sigmoid
hidden layers, with named deltas.

Written by `derive code two-hidden-deltas` from the derivation on the solution sheet: forward()
is the problem's forward pass and returns every node; backward() computes delta4, drho/dW3,
drho/db3, delta3, drho/dW2, drho/db2, delta2, drho/dW1, drho/db1 one chain-rule step a line. Run
this file as a script to check the gradients against central finite differences at random sizes.
"""
import sys

import numpy as np


def sigma(x):
    """sigma, entrywise"""
    return 1 / (1 + np.exp(-x))


def sigma_prime(x):
    """sigma', entrywise"""
    return sigma(x) * (1 - sigma(x))


def forward(x, y, W1, b1, W2, b2, W3, b3):
    """Every node of the forward pass, by name."""
    Z1 = W1 @ x + b1
    H1 = sigma(Z1)
    Z2 = W2 @ H1 + b2
    H2 = sigma(Z2)
    f = W3 @ H2 + b3
    rho = (y - f) ** 2
    return {"Z1": Z1, "H1": H1, "Z2": Z2, "H2": H2, "f": f, "rho": rho}


def backward(x, y, W1, b1, W2, b2, W3, b3):
    """The gradients delta4, drho/dW3, drho/db3, delta3, drho/dW2, drho/db2, delta2, drho/dW1, drho/db1
    by the derived formulas, one step a line."""
    nodes = forward(x, y, W1, b1, W2, b2, W3, b3)
    Z1, H1, Z2, H2, f = nodes["Z1"], nodes["H1"], nodes["Z2"], nodes["H2"], nodes["f"]
    delta4 = 2 * f - 2 * y  # the power rule
    drho_dH2 = W3.T @ delta4  # the gradient of a matrix product
    delta3 = sigma_prime(Z2) * drho_dH2  # the chain rule through sigma
    drho_dH1 = W2.T @ delta3  # the gradient of a matrix product
    delta2 = sigma_prime(Z1) * drho_dH1  # the chain rule through sigma
    drho_db3 = delta4  # the gradient of a sum
    drho_dW3 = delta4 @ H2.T  # the gradient of a matrix product
    drho_db2 = delta3  # the gradient of a sum
    drho_dW2 = delta3 @ H1.T  # the gradient of a matrix product
    drho_db1 = delta2  # the gradient of a sum
    drho_dW1 = delta2 @ x.T  # the gradient of a matrix product
    return {
        "delta4": delta4,
        "drho/dW3": drho_dW3,
        "drho/db3": drho_db3,
        "delta3": delta3,
        "drho/dW2": drho_dW2,
        "drho/db2": drho_db2,
        "delta2": delta2,
        "drho/dW1": drho_dW1,
        "drho/db1": drho_db1,
    }


# ---- the gradient check: run this file as a script ----------------------------------------------
DIMS = ("d", "d_H")
INPUTS = ("x", "y", "W1", "b1", "W2", "b2", "W3", "b3")
SHAPES = {
    "x": ("d", 1),
    "y": (1, 1),
    "W1": ("d_H", "d"),
    "b1": ("d_H", 1),
    "W2": ("d_H", "d_H"),
    "b2": ("d_H", 1),
    "W3": (1, "d_H"),
    "b3": (1, 1),
}  # the inputs, then the upstream gradients
POSITIVE, ONEHOT = (), ()
GRADIENTS = (
    ("delta4", "f", False),
    ("drho/dW3", "W3", False),
    ("drho/db3", "b3", False),
    ("delta3", "Z2", False),
    ("drho/dW2", "W2", False),
    ("drho/db2", "b2", False),
    ("delta2", "Z1", False),
    ("drho/dW1", "W1", False),
    ("drho/db1", "b1", False),
)  # quantity, the node it is the gradient at, returned transposed


def _objective(values, node=None, value=None):
    """The scalar differentiated; with `node`, that node is set to `value` (finite differences
    at an intermediate node)."""
    x, y, W1, b1, W2, b2, W3, b3 = (values[k] for k in INPUTS)
    Z1 = W1 @ x + b1
    Z1 = value if node == "Z1" else Z1
    H1 = sigma(Z1)
    Z2 = W2 @ H1 + b2
    Z2 = value if node == "Z2" else Z2
    H2 = sigma(Z2)
    f = W3 @ H2 + b3
    f = value if node == "f" else f
    rho = (y - f) ** 2
    return float(rho.sum())


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
