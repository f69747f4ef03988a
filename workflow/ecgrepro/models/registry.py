"""The model registry: one line per model family; everything else reads it.

A *family* names an architecture description: a framework-free class that holds a
network's hyperparameters and says which function builds it in each framework. The
config checks (:func:`check_models`), the training runs (:func:`build_arch`), both fit
modules (:func:`build_network`) and ``python -m ecgrepro.models list`` read
:data:`FAMILIES`; no other list of families exists. Importing this module imports
neither torch nor tensorflow: builders are imported when a network is built.

Adding a model
--------------
Write one file with its description and builders (README "Adding a model" walks
through the worked example), add one line to :data:`FAMILIES`, and configure it in
``config/config.yaml``: ``models: {<name>: {family: <family>}}``. A model in a package
of your own needs no edit here: give its import path as the family,
``models: {mine: {family: "mypkg.models:MyArch"}}``, with ``mypkg`` importable
(installed, or on ``PYTHONPATH``).

The protocol an architecture class follows
------------------------------------------
* ``Arch(length=T, n_classes=C, **settings)`` builds a description for series of ``T``
  points and ``C`` classes; ``settings`` are the model's config keys besides
  ``family`` (the keyword parameters of the constructor; a dataclass is simplest).
  Bad values raise ``ValueError`` or ``TypeError``.
* Instances have ``length``, ``n_classes``, ``name`` (a short string, used in log lines)
  and ``to_dict()`` (JSON-ready hyperparameters, written to each run's metrics.json).
* Class attributes ``torch_builder`` and/or ``keras_builder`` (at least one; a model may
  exist in one framework only) name the function that builds the network from a
  description: ``"module:function"``, ``":function"`` (a function in the class's own
  module), or the function itself. The PyTorch builder returns a ``torch.nn.Module``
  mapping float32 ``(N, 1, T)`` to logits ``(N, C)``; the Keras builder returns an
  uncompiled ``keras.Model`` from ``(N, 1, T)`` to softmax probabilities. Seed nothing:
  the training loop seeds each framework before building.
* The module holding the class should import no framework at its top (builders import
  theirs), so that checking a configuration stays fast and framework-free.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from functools import cache

from ecgrepro.errors import EcgreproError

__all__ = [
    "FAMILIES",
    "FRAMEWORKS",
    "build_arch",
    "build_network",
    "builder_name",
    "check_models",
    "count_params",
    "frameworks_of",
    "resolve",
    "settings_of",
]

# family name -> "module:class" of its architecture description. One line per model.
FAMILIES = {
    "lstm_fcn": "ecgrepro.models.lstm_fcn:LSTMFCNArch",
    "cnn_rnn": "ecgrepro.models.cnn_rnn:CNNRNNArch",
    "fcn": "ecgrepro.models.fcn:FCNArch",
}

FRAMEWORKS = ("torch", "keras")
SIZE_ARGS = ("length", "n_classes")  # from the data, never from the config


def _import(target: str, what: str):
    """``"module:attr"`` -> the object, or an EcgreproError saying what failed."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise EcgreproError(f"{what}: {target!r} is not an import path 'module:name'.")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise EcgreproError(
            f"{what}: cannot import module {module!r} ({exc}). Install the package that "
            "holds it or put its directory on PYTHONPATH."
        ) from exc
    except AttributeError:
        raise EcgreproError(f"{what}: module {module!r} has no attribute {attr!r}.") from None


@cache
def resolve(family: str) -> type:
    """The architecture class of a family name or ``"module:Class"`` import path.

    Raises
    ------
    EcgreproError
        Unknown name (with close matches), failed import, or a class that does not
        follow the protocol (module docstring).
    """
    if not isinstance(family, str) or not family:
        raise EcgreproError(f"model family must be a non-empty string, got {family!r}.")
    if ":" in family:
        cls = _import(family, f"model family {family!r}")
        # a model of one's own is code the run loaded (ecgrepro.codeid), and its
        # source is part of the run's identity (ecgrepro.store.train_settings)
        from ecgrepro.codeid import register_module

        register_module(getattr(cls, "__module__", family.partition(":")[0]))
    elif family in FAMILIES:
        cls = _import(FAMILIES[family], f"model family {family!r}")
    else:
        close = difflib.get_close_matches(family, FAMILIES, n=3)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise EcgreproError(
            f"unknown model family {family!r}; registered families are "
            f"{sorted(FAMILIES)}, or give a class as 'module:Class'.{hint} "
            "List them with: python -m ecgrepro.models list"
        )
    if not callable(cls) or not frameworks_of(cls):
        raise EcgreproError(
            f"model family {family!r}: {cls!r} is not an architecture class: it needs a "
            "class attribute torch_builder or keras_builder (see "
            "ecgrepro.models.registry)."
        )
    if not callable(getattr(cls, "to_dict", None)):
        raise EcgreproError(
            f"model family {family!r}: {cls.__name__} has no to_dict() method; runs "
            "record the hyperparameters it returns (see ecgrepro.models.registry)."
        )
    return cls


def frameworks_of(cls) -> tuple[str, ...]:
    """Frameworks an architecture class has a builder for, in :data:`FRAMEWORKS` order."""
    return tuple(f for f in FRAMEWORKS if getattr(cls, f"{f}_builder", None) is not None)


def settings_of(cls) -> list[str]:
    """Config keys a family accepts besides ``family``: its constructor's keywords."""
    params = inspect.signature(cls).parameters.values()
    return [
        p.name for p in params
        if p.name not in SIZE_ARGS
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _split(model: dict, label: str) -> tuple[type, dict]:
    """(architecture class, settings) of a configured model; unknown keys refused."""
    if not isinstance(model, dict) or "family" not in model:
        raise EcgreproError(f"{label}: a model is a mapping with a 'family' key, got {model!r}.")
    try:
        cls = resolve(model["family"])
    except EcgreproError as exc:
        raise EcgreproError(f"{label}: {exc}") from None
    settings = {k: v for k, v in model.items() if k != "family"}
    allowed = settings_of(cls)
    for key in settings:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise EcgreproError(
                f"{label}: unknown setting {key!r} for family {model['family']!r}.{hint} "
                f"Allowed settings: {', '.join(allowed) or 'none'}."
            )
    return cls, settings


def build_arch(model: dict, length: int, n_classes: int, label: str = "model"):
    """The description of a configured model (``{"family": ..., **settings}``), sized.

    Raises
    ------
    EcgreproError
        Unknown family or setting, or a value the architecture refuses; ``label``
        (e.g. ``"models.<name>"``) starts the message.
    """
    cls, settings = _split(model, label)
    try:
        arch = cls(length=length, n_classes=n_classes, **settings)
    except (TypeError, ValueError) as exc:
        raise EcgreproError(
            f"{label}: family {model['family']!r} refuses settings {settings} for length "
            f"{length} and {n_classes} classes: {exc}"
        ) from None
    if not isinstance(getattr(arch, "name", None), str):
        raise EcgreproError(f"{label}: {cls.__name__} instances need a string 'name'.")
    return arch


def build_network(arch, framework: str):
    """Build ``arch`` in ``framework`` with the builder its class names (imported now).

    Raises
    ------
    TypeError
        ``arch`` is no architecture description (no builder attribute at all).
    EcgreproError
        The architecture exists, but not in ``framework``.
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    cls = type(arch)
    available = frameworks_of(cls)
    if not available:
        raise TypeError(f"no network registered for {cls.__name__}: it has no "
                        "torch_builder or keras_builder attribute")
    builder = getattr(cls, f"{framework}_builder", None)
    if builder is None:
        raise EcgreproError(
            f"{cls.__name__} has no {framework} implementation (only {', '.join(available)})."
        )
    if isinstance(builder, str):
        builder = _import(builder_name(cls, framework), f"{cls.__name__}.{framework}_builder")
    return builder(arch)


def builder_name(cls, framework: str) -> str:
    """The builder of ``cls`` in ``framework`` as ``"module:function"``, for messages."""
    builder = getattr(cls, f"{framework}_builder", None)
    if isinstance(builder, str):
        return f"{cls.__module__}{builder}" if builder.startswith(":") else builder
    name = getattr(builder, "__qualname__", repr(builder))
    return f"{getattr(builder, '__module__', '?')}:{name}"


def count_params(network, framework: str) -> dict[str, int]:
    """``total``/``trainable``/``non_trainable`` in Keras's convention, either framework."""
    if framework == "torch":
        from ecgrepro.models.lstm_fcn_torch import count_params as count
    else:
        from ecgrepro.models.lstm_fcn_keras import count_params as count
    return count(network)


def _known_shapes() -> dict[str, tuple[int, int]]:
    """(length, classes) of the UCR datasets in the package's metadata table."""
    from ecgrepro.data.ucr import metadata_table

    return {name: (m["length"], m["n_classes"]) for name, m in metadata_table().items()}


def check_models(config_models: dict, experiments: list, *, shapes: dict | None = None) -> None:
    """Check the ``models:`` and ``experiments:`` of a configuration against the registry.

    Every configured model must name a known family (or an importable class) and only
    settings that family accepts; every framework an experiment trains a model in must
    exist for that model. Where a dataset's shape is known (the UCR metadata table, or
    ``shapes``: dataset -> (length, n_classes)), each of its models is built once, so
    values the architecture refuses fail here too, not inside a training job.

    Raises
    ------
    EcgreproError
        The first problem found, naming the config key, the value and what is allowed.
    """
    classes = {name: _split(model, f"models.{name}")[0] for name, model in config_models.items()}
    known = {**_known_shapes(), **(shapes or {})}
    for i, exp in enumerate(experiments):
        for name in exp.get("models", []):
            if name not in classes:
                continue  # an unconfigured name is the experiment check's to report
            have = frameworks_of(classes[name])
            for framework in exp.get("frameworks", []):
                if framework not in have:
                    raise EcgreproError(
                        f"experiments[{i}]: model {name!r} (family "
                        f"{config_models[name]['family']!r}) has no {framework} "
                        f"implementation; it exists in {', '.join(have)} only. Remove "
                        f"{framework} from this experiment's frameworks or train "
                        f"{name!r} in a separate experiment."
                    )
            for dataset in exp.get("datasets", []):
                if dataset in known:
                    length, n_classes = known[dataset]
                    build_arch(config_models[name], length, n_classes,
                               f"models.{name} (on {dataset})")
