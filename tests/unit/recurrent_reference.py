#!/usr/bin/python3
# References for tests/unit/test_recurrent.cpp: LSTM and GRU (reset_after) through torch.nn with
# Keras's weights mapped across; GRU reset_after=False and SimpleRNN by numpy loops. Weights and
# inputs are the formulas fill_weights() and input_of() in the test; LSTM with swish's gradients
# through float64 autograd. Prints C++ initializers.
import numpy as np
import torch

N, T, F, U = 2, 4, 3, 2


def formula(size, phase):
    return np.array([0.5 * np.sin(0.7 * i + phase) for i in range(size)], dtype=np.float64)


def weights(gates, bias_rows):
    k = formula(F * gates * U, 1.0).reshape(F, gates * U)
    r = formula(U * gates * U, 2.0).reshape(U, gates * U)
    b = formula(bias_rows * gates * U, 3.0).reshape(bias_rows, gates * U)
    return k, r, b


x = np.array([np.sin(0.3 * i) + 0.1 * np.cos(1.3 * i) for i in range(N * T * F)]).reshape(N, T, F)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def torch_lstm(reverse):
    k, r, b = weights(4, 1)
    m = torch.nn.LSTM(F, U, batch_first=True).double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor(k.T)); m.weight_hh_l0.copy_(torch.tensor(r.T))
        m.bias_ih_l0.copy_(torch.tensor(b[0])); m.bias_hh_l0.zero_()
        xin = torch.tensor(x[:, ::-1].copy() if reverse else x)
        return m(xin)[0].numpy()


def torch_gru():
    k, r, b = weights(3, 2)
    order = lambda a: np.concatenate([a[..., U:2 * U], a[..., :U], a[..., 2 * U:]], axis=-1)  # z r h -> r z n
    m = torch.nn.GRU(F, U, batch_first=True).double()
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.tensor(order(k).T)); m.weight_hh_l0.copy_(torch.tensor(order(r).T))
        m.bias_ih_l0.copy_(torch.tensor(order(b[0]))); m.bias_hh_l0.copy_(torch.tensor(order(b[1])))
        return m(torch.tensor(x))[0].numpy()


def numpy_gru_reset_before():
    k, r, b = weights(3, 1)
    h = np.zeros((N, U)); out = []
    for t in range(T):
        xp = x[:, t] @ k + b[0]
        z = sigmoid(xp[:, :U] + h @ r[:, :U]); rr = sigmoid(xp[:, U:2 * U] + h @ r[:, U:2 * U])
        hh = np.tanh(xp[:, 2 * U:] + (rr * h) @ r[:, 2 * U:])
        h = z * h + (1 - z) * hh; out.append(h)
    return np.stack(out, 1)


def numpy_simple_rnn():
    k, r, b = weights(1, 1)
    h = np.zeros((N, U)); out = []
    for t in range(T):
        h = np.tanh(x[:, t] @ k + b[0] + h @ r); out.append(h)
    return np.stack(out, 1)


def torch_lstm_swish_gradients():
    """Keras's LSTM with activation swish, written out step by step in float64 autograd: the
    gradients of sum(y * g), g[i] = cos(0.9 i), y the (N, T, U) outputs."""
    k, r, b = (torch.tensor(a, requires_grad=True) for a in weights(4, 1))
    xin = torch.tensor(x, requires_grad=True)
    swish = lambda v: v * torch.sigmoid(v)
    h = torch.zeros(N, U, dtype=torch.float64); c = torch.zeros(N, U, dtype=torch.float64); out = []
    for t in range(T):
        z = xin[:, t] @ k + h @ r + b[0]
        i, f = torch.sigmoid(z[:, :U]), torch.sigmoid(z[:, U:2 * U])
        cand, o = swish(z[:, 2 * U:3 * U]), torch.sigmoid(z[:, 3 * U:])
        c = f * c + i * cand; h = o * swish(c); out.append(h)
    y = torch.stack(out, 1)
    g = torch.tensor([np.cos(0.9 * i) for i in range(N * T * U)]).reshape(N, T, U)
    (y * g).sum().backward()
    return [("kSwishKernelGrad", k.grad.numpy()), ("kSwishRecurrentGrad", r.grad.numpy()),
            ("kSwishBiasGrad", b.grad.numpy()), ("kSwishInputGrad", xin.grad.numpy())]


for name, y in [("kLstm", torch_lstm(False)), ("kLstmBackwards", torch_lstm(True)), ("kGru", torch_gru()),
                ("kGruResetBefore", numpy_gru_reset_before()), ("kSimpleRnn", numpy_simple_rnn())] + \
        torch_lstm_swish_gradients():
    form = "%.9ef" if name.startswith("kSwish") else "%.8ff"  # the gradients are as small as 1e-6
    print("const std::vector<float> %s = {%s};" % (name, ", ".join(form % v for v in y.reshape(-1))))
