"""``python -m ecgrepro.models list``: every model, its frameworks and parameter counts.

Lists the models configured in ``config/config.yaml`` (by name, with their settings) and
every registered family (default settings), builds each in every framework it has for
the given input length and class count, and prints the parameter counts (total and
trainable, Keras's convention). ``--configfile`` files are merged over
``config/config.yaml`` as Snakemake merges them (dictionaries key by key), so the list
is the workflow's. TensorFlow's native start-up lines are kept off the screen.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from ecgrepro.errors import EcgreproError
from ecgrepro.models import registry

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config" / "config.yaml"


def _configured(paths: list[str] | None) -> dict:
    """``models:`` of the default config with ``paths`` merged over it, as Snakemake does.

    The default is ``config/config.yaml`` of the working directory, else the workflow's
    own (the Snakefile's ``configfile:``); each ``--configfile`` is merged over it in
    order, dictionaries key by key (``snakemake.utils.update_config``).
    """
    import yaml

    local = Path("config/config.yaml")
    default = local if local.is_file() else REPO_CONFIG
    config: dict = {}
    for path in [p for p in (default,) if p.is_file()] + list(paths or []):
        try:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as exc:
            raise EcgreproError(f"cannot read config file {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise EcgreproError(f"config file {path}: not a mapping of keys to values")
        from snakemake.utils import update_config

        update_config(config, loaded)
    return config.get("models") or {}


@contextlib.contextmanager
def _native_stderr_quiet():
    """Send file descriptor 2 to a temporary file: TensorFlow's absl lines (oneDNN, CUDA
    drivers) are written there natively, before TF_CPP_MIN_LOG_LEVEL applies. On an
    error, what was written is shown after all."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            tmp.seek(0)
            sys.stderr.write(tmp.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _count(model: dict, framework: str, length: int, n_classes: int, label: str) -> str:
    """'total (trainable)' of the model built in ``framework``, or why there is none."""
    try:
        arch = registry.build_arch(model, length, n_classes, label)
    except EcgreproError as exc:
        return f"error: {exc}"
    if framework not in registry.frameworks_of(type(arch)):
        return "-"
    if framework == "keras":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet = _native_stderr_quiet() if framework == "keras" else contextlib.nullcontext()
    try:
        with quiet:
            counts = registry.count_params(registry.build_network(arch, framework), framework)
            if framework == "keras":
                import keras

                keras.backend.clear_session()  # fresh layer names, no growing graph
    except ImportError as exc:
        return f"unavailable ({exc.name or exc})"
    return f"{counts['total']:,} ({counts['trainable']:,} trainable)"


def list_models(length: int, n_classes: int, configfiles: list[str] | None = None,
                out=sys.stdout) -> list[dict]:
    """Print one row per configured model and per registered family; return the rows."""
    rows = []
    entries = [(name, model) for name, model in _configured(configfiles).items()]
    entries += [(f"({family})", {"family": family}) for family in registry.FAMILIES]
    for name, model in entries:
        label = f"models.{name}"
        try:
            frameworks = registry.frameworks_of(registry.resolve(model.get("family", "")))
        except EcgreproError as exc:
            rows.append({"model": name, "family": model.get("family"), "frameworks": "",
                         **{f: f"error: {exc}" for f in registry.FRAMEWORKS}})
            continue
        row = {"model": name, "family": model["family"], "frameworks": ",".join(frameworks)}
        for framework in registry.FRAMEWORKS:
            row[framework] = _count(model, framework, length, n_classes, label)
        rows.append(row)
    header = {"model": "model", "family": "family", "frameworks": "frameworks",
              **{f: f"{f} parameters" for f in registry.FRAMEWORKS}}
    keys = list(header)
    widths = {k: max(len(str(r[k])) for r in [header, *rows]) for k in keys[:-1]}
    print(f"Models for input length {length}, {n_classes} classes "
          "(configured by name; registered families in parentheses, default settings):",
          file=out)
    for r in [header, *rows]:
        print("  ".join(str(r[k]).ljust(widths.get(k, 0)) for k in keys).rstrip(), file=out)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecgrepro.models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="models, frameworks and parameter counts")
    p.add_argument("--length", type=int, default=82,
                   help="input length T (default 82, TwoLeadECG)")
    p.add_argument("--n-classes", type=int, default=2, help="classes (default 2)")
    p.add_argument("--configfile", nargs="+", default=None,
                   help="config files merged over config/config.yaml, as Snakemake's "
                   "--configfile; their models: are listed with the default ones")
    args = parser.parse_args(argv)
    try:
        list_models(args.length, args.n_classes, args.configfile)
    except EcgreproError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
