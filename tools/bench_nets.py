"""bench_nets.py NET THREADS BATCH STEPS: the PyTorch peer of tools/bench_nets.lua for `make
bench`: WRN-28-10 and DenseNet-BC (100, k = 12; 190, k = 40) as the fixtures' reference classes
build them (tests/fixtures/gen_wrn_densenet.py: xternalz/WideResNet-pytorch and
andreasveit/densenet-pytorch) on random 32x32 inputs, and torchvision's resnet50 and ResNeXt-101
32x4d (its ResNet class with groups 32, width_per_group 4) on 224x224 (Nesterov, as Table 1's
recipe), training steps, one line:
  torch images_per_s=<f> peak_rss_mib=<f> threads=<n> net=<NET>
"""
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "fixtures"))
from gen_wrn_densenet import DenseNet3, WideResNet  # noqa: E402

# name -> (the model, the input side, the class count)
NETS = {"wrn28_10": (lambda: WideResNet(28, 10, 10), 32, 10),
        "densenet100": (lambda: DenseNet3(100, 10, 12), 32, 10),
        "densenet190": (lambda: DenseNet3(190, 10, 40), 32, 10),
        "resnet50": (lambda: __import__("torchvision").models.resnet50(), 224, 1000),
        "resnext101": (lambda: __import__("torchvision").models.resnet.ResNet(
            __import__("torchvision").models.resnet.Bottleneck, [3, 4, 23, 3], groups=32,
            width_per_group=4), 224, 1000)}


def main():
    name = sys.argv[1]
    threads, batch, steps = (int(a) for a in sys.argv[2:5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    make, side, classes = NETS[name]
    net = make()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4,
                          nesterov=name in ("resnet50", "resnext101"))
    x = torch.randn(batch, 3, side, side)
    y = torch.randint(0, classes, (batch,))

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch images_per_s={batch * steps / dt:.2f} peak_rss_mib={rss:.0f} "
          f"threads={threads} net={name}")


if __name__ == "__main__":
    main()
