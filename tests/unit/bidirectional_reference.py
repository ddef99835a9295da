#!/usr/bin/python3
# References for tests/unit/test_bidirectional.cpp: Bidirectional(LSTM / GRU) by numpy loops of
# Keras's cells and keras/src/layers/rnn/bidirectional.py's merge (the backward output flipped
# to time order, masked steps zeroed with return_sequences), the LSTM concat case also through
# torch.nn.LSTM(bidirectional=True) with Keras's weights mapped across. Weights: the forward
# layer's kernel, recurrent_kernel, bias, then the backward layer's, each 0.5 sin(0.7 i + phase)
# with phases 1 to 6 (as the test fills them). Prints C++ initializers.
import numpy as np
import torch

N, T, F, U = 2, 4, 3, 2

x = np.array([np.sin(0.3 * i) + 0.1 * np.cos(1.3 * i) for i in range(N * T * F)]).reshape(N, T, F)
mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=np.float64)


def formula(size, phase):
    return np.array([0.5 * np.sin(0.7 * i + phase) for i in range(size)], dtype=np.float64)


def weights(gates, bias_rows, first_phase):
    k = formula(F * gates * U, first_phase).reshape(F, gates * U)
    r = formula(U * gates * U, first_phase + 1).reshape(U, gates * U)
    b = formula(bias_rows * gates * U, first_phase + 2).reshape(bias_rows, gates * U)
    return k, r, b


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def lstm_step(xt, h, c, w):
    k, r, b = w
    z = xt @ k + h @ r + b[0]
    i, f, g, o = sigmoid(z[:, :U]), sigmoid(z[:, U:2 * U]), np.tanh(z[:, 2 * U:3 * U]), sigmoid(z[:, 3 * U:])
    c = f * c + i * g
    return o * np.tanh(c), c


def gru_step(xt, h, c, w):  # reset_after true: bias (2, 3U), input and recurrent
    k, r, b = w
    xp = xt @ k + b[0]
    hp = h @ r + b[1]
    z = sigmoid(xp[:, :U] + hp[:, :U])
    rr = sigmoid(xp[:, U:2 * U] + hp[:, U:2 * U])
    hh = np.tanh(xp[:, 2 * U:] + rr * hp[:, 2 * U:])
    return z * h + (1 - z) * hh, c


# Keras's rnn loop: a masked step keeps the state and repeats the previous output; go_backwards
# walks the steps last to first and returns the outputs in that order.
def run(step, w, m, backwards):
    h = np.zeros((N, U)); c = np.zeros((N, U)); out = []
    order = range(T - 1, -1, -1) if backwards else range(T)
    for t in order:
        hn, cn = step(x[:, t], h, c, w)
        keep = m[:, t:t + 1]
        h = keep * hn + (1 - keep) * h
        c = keep * cn + (1 - keep) * c
        out.append(h)
    return np.stack(out, 1)


def bidirectional(cell, merge, sequences, m):
    step, gates, rows = (lstm_step, 4, 1) if cell == "LSTM" else (gru_step, 3, 2)
    yf = run(step, weights(gates, rows, 1.0), m, False)
    yb = run(step, weights(gates, rows, 4.0), m, True)
    if sequences:
        yb = yb[:, ::-1]
        yf = yf * m[:, :, None]
        yb = yb * m[:, :, None]
    else:
        yf, yb = yf[:, -1], yb[:, -1]
    return {"concat": lambda: np.concatenate([yf, yb], -1), "sum": lambda: yf + yb, "mul": lambda: yf * yb,
            "ave": lambda: (yf + yb) / 2}[merge]()


def torch_bidirectional_lstm():
    m = torch.nn.LSTM(F, U, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for suffix, phase in (("", 1.0), ("_reverse", 4.0)):
            k, r, b = weights(4, 1, phase)
            getattr(m, "weight_ih_l0" + suffix).copy_(torch.tensor(k.T))
            getattr(m, "weight_hh_l0" + suffix).copy_(torch.tensor(r.T))
            getattr(m, "bias_ih_l0" + suffix).copy_(torch.tensor(b[0]))
            getattr(m, "bias_hh_l0" + suffix).zero_()
        return m(torch.tensor(x))[0].numpy()


ones = np.ones((N, T))
reference = bidirectional("LSTM", "concat", True, ones)
assert np.max(np.abs(reference - torch_bidirectional_lstm())) < 1e-12, "numpy and torch disagree"
cases = [("kLstmConcat", reference),
         ("kLstmConcatMasked", bidirectional("LSTM", "concat", True, mask)),
         ("kLstmSumMasked", bidirectional("LSTM", "sum", True, mask)),
         ("kLstmMulMasked", bidirectional("LSTM", "mul", True, mask)),
         ("kLstmAveLastMasked", bidirectional("LSTM", "ave", False, mask)),
         ("kGruConcatLastMasked", bidirectional("GRU", "concat", False, mask))]
for name, y in cases:
    print("const std::vector<float> %s = {%s};" % (name, ", ".join("%.8ff" % v for v in y.reshape(-1))))
