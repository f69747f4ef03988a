"""The model registry: config checks at parse time, models from outside the package, list.

The toy model here lives in a module written to ``tmp_path``, as a user's own package
would: it is configured through the config alone (``family: toymodels:ToyArch``) and
exists in PyTorch only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, snapshot_workflow, tiny_dataset, write_ucr_tsv
from ecgrepro.errors import EcgreproError
from ecgrepro.models import registry

BIN = Path(sys.executable).parent

TOY = '''\
"""A toy model from outside ecgrepro: one dense hidden layer, PyTorch only."""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ToyArch:
    length: int
    n_classes: int
    hidden: int = 4

    name = "toy"
    torch_builder = ":build_torch"  # build_torch below; no keras_builder

    def __post_init__(self):
        if self.hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {self.hidden}")

    def to_dict(self):
        return {**asdict(self), "name": self.name}


def build_torch(arch):
    import torch

    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(arch.length, arch.hidden), torch.nn.ReLU(),
        torch.nn.Linear(arch.hidden, arch.n_classes),
    )
'''

EXPERIMENT = {"datasets": ["TwoLeadECG"], "models": ["m"], "frameworks": ["torch", "keras"],
              "protocols": ["blog2020"], "seeds": 1}


@pytest.fixture
def toy_module(tmp_path, monkeypatch):
    """``toymodels`` written to a directory on sys.path; yields that directory."""
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "toymodels.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(plugin))
    registry.resolve.cache_clear()
    yield plugin
    sys.modules.pop("toymodels", None)
    registry.resolve.cache_clear()


def _check(model: dict, frameworks=("torch", "keras"), datasets=("TwoLeadECG",)):
    exp = dict(EXPERIMENT, frameworks=list(frameworks), datasets=list(datasets))
    registry.check_models({"m": model}, [exp])


def test_registry_imports_no_framework():
    code = (
        "import sys, yaml; from ecgrepro.models import registry as r; "
        "cfg = yaml.safe_load(open('config/config.yaml')); "
        "r.check_models(cfg['models'], cfg['experiments']); "
        "[r.resolve(f) for f in r.FAMILIES]; "
        "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)


def test_configured_models_pass():
    import yaml

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    registry.check_models(cfg["models"], cfg["experiments"], shapes={"mitdb": (1000, 5)})


def test_unknown_family_names_close_matches():
    with pytest.raises(EcgreproError, match=r"models\.m: unknown model family 'lstm_fnc'.*"
                                            r"Did you mean 'lstm_fcn'"):
        _check({"family": "lstm_fnc"})


def test_typo_in_a_setting_is_refused_with_allowed_settings():
    with pytest.raises(EcgreproError) as err:
        _check({"family": "fcn", "filtres": [8, 8, 8]})
    text = str(err.value)
    assert "models.m: unknown setting 'filtres' for family 'fcn'" in text
    assert "Did you mean 'filters'" in text and "Allowed settings: filters, kernels" in text


def test_unused_models_are_checked_too():
    with pytest.raises(EcgreproError, match="unknown setting 'celll'.*'cell'"):
        registry.check_models({"m": {"family": "cnn_rnn", "celll": "gru"}}, [])


def test_refused_values_fail_where_the_data_shape_is_known():
    with pytest.raises(EcgreproError, match=r"models\.m \(on mitdb\).*cell must be one of"):
        registry.check_models({"m": {"family": "cnn_rnn", "cell": "rnn"}},
                              [dict(EXPERIMENT, datasets=["mitdb"])],
                              shapes={"mitdb": (1000, 5)})
    _check({"family": "cnn_rnn", "cell": "rnn"}, datasets=["NotInMetadata"])  # unknown shape


def test_import_path_family(toy_module):
    _check({"family": "toymodels:ToyArch", "hidden": 3}, frameworks=["torch"])
    arch = registry.build_arch({"family": "toymodels:ToyArch", "hidden": 3}, 10, 2)
    assert arch.to_dict() == {"length": 10, "n_classes": 2, "hidden": 3, "name": "toy"}
    torch = pytest.importorskip("torch")
    net = registry.build_network(arch, "torch")
    assert net(torch.zeros(5, 1, 10)).shape == (5, 2)
    assert registry.count_params(net, "torch")["total"] == 10 * 3 + 3 + 3 * 2 + 2
    with pytest.raises(EcgreproError, match="ToyArch has no keras implementation"):
        registry.build_network(arch, "keras")


def test_framework_a_model_lacks_is_refused(toy_module):
    with pytest.raises(EcgreproError) as err:
        _check({"family": "toymodels:ToyArch"}, frameworks=["torch", "keras"])
    text = str(err.value)
    assert "experiments[0]: model 'm'" in text and "has no keras implementation" in text
    assert "exists in torch only" in text


def test_bad_import_paths_and_classes(toy_module):
    with pytest.raises(EcgreproError, match="cannot import module 'nomodule'.*PYTHONPATH"):
        _check({"family": "nomodule:Arch"})
    with pytest.raises(EcgreproError, match="module 'toymodels' has no attribute 'Nope'"):
        _check({"family": "toymodels:Nope"})
    with pytest.raises(EcgreproError, match="needs a class attribute torch_builder"):
        _check({"family": "toymodels:asdict"})


def test_list_prints_models_frameworks_and_counts(toy_module, tmp_path, capsys):
    pytest.importorskip("torch")
    from ecgrepro.models.__main__ import main

    config = tmp_path / "models.yaml"
    config.write_text('models:\n  toy: {family: "toymodels:ToyArch", hidden: 3}\n'
                      '  fcn: {family: fcn}\n')
    assert main(["list", "--configfile", str(config), "--length", "10"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "length 10, 2 classes" in lines[0]
    toy = next(line for line in lines if line.startswith("toy "))
    assert toy.split()[:5] == ["toy", "toymodels:ToyArch", "torch", "41", "(41"]
    assert toy.rstrip().endswith("-")  # no Keras implementation
    fcn = next(line for line in lines if line.startswith("fcn "))
    assert fcn.count("265,986 (264,962 trainable)") == 2
    assert {line.split()[0] for line in lines[2:]} >= {"(lstm_fcn)", "(cnn_rnn)", "(fcn)"}


# --- through the workflow ----------------------------------------------------------------


def _workflow(tmp_path, toy_dir, frameworks, *args):
    code = snapshot_workflow(tmp_path / "code")
    mirror = tmp_path / "mirror"
    Xtr, ytr, Xte, yte = tiny_dataset(n_train=8, n_test=6, length=16)
    write_ucr_tsv(mirror / "ucr" / "Tiny" / "Tiny_TRAIN.tsv", Xtr, ytr)
    write_ucr_tsv(mirror / "ucr" / "Tiny" / "Tiny_TEST.tsv", Xte, yte)
    work = tmp_path / "work"
    work.mkdir()
    (work / "toy.yaml").write_text(textwrap.dedent(f"""\
        ucr_datasets: [Tiny]
        data_mirror: {mirror}
        models:
          toy: {{family: "toymodels:ToyArch", hidden: 3}}
        protocols:
          blog2020: {{epochs: 1}}
        experiments:
          - datasets: [Tiny]
            models: [toy]
            frameworks: {json.dumps(frameworks)}
            protocols: [blog2020]
            seeds: 1
        """))
    cmd = [str(BIN / "snakemake"), "-s", str(code / "Snakefile"), "--cores", "1",
           "train_all", "--configfile", str(work / "toy.yaml"), *args]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(toy_dir)}
    result = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                            timeout=600)
    return work, result.returncode, result.stdout + result.stderr


def test_workflow_refuses_a_framework_the_model_lacks(tmp_path, toy_module):
    _, rc, text = _workflow(tmp_path, toy_module, ["torch", "keras"], "-n")
    assert rc != 0
    assert "model 'toy'" in text and "has no keras implementation" in text


def test_workflow_refuses_a_typo_in_a_setting(tmp_path, toy_module):
    _, rc, text = _workflow(tmp_path, toy_module, ["torch"], "-n", "--config",
                            "models={'toy': {'family': 'toymodels:ToyArch', 'hiden': 3}}")
    assert rc != 0 and "unknown setting 'hiden'" in text and "Did you mean 'hidden'" in text


@pytest.mark.slow
def test_model_from_outside_the_package_trains_through_the_workflow(tmp_path, toy_module):
    work, rc, text = _workflow(tmp_path, toy_module, ["torch"])
    assert rc == 0, text[-3000:]
    (run,) = (work / "results/runs/Tiny/toy/torch/blog2020/test").glob("seed0-*")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "toy" and metrics["epochs"] == 1
    assert metrics["arch"] == {"length": 16, "n_classes": 2, "hidden": 3, "name": "toy"}
    assert metrics["n_params"] == 16 * 3 + 3 + 3 * 2 + 2
    assert (run / "history.csv").read_text().count("\n") == 2  # header + one epoch
