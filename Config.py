"""The Sacred ingredient ``cfg``: the base model_config and one named config per model.

    python experiments/train.py with cfg.J1            # the paper's J1
    python experiments/train.py with cfg.J1 cfg.tiny   # the same, small enough for a CPU
    python experiments/train.py with cfg.full_44KHz    # the original Wave-U-Net's names work too

The values themselves live in ``wavenet_j/configs.py`` (plain dicts, so the library and the
``wavenet-j`` command read them without Sacred); this file registers them with Sacred.
"""
import copy

import numpy as np
from sacred import Ingredient
from sacred.config import ConfigDict

from wavenet_j.configs import BASE_CONFIG, NAMED_CONFIGS, derived_keys

cfg = Ingredient("cfg")


@cfg.config
def base_config():
    model_config = dict(BASE_CONFIG)  # noqa: F841 (Sacred reads the local variables)
    model_config.update(derived_keys(model_config))
    experiment_id = int(np.random.randint(0, 1000000))  # noqa: F841 (pass experiment_id=... to resume a run)


class _NamedConfig(ConfigDict):
    """A dict named config that Sacred cannot alter: applying ``cfg.J1 cfg.tiny`` merges J1's
    values into the stored ``tiny`` dict in place, which would leak into the next run of the
    same process (a notebook, the tests). Each use therefore starts from a fresh copy."""

    def __call__(self, fixed=None, preset=None, fallback=None):
        return ConfigDict(copy.deepcopy(self._conf))(fixed, preset, fallback)


for _name, _overrides in NAMED_CONFIGS.items():
    cfg.named_configs[_name] = _NamedConfig({"model_config": _overrides})
