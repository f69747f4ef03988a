"""Check the whole configuration before any job starts; say what is wrong in two lines.

The Snakefile calls :func:`check_config` once, at parse time. It

1. types values given with ``--config`` as the schema says (Snakemake reads nested
   values such as ``'protocols={"blog2020":{"epochs":3}}'`` as strings), recursively;
2. validates against ``workflow/schemas/config.schema.yaml`` with Snakemake's
   ``validate`` (which also fills in defaults) and turns a ``ValidationError`` into one
   short message: the key, the value, what is allowed, close matches. The full schema
   error goes to a log file, not the screen;
3. checks what the schema cannot: protocol overrides against the
   :class:`~ecgrepro.training.presets.Protocol` fields, model settings against the model
   registry (or the architecture dataclasses), UCR names against the package's list of
   archive names, experiments' datasets against ``ucr_datasets`` (a typo is refused, a
   dataset left out is skipped), MIT-BIH records against the configured lead and
   against what needs them (``[]``: none), and a local mirror's directory.

Light imports only (no numpy-heavy modules beyond the presets): cluster jobs parse the
Snakefile too.

One cohesive idea (every configuration check, in one place a user can read), hence over
the ~400 lines of other modules.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import json
import os
import re
import sys
import traceback
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from ecgrepro.errors import EcgreproError

__all__ = [
    "ConfigError", "check_config", "coerce", "check_settings", "config_problem",
    "mitdb_needed", "skipped_datasets",
]

#: Where the full validation error goes (relative to Snakemake's working directory).
ERROR_LOG = "logs/config_error.log"


class ConfigError(EcgreproError):
    """A configuration value is wrong; the message names the key and what is allowed."""


# --- typing --config values ---------------------------------------------------------------

_INT = re.compile(r"[+-]?\d+")
_NULLS = ("null", "Null", "NULL", "~", "None", "")
_TRUE = ("true", "True", "TRUE", "yes", "Yes", "on")
_FALSE = ("false", "False", "FALSE", "no", "No", "off")


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if ref and ref.startswith("#/"):
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        return _resolve(node, root)
    return schema if isinstance(schema, dict) else {}


def _types(schema: dict) -> list[str]:
    t = schema.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def _scalar(value: str, types: list[str]):
    """``value`` as the first schema type it reads as; unchanged if none or string allowed."""
    if "string" in types or not types:
        return value
    for t in types:
        if t == "integer" and _INT.fullmatch(value.strip()):
            return int(value)
        if t == "number":
            try:
                number = float(value)
            except ValueError:
                continue
            return int(number) if _INT.fullmatch(value.strip()) else number
        if t == "boolean" and value in _TRUE + _FALSE:
            return value in _TRUE
        if t == "null" and value in _NULLS:
            return None
    return value


def coerce(value, schema: dict, root: dict | None = None):
    """Return ``value`` with strings typed as ``schema`` says, inside lists and dicts too.

    Snakemake parses ``--config key=value`` with YAML's base loader, so everything
    nested arrives as a string (``'3'``, ``'null'``). A string becomes an integer,
    number, boolean or null only where the schema allows that type and not a string, so
    valid strings are never changed; anything that does not read as the type is left for
    validation to report.
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key, []):
            branch = _resolve(branch, root)
            types = _types(branch)
            fits = (
                (isinstance(value, dict) and "object" in types)
                or (isinstance(value, list) and "array" in types)
                or (isinstance(value, str) and types)
            )
            if fits:
                new = coerce(value, branch, root)
                if new is not value:
                    return new
    if isinstance(value, str):
        if "enum" in schema and value not in schema["enum"]:
            # an enum with null or numbers: the string that names one of them
            for option in schema["enum"]:
                if option is None and value in _NULLS:
                    return None
                if not isinstance(option, str) and str(option) == value:
                    return option
        return _scalar(value, _types(schema))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        out = {}
        for k, v in value.items():
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            out[k] = coerce(v, sub, root) if sub else v
        value.update(out)  # in place: Snakemake's config object stays the same object
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        value[:] = [coerce(v, schema["items"], root) for v in value]
    return value


def _coerce_by_annotation(value, annotation: str):
    """Type a string by a dataclass field annotation (``int``, ``float | None``, ...)."""
    if isinstance(value, list):
        inner = re.search(r"\[(\w+)", annotation)
        return [_coerce_by_annotation(v, inner.group(1)) for v in value] if inner else value
    if not isinstance(value, str):
        return value
    types = []
    for part in annotation.replace(" ", "").split("|"):
        types.append(
            {"int": "integer", "float": "number", "bool": "boolean", "None": "null"}.get(
                part, "string" if part == "str" else part
            )
        )
    return _scalar(value, types)


# --- messages -------------------------------------------------------------------------------


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _show(value, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def close_matches(word: str, choices, cutoff: float = 0.6) -> str:
    """``' (did you mean X, Y?)'`` or an empty string."""
    found = difflib.get_close_matches(str(word), [str(c) for c in choices], n=3, cutoff=cutoff)
    return f" (did you mean {', '.join(found)}?)" if found else ""


def _allowed(schema: dict) -> str:
    """What a schema allows, in words."""
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return repr(schema["const"])
    parts = []
    types = _types(schema)
    if types:
        parts.append(" or ".join(types))
    for bound, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                        ("exclusiveMaximum", "<")):
        if bound in schema:
            parts.append(f"{sign} {schema[bound]}")
    if "pattern" in schema:
        parts.append(f"matching {schema['pattern']}")
    if "minItems" in schema:
        parts.append(f"at least {schema['minItems']} item(s)")
    return ", ".join(parts) or "see workflow/schemas/config.schema.yaml"


def format_validation_error(error) -> str:
    """One or two lines from a jsonschema ``ValidationError``."""
    from jsonschema.exceptions import best_match

    described = None
    if error.context:  # oneOf/anyOf: the branch that got furthest says most
        if error.instance is not None and not isinstance(error.instance, (dict, list)):
            described = error.schema.get("description")  # a scalar fits no branch
        # the branch of the value's own type: a list failing in an item, not "const: all"
        deeper = [e for e in error.context if e.validator not in ("const", "type", "enum")]
        error = best_match(deeper or error.context) or error
    where = f"config key {_key(error.absolute_path)}" if error.absolute_path else "config"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        hints = "".join(close_matches(k, allowed) for k in extra[:1])
        return (
            f"{where}: unknown key {', '.join(map(repr, extra))}{hints}. "
            f"Allowed keys: {', '.join(allowed)}."
        )
    if error.validator == "propertyNames":
        allowed = error.schema.get("propertyNames", {}).get("enum")
        bad = error.instance if isinstance(error.instance, str) else None
        if allowed:
            name = bad or next(k for k in error.instance if k not in allowed)
            return (
                f"{where}: unknown name {name!r}{close_matches(name, allowed)}. "
                f"Allowed: {', '.join(allowed)}."
            )
    if error.validator == "required":
        return f"{where}: {error.message}; see config/config.yaml for its meaning."
    if error.validator == "enum":
        choices = error.validator_value
        return (
            f"{where}: {_show(error.instance)} is not allowed{close_matches(error.instance, choices)}. "
            f"Allowed: {', '.join(map(str, choices))}."
        )
    hint = ""
    if error.validator == "pattern" and isinstance(error.instance, str):
        words = re.findall(r"[A-Za-z][\w-]+", error.validator_value)
        hint = close_matches(error.instance, words)
    allowed = described or _allowed(error.schema)
    return f"{where}: {_show(error.instance)} is not allowed{hint}. Allowed: {allowed}."



def _log_full(text: str, log: str | Path | None) -> str:
    """Write the full error to ``log``; return a line pointing to it."""
    if not log:
        return ""
    try:
        path = Path(log)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return f" (details: {path})"
    except OSError:
        return ""


# --- checks beyond the schema ------------------------------------------------------------------


@cache
def ucr_names() -> frozenset[str]:
    """UCR/UEA names the package knows: aeon's archive list plus the metadata table."""
    text = resources.files("ecgrepro.data").joinpath("ucr_names.csv").read_text()
    names = {row["name"] for row in csv.DictReader(text.splitlines())}
    meta = resources.files("ecgrepro.data").joinpath("ucr_metadata.csv").read_text()
    names |= {row["name"] for row in csv.DictReader(meta.splitlines())}
    return frozenset(names)


@cache
def mitdb_leads() -> dict[str, tuple[str, ...]]:
    """Lead names of each MIT-BIH record, from the package's table of the headers."""
    text = resources.files("ecgrepro.data").joinpath("mitdb_leads.csv").read_text()
    return {r["record"]: tuple(r["leads"].split("+")) for r in csv.DictReader(text.splitlines())}


def local_mirror(mirror: str | None) -> Path | None:
    """The mirror as a local directory (a path or file:// URL), None for http(s) or unset."""
    if not mirror:
        return None
    parsed = urlparse(mirror)
    if parsed.scheme in ("http", "https"):
        return None
    return Path(parsed.path if parsed.scheme == "file" else mirror).expanduser().absolute()


def check_mirror(mirror: str | None) -> None:
    """A local mirror must be a directory: reported once here, not file by file later."""
    path = local_mirror(mirror)
    if path is not None and not path.is_dir():
        raise ConfigError(
            f"config key data_mirror: the directory {path} does not exist. Give the "
            "directory that holds ucr/ and mitdb/ (a relative path is taken from the "
            "working directory), or leave data_mirror unset to download."
        )


def _known_ucr(mirror: str | None, data_dir="resources/data") -> set[str]:
    """Archive names, plus datasets in a local mirror or obtained already."""
    known = set(ucr_names())
    for root in (local_mirror(mirror), Path(data_dir)):
        if root is not None and (root / "ucr").is_dir():
            known |= {p.name for p in (root / "ucr").iterdir() if p.is_dir()}
    return known


def _remote(mirror: str | None) -> bool:
    return bool(mirror) and urlparse(mirror).scheme in ("http", "https")


def check_ucr_names(names, mirror: str | None = None, data_dir="resources/data") -> None:
    """Every name must be a UCR/UEA archive dataset, in a local mirror or obtained already."""
    known = _known_ucr(mirror, data_dir)
    remote = _remote(mirror)
    for i, name in enumerate(names):
        if name not in known and remote:
            # An http mirror cannot be listed: its own datasets are checked when fetched.
            print(
                f"config key ucr_datasets[{i}]: {name!r} is not a UCR/UEA archive dataset"
                f"{close_matches(name, sorted(known), cutoff=0.45)}; expecting it in the "
                f"mirror {mirror}.",
                file=sys.stderr,
            )
        elif name not in known:
            raise ConfigError(
                f"config key ucr_datasets[{i}]: {name!r} is not a UCR/UEA archive dataset"
                f"{close_matches(name, sorted(known), cutoff=0.45)}. Use the 2018 archive names "
                "(workflow/ecgrepro/data/ucr_names.csv); a dataset of your own goes in the "
                "mirror as ucr/<Name>/<Name>_{TRAIN,TEST}.tsv."
            )


def skipped_datasets(experiments, ucr_datasets) -> list[tuple[int, list[str]]]:
    """(experiment index, its UCR datasets left out of ``ucr_datasets``), where any.

    ``ucr_datasets`` is the one list of UCR data the workflow obtains, so narrowing it
    narrows the training runs too: those datasets are skipped, and the workflow says so
    at the start and again at the end.
    """
    out = []
    for i, exp in enumerate(experiments):
        left = [d for d in exp["datasets"] if d != "mitdb" and d not in ucr_datasets]
        if left:
            out.append((i, left))
    return out


def check_experiment_datasets(experiments, ucr_datasets, mirror: str | None = None,
                              data_dir="resources/data") -> None:
    """An experiment's dataset is mitdb, in ``ucr_datasets``, or at least a real dataset.

    A known dataset left out of ``ucr_datasets`` is skipped (that is how a run is
    narrowed); a name that is no dataset at all is a typo, refused with close matches.
    An http mirror cannot be listed, so there a name it may hold is only skipped.
    """
    if _remote(mirror):
        return
    known = _known_ucr(mirror, data_dir)
    for i, exp in enumerate(experiments):
        for j, name in enumerate(exp["datasets"]):
            if name == "mitdb" or name in ucr_datasets or name in known:
                continue
            hint = close_matches(name, [*ucr_datasets, "mitdb"]) or close_matches(
                name, sorted(known), cutoff=0.45)
            raise ConfigError(
                f"config key experiments[{i}].datasets[{j}]: {name!r} is not in "
                f"ucr_datasets and is no UCR/UEA archive dataset{hint}. Experiments "
                f"train on mitdb and the datasets of ucr_datasets "
                f"({', '.join(ucr_datasets)}); fix the name, or add the dataset to "
                "ucr_datasets (a dataset of your own goes in the mirror as "
                "ucr/<Name>/<Name>_{TRAIN,TEST}.tsv)."
            )


def mitdb_needed(config: dict) -> list[str]:
    """What needs the MIT-BIH data: experiments that train on mitdb, the timing step."""
    users = [f"experiments[{i}]" for i, exp in enumerate(config["experiments"])
             if "mitdb" in exp["datasets"]]
    if config["timing"]["enabled"]:
        users.append("the timing step (timing.enabled)")
    return users


def check_mitdb_records(config: dict) -> None:
    """``mitdb_records: []`` means no MIT-BIH; refused only where something needs it."""
    users = mitdb_needed(config)
    if config["mitdb_records"] == [] and users:
        raise ConfigError(
            f"config key mitdb_records: [] (no MIT-BIH records), but {', '.join(users)} "
            "need MIT-BIH segments. Give records (a list such as [100, 101], or all), or "
            "remove mitdb from those experiments and set timing: {enabled: false}."
        )


def check_mitdb(records, segments: dict, needed: bool) -> None:
    """The configured lead must exist in the records that will be segmented."""
    if not needed:
        return
    leads = mitdb_leads()
    chosen = sorted(leads) if records == "all" else [str(r) for r in records]
    chosen = [r for r in chosen if r in leads]  # unknown names: mitdb.check_records says so
    lead = segments.get("lead")
    if isinstance(lead, int):
        short = [r for r in chosen if lead >= len(leads[r])]
        if short:
            raise ConfigError(
                f"config key mitdb_segments.lead: channel {lead} does not exist in records "
                f"{', '.join(short)} (2 channels: 0 or 1)."
            )
        return
    lacking = [r for r in chosen if lead not in leads[r]]
    if not lacking:
        return
    detail = "; ".join(f"{r}: {'+'.join(leads[r])}" for r in lacking)
    if len(lacking) == len(chosen):
        with_lead = sum(lead in v for v in leads.values())
        raise ConfigError(
            f"config key mitdb_records: no configured record has lead {lead!r} "
            f"(mitdb_segments.lead) - {detail}. Choose records with it ({with_lead} of 48 "
            "have it) or another lead by name or channel index."
        )
    if segments.get("missing_lead") == "error":
        raise ConfigError(
            f"config key mitdb_records: records {', '.join(lacking)} lack lead {lead!r} "
            f"({detail}) and mitdb_segments.missing_lead is 'error'. Leave them out or "
            "set missing_lead: skip."
        )


def check_protocols(protocols: dict) -> None:
    """Protocol overrides: known fields, right types, values the Protocol accepts."""
    from ecgrepro.training.presets import PRESETS, Protocol, get_protocol

    fields = {f.name: f for f in dataclasses.fields(Protocol) if f.name != "name"}
    for pname, overrides in protocols.items():
        if pname not in PRESETS:
            raise ConfigError(
                f"config key protocols.{pname}: unknown protocol{close_matches(pname, PRESETS)}. "
                f"Allowed: {', '.join(PRESETS)}."
            )
        for key in list(overrides):
            if key not in fields:
                raise ConfigError(
                    f"config key protocols.{pname}.{key}: unknown field"
                    f"{close_matches(key, fields)}. Protocol fields: {', '.join(fields)}."
                )
            overrides[key] = _coerce_by_annotation(overrides[key], str(fields[key].type))
        try:
            get_protocol(pname, **overrides)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"config key protocols.{pname} = {_show(overrides)}: {exc}. See the "
                "Protocol fields in workflow/ecgrepro/training/presets.py."
            ) from None


def _coerce_models(models: dict) -> None:
    """Type ``--config`` strings in model settings by the architecture fields' annotations."""
    from ecgrepro.models.registry import resolve

    for settings in models.values():
        try:
            cls = resolve(settings.get("family"))
        except Exception:  # an unknown family: the registry's check names it
            continue
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in settings:
            if key in fields:
                settings[key] = _coerce_by_annotation(settings[key], str(fields[key].type))


def check_models(models: dict, experiments: list, mitdb_segments: dict | None = None) -> None:
    """Experiments name configured models; families and settings per the model registry."""
    from ecgrepro.models.registry import check_models as registry_check

    for i, exp in enumerate(experiments):
        for j, model in enumerate(exp["models"]):
            if model not in models:
                raise ConfigError(
                    f"config key experiments[{i}].models[{j}]: {model!r} is not a configured "
                    f"model{close_matches(model, models)}. Models: {', '.join(models)}."
                )
    _coerce_models(models)
    shapes = None
    if mitdb_segments:
        n_classes = len(set(mitdb_segments["class_map"].values()))
        shapes = {"mitdb": (mitdb_segments["length"], n_classes)}
    try:
        registry_check(models, experiments, shapes=shapes)
    except EcgreproError as exc:
        raise ConfigError(str(exc)) from None


def check_settings(config: dict) -> None:
    """Every check the schema cannot express; raises :class:`ConfigError`."""
    check_mirror(config.get("data_mirror"))
    check_ucr_names(config["ucr_datasets"], config.get("data_mirror"))
    check_protocols(config["protocols"])
    check_experiment_datasets(config["experiments"], config["ucr_datasets"],
                              config.get("data_mirror"))
    check_models(config["models"], config["experiments"], config["mitdb_segments"])
    check_mitdb_records(config)
    check_mitdb(config["mitdb_records"], config["mitdb_segments"], bool(mitdb_needed(config)))


def check_config(config: dict, schema: str | Path, log: str | Path | None = ERROR_LOG) -> None:
    """Type, validate (defaults filled in) and check ``config`` in place.

    Raises
    ------
    ConfigError
        One or two lines naming the key, the value, what is allowed and close
        matches; the full validation error is written to ``log``.
    """
    import yaml
    from jsonschema.exceptions import ValidationError
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    root = yaml.safe_load(Path(schema).read_text())
    coerce(config, root)
    try:
        validate(config, schema=str(schema), set_default=True)
    except WorkflowError as exc:
        errors = [e for e in (exc.__context__, exc.__cause__) if isinstance(e, ValidationError)]
        if not errors:
            raise
        note = _log_full(
            f"{exc.args[0]}\n\n{errors[0]}\n\nconfig:\n{json.dumps(config, indent=2, default=str)}\n",
            log,
        )
        raise ConfigError(format_validation_error(errors[0]) + note) from None
    try:
        check_settings(config)
    except ConfigError:
        raise
    except Exception as exc:  # a bug in a check must not hide behind a long traceback
        note = _log_full(traceback.format_exc(), log)
        raise ConfigError(f"checking the configuration failed: {exc}{note}") from exc
    if log and os.path.exists(log):
        Path(log).unlink()  # an old error log would mislead


def config_problem(config: dict, schema: str | Path, log: str | Path | None = ERROR_LOG):
    """The message of :func:`check_config`'s error, or None: for a short traceback.

    The Snakefile raises it itself, so Snakemake shows one frame, not this module's.
    """
    try:
        check_config(config, schema, log)
    except ConfigError as exc:
        return str(exc)
    return None
