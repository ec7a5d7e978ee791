"""bench_imagenet.py: the PyTorch peers of tools/bench_imagenet.lua for `make bench` (issue 15).

  decode DIR                  Pillow decode + torchvision's RandomResizedCrop(224) (bilinear),
                              RandomHorizontalFlip, ToTensor, Normalize on every file of DIR,
                              one thread, after a warm-up pass:
                              torch decode_images_per_s=<f> threads=1 version=<v>
  resnet50 THREADS BATCH STEPS  torchvision's resnet50 training steps (SGD momentum 0.9,
                              Nesterov, wd 1e-4) on random 224 x 224 inputs:
                              torch images_per_s=<f> peak_rss_mib=<f> threads=<n> version=<v>
Never a dependency of the harness: `make bench` runs it only when python3-torch and
python3-torchvision are installed.
"""
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torchvision import transforms


def decode(folder):
    torch.set_num_threads(1)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    def one_pass():
        for path in files:
            with open(path, "rb") as f:
                tf(Image.open(f).convert("RGB"))

    one_pass()
    t0 = time.perf_counter()
    one_pass()
    print(f"torch decode_images_per_s={len(files) / (time.perf_counter() - t0):.1f} threads=1 "
          f"version={torchvision.__version__}")


def resnet50(threads, batch, steps):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torchvision.models.resnet50()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                          weight_decay=1e-4)
    x = torch.randn(batch, 3, 224, 224)
    y = torch.randint(0, 1000, (batch,))

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch images_per_s={batch * steps / dt:.2f} peak_rss_mib={rss:.0f} threads={threads} "
          f"version={torch.__version__}")


if __name__ == "__main__":
    if sys.argv[1] == "decode":
        decode(sys.argv[2])
    else:
        resnet50(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
