"""Model configurations: the U1 base dict, every named paper model, and their validation.

These plain dicts are the single definition of each model. ``Config.py`` at the top of the
repository turns them into the Sacred ingredient ``cfg`` (``with cfg.J1 cfg.tiny``), and
``resolve_config`` gives the same result without Sacred, for notebooks and the CLI.

A config enters the package through ``complete_config`` (which ``resolve_config``, a loaded model
and the original's configs go through): it fills in U1's values, validates every key once and
gives a read-only ``ModelConfig``, which the rest of the package reads as it is.
"""

import ast
import copy
import os
from collections.abc import Mapping, Sequence

# Training stages, one (batch size factor, Adam learning rate) pair each. The J-Net paper's
# (section 3.2; its authors' Training.py uses batch 16, 32, 32): lr 1e-4, then batch x2 and 1e-5,
# then 1e-6. The original Wave-U-Net's Training.py: two stages, the second with batch x2 and 1e-5.
PAPER_SCHEDULE = [[1, 1e-4], [2, 1e-5], [2, 1e-6]]
ORIGINAL_SCHEDULE = [[1, 1e-4], [2, 1e-5]]

# U1, the J-Net paper's baseline (Wave-U-Net M4 without input context, 10 layers).
BASE_CONFIG = {
    # task and audio
    "task": "voice",  # "voice": accompaniment + vocals; "multi_instrument": bass, drums, other, vocals
    "mono_downmix": False,  # True: the model separates mono audio (stereo songs are averaged first)
    "expected_sr": 22050,  # the model's sample rate; songs are resampled to it and back
    "num_frames": 16384,  # output samples per example (the input is longer in context mode)
    # architecture (the original Wave-U-Net's keys)
    # "unet": Wave-U-Net; "unet_spectrogram": the original's spectrogram U-Net (Jansson et al. 2017)
    "network": "unet",
    "num_layers": 10,  # encoder levels, each halving the time resolution
    "num_initial_filters": 24,  # filters of level 0; level i has (i + 1) times as many
    "filter_size": 15,  # width of the encoder convs
    "input_filter_size": 15,  # the original's key for the first conv's width; must equal filter_size
    "merge_filter_size": 5,  # width of the decoder convs after each skip is concatenated
    "output_filter_size": 1,  # width of the output convs
    "context": False,  # True: "valid" convs, so an output sees input context (M3-M6); False: "same" convs
    "upsampling": "linear",  # decoder upsampling: "linear" interpolation or "learned" interpolation weights
    "output_type": "difference",  # "difference": the last source is the mix minus the others; "direct"
    "output_activation": "tanh",  # of the output convs: "tanh" or "linear"
    # J-Net paper extensions
    "freeze_encoder": False,  # J models: encoder convs (and Res paths / MultiRes blocks in it) stay random
    "freeze_decoder": False,  # L models: decoder convs and learned interpolation weights stay random
    # encoder levels whose skip reaches the decoder; None = all; negative counts from the deepest
    "skip_levels": None,
    "res_path_units": 0,  # Res path: this many units on each selected skip ...
    "res_path_levels": 0,  # ... of the this-many shallowest levels
    "multires_levels": 0,  # MultiRes blocks replace the convs of this many shallowest levels, both paths
    "num_stages": 1,  # progressive learning: separation passes through the shared network in training
    "identity_loss_weight": 0.0,  # lambda of the identity loss; 0 disables it (U5/J5 use 1.0)
    # False: the spectrogram U-Net learns with L1 on magnitude spectrograms, not MSE on audio
    "raw_audio_loss": True,
    "seed": 0,  # draws every random weight, so a frozen random encoder is reproducible
    # data and training (paper section 3.2)
    "augmentation": True,  # a random gain in [0.7, 1) per source of each training snippet
    "batch_size": 16,  # training examples per step in stage 1 (the schedule's factors multiply it)
    "schedule": PAPER_SCHEDULE,  # one (batch size factor, learning rate) pair per early-stopped stage
    "epoch_it": 2000,  # training steps per epoch; validation follows each epoch
    "worse_epochs": 15,  # a stage ends after this many epochs without a better validation loss
    "max_epochs": None,  # cap on the epochs of each stage; None = the paper's early stopping alone
    "checkpoint_steps": None,  # resumable checkpoint every this many steps; None = after every epoch
    "jit_compile": False,  # XLA-compile the training step
    "mixed_precision": None,  # None, "mixed_float16" (GPUs) or "mixed_bfloat16": compute dtype of training
    "musdb_path": None,  # MUSDB18 or MUSDB18-HQ root (train/, test/); "toy": the generated toy corpus
    "musdb_is_wav": None,  # True: MUSDB18-HQ wav, False: MUSDB18 .stem.mp4, None: detect
    "ccmixter_path": None,  # CCMixter root, added to the training set (voice task); None: without
    "valid_fraction": 0.25,  # share of the train tracks drawn (seeded) for validation: 25 of MUSDB's 100
    "data_path": "data",  # the decoded, resampled cache and the toy corpus
    "model_base_dir": "checkpoints",
    "log_dir": "logs",
}

DERIVED_KEYS = ("source_names", "num_sources", "num_channels", "corpus_root")
TOY = "toy"  # musdb_path value: the generated toy corpus, in data_path/toy_musdb

SOURCE_NAMES = {
    "voice": ["accompaniment", "vocals"],
    "multi_instrument": ["bass", "drums", "other", "vocals"],
}

_J = {"freeze_encoder": True}

# The original Wave-U-Net (Stoller et al. 2018): its base is mono, direct output, 12 layers.
_M1 = {
    "num_layers": 12,
    "mono_downmix": True,
    "output_type": "direct",
    "worse_epochs": 20,
    "schedule": ORIGINAL_SCHEDULE,
}
_M2 = dict(_M1, output_type="difference")
_M3 = dict(_M2, context=True)
_M4 = dict(_M3, mono_downmix=False)
_M5 = dict(_M4, upsampling="learned")

# The original's configs without an M number. They leave out its "duration" key: in its earlier data
# pipeline (Input/multistreamworkers.py) the seconds of song read at a random position into a cache,
# from which training snippets were then cut. Its final pipeline, like this one, cuts snippets from
# whole songs and never reads the key, so it has no meaning here.
_ORIGINAL_ONLY = {
    # The original sets filter_size 5 and keeps the base's input_filter_size 15; its first conv has
    # width filter_size and only its get_padding reads input_filter_size, so its own shapes agree
    # only with input_filter_size 5 too.
    "baseline_context_smallfilter_deep": dict(
        _M2, context=True, num_layers=14, filter_size=5, input_filter_size=5, merge_filter_size=1
    ),
    # The Wave-U-Net at the spectrogram U-Net's rate and window length, with about as many parameters
    # (20.6 million against 19.6).
    "baseline_comparison": dict(
        _M2, context=True, batch_size=4, num_frames=768 * 127 + 1024, expected_sr=8192, num_initial_filters=34
    ),
    # num_frames: STFT hop * (128 frames - 1) + frame length
    "unet_spectrogram": dict(
        _M1,
        network="unet_spectrogram",
        batch_size=4,
        num_layers=6,
        expected_sr=8192,
        num_frames=768 * 127 + 1024,
        num_initial_filters=16,
    ),
}
_ORIGINAL_ONLY["unet_spectrogram_l1"] = dict(_ORIGINAL_ONLY["unet_spectrogram"], raw_audio_loss=False)

NAMED_CONFIGS = {
    "U1": {},
    "J1": dict(_J),
    **{
        f"{kind}2_{units}_{levels}": dict(extra, res_path_units=units, res_path_levels=levels)
        for kind, extra in (("U", {}), ("J", _J))
        for units, levels in ((2, 5), (3, 5), (2, 10), (3, 10))
    },
    **{
        f"{kind}3_{levels}": dict(extra, multires_levels=levels)
        for kind, extra in (("U", {}), ("J", _J))
        for levels in (5, 10)
    },
    "U4": {"num_stages": 2},
    "J4": dict(_J, num_stages=2),
    "U5": {"identity_loss_weight": 1.0},
    "J5": dict(_J, identity_loss_weight=1.0),
    "L": {"freeze_decoder": True},
    "L_first3": {"freeze_decoder": True, "skip_levels": [0, 1, 2]},
    "L_last3": {"freeze_decoder": True, "skip_levels": [-3, -2, -1]},
    "M1": _M1,
    "M2": _M2,
    "M3": _M3,
    "M4": _M4,
    "M5": _M5,
    "M5_HighSR": dict(_M5, expected_sr=44100),
    "M6": dict(_M4, task="multi_instrument"),
    **_ORIGINAL_ONLY,
    # Small enough to train on 2 CPU cores in minutes; keeps num_layers so every paper
    # variant (skip levels 7-9, Res paths on 10 skips) stays meaningful when combined.
    "tiny": {
        "num_initial_filters": 8,
        "num_frames": 4096,
        "batch_size": 8,
        "epoch_it": 50,
        "worse_epochs": 2,
        "max_epochs": 2,
        "musdb_path": "toy",
    },
}

# The original codebase's own names: for M1-M6, and for its configs without an M number (themselves).
ORIGINAL_NAMES = {
    "baseline": "M1",
    "baseline_diff": "M2",
    "baseline_context": "M3",
    "baseline_stereo": "M4",
    "full": "M5",
    "full_44KHz": "M5_HighSR",
    "full_multi_instrument": "M6",
    **{name: name for name in _ORIGINAL_ONLY},
}
for _alias, _target in ORIGINAL_NAMES.items():
    NAMED_CONFIGS[_alias] = NAMED_CONFIGS[_target]

# Named configs that describe a model on their own (``tiny`` only modifies one).
MODEL_NAMES = [name for name in NAMED_CONFIGS if name != "tiny" and name not in ORIGINAL_NAMES]

_CHOICES = {
    "task": tuple(SOURCE_NAMES),
    "upsampling": ("linear", "learned"),
    "output_type": ("direct", "difference"),
    "output_activation": ("tanh", "linear"),
    "network": ("unet", "unet_spectrogram"),
}
_BOOLS = (
    "mono_downmix",
    "context",
    "freeze_encoder",
    "freeze_decoder",
    "augmentation",
    "jit_compile",
    "raw_audio_loss",
)
_POSITIVE_INTS = (
    "expected_sr",
    "num_frames",
    "num_layers",
    "num_initial_filters",
    "filter_size",
    "input_filter_size",
    "merge_filter_size",
    "output_filter_size",
    "num_stages",
    "batch_size",
    "epoch_it",
    "worse_epochs",
)
_NON_NEGATIVE_INTS = ("res_path_units", "res_path_levels", "multires_levels", "seed")


class ConfigError(ValueError):
    """A model_config key or value that no model can be built from."""


class ModelConfig(dict):
    """A completed, validated model_config (made by ``complete_config``), read-only: a changed config
    is a new one, ``config.replace(key=value)``, validated as every config is. It is a dict for
    everything that reads one (JSON, Keras's saved configs, ``{**config}``)."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("a ModelConfig is read-only; config.replace(key=value) gives a changed copy")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):  # copies and pickles rebuild the dict without item assignment
        return ModelConfig, (dict(self),)

    def replace(self, **changes) -> "ModelConfig":
        """This config with ``changes``, completed and validated again (derived keys follow)."""
        return complete_config({**{k: v for k, v in self.items() if k not in DERIVED_KEYS}, **changes})


def resolve_config(names: str | Sequence[str], overrides: Mapping | None = None) -> ModelConfig:
    """The final model_config of one named config, or of several applied in order, then ``overrides``.

    ``resolve_config(["J1", "tiny"], {"musdb_path": "/data"})`` equals
    ``with cfg.J1 cfg.tiny cfg.model_config.musdb_path=/data``; a ``cfg.`` prefix is accepted.
    ``names`` may be one string of names joined with ``+`` (``"J1+tiny"``). Unknown names raise
    ConfigError listing the known ones, unknown or invalid overrides one naming the key.
    """
    if isinstance(names, str):
        names = split_names(names)
    config = copy.deepcopy(BASE_CONFIG)
    for name in names:
        key = name[len("cfg.") :] if name.startswith("cfg.") else name
        if key not in NAMED_CONFIGS:
            raise ConfigError(f"unknown named config {name!r}; known: {', '.join(sorted(NAMED_CONFIGS))}")
        config.update(copy.deepcopy(NAMED_CONFIGS[key]))
    config.update(copy.deepcopy(overrides or {}))
    return complete_config(config)


def split_names(text: str) -> list[str]:
    """``["J1", "tiny"]`` of ``"J1+tiny"``, named configs as the command lines join them; ``""`` is none."""
    return [name for name in text.split("+") if name]


def model_config_of(config: ModelConfig, user: str) -> ModelConfig:
    """``config`` where it is a ``ModelConfig``; anything else gets one error saying how to make one."""
    if not isinstance(config, ModelConfig):
        raise ConfigError(
            f"{user} takes a completed model_config, as resolve_config(names, overrides) or "
            f"complete_config(dict) give it; got a {type(config).__name__}"
        )
    return config


def parse_overrides(assignments: Sequence[str]) -> dict:
    """``{key: value}`` of ``["key=value", ...]``, values read as Python literals (strings as they are),
    as Sacred reads ``with`` updates, so both command lines take the same text."""
    overrides = {}
    for assignment in assignments:
        key, equals, text = assignment.partition("=")
        if not equals or not key.strip():
            raise ConfigError(
                f"override {assignment!r} must be written key=value, e.g. musdb_path=/data/musdb18hq"
            )
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip()
        overrides[key.strip()] = value
    return overrides


def upgrade_saved_config(config: Mapping | None) -> Mapping | None:
    """A model_config saved in a ``.keras`` file before ``schedule`` existed, in today's keys.

    Those files carry ``init_sup_sep_lr``; every model was then trained with the paper's three
    stages starting at that rate, which is what their ``schedule`` becomes.
    """
    if config is None or "init_sup_sep_lr" not in config:
        return config
    config = dict(config)
    config["schedule"] = [[1, config.pop("init_sup_sep_lr")], *PAPER_SCHEDULE[1:]]
    return config


def derived_keys(config: Mapping) -> dict:
    """The keys every model_config carries but nobody sets: the sources and channels follow from task
    and mono_downmix, the corpus root (None without a corpus) from musdb_path and data_path."""
    sources = list(SOURCE_NAMES[config["task"]])
    root = config["musdb_path"]
    return {
        "source_names": sources,
        "num_sources": len(sources),
        "num_channels": 1 if config["mono_downmix"] else 2,
        "corpus_root": os.path.join(config["data_path"], "toy_musdb") if root == TOY else root,
    }


def corpus_root(config: Mapping) -> str:
    """The MUSDB root a config reads (its ``corpus_root``: ``musdb_path``, or the toy corpus's folder
    for ``"toy"``), or one error saying how to set it. It touches no file: ``ensure_toy_corpus`` is
    what generates the toy corpus."""
    if config["corpus_root"] is None:
        raise ConfigError(
            "model_config['musdb_path'] is not set: point it at MUSDB18 or MUSDB18-HQ, "
            "or use 'toy' for the generated toy corpus"
        )
    return config["corpus_root"]


def complete_config(partial: Mapping) -> ModelConfig:
    """The ``ModelConfig`` of ``partial``: U1's values for missing keys, every value validated, derived
    keys added. Raises ConfigError naming the offending key, what it holds and what is allowed.
    """
    if "init_sup_sep_lr" in partial:
        raise ConfigError(
            "model_config['init_sup_sep_lr'] is the first stage's learning rate in model_config['schedule'] "
            f"here (one [batch size factor, learning rate] pair per stage, e.g. {PAPER_SCHEDULE}); "
            "set that instead"
        )
    unknown = sorted(set(partial) - set(BASE_CONFIG) - set(DERIVED_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown model_config key(s) {unknown}; allowed keys: {', '.join(sorted(BASE_CONFIG))}"
        )
    config = copy.deepcopy(BASE_CONFIG)
    config.update(copy.deepcopy(partial))
    _validate_values(config)
    derived = derived_keys(config)
    for key, value in derived.items():
        if key in partial and partial[key] != value:
            raise ConfigError(
                f"model_config[{key!r}] is {partial[key]!r} but the other keys give {value!r}; leave it out"
            )
    config.update(derived)
    return ModelConfig(config)


def _validate_values(config):
    """Check every value, in this order, so that a config with several faults reports the same one
    first; ``schedule`` and ``skip_levels`` become lists, as JSON and Sacred give them."""
    _validate_choices(config)
    _validate_integers(config)
    _validate_optional_values(config)
    _validate_numbers(config)
    _validate_schedule(config["schedule"])
    config["schedule"] = [list(pair) for pair in config["schedule"]]
    _validate_filter_sizes(config)
    _validate_levels(config)
    _validate_network(config)
    _validate_context(config)


def _validate_choices(config):
    for key, allowed in _CHOICES.items():
        if config[key] not in allowed:
            raise ConfigError(f"model_config[{key!r}] = {config[key]!r} is not one of {list(allowed)}")
    for key in _BOOLS:
        if not isinstance(config[key], bool):
            raise ConfigError(f"model_config[{key!r}] = {config[key]!r} must be True or False")


def _is_int(value):
    """An int that is not a bool: ``True`` would otherwise pass as 1 layer."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate_integers(config):
    for key in _POSITIVE_INTS + _NON_NEGATIVE_INTS:
        value = config[key]
        low = 1 if key in _POSITIVE_INTS else 0
        if not _is_int(value) or value < low:
            raise ConfigError(f"model_config[{key!r}] = {value!r} must be an integer >= {low}")
    for key in ("max_epochs", "checkpoint_steps"):
        value = config[key]
        if value is not None and (not _is_int(value) or value < 1):
            raise ConfigError(f"model_config[{key!r}] = {value!r} must be None or an integer >= 1")


def _validate_optional_values(config):
    """The paths (the corpora's None means "not given"), precision, MUSDB's layout."""
    for key in ("data_path", "model_base_dir", "log_dir"):
        if not isinstance(config[key], str):
            raise ConfigError(f"model_config[{key!r}] = {config[key]!r} must be a path")
    for key in ("musdb_path", "ccmixter_path"):
        if config[key] is not None and not isinstance(config[key], str):
            raise ConfigError(f"model_config[{key!r}] = {config[key]!r} must be a path or None")
    if config["mixed_precision"] not in (None, "mixed_float16", "mixed_bfloat16"):
        raise ConfigError(
            f"model_config['mixed_precision'] = {config['mixed_precision']!r} must be None, "
            f"'mixed_float16' or 'mixed_bfloat16'"
        )
    if config["musdb_is_wav"] not in (None, True, False):
        raise ConfigError(
            f"model_config['musdb_is_wav'] = {config['musdb_is_wav']!r} must be True, False or None"
        )


def _validate_numbers(config):
    fraction = config["valid_fraction"]
    if not _is_number(fraction) or not 0 < fraction < 1:
        raise ConfigError(
            f"model_config['valid_fraction'] = {fraction!r} must be a number in (0, 1): training stops "
            f"early on the loss of validation tracks, and needs tracks left to train on"
        )
    value = config["identity_loss_weight"]
    if not _is_number(value) or value < 0:
        raise ConfigError(f"model_config['identity_loss_weight'] = {value!r} must be a number >= 0")


def _validate_filter_sizes(config):
    if config["input_filter_size"] != config["filter_size"]:
        raise ConfigError(
            f"model_config['input_filter_size'] = {config['input_filter_size']} differs from filter_size = "
            f"{config['filter_size']}: the original's first conv has width filter_size and only its "
            f"get_padding reads input_filter_size, so its shapes agree only when the two are equal"
        )


def _validate_levels(config):
    """The J-Net paper's per-level keys must name levels the network has."""
    layers = config["num_layers"]
    for key in ("res_path_levels", "multires_levels"):
        if config[key] > layers:
            raise ConfigError(f"model_config[{key!r}] = {config[key]} exceeds num_layers = {layers}")
    if config["res_path_units"] and not config["res_path_levels"]:
        raise ConfigError(
            "model_config['res_path_units'] > 0 needs res_path_levels > 0 (which skips get Res paths)"
        )
    skips = config["skip_levels"]
    if skips is not None:
        levels = isinstance(skips, (list, tuple)) and all(_is_int(s) and -layers <= s < layers for s in skips)
        if not levels:
            raise ConfigError(
                f"model_config['skip_levels'] = {skips!r} must be None or a list of encoder levels "
                f"in [{-layers}, {layers - 1}] (negative counts from the deepest)"
            )
        config["skip_levels"] = list(skips)


def _validate_network(config):
    if config["network"] == "unet_spectrogram":
        _validate_spectrogram(config)
    elif not config["raw_audio_loss"]:
        raise ConfigError(
            "model_config['raw_audio_loss'] = False (L1 on magnitude spectrograms) needs "
            "network='unet_spectrogram': the Wave-U-Net estimates no spectrogram"
        )


def _validate_context(config):
    """A context model's output is shorter than its input, which rules out feeding audio back in."""
    if config["context"] and config["identity_loss_weight"]:
        raise ConfigError(
            "model_config['identity_loss_weight'] > 0 needs context=False: a clean source fed as input "
            "must be as long as the output it is compared with"
        )
    if config["context"] and config["num_stages"] > 1:
        raise ConfigError(
            "model_config['num_stages'] > 1 needs context=False: a context model's output is shorter "
            "than its input, so a stage's estimate cannot be fed back as the next stage's input"
        )


def _validate_spectrogram(config):
    """The spectrogram U-Net is mono, as the original's, and has none of the Wave-U-Net's context or the
    J-Net paper's extensions."""
    if not config["mono_downmix"]:
        raise ConfigError(
            "model_config['network'] = 'unet_spectrogram' needs mono_downmix=True: "
            "the original's spectrogram U-Net separates mono audio only"
        )
    if config["context"]:
        raise ConfigError(
            "model_config['network'] = 'unet_spectrogram' needs context=False: "
            "its output is as long as its input"
        )
    extensions = ("skip_levels", "res_path_units", "res_path_levels", "multires_levels")
    changed = {key: config[key] for key in extensions if config[key] != BASE_CONFIG[key]}
    if changed:
        raise ConfigError(f"model_config['network'] = 'unet_spectrogram' has no equivalent of {changed}")
    if not config["raw_audio_loss"] and (config["num_stages"] > 1 or config["identity_loss_weight"]):
        raise ConfigError(
            "model_config['raw_audio_loss'] = False needs num_stages=1 and "
            "identity_loss_weight=0: the original's magnitude loss compares one pass over "
            "the mix with the sources"
        )


def _validate_schedule(schedule):
    def is_pair(pair):
        return (
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and _is_int(pair[0])
            and pair[0] >= 1
            and _is_number(pair[1])
            and pair[1] > 0
        )

    if not isinstance(schedule, (list, tuple)) or not schedule or not all(map(is_pair, schedule)):
        raise ConfigError(
            f"model_config['schedule'] = {schedule!r} must be a non-empty list of [batch size factor "
            f"(integer >= 1), learning rate (> 0)] pairs, one per stage, e.g. {PAPER_SCHEDULE}"
        )
