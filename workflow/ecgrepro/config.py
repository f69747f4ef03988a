"""The workflow's configuration as the tooling sees it: merged and validated like Snakemake.

``config/config.yaml``, then each ``--configfile`` merged over it (nested mappings key
by key, anything else replaced), then ``--config KEY=VALUE`` overrides, then the
schema (``workflow/schemas/config.schema.yaml``) validates it and fills in its
``default:`` values (Snakemake's ``validate(..., set_default=True)``, which the
workflow calls too). Defaults therefore live in the schema only.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE_CONFIG = REPO / "config" / "config.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def merge(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base``: mappings key by key, as Snakemake does."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(items) -> dict:
    """``KEY=VALUE`` strings (``snakemake --config``) as a dict; values read as YAML."""
    import yaml

    from ecgrepro.errors import EcgreproError

    out = {}
    for item in items or ():
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise EcgreproError(
                f"--config {item!r}: write KEY=VALUE, e.g. 'knn={{\"block_size\": 100}}'."
            )
        out[key] = yaml.safe_load(value) if value else value
    return out


def load_config(configfiles=(), overrides=(), base: Path = BASE_CONFIG) -> dict:
    """The configuration a workflow run with these options would see, defaults filled.

    Parameters
    ----------
    configfiles : iterable of str or Path
        Merged over ``base`` in order (``base`` itself, if listed, is skipped).
    overrides : iterable of str
        ``KEY=VALUE`` items, as for ``snakemake --config``.
    base : Path
        The workflow's default configuration.

    Raises
    ------
    EcgreproError
        When a file is unreadable or the result does not match the schema.
    """
    import yaml
    from snakemake.utils import validate

    from ecgrepro.errors import EcgreproError

    def read(path):
        try:
            return yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise EcgreproError(f"config file {path}: {exc}") from None

    config = read(base)
    for path in configfiles or ():
        if Path(path).resolve() != Path(base).resolve():
            config = merge(config, read(path))
    config = merge(config, parse_overrides(overrides))
    try:
        validate(config, str(SCHEMA), set_default=True)
    except Exception as exc:  # snakemake's WorkflowError wraps the jsonschema message
        raise EcgreproError(
            f"configuration ({', '.join(map(str, configfiles)) or base}) does not match "
            f"{SCHEMA.name}: {exc}"
        ) from None
    return config
