"""The Sacred ingredient ``cfg``: the base model_config and one named config per model.

    python experiments/train.py with cfg.J1            # the paper's J1
    python experiments/train.py with cfg.J1 cfg.tiny   # the same, small enough for a CPU
    python experiments/train.py with cfg.full_44KHz    # the original Wave-U-Net's names work too

The values themselves live in ``wavenet_j/configs.py`` (plain dicts, so the library and the
``wavenet-j`` command read them without Sacred); this file registers them with Sacred.
"""

import copy

from sacred import Ingredient
from sacred.config import ConfigDict

from wavenet_j.configs import BASE_CONFIG, NAMED_CONFIGS, derived_keys

cfg = Ingredient("cfg")


@cfg.config
def base_config():
    model_config = dict(BASE_CONFIG)  # U1's; each key is described in wavenet_j/configs.py (BASE_CONFIG)
    model_config.update(derived_keys(model_config))
    named_configs = []  # the named configs given, in order; each one adds its name
    # None first: Sacred warns when a given value's type differs from the default's, unless that is None.
    experiment_id = None  # the run folder; default: the named configs joined by "+", or U1, so a run resumes
    experiment_id = experiment_id or "+".join(named_configs) or "U1"


class _NamedConfig(ConfigDict):
    """A dict named config that Sacred cannot alter, and that adds its name to ``named_configs``.

    Applying ``cfg.J1 cfg.tiny`` merges J1's values into the stored ``tiny`` dict in place, which
    would leak into the next run of the same process (a notebook, the tests); each use therefore
    starts from a fresh copy. ``preset`` holds the values of the named configs applied before.
    """

    def __init__(self, name, overrides):
        super().__init__({"model_config": overrides})
        self.name = name

    def __call__(self, fixed=None, preset=None, fallback=None):
        names = [*(preset or {}).get("named_configs", []), self.name]
        return ConfigDict(dict(copy.deepcopy(self._conf), named_configs=names))(fixed, preset, fallback)


for _name, _overrides in NAMED_CONFIGS.items():
    cfg.named_configs[_name] = _NamedConfig(_name, _overrides)
