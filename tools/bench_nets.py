"""bench_nets.py NET THREADS BATCH STEPS: the PyTorch peer of tools/bench_nets.lua for `make
bench`: WRN-28-10 and DenseNet-BC (100, k = 12; 190, k = 40) as the fixtures' reference classes
build them (tests/fixtures/gen_wrn_densenet.py: xternalz/WideResNet-pytorch and
andreasveit/densenet-pytorch), training steps on random 32x32 inputs, one line:
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

NETS = {"wrn28_10": lambda: WideResNet(28, 10, 10),
        "densenet100": lambda: DenseNet3(100, 10, 12),
        "densenet190": lambda: DenseNet3(190, 10, 40)}


def main():
    name = sys.argv[1]
    threads, batch, steps = (int(a) for a in sys.argv[2:5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = NETS[name]()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))

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
    print(f"torch images_per_s={batch * steps / dt:.1f} peak_rss_mib={rss:.0f} "
          f"threads={threads} net={name}")


if __name__ == "__main__":
    main()
