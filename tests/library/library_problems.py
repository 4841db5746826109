"""The library's problems and, for each, its forward pass in torch (the independent oracle).

Each function takes the problem's inputs and given gradients as float64 tensors (by name, in the
problem's shapes) and the instance's dimension sizes, and returns (loss, nodes): the scalar whose
gradient the problem asks (for a problem with a given upstream gradient G of a node Y, the sum of
G ⊙ Y), and the intermediate nodes whose gradients are asked or named. torch's own functions are
used wherever torch has one.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from derive.notation import build as sy
from derive.problem.load import library_dir, load_file

LIBRARY = {load_file(f).id: str(f) for f in sorted(Path(library_dir()).glob("*.toml"))}


def _uniform(rng, shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _bits(rng, shape):
    return rng.integers(0, 2, size=shape).astype(float)


def _signs(rng, shape):
    return 2 * _bits(rng, shape) - 1


def _causal_mask(rng, shape):
    """0 on and below the diagonal, a large negative number above: exp() of it is 0 in float64."""
    return np.triu(np.full(shape, -1e4), 1)


def _spd(rng, shape):
    B = rng.normal(size=shape)
    return B @ B.T + shape[0] * np.eye(shape[0])


# inputs drawn as the problem means them (labels, masks, probabilities), where torch's function needs it
DRAWS = {
    "logistic-regression-bce": {"t": _uniform},
    "mlp-bce-tanh": {"y": _uniform},
    "elastic-net": {"y": _uniform},
    "causal-attention": {"M": _causal_mask},
    "gaussian-loglik": {"Sigma": _spd},
    "precision-mle": {"X": _spd},
    "label-smoothing-ce": {"eps": _uniform},
    "focal-loss": {"y": _signs, "alphat": _uniform},
    "svm-hinge-binary": {"y": _signs},
    "dropout-fixed-mask": {"r": _bits, "p": _uniform},
    "poisson-regression": {"y": lambda rng, shape: rng.poisson(2.0, size=shape).astype(float)},
}


def sample_expr(problem, answer: str):
    """A sample answer read as the checker reads it (LaTeX when it holds a backslash)."""
    return sy.read(answer, problem.scope, "latex" if "\\" in answer else "text")


def _col(v):            # a column vector as a 1-D tensor, and back
    return v.reshape(-1)


def _ce(scores_col, onehot_col):
    """Cross-entropy of one example with a one-hot target, by torch's own cross_entropy."""
    return F.cross_entropy(scores_col.reshape(1, -1), onehot_col.reshape(1, -1).argmax(1), reduction="sum")


def mlp_mse_relu(t, n):
    a = t["W1"] @ t["x"] + t["b1"]
    yhat = t["W2"] @ torch.relu(a) + t["b2"]
    return 0.5 * F.mse_loss(yhat, t["y"], reduction="sum"), {"a": a, "yhat": yhat}


def logistic_regression_bce(t, n):
    a = t["Phi"] @ t["w"]
    return F.binary_cross_entropy_with_logits(a, t["t"], reduction="sum"), {"a": a}


def mlp_bce_tanh(t, n):
    H = torch.tanh(t["X"] @ t["W1"] + t["b1"])
    s = H @ t["w2"] + t["b2"]
    return F.binary_cross_entropy(torch.sigmoid(s), t["y"]), {"H": H, "s": s}


def softmax_classifier_ce(t, n):
    s = t["W"] @ t["x"] + t["b"]
    return _ce(s, t["y"]), {"s": s}


def two_layer_net_softmax(t, n):
    z1 = t["W1"] @ t["x"] + t["b1"]
    s = t["W2"] @ F.relu(z1) + t["b2"]
    reg = t["lambda"].sum() * ((t["W1"] ** 2).sum() + (t["W2"] ** 2).sum())
    return _ce(s, t["y"]) + reg, {"z1": z1, "s": s}


def svm_hinge_binary(t, n):
    u = t["y"] * (t["X"] @ t["w"])
    loss = t["lambda"].sum() * (t["w"] ** 2).sum() + F.relu(1 - u).mean()
    return loss, {"u": u}


def svm_multiclass_hinge(t, n):
    s = t["W"] @ t["x"]
    target = t["y"].reshape(-1).argmax().reshape(1)
    # torch's multi_margin_loss sums the hinge over the other classes and divides by C
    loss = F.multi_margin_loss(s.reshape(1, -1), target, margin=1.0) * n["C"]
    return loss, {"s": s}


def focal_loss(t, n):
    """The focal loss as torchvision.ops.sigmoid_focal_loss computes it (torch itself has none), with
    gamma = 2, in the paper's p_t form: the cross-entropy of the true class is torch's binary
    cross-entropy of p_t = sigma(y x) against the target 1."""
    pt = torch.sigmoid(t["y"] * t["x"])
    ce = F.binary_cross_entropy(pt, torch.ones_like(pt), reduction="none")
    return (t["alphat"] * ce * (1 - pt) ** 2).sum(), {"pt": pt}


def weight_decay_mlp(t, n):
    yhat = t["W2"] @ torch.sigmoid(t["W1"] @ t["x"])
    alpha = t["alpha"].sum()
    return 0.5 * ((yhat - t["y"]) ** 2).sum() + alpha / 2 * ((t["W1"] ** 2).sum() + (t["W2"] ** 2).sum()), \
        {"yhat": yhat}


def dropout_fixed_mask(t, n):
    a = t["W"] @ t["x"] + t["b"]
    y = F.relu(a)
    yt = t["r"] * y / t["p"].sum()
    z = t["w"].T @ yt + t["c"]
    return 0.5 * ((z - t["t"]) ** 2).sum(), {"a": a, "y": y, "yt": yt}


def tied_autoencoder(t, n):
    a = t["W"] @ t["x"] + t["b"]
    y = torch.sigmoid(a)
    z = F.linear(y.T, t["W"].T).T + t["bp"]
    return 0.5 * ((z - t["x"]) ** 2).sum(), {"a": a, "y": y, "z": z}


def tied_embeddings_lm(t, n):
    e = F.embedding(t["c"].reshape(-1).argmax().reshape(1), t["U"]).reshape(-1, 1)
    h = torch.tanh(t["W"] @ e + t["b"])
    s = F.linear(h.T, t["U"]).T
    return _ce(s, t["y"]), {"e": e, "h": h, "s": s}


def batchnorm_layer(t, n):
    """BatchNorm with xhat exposed: torch's batch_norm without affine, then gamma and beta."""
    xhat = F.batch_norm(t["x"], None, None, training=True, eps=float(t["eps"].detach()))
    y = t["gamma"] * xhat + t["beta"]
    return (t["dl/dy"] * y).sum(), {"xhat": xhat}


def layernorm_layer(t, n):
    ahat = F.layer_norm(t["a"], (n["H"],), eps=float(t["eps"].detach()))
    h = t["g"] * ahat + t["b"]
    return (t["dL/dh"] * h).sum(), {"ahat": ahat}


def rmsnorm_layer(t, n):
    abar = F.rms_norm(t["a"], (n["n"],), weight=t["g"].reshape(-1), eps=float(t["eps"].detach()))
    return (t["dL/dabar"] * abar).sum(), {}


def rnn_bptt_3(t, n):
    h, nodes, loss = t["h0"], {}, 0
    for k in (1, 2, 3):
        h = torch.rnn_tanh_cell(t[f"x{k}"].T, h.T, t["U"], t["W"], t["b"].reshape(-1),
                                torch.zeros_like(t["b"].reshape(-1))).T
        o = t["c"] + t["V"] @ h
        nodes[f"h{k}"], nodes[f"o{k}"] = h, o
        loss = loss + _ce(o, t[f"y{k}"])
    return loss, nodes


def lstm_cell_step(t, n):
    w_ih = torch.cat([t["Wii"], t["Wif"], t["Wig"], t["Wio"]])
    w_hh = torch.cat([t["Whi"], t["Whf"], t["Whg"], t["Who"]])
    b = torch.cat([t["bi"], t["bf"], t["bg"], t["bo"]]).reshape(-1)
    h1, c1 = torch.lstm_cell(t["x"].T, (t["h"].T, t["c"].T), w_ih, w_hh, b, torch.zeros_like(b))
    # the gates as nodes of their own, for dL/di, dL/df, dL/dg, dL/do: torch's cell from the gates
    gates = (t["x"].T @ w_ih.T + t["h"].T @ w_hh.T + b).chunk(4, 1)
    i, f, g, o = torch.sigmoid(gates[0]), torch.sigmoid(gates[1]), torch.tanh(gates[2]), torch.sigmoid(gates[3])
    c1b = f * t["c"].T + i * g
    h1b = o * torch.tanh(c1b)
    assert torch.allclose(h1b, h1) and torch.allclose(c1b, c1)
    return (t["dL/dh1"].T * h1b).sum(), {"i": i, "f": f, "g": g, "o": o, "c1": c1b, "h1": h1b}


def gru_cell_step(t, n):
    w_ih = torch.cat([t["Wir"], t["Wiz"], t["Win"]])
    w_hh = torch.cat([t["Whr"], t["Whz"], t["Whn"]])
    b_ih = torch.cat([t["bir"], t["biz"], t["bin"]]).reshape(-1)
    b_hh = torch.cat([t["bhr"], t["bhz"], t["bhn"]]).reshape(-1)
    h1 = torch.gru_cell(t["x"].T, t["h"].T, w_ih, w_hh, b_ih, b_hh)
    gi = (t["x"].T @ w_ih.T + b_ih).chunk(3, 1)
    gh = (t["h"].T @ w_hh.T + b_hh).chunk(3, 1)
    r, z = torch.sigmoid(gi[0] + gh[0]), torch.sigmoid(gi[1] + gh[1])
    nn_ = torch.tanh(gi[2] + r * gh[2])
    h1b = (1 - z) * nn_ + z * t["h"].T
    assert torch.allclose(h1b, h1)
    return (t["dL/dh1"].T * h1b).sum(), {"r": r, "z": z, "n": nn_}


def attention_single_query(t, n):
    q, K, V = t["q"].T, t["K"], t["V"]
    o = F.scaled_dot_product_attention(q.unsqueeze(0), K.unsqueeze(0), V.unsqueeze(0)).squeeze(0).T
    s = K @ t["q"] / n["d_k"] ** 0.5
    alpha = torch.softmax(s, dim=0)
    ob = V.T @ alpha
    assert torch.allclose(o, ob)
    return (t["dL/do"] * ob).sum(), {"s": s, "alpha": alpha}


def word2vec_naive_softmax(t, n):
    theta = t["U"].T @ t["vc"]
    return _ce(theta, t["y"]), {"theta": theta}


def word2vec_negative_sampling(t, n):
    so = t["uo"].T @ t["vc"]
    sn = t["Uneg"].T @ t["vc"]
    loss = -F.logsigmoid(so).sum() - F.logsigmoid(-sn).sum()
    return loss, {"so": so, "sn": sn}


def residual_block(t, n):
    a = t["W1"] @ t["x"]
    y = t["W2"] @ F.relu(a) + t["x"]
    return (t["dL/dy"] * y).sum(), {"a": a}


def silu_layer(t, n):
    Z = t["X"] @ t["W"] + t["b"]
    return (t["dL/dA"] * F.silu(Z)).sum(), {"Z": Z}


def quadratic_form(t, n):
    return (t["x"].T @ t["A"] @ t["x"] + t["b"].T @ t["x"]).sum(), {}


def least_squares_normal(t, n):
    r = t["A"] @ t["x"] - t["b"]
    return (r ** 2).sum(), {"r": r}


def ridge_regression(t, n):
    e = t["y"] - t["X"] @ t["beta"]
    return (e.T @ e).sum() + t["lambda"].sum() * (t["beta"] ** 2).sum(), {"e": e}


def weighted_least_squares(t, n):
    r = t["A"] @ t["x"] - t["b"]
    return (r.T @ t["W"] @ r).sum(), {"r": r}


def bilinear_form(t, n):
    return F.bilinear(t["a"].T, t["b"].T, t["X"].unsqueeze(0)).sum(), {}


def matrix_factorization(t, n):
    E = t["X"] - t["U"] @ t["V"].T
    loss = torch.linalg.matrix_norm(E) ** 2 + t["lambda"].sum() * (
        torch.linalg.matrix_norm(t["U"]) ** 2 + torch.linalg.matrix_norm(t["V"]) ** 2)
    return loss, {"E": E}


def poisson_regression(t, n):
    eta = t["X"] @ t["w"]
    return F.poisson_nll_loss(eta, t["y"], log_input=True, reduction="sum"), {"eta": eta}


def huber_regression(t, n):
    r = t["X"] @ t["w"] - t["y"]
    return F.huber_loss(r, torch.zeros_like(r), delta=float(t["delta"].detach())), {"r": r}


def lasso_regression(t, n):
    e = t["y"] - t["X"] @ t["beta"]
    beta = t["beta"]
    return 0.5 * (e ** 2).sum() + t["lambda"].sum() * F.l1_loss(beta, torch.zeros_like(beta), reduction="sum"), \
        {"e": e}


def elastic_net(t, n):
    z = t["X"] @ t["w"]
    w = t["w"]
    penalty = t["lambda1"].sum() * F.l1_loss(w, torch.zeros_like(w), reduction="sum") + \
        t["lambda2"].sum() / 2 * (w ** 2).sum()
    return F.binary_cross_entropy_with_logits(z, t["y"]) + penalty, {"z": z}


def gelu_layer(t, n):
    Z = t["X"] @ t["W"] + t["b"]
    return (t["dL/dA"] * F.gelu(Z)).sum(), {"Z": Z}


def transformer_ffn(t, n):
    a = t["W1"] @ t["x"] + t["b1"]
    h = F.gelu(a)
    y = t["x"] + t["W2"] @ h + t["b2"]
    return (t["dL/dy"] * y).sum(), {"a": a, "h": h}


def lstm_cell_two_givens(t, n):
    loss, nodes = lstm_cell_step(t, n)
    h1, c1 = nodes.pop("h1"), nodes["c1"]
    return (t["dL/dh1"].T * h1).sum() + (t["dL/dc1"].T * c1).sum(), nodes


def vae_gaussian_kl(t, n):
    mu, logvar = t["mu"], t["l"]
    z = mu + torch.exp(logvar / 2) * t["epsilon"]
    xhat = t["W"] @ z + t["b"]
    q = torch.distributions.Normal(mu, torch.exp(logvar / 2))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = torch.distributions.kl_divergence(q, prior).sum()
    return 0.5 * F.mse_loss(xhat, t["x"], reduction="sum") + kl, {"z": z}


def _attention(Q, K, V, M=None):
    """S, A, O of scaled dot-product attention, with O checked against torch's own kernel."""
    S = Q @ K.T / Q.shape[1] ** 0.5 + (0 if M is None else M)
    A = torch.softmax(S, dim=1)
    O = A @ V
    causal = M is not None
    assert torch.allclose(O, F.scaled_dot_product_attention(Q, K, V, is_causal=causal))
    return S, A, O


def sdpa_matrix(t, n):
    S, A, O = _attention(t["Q"], t["K"], t["V"])
    return (t["dL/dO"] * O).sum(), {"S": S, "A": A}


def self_attention_projections(t, n):
    X = t["X"]
    S, A, O = _attention(X @ t["WQ"], X @ t["WK"], X @ t["WV"])
    return (t["dL/dO"] * O).sum(), {"S": S}


def causal_attention(t, n):
    S, A, O = _attention(t["Q"], t["K"], t["V"], t["M"])
    return (t["dL/dO"] * O).sum(), {"S": S}


def softmax_regression_batch(t, n):
    O = t["X"] @ t["W"] + t["b"]
    return F.cross_entropy(O, t["Y"].argmax(1)), {"O": O}


def conv1d_stride_padding(t, n):
    z = F.conv1d(t["x"].reshape(1, 1, -1), t["w"].reshape(1, 1, -1), stride=2, padding=1).reshape(-1, 1) + t["b"]
    return (t["dL/dz"] * z).sum(), {}


def _conv2d(X, K, **kw):
    return F.conv2d(X[None, None], K[None, None], **kw)[0, 0]


def conv2d_layer(t, n):
    Z = _conv2d(t["X"], t["K"]) + t["b"]
    return (t["dL/dZ"] * Z).sum(), {}


def conv2d_stride_padding(t, n):
    Z = _conv2d(t["X"], t["K"], stride=2, padding=1)
    return (t["dL/dY"] * F.relu(Z)).sum(), {"Z": Z}


def cnn1d_maxpool(t, n):
    a = F.conv1d(t["x"].reshape(1, 1, -1), t["w"].reshape(1, 1, -1))
    p = F.max_pool1d(a, 2)
    h = F.relu(p)
    return (t["dL/dh"] * h.reshape(-1, 1)).sum(), {"a": a, "p": p}


def maxpool2d_layer(t, n):
    Z = _conv2d(t["X"], t["K"])
    P = F.max_pool2d(Z[None, None], 2)[0, 0]
    return (t["dL/dP"] * P).sum(), {"Z": Z}


def trace_forms(t, n):
    X = t["X"]
    return torch.trace(t["A"] @ X @ t["B"]) + torch.trace(X.T @ t["C"] @ X), {}


def precision_mle(t, n):
    return torch.trace(t["S"] @ t["X"]) - torch.linalg.slogdet(t["X"]).logabsdet, {}


def norm_regression(t, n):
    r = t["A"] @ t["x"] - t["b"]
    return torch.linalg.vector_norm(r), {"r": r}


def gaussian_loglik(t, n):
    """The log-density written with torch's slogdet and solve (for a general Sigma, whose gradient the
    problem asks), checked against torch.distributions.MultivariateNormal at the symmetric draw."""
    x, mu, Sigma = t["x"], t["mu"], t["Sigma"]
    d = x - mu
    D = x.shape[0]
    ll = -D / 2 * math.log(2 * math.pi) - 0.5 * torch.linalg.slogdet(Sigma).logabsdet \
        - 0.5 * (d.T @ torch.linalg.solve(Sigma, d)).sum()
    mvn = torch.distributions.MultivariateNormal(mu.reshape(-1), covariance_matrix=(Sigma + Sigma.T) / 2)
    assert torch.allclose(ll, mvn.log_prob(x.reshape(-1)))
    return ll, {"d": d}


def label_smoothing_ce(t, n):
    z = t["W"] @ t["x"] + t["b"]
    eps = float(t["eps"].detach())
    return F.cross_entropy(z.reshape(1, -1), t["y"].reshape(-1).argmax().reshape(1), label_smoothing=eps), {"z": z}


TORCH = {
    "mlp-mse-relu": mlp_mse_relu,
    "logistic-regression-bce": logistic_regression_bce,
    "mlp-bce-tanh": mlp_bce_tanh,
    "softmax-classifier-ce": softmax_classifier_ce,
    "two-layer-net-softmax": two_layer_net_softmax,
    "svm-hinge-binary": svm_hinge_binary,
    "svm-multiclass-hinge": svm_multiclass_hinge,
    "focal-loss": focal_loss,
    "weight-decay-mlp": weight_decay_mlp,
    "dropout-fixed-mask": dropout_fixed_mask,
    "tied-autoencoder": tied_autoencoder,
    "tied-embeddings-lm": tied_embeddings_lm,
    "batchnorm-layer": batchnorm_layer,
    "layernorm-layer": layernorm_layer,
    "rmsnorm-layer": rmsnorm_layer,
    "rnn-bptt-3": rnn_bptt_3,
    "lstm-cell-step": lstm_cell_step,
    "gru-cell-step": gru_cell_step,
    "attention-single-query": attention_single_query,
    "word2vec-naive-softmax": word2vec_naive_softmax,
    "word2vec-negative-sampling": word2vec_negative_sampling,
    "residual-block": residual_block,
    "silu-layer": silu_layer,
    "quadratic-form": quadratic_form,
    "least-squares-normal": least_squares_normal,
    "ridge-regression": ridge_regression,
    "weighted-least-squares": weighted_least_squares,
    "bilinear-form": bilinear_form,
    "matrix-factorization": matrix_factorization,
    "poisson-regression": poisson_regression,
    "huber-regression": huber_regression,
    "lasso-regression": lasso_regression,
    "elastic-net": elastic_net,
    "gelu-layer": gelu_layer,
    "transformer-ffn": transformer_ffn,
    "lstm-cell-two-givens": lstm_cell_two_givens,
    "vae-gaussian-kl": vae_gaussian_kl,
    "sdpa-matrix": sdpa_matrix,
    "self-attention-projections": self_attention_projections,
    "causal-attention": causal_attention,
    "softmax-regression-batch": softmax_regression_batch,
    "conv1d-stride-padding": conv1d_stride_padding,
    "conv2d-layer": conv2d_layer,
    "conv2d-stride-padding": conv2d_stride_padding,
    "cnn1d-maxpool": cnn1d_maxpool,
    "maxpool2d-layer": maxpool2d_layer,
    "trace-forms": trace_forms,
    "precision-mle": precision_mle,
    "norm-regression": norm_regression,
    "gaussian-loglik": gaussian_loglik,
    "label-smoothing-ce": label_smoothing_ce,
}
