"""The AlexNet-shaped DeepPed classifier in the Caffe/R-CNN layout.

DeepPed (Tome et al., arXiv 1510.03608) scores each 227x227 proposal crop with a fine-tuned AlexNet.
The layout follows Caffe's reference model: grouped conv2/4/5 (groups=2, a relic of the two-GPU split
that halves those layers' weights), LRN after conv1 and conv2, and a 2-class fc8 (pedestrian or not).
With these shapes the classifier has 56.9 M weights, 227.5 MB in fp32 (../shared/REFERENCES.md).
``grouped=False`` gives the same layers with every convolution in one group (the single-GPU AlexNet of
SCALE-Sim's and most peer tools' topologies): the workload-only ``alexnet-227`` model.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class AlexNetClassifier(nn.Module):
    """AlexNet-shaped classifier; ``width`` scales every channel count, ``fc`` the hidden fc width, so
    that small trainable variants keep the same layer kinds and grouping. ``grouped`` (Caffe's layout)
    splits conv2, conv4 and conv5 into two groups; ``grouped=False`` keeps every convolution whole."""

    def __init__(self, num_classes: int = 2, width: float = 1.0, fc: int = 4096, input_size: int = 227,
                 grouped: bool = True):
        super().__init__()
        g = 2 if grouped else 1

        def ch(n: int) -> int:
            return max(2, int(round(n * width / 2)) * 2)  # even, so groups=2 divides it

        c1, c2, c3, c4, c5 = ch(96), ch(256), ch(384), ch(384), ch(256)
        self.input_size = input_size
        self.conv1 = nn.Conv2d(3, c1, kernel_size=11, stride=4)
        self.relu1 = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=5, padding=2, groups=g)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3, padding=1)
        self.relu3 = nn.ReLU(inplace=True)
        self.conv4 = nn.Conv2d(c3, c4, kernel_size=3, padding=1, groups=g)
        self.relu4 = nn.ReLU(inplace=True)
        self.conv5 = nn.Conv2d(c4, c5, kernel_size=3, padding=1, groups=g)
        self.relu5 = nn.ReLU(inplace=True)
        self.pool5 = nn.MaxPool2d(kernel_size=3, stride=2)
        spatial = _pool5_size(input_size)
        self.flatten = nn.Flatten()
        self.fc6 = nn.Linear(c5 * spatial * spatial, fc)
        self.relu6 = nn.ReLU(inplace=True)
        self.drop6 = nn.Dropout(0.5)
        self.fc7 = nn.Linear(fc, fc)
        self.relu7 = nn.ReLU(inplace=True)
        self.drop7 = nn.Dropout(0.5)
        self.fc8 = nn.Linear(fc, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.children():
            x = module(x)
        return x


def _pool5_size(input_size: int) -> int:
    def conv(n, k, s=1, p=0):
        return (n + 2 * p - k) // s + 1

    n = conv(input_size, 11, 4)
    n = conv(n, 3, 2)  # pool1
    n = conv(n, 3, 2)  # pool2 (conv2..5 keep the size)
    n = conv(n, 3, 2)  # pool5
    if n < 1:
        raise ValueError(f"input size {input_size} px is too small for the AlexNet layout")
    return n


def init_gaussian_(model: nn.Module, seed: int) -> nn.Module:
    """Deterministic He-normal weights and zero biases.

    Untrained weights stand in for the trained DeepPed model in workload-only studies; a bell-shaped
    distribution (as Caffe's gaussian filler gives) is closer to trained weights than uniform init,
    which matters for magnitude pruning and k-means.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=gen)
                if m.bias is not None:
                    m.bias.zero_()
    return model
