"""Example 3: a small convolutional network on handwritten digits, as a Ray Tune Trainable
(``MNISTTrainable``) and as a plain PyTorch loop (``mnist_loop``, reporting each epoch with
``hpogrid.trial.report`` so an early-stopping scheduler can end it).

The data are scikit-learn's bundled 8x8 digits (1,797 images, no download), so the example
runs anywhere, grid jobs included; the network is MNIST-style (conv, pool, two dense
layers) and trains on the CPU in well under a second per epoch.

Hyperparameters (config keys, all optional):

- ``lr``         Adam learning rate (default 1e-3)
- ``beta``       Adam's first-moment decay beta1 (default 0.9; capped below 1)
- ``batchsize``  mini-batch size (default 64)
- ``hidden``     units of the hidden dense layer (default 64)
- ``channels``   convolution filters (default 16)

and, usually from ``model_config --param``: ``epochs`` per ``step`` (default 1),
``test_fraction`` of images held out (default 0.2), ``seed`` (default 0).
Each ``step`` reports ``loss`` (cross entropy) and ``accuracy`` on the held-out images.
"""
import os

import numpy as np
import torch
from ray import tune
from sklearn.datasets import load_digits
from torch import nn

from hpogrid.trial import report

_DIGITS = None


def digits(test_fraction: float, seed: int):
    """(x_train, y_train, x_test, y_test) as tensors; images are 1x8x8 scaled to [0, 1]."""
    global _DIGITS
    if _DIGITS is None:
        data = load_digits()
        _DIGITS = (data.images.astype(np.float32) / 16.0, data.target.astype(np.int64))
    images, labels = _DIGITS
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = max(1, int(round(len(labels) * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels)
    return x[train], y[train], x[test], y[test]


class ConvNet(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * 4 * 4, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class MNISTTrainable(tune.Trainable):
    def setup(self, config):
        # many trials share few cores: one thread each avoids oversubscription
        torch.set_num_threads(1)
        seed = int(config.get("seed", 0))
        torch.manual_seed(seed)
        self.epochs = int(config.get("epochs", 1))
        self.batchsize = int(config.get("batchsize", 64))
        self.x_train, self.y_train, self.x_test, self.y_test = digits(
            float(config.get("test_fraction", 0.2)), seed)
        self.model = ConvNet(int(config.get("channels", 16)), int(config.get("hidden", 64)))
        beta = min(float(config.get("beta", 0.9)), 0.999)  # Adam needs beta1 < 1
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(config.get("lr", 1e-3)),
                                          betas=(beta, 0.999))
        self.loss_fn = nn.CrossEntropyLoss()
        self.generator = torch.Generator().manual_seed(seed)

    def train_epoch(self):
        self.model.train()
        order = torch.randperm(len(self.y_train), generator=self.generator)
        for start in range(0, len(order), self.batchsize):
            batch = order[start:start + self.batchsize]
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(self.x_train[batch]), self.y_train[batch])
            loss.backward()
            self.optimizer.step()

    def evaluate(self):
        self.model.eval()
        with torch.no_grad():
            logits = self.model(self.x_test)
            loss = self.loss_fn(logits, self.y_test).item()
            accuracy = (logits.argmax(dim=1) == self.y_test).float().mean().item()
        return {"loss": loss, "accuracy": accuracy}

    def step(self):
        for _ in range(self.epochs):
            self.train_epoch()
        return self.evaluate()

    def save_checkpoint(self, checkpoint_dir):
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()},
                   os.path.join(checkpoint_dir, "model.pt"))

    def load_checkpoint(self, checkpoint_dir):
        state = torch.load(os.path.join(checkpoint_dir, "model.pt"))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])

    def reset_config(self, new_config):
        # Ray reuses this actor for the next trial: a fresh network and optimizer
        self.setup(new_config)
        return True


def mnist_loop(config):
    """The same network in a plain training loop: one report per epoch (``max_epochs``, default
    100, or the run's stop criterion); it ends when the scheduler says so and its last report
    is the trial's result."""
    torch.set_num_threads(1)
    seed = int(config.get("seed", 0))
    torch.manual_seed(seed)
    x_train, y_train, x_test, y_test = digits(float(config.get("test_fraction", 0.2)), seed)
    model = ConvNet(int(config.get("channels", 16)), int(config.get("hidden", 64)))
    beta = min(float(config.get("beta", 0.9)), 0.999)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(config.get("lr", 1e-3)), betas=(beta, 0.999))
    loss_fn, batchsize = nn.CrossEntropyLoss(), int(config.get("batchsize", 64))
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(1, int(config.get("max_epochs", 100)) + 1):
        model.train()
        order = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(order), batchsize):
            batch = order[start:start + batchsize]
            optimizer.zero_grad()
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(x_test)
            loss = loss_fn(logits, y_test).item()
            accuracy = (logits.argmax(dim=1) == y_test).float().mean().item()
        if report(epoch, loss=loss, accuracy=accuracy):  # True: the scheduler stops this trial
            break
