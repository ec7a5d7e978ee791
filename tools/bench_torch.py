"""bench_torch.py WIDTH THREADS BATCH STEPS: PyTorch reference for `make bench`.

Times one training step (forward, backward, SGD momentum 0.9, wd 1e-4) of the official
facebookresearch/mixup-cifar10 ResNet18 (pre-activation, conv-BN-ReLU stem, shortcut from
relu(bn1(x)), no final BN-ReLU) on random 32x32 inputs, and prints one line:
  torch images_per_s=<float> peak_rss_mib=<float> threads=<n> width=<w> version=<v>
Run in its own process per configuration so that the peak resident memory is this config's.
Never a dependency of the harness: `make bench` runs it only when python3-torch is installed.
"""
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class PreActBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class ResNet18(nn.Module):
    def __init__(self, width=64, num_classes=10):
        super().__init__()
        self.in_planes = width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make(width, 2, 1)
        self.layer2 = self._make(2 * width, 2, 2)
        self.layer3 = self._make(4 * width, 2, 2)
        self.layer4 = self._make(8 * width, 2, 2)
        self.linear = nn.Linear(8 * width, num_classes)

    def _make(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(PreActBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


def main():
    width, threads, batch, steps = (int(a) for a in sys.argv[1:5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = ResNet18(width)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    net.train()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up: allocations, kernel selection
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch images_per_s={batch * steps / dt:.1f} peak_rss_mib={rss:.0f} "
          f"threads={threads} width={width} version={torch.__version__}")


if __name__ == "__main__":
    main()
