"""Example 2: a Ray Tune Trainable class.

Each ``step`` is one training iteration; the loss improves with iterations so schedulers
(ASHA, PBT, HyperBand) have something to act on. Checkpoints make PBT and resume work.
"""
import json
import os

from ray import tune


class MyTrainableClass(tune.Trainable):
    def setup(self, config):
        self.timestep = 0
        self.alpha = config["alpha"]
        self.beta = config["beta"]

    def step(self):
        self.timestep += 1
        loss = (self.alpha - 2) ** 2 + abs(self.beta - 1) + 1.0 / self.timestep
        return {"loss": loss}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json"), "w") as fh:
            json.dump({"timestep": self.timestep}, fh)

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "state.json")) as fh:
            self.timestep = json.load(fh)["timestep"]

    def reset_config(self, new_config):
        # Ray reuses this actor for the next trial: start its state afresh
        self.setup(new_config)
        return True
