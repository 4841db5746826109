"""Independent numpy/torch oracles for the held-out notation corpus: each problem's forward pass in
numpy, its gradients from torch autograd, and what each answer of the corpus MEANS as a numpy
computation (`meanings`), written by hand from the answer's text. A corpus label is whether that
meaning equals the autograd truth — derive takes no part in it. Sizes differ from derive's."""
from __future__ import annotations

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def _grads(out, wrt: dict) -> dict:
    names = list(wrt)
    gs = torch.autograd.grad(out, [wrt[n] for n in names])
    return {n: g.detach().numpy() for n, g in zip(names, gs)}


def sig(a):
    return 1 / (1 + np.exp(-np.clip(a, -700, 700)))


def problem6(rng, scale=1.0):
    """two-hidden-deltas: column vectors, sigmoid hidden layers, rho = (y - f)^2."""
    d, h = 3, 4
    t = {k: torch.tensor(rng.normal(size=s) * scale, requires_grad=True) for k, s in
         dict(x=(d, 1), y=(1, 1), W1=(h, d), b1=(h, 1), W2=(h, h), b2=(h, 1), W3=(1, h), b3=(1, 1)).items()}
    Z1 = t["W1"] @ t["x"] + t["b1"]
    H1 = torch.sigmoid(Z1)
    Z2 = t["W2"] @ H1 + t["b2"]
    H2 = torch.sigmoid(Z2)
    f = t["W3"] @ H2 + t["b3"]
    for n in (Z1, Z2, f):
        n.retain_grad()
    rho = ((t["y"] - f) ** 2).sum()
    g = _grads(rho, {"f": f, "Z2": Z2, "Z1": Z1, "W3": t["W3"], "b3": t["b3"], "W2": t["W2"], "b2": t["b2"],
                     "W1": t["W1"], "b1": t["b1"]})
    v = {k: x.detach().numpy() for k, x in t.items()} | dict(Z1=Z1.detach().numpy(), H1=H1.detach().numpy(),
                                                              Z2=Z2.detach().numpy(), H2=H2.detach().numpy(),
                                                              f=f.detach().numpy())
    truth = {"delta4": g["f"], "delta3": g["Z2"], "delta2": g["Z1"], "drho/dW3": g["W3"], "drho/db3": g["b3"],
             "drho/dW2": g["W2"], "drho/db2": g["b2"], "drho/dW1": g["W1"], "drho/db1": g["b1"]}
    d4, d3, d2 = g["f"], g["Z2"], g["Z1"]
    x, H1, H2, Z1, Z2, W2, W3, f, y = (v[k] for k in ("x", "H1", "H2", "Z1", "Z2", "W2", "W3", "f", "y"))
    meanings = {
        "d4": 2 * (f - y), "d4_sign": 2 * (y - f), "d4_half": f - y,
        "dW3": d4 @ H2.T, "dW3_T": H2 @ d4.T, "dW3_H1": d4 @ H1.T,
        "d3": H2 * (1 - H2) * (W3.T @ d4), "d3_nosig": W3.T @ d4, "d3_Z": Z2 * (1 - Z2) * (W3.T @ d4),
        "d3_diag": np.diag((H2 * (1 - H2)).ravel()) @ W3.T @ d4,
        "dW2": d3 @ H1.T, "dW2_T": H1 @ d3.T, "dW2_x": d3 @ H2.T,
        "d2": H1 * (1 - H1) * (W2.T @ d3), "d2_noT": H1 * (1 - H1) * (W2 @ d3), "d2_nosig": W2.T @ d3,
        "d2_plus": H1 * (1 + H1) * (W2.T @ d3), "d2_tanh": (1 - np.tanh(Z1) ** 2) * (W2.T @ d3),
        "dW1": d2 @ x.T, "dW1_T": x @ d2.T, "dW1_H1": d2 @ H1.T, "dW1_sum": d2 * x.sum(),
        "db1": d2, "db1_d3": d3, "db2": d3, "db3": d4,
    }
    return truth, meanings


def problem7(rng, scale=1.0):
    """tanh-softmax-net: row vectors, tanh hidden layer, softmax output, cross-entropy; y one-hot."""
    k, h = 3, 5
    y = np.zeros((1, k))
    y[0, rng.integers(k)] = 1
    t = {n: torch.tensor(rng.normal(size=s) * scale, requires_grad=True) for n, s in
         dict(x=(1, 2), W1=(2, h), b1=(1, h), W2=(h, k), b2=(1, k)).items()}
    z1 = t["x"] @ t["W1"] + t["b1"]
    a1 = torch.tanh(z1)
    z2 = a1 @ t["W2"] + t["b2"]
    yhat = torch.softmax(z2, dim=1)
    L = -(torch.tensor(y) * torch.log(yhat)).sum()
    g = _grads(L, {"z2": z2, "z1": z1, "W2": t["W2"], "b2": t["b2"], "W1": t["W1"], "b1": t["b1"]})
    truth = {"dL/dz2": g["z2"], "dL/dz1": g["z1"], "dL/dW2": g["W2"], "dL/db2": g["b2"], "dL/dW1": g["W1"],
             "dL/db1": g["b1"]}
    x, W2 = t["x"].detach().numpy(), t["W2"].detach().numpy()
    a1, z1, yh = a1.detach().numpy(), z1.detach().numpy(), yhat.detach().numpy()
    dz2 = yh - y
    dz1 = (dz2 @ W2.T) * (1 - a1 ** 2)
    meanings = {
        "dz2": dz2, "dz2_sign": y - yh, "dz2_log": np.log(yh) - y,
        "dW2": a1.T @ dz2, "dW2_T": dz2.T @ a1, "dW2_x": x.T @ dz2 if x.shape[1] == a1.shape[1] else None,
        "db2": dz2,
        "dz1": dz1, "dz1_noT": None, "dz1_plus": (dz2 @ W2.T) * (1 + a1 ** 2), "dz1_nosq": (dz2 @ W2.T) * (1 - a1),
        "dz1_sech": (dz2 @ W2.T) / np.cosh(z1) ** 2,
        "dW1": x.T @ dz1, "dW1_T": None, "dW1_a1": None, "db1": dz1, "db1_dz2": None,
    }
    return truth, meanings


def problem10(rng, scale=1.0):
    """two-layer-classification-relu: column vectors, ReLU hidden, sigmoid output, MSE; numerator layout
    (a gradient of the scalar l is a row; dl/dW is the transpose of autograd's)."""
    n, m, K = 3, 4, 2
    t = {k: torch.tensor(rng.normal(size=s) * scale, requires_grad=True) for k, s in
         dict(x=(n, 1), y=(K, 1), W1=(m, n), b1=(m, 1), W2=(K, m), b2=(K, 1)).items()}
    z1 = t["W1"] @ t["x"] + t["b1"]
    z2 = torch.relu(z1)
    z3 = t["W2"] @ z2 + t["b2"]
    yhat = torch.sigmoid(z3)
    l_ = ((yhat - t["y"]) ** 2).sum()
    g = _grads(l_, {"z1": z1, "z3": z3, "yhat": yhat, "W2": t["W2"], "b2": t["b2"], "W1": t["W1"], "b1": t["b1"]})
    v = {k: x.detach().numpy() for k, x in t.items()}
    z1v, z2v, z3v, yh = (a.detach().numpy() for a in (z1, z2, z3, yhat))
    step = (z1v > 0).astype(float)
    truth = {"z1": z1v, "z2": z2v, "yhat": yh, "dl/dyhat": g["yhat"].T, "dl/dz3": g["z3"].T,
             "dl/dz1": g["z1"].T, "dl/dW2": g["W2"].T, "dl/db2": g["b2"].T, "dl/dW1": g["W1"].T,
             "dl/db1": g["b1"].T, "dz2/dz1": np.diag(step.ravel()), "dyhat/dz3": np.diag((yh * (1 - yh)).ravel())}
    x, y, W1, b1, W2, b2 = (v[k] for k in ("x", "y", "W1", "b1", "W2", "b2"))
    dz3 = (2 * (yh - y) * yh * (1 - yh)).T
    dz1 = (dz3 @ W2) * step.T
    meanings = {
        "z1": W1 @ x + b1, "z1_T": None, "z2": np.maximum(0, W1 @ x + b1), "z2_abs": np.abs(W1 @ x + b1),
        "yhat": sig(W2 @ np.maximum(0, W1 @ x + b1) + b2), "yhat_nobias": sig(W2 @ np.maximum(0, W1 @ x) + b2),
        "dyhat": 2 * (yh - y).T, "dyhat_col": None, "dyhat_sign": 2 * (y - yh).T,
        "J3": np.diag((yh * (1 - yh)).ravel()), "J3_sq": np.diag((yh * (1 - yh) ** 2).ravel()),
        "J1": np.diag(step.ravel()), "J1_steep": np.diag(((1 + np.tanh(1000 * z1v)) / 2).ravel()),
        "J1_sig": np.diag(sig(1000 * z1v).ravel()), "J1_steep6": np.diag(((1 + np.tanh(1e6 * z1v)) / 2).ravel()), "J1_relu": np.diag(np.maximum(0, z1v).ravel()),
        "dz3": dz3, "dz3_col": None,
        "dz1": dz1, "dz1_noW": None, "dW2": z2v @ dz3, "dW2_T": None, "db2": dz3,
        "dW1": x @ dz1, "dW1_T": None, "db1": dz1,
    }
    return truth, meanings


def problem2(rng, scale=1.0):
    """residual-relu at the problem's given numbers (x0 = 1, w0 = 0.3, w1 = -0.2, b0 = 0.1, b1 = -0.3)."""
    t = {k: torch.tensor(val, requires_grad=True) for k, val in
         dict(x0=1.0, w0=0.3, w1=-0.2, b0=0.1, b1=-0.3).items()}
    y0 = t["x0"] * t["w0"] + t["b0"]
    x1 = torch.relu(y0)
    v1 = x1 * t["w1"] + t["b1"] + t["x0"]
    z = torch.relu(v1)
    g = _grads(z, {k: t[k] for k in ("w0", "w1", "b0", "b1", "x0")})
    truth = {"z": z.item(), "v1": v1.item(), "y0": y0.item(), "dz/dw0": g["w0"], "dz/dw1": g["w1"],
             "dz/db0": g["b0"], "dz/db1": g["b1"], "dz/dx0": g["x0"]}
    meanings = {f"{k}={val}": val for k, val in (("num", 0),)}      # numbers are their own meaning
    return truth, meanings


def batchnorm(rng, scale=1.0):
    """batchnorm-layer: x is m x D, gamma and beta rows; l = sum(G ⊙ y) for a random G, so dl/dy = G."""
    m, d = 5, 3
    t = {k: torch.tensor(rng.normal(size=s) * scale, requires_grad=True) for k, s in
         dict(x=(m, d), gamma=(1, d), beta=(1, d)).items()}
    eps, G = 1e-5, rng.normal(size=(m, d))
    c = t["x"] - t["x"].mean(0, keepdim=True)
    s = ((c ** 2).mean(0, keepdim=True) + eps) ** -0.5
    xhat = c * s
    xhat.retain_grad()
    y = t["gamma"] * xhat + t["beta"]
    g = _grads((torch.tensor(G) * y).sum(), {"xhat": xhat, "gamma": t["gamma"], "beta": t["beta"], "x": t["x"]})
    truth = {"dl/dxhat": g["xhat"], "dl/dgamma": g["gamma"], "dl/dbeta": g["beta"], "dl/dx": g["x"]}
    gamma, xh, sv = t["gamma"].detach().numpy(), xhat.detach().numpy(), s.detach().numpy()
    meanings = {
        "dxhat": gamma * G, "dxhat_noG": G, "dxhat_xhat": xh * gamma,
        "dgamma": (G * xh).sum(0, keepdims=True), "dgamma_beta": G.sum(0, keepdims=True),
        "dgamma_nosum": G * xh, "dgamma_matmul": None,     # two m x D matrices side by side: no matrix product
        "dbeta": G.sum(0, keepdims=True), "dbeta_mean": G.mean(0, keepdims=True),
        "dx": gamma * sv * (m * G - G.sum(0, keepdims=True) - xh * (G * xh).sum(0, keepdims=True)) / m,
        "dx_short": gamma * sv * G,
        "dx_nom": gamma * sv * (m * G - G.sum(0, keepdims=True) - xh * (G * xh).sum(0, keepdims=True)),
    }
    return truth, meanings


ORACLES = {"problem6": problem6, "problem7": problem7, "problem10": problem10, "problem2": problem2,
           "batchnorm-layer": batchnorm}


def label(problem: str, quantity: str, meaning: str) -> str:
    """'correct' when the answer's meaning equals the autograd truth at every point tried (two seeds, and
    the inputs at scales 1, 10^-3 and 10^-6, where every kink and steep function shows); a number: to the
    decimals written (the checker's stated rule for given values). None meanings are wrong-shaped."""
    if problem == "problem2":
        want = float(ORACLES[problem](None)[0][quantity])
        digits = meaning.lstrip("-0.").replace(".", "")
        decimals = len(meaning.split(".")[1]) if "." in meaning else 0
        ok = abs(float(meaning) - want) <= 1e-9 or (len(digits) >= 3 and
                                                    abs(float(meaning) - want) <= 0.5 * 10 ** -decimals + 1e-12)
        return "correct" if ok else "incorrect"
    for seed in (2026, 7):
        for scale in (1.0, 1e-3, 1e-6):
            truth, meanings = ORACLES[problem](np.random.default_rng(seed), scale)
            want, got = np.asarray(truth[quantity], dtype=float), meanings[meaning]
            if got is None or np.shape(got) != want.shape:
                return "incorrect"
            got = np.asarray(got, dtype=float)
            if np.linalg.norm(got - want) > 1e-8 * max(np.linalg.norm(got), np.linalg.norm(want), 1e-300):
                return "incorrect"
    return "correct"
