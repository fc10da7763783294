"""A network's trainable tensors as views into one flat buffer, for the per-update work of a small table.

On a table of a few hundred rows an optimizer update is per-operation overhead, not arithmetic
(``docs/speed.md``): zeroing, clipping and AdamW each loop over a network's ten-odd parameter tensors (on
CPU ``clip_grad_norm_`` takes one norm per tensor). With every parameter a view into one buffer and every
gradient a view into another, each of them is one operation on one tensor. Autograd accumulates into the
gradient views in place, so nothing else changes but rounding: AdamW's arithmetic is elementwise (its
fused CPU kernel rounds the last few elements of a tensor, the tail of its vector loop, a little
differently, and those are other elements in one buffer), and the clipping factor is the same up to the
order of the norm's sum (it only acts when the norm exceeds the limit). Default DARTS fits on iris, wine,
breast cancer and digits gave the same records and transforms bit for bit; random search the same
winners, with a few networks' scores moved by up to 0.004 (``docs/speed.md``).
"""

from __future__ import annotations

import torch
from torch import nn


class FlatParameters:
    """Re-seat ``params`` as views into one flat tensor, their gradients as views into another.

    Parameters
    ----------
    params : list of torch.nn.Parameter
        Trainable tensors of one dtype on one device (use :meth:`supports` first).

    Attributes
    ----------
    parameter : torch.nn.Parameter
        The flat buffer, for the optimizer; its ``grad`` is the flat gradient.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(3, 2)
    >>> flat = FlatParameters(list(net.parameters()))
    >>> flat.parameter.shape
    torch.Size([8])
    >>> net(torch.ones(1, 3)).sum().backward()
    >>> bool(flat.parameter.grad[-2:].eq(1).all())  # the bias's gradient, in the flat buffer
    True
    >>> flat.release()  # the network owns separate tensors again
    >>> net.weight.grad is None
    True
    """

    def __init__(self, params):
        self.params = list(params)
        with torch.no_grad():
            flat = torch.cat([p.reshape(-1) for p in self.params])
            grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                              for p in self.params])  # gradients already there are kept
        self.parameter = nn.Parameter(flat)
        self.parameter.grad = grad
        offset = 0
        for p in self.params:
            n = p.numel()
            p.data = flat[offset:offset + n].view_as(p)
            p.grad = self.parameter.grad[offset:offset + n].view_as(p)
            offset += n

    @staticmethod
    def supports(params):
        """Whether ``params`` can share one buffer: at least one, distinct, dense, one dtype and one device."""
        return (bool(params) and len({id(p) for p in params}) == len(params)
                and len({(p.dtype, p.device) for p in params}) == 1
                and all(p.layout == torch.strided and p.dtype.is_floating_point for p in params))

    def zero_grad(self):
        self.parameter.grad.zero_()

    def clip_grad_norm_(self, max_norm):
        """``torch.nn.utils.clip_grad_norm_`` on the flat gradient: scale it to at most ``max_norm``; returns
        the norm before scaling."""
        grad = self.parameter.grad
        norm = torch.linalg.vector_norm(grad)
        grad.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))
        return norm

    def release(self):
        """Give every parameter its own storage again and drop the gradients (the trained network is kept,
        pickled and copied on its own, not as a window on a buffer)."""
        with torch.no_grad():
            for p in self.params:
                p.data = p.data.clone()
                p.grad = None
