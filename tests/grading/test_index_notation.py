"""Index notation for matrix and vector quantities (issue 10): an answer may give the (i, j) entry.

The required case is seed 002, Section 6 (BatchNorm) in the seed's own notation: h_{kl}, \\hat{h}_{kl},
\\mu_l, \\sigma^2_l, \\gamma with one index, \\frac{\\partial L}{\\partial y_{kl}} and sums over k with
or without bounds. The right answers below are the textbook BatchNorm backward (the seed prints only
its eq. 39, which lacks the batch terms); the engine's matrix result is verified against finite
differences and torch elsewhere."""
import pytest

from derive import check

BN = "batchnorm-backward"
DH_SEED = (r"\frac{\gamma_j}{N} (\sigma_j^2 + \epsilon)^{-1/2} \left(N \frac{\partial L}{\partial y_{ij}}"
           r" - \sum_k \frac{\partial L}{\partial y_{kj}} - \hat{h}_{ij} \sum_k \frac{\partial L}{\partial y_{kj}} \hat{h}_{kj}\right)")


@pytest.mark.parametrize("quantity, answer", [
    ("dL/dbeta", r"\sum_k \frac{\partial L}{\partial y_{kl}}"),
    ("dL/dbeta", r"\sum_{k=1}^{N} \frac{\partial L}{\partial y_{kj}}"),
    ("dL/dbeta", "sum_k dL/dy_kl"),
    ("dL/dbeta", "sum(dL/dy_{k,l}, k)"),
    ("dL/dgamma", r"\sum_k \frac{\partial L}{\partial y_{kl}} \hat{h}_{kl}"),
    ("dL/dgamma", r"\sum_{k=1}^{N} \frac{\partial L}{\partial y_{kl}} \frac{h_{kl} - \mu_l}{\sqrt{\sigma_l^2 + \epsilon}}"),
    ("dL/dgamma", "sum_k dL/dy_kl hhat_kl"),
    ("dL/dh", DH_SEED),
    ("dL/dh", r"\frac{\gamma_j}{N \sqrt{\sigma^2_j + \epsilon}} \left(N \frac{\partial L}{\partial y_{ij}} - \sum_{k=1}^{N}"
              r" \frac{\partial L}{\partial y_{kj}} - \frac{h_{ij} - \mu_j}{\sigma^2_j + \epsilon} \sum_k"
              r" \frac{\partial L}{\partial y_{kj}} (h_{kj} - \mu_j)\right)"),
    # the seed's eq. 35 written out: a double sum with Kronecker deltas, and with indicators
    ("dL/dh", r"\sum_{k,l} \frac{\partial L}{\partial y_{kl}} \gamma_l (\sigma_l^2+\epsilon)^{-1/2} \left(\delta_{ki}"
              r"\delta_{lj} - \frac{\delta_{lj}}{N} - \frac{\hat{h}_{kl}\hat{h}_{il}\delta_{lj}}{N}\right)"),
    ("dL/dh", r"\sum_{k,l} \frac{\partial L}{\partial y_{kl}} \gamma_l (\sigma_l^2+\epsilon)^{-1/2} \left(\mathbb{1}[k=i]"
              r"\,\mathbb{1}[l=j] - \frac{1(l=j)}{N} - \frac{\hat{h}_{kl}\hat{h}_{il} 1(l=j)}{N}\right)"),
    ("dL/dh", "gamma_j/N (var_j + eps)^(-1/2) (N dL/dy_ij - sum_k dL/dy_kj - hhat_ij sum_k dL/dy_kj hhat_kj)"),
    ("dL/dh", DH_SEED.replace("_j", "_q").replace("{ij}", "{pq}").replace("{kj}", "{rq}").replace("sum_k", "sum_r")),
])
def test_batchnorm_in_the_seeds_index_notation(quantity, answer):
    r = check(BN, quantity, answer)
    assert r.verdict == "correct", r.feedback


@pytest.mark.parametrize("quantity, answer, code, words", [
    ("dL/dbeta", r"\frac{\partial L}{\partial y_{kl}}", "shape", "2 free indices (k, l)"),       # the seed's eq. 41
    ("dL/dgamma", r"\sum_k \frac{\partial L}{\partial y_{kl}}", "missing_factor", "hhat"),
    ("dL/dgamma", r"-\sum_k \frac{\partial L}{\partial y_{kl}} \hat{h}_{kl}", "sign", "sign"),
    ("dL/dh", r"\gamma_j (\sigma_j^2 + \epsilon)^{-1/2} \frac{\partial L}{\partial y_{ij}}", "missing_term", "3 terms"),
    ("dL/dh", DH_SEED.replace(r" - \hat{h}_{ij} \sum_k \frac{\partial L}{\partial y_{kj}} \hat{h}_{kj}", ""),
     "missing_term", "a term is missing"),
    ("dL/dh", "-" + DH_SEED, "sign", "sign"),
    ("dL/dh", DH_SEED.replace(r"\frac{\gamma_j}{N}", r"\gamma_j"), "constant_factor", "counting entries"),
])
def test_wrong_batchnorm_entries_are_diagnosed(quantity, answer, code, words):
    r = check(BN, quantity, answer)
    assert r.verdict == "incorrect" and r.diagnosis == (code,), r.feedback
    assert words in r.feedback[0], r.feedback


def test_seed_eq_39_in_index_notation_is_incorrect():
    r = check(BN, "dL/dh", r"\gamma_j \frac{\partial L}{\partial y_{ij}} \left((\sigma_j^2 + \epsilon)^{-1/2}"
                           r" - \frac{1}{N} (h_{ij} - \mu_j)^2 (\sigma_j^2 + \epsilon)^{-3/2}\right)")
    assert r.verdict == "incorrect"


@pytest.mark.parametrize("problem, quantity, answer", [
    ("two-hidden-deltas", "drho/dW1", "delta2_i x_j"),              # an outer product, entry by entry
    ("two-hidden-deltas", "drho/dW2", r"\delta^3_i H^1_j"),
    ("two-hidden-deltas", "delta3", "sigma'(Z2_i) sum_k W3_ki delta4_k"),
    ("tanh-softmax-net", "dL/dW1", "x_i dL/dz1_j"),
    ("softmax-ce", "dP_j/dh_i", "P_j (1(i=j) - P_i)"),
    ("softmax-ce", "dP_j/dh_i", r"P_j (\mathbb{1}[i=j] - P_i)"),
    ("softmax-ce", "dL/dh_i", "P_k - y_k"),                          # the student names the free index
    ("softmax-definition", "softmax_i", r"\frac{e^{z_i - \max_k z_k}}{\sum_k e^{z_k - \max_l z_l}}"),
    ("softmax-definition", "softmax_i", "exp(z_i - max_k z_k)/sum_k exp(z_k - max_k z_k)"),
])
def test_entries_of_other_quantities(problem, quantity, answer):
    r = check(problem, quantity, answer)
    assert r.verdict == "correct", r.feedback


@pytest.mark.parametrize("problem, quantity, answer, words", [
    ("two-hidden-deltas", "delta3", "sigma'(Z2_i) sum_k W3_ik delta4_k", "labels axes of sizes"),
    ("batchnorm-backward", "dL/dh", "hhat_i dL/dy_ij", "needs two indices"),
    ("batchnorm-backward", "dL/dh", "dL/dy_ij + hhat", "write its entries"),
    ("batchnorm-backward", "dL/dbeta", "sum_k 1", "range of the index k"),
    # a row x_i transposed would make inner and outer products pass as entrywise ones (an attack round)
    ("batchnorm-layer", "dl/dgamma", r"\sum_i \hat{x}_i^T \frac{\partial \ell}{\partial y_i}", "transposed is not read"),
    ("batchnorm-layer", "dl/dx", r"\gamma s (m \frac{\partial \ell}{\partial y_i} - \sum_j \frac{\partial \ell}"
     r"{\partial y_j} - \hat{x}_i \sum_j \hat{x}_j^T \frac{\partial \ell}{\partial y_j})/m", "transposed is not read"),
    ("layernorm-layer", "dL/dahat", "log_g(2) dL/dh_i", "base of log_g"),          # was a worker's TypeError
    # a sum's bounds were dropped: part of the range, or another dimension's, passed as the whole sum
    ("batchnorm-layer", "dl/dbeta", r"\sum_{i=2}^{m} \frac{\partial \ell}{\partial y_i}", "does not run over all"),
    ("batchnorm-layer", "dl/dbeta", r"\sum_{i=1}^{m-1} \frac{\partial \ell}{\partial y_i}", "does not run over all"),
    ("batchnorm-backward", "dL/dbeta", r"\sum_{k=1}^{H} \frac{\partial L}{\partial y_{kl}}", "does not run over all"),
    ("softmax-definition", "softmax_i", r"\frac{e^{z_i}}{\sum_{k=2}^{K} e^{z_k}}", "does not run over all"),
    ("batchnorm-layer", "dl/dbeta", r"\sum_{i=1}^{2} \frac{\partial \ell}{\partial y_i}", "does not run over all"),
    ("batchnorm-layer", "dl/dbeta", r"\sum_{i=1}^{m/2} \frac{\partial \ell}{\partial y_i}", "does not run over all"),
    ("maxpool2d-layer", "dL/dZ", r"\frac{\partial L}{\partial P_i} Z_i", "labels axes of sizes"),   # fits one size only
])
def test_malformed_entries_say_why(problem, quantity, answer, words):
    r = check(problem, quantity, answer)
    assert r.verdict in ("invalid", "incorrect") and words in r.feedback[0], r.feedback


def test_the_wrong_index_order_of_a_square_block_is_a_transpose():
    # dP_j/dh_i is K×K: P_i (1(i=j) - P_j) is symmetric, so swap the roles with an asymmetric answer
    r = check("softmax-ce", "dP_j/dh_i", "P_j 1(i=j) - P_i P_j + (P_i - P_j)")
    assert r.verdict == "incorrect"


def test_an_outer_product_of_many_indices_is_bounded():
    """Hostile index forms: seven independent pairs of indices would span millions of entries."""
    r = check(BN, "dL/dh", "hhat_ij hhat_kl hhat_mn hhat_op hhat_qr hhat_tu hhat_vz")
    assert r.verdict == "invalid" and r.diagnosis == ("too_complex",) and "sum sooner" in r.feedback[0]
