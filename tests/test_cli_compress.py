"""`accelsim compress` on the small toy-bars model: the table, the JSON fields, the file, and bad input
refused with exit status 2 and one line on stderr.

toy-bars layers (weights + biases): conv1 8x1x3x3 = 72 + 8, conv2 16x8x3x3 = 1152 + 16,
fc1 32x256 = 8192 + 32, fc2 2x32 = 64 + 2; 9480 weights, 9538 parameters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from accelsim.cli import main as cli
from accelsim.compress import load
from accelsim.model import model_names

needs_toy = pytest.mark.skipif("toy-bars" not in model_names(), reason="toy-bars model not registered")

LAYER_FIELDS = {"layer", "weights", "kept_fraction", "clusters", "index_bits", "position_bits", "fillers",
                "compressed_bytes", "dense_fp32_bytes", "ratio"}
TOTAL_FIELDS = {"weights", "kept_fraction", "fillers", "compressed_bytes", "dense_fp32_bytes", "ratio"}
TOY = {"conv1": (72, 8), "conv2": (1152, 16), "fc1": (8192, 32), "fc2": (64, 2)}


def run(*args):
    return CliRunner().invoke(cli, ["compress", *args])


def strict_json(text):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)  # NaN / Infinity are not JSON


def write_plan(tmp_path, text, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


@needs_toy
def test_dense_fixed16_json_by_hand(tmp_path):
    out = tmp_path / "toy16.npz"
    result = run("--model", "toy-bars", "--plan", "dense-fixed16", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = strict_json(result.stdout)
    assert (report["model"], report["plan"]) == ("toy-bars", "dense-fixed16")
    rows = {r["layer"]: r for r in report["layers"]}
    assert list(rows) == list(TOY)
    for name, (w, b) in TOY.items():
        r = rows[name]
        assert LAYER_FIELDS <= set(r)
        # every weight and bias stored in 16 bits: half of fp32, no codebook, no positions
        assert (r["weights"], r["kept_fraction"], r["clusters"], r["index_bits"], r["position_bits"], r["fillers"]) == \
            (w, 1.0, None, None, None, 0)
        assert r["compressed_bytes"] == (w + b) * 2
        assert r["dense_fp32_bytes"] == (w + b) * 4
        assert r["ratio"] == 2.0
        assert r["value_format"].startswith("fixed16.")
    t = report["total"]
    assert TOTAL_FIELDS <= set(t)
    # 9538 parameters: 19076 bytes at 16 bits, 38152 at 32
    assert (t["weights"], t["kept_fraction"], t["fillers"], t["compressed_bytes"], t["dense_fp32_bytes"], t["ratio"]) == \
        (9480, 1.0, 0, 19076, 38152, 2.0)
    assert out.is_file()
    assert "wrote" in result.stderr and str(out) in result.stderr


@needs_toy
def test_sparse_shared_plan_json_matches_the_file(tmp_path):
    plan = write_plan(tmp_path, """
        defaults: {sparsity: 0.75, clusters: 8, positions: 2, codebook_format: fp16, bias_format: fp16}
        layers:
          fc2: {sparsity: 0.5, positions: null, clusters: 4}
    """, name="toy-sparse.yaml")
    out = tmp_path / "sparse.npz"
    result = run("--model", "toy-bars", "--plan", plan, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = strict_json(result.stdout)
    assert report["plan"] == "toy-sparse"
    cm = load(out)
    sum_bytes = 0.0
    for r in report["layers"]:
        layer = cm.layers[r["layer"]]
        w, b = TOY[r["layer"]]
        sparsity = 0.5 if r["layer"] == "fc2" else 0.75
        kept = w - round(sparsity * w)
        assert r["weights"] == w and r["kept_fraction"] == kept / w == layer.kept / w
        assert r["clusters"] == layer.clusters <= (4 if r["layer"] == "fc2" else 8)
        assert r["index_bits"] == layer.index_bits
        assert r["position_bits"] == (None if r["layer"] == "fc2" else 2)
        assert r["fillers"] == layer.fillers
        assert r["total_bits"] == layer.bits.total and r["compressed_bytes"] == layer.bits.total / 8
        # bits recomputed: fp16 codebook, fixed-width streams, fp16 biases
        entries = w if r["layer"] == "fc2" else kept + layer.fillers
        assert layer.bits.total == 16 * layer.clusters + entries * (layer.index_bits + (r["position_bits"] or 0)) + 16 * b
        assert r["dense_fp32_bytes"] == (w + b) * 4
        assert r["ratio"] == pytest.approx(r["dense_fp32_bytes"] / r["compressed_bytes"])
        sum_bytes += r["compressed_bytes"]
    t = report["total"]
    assert t["compressed_bytes"] == pytest.approx(sum_bytes)
    assert t["ratio"] == pytest.approx(38152 / sum_bytes)
    assert t["fillers"] == sum(l.fillers for l in cm.layers.values())
    assert t["kept_fraction"] == pytest.approx(sum(l.kept for l in cm.layers.values()) / 9480)


@needs_toy
def test_text_table(tmp_path):
    result = run("--model", "toy-bars", "--plan", "dense-fixed16", "--out", str(tmp_path / "t.npz"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "model toy-bars, plan dense-fixed16"
    for column in ("layer", "weights", "kept", "clusters", "idx b", "pos b", "fillers", "compressed B", "ratio"):
        assert column in lines[1]
    body = {line.split()[0]: line.split() for line in lines[3:] if line.split() and line.split()[0] in TOY}
    assert set(body) == set(TOY)
    assert body["fc1"][1] == "8,192" and body["fc1"][2] == "100.0%" and body["fc1"][-1] == "2.0x"
    assert body["fc1"][-2] == "16,448"  # (8192 + 32) x 2 bytes
    total = next(line for line in lines if line.startswith("total"))
    assert "9,480" in total and "19,076" in total and total.endswith("2.0x")
    assert not result.stdout.count("Traceback")


@needs_toy
def test_progress_goes_to_stderr_so_json_stays_clean(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))  # an empty cache: it compresses
    args = ("--model", "toy-bars", "--plan", "toy-aggressive", "--finetune-epochs", "0", "--json")
    result = run(*args, "--out", str(tmp_path / "a.npz"))
    assert result.exit_code == 0, result.output
    strict_json(result.stdout)  # nothing but the JSON on stdout
    assert "weight sharing" in result.stderr and "encoding storage" in result.stderr
    again = run(*args, "--out", str(tmp_path / "b.npz"))  # the second time from the cache, the same file
    assert again.exit_code == 0 and "from the cache" in again.stderr and "weight sharing" not in again.stderr
    assert strict_json(again.stdout) == strict_json(result.stdout)


# -- bad input: exit 2, one line on stderr --------------------------------------------------------

def refused(result, *words):
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in err[0], err[0]
    return err[0]


@needs_toy
@pytest.mark.parametrize(
    "body, words",
    [
        ("layers: {fc1: {clusters: 1}}", ["layers.fc1.clusters", "greater than or equal to 2"]),
        ("layers: {conv1: {sparsity: 1.0}}", ["layers.conv1.sparsity", "less than 1"]),
        ("defaults: {positions: 0}", ["defaults.positions", "greater than or equal to 1"]),
        ("layers: {fc1: {clsuters: 4}}", ["layers.fc1.clsuters", "unknown field"]),
        ("layers: {fc3: {clusters: 4}}", ["layers.fc3: unknown layer", "conv1, conv2, fc1, fc2"]),
        ("groups: {g: {layers: [fc1, fc9], clusters: 4}}", ["groups.g.layers: unknown layer 'fc9'"]),
        ("defaults: {huffman_indices: true}", ["layer conv1: huffman_indices needs clusters"]),
        ("layers: {conv1: {clusters: 4, codebook_format: fixed8.8}}",
         ["layer conv1: codebook_format: fixed8.8 holds magnitudes up to 0.496094, but values reach 0.50"]),
        ("layers:\n  fc1: {clusters: 4}\n  fc1: {clusters: 8}\n", ["key 'fc1' is repeated (first on line 2, again on line 3)"]),
    ],
)
def test_bad_plan_is_refused(tmp_path, body, words):
    plan = write_plan(tmp_path, body)
    out = tmp_path / "never.npz"
    line = refused(run("--model", "toy-bars", "--plan", plan, "--out", str(out), "--json"), *words)
    assert not out.exists()
    if "unknown layer" not in line and "needs clusters" not in line and "codebook_format: fixed" not in line:
        assert plan in line  # schema and YAML errors name the file


@needs_toy
def test_unknown_model_plan_and_weights(tmp_path):
    refused(run("--model", "no-such-model", "--out", str(tmp_path / "x.npz")), "unknown model 'no-such-model'",
            "toy-bars")
    refused(run("--model", "toy-bars", "--plan", "no-such-plan", "--out", str(tmp_path / "x.npz")),
            "plan 'no-such-plan' is neither an existing file nor a shipped plan")
    refused(run("--model", "toy-bars", "--plan", "dense-fixed16", "--weights", str(tmp_path / "none.pt"),
                "--out", str(tmp_path / "x.npz")), "weights file", "does not exist")


@needs_toy
def test_the_console_entry_point_exits_2_without_a_traceback(tmp_path):
    plan = write_plan(tmp_path, "layers: {fc1: {clusters: 1}}")
    proc = subprocess.run([sys.executable, "-m", "accelsim.cli", "compress", "--model", "toy-bars", "--plan", plan,
                           "--out", str(tmp_path / "x.npz")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"error: {plan}: layers.fc1.clusters: Input should be greater than or equal to 2"]


def test_plans_command_lists_the_shipped_plans():
    result = CliRunner().invoke(cli, ["plans"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {"deep-compression-alexnet", "dense-fixed16"} <= set(names)


def test_json_of_a_fully_pruned_layer_without_bias_is_valid_json():
    from collections import OrderedDict

    import torch
    from torch import nn

    from accelsim.compress import CompressionPlan, compress
    from accelsim.compress.report import compression_json

    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(a=nn.Linear(4, 3, bias=False), b=nn.Linear(3, 2)))
    plan = CompressionPlan.model_validate({"name": "z", "layers": {"a": {"threshold": 10.0, "positions": 4, "clusters": 4}}})
    cm = compress(model, plan, model_name="z")
    assert cm.layers["a"].bits.total == 0  # fully pruned, sparse, no bias: nothing stored
    strict_json(json.dumps(compression_json(cm)))


@needs_toy
def test_a_weights_file_that_is_not_a_state_dict_is_refused_in_one_line(tmp_path):
    import collections
    import pickle

    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(pickle.dumps(collections.Counter(a=1), protocol=4))
    line = refused(run("--model", "toy-bars", "--plan", "toy-aggressive", "--weights", str(foreign),
                       "--out", str(tmp_path / "x.npz")),
                   f"weights file {foreign} cannot be read as a torch state dict: it is damaged or was not written")
    assert "weights_only" not in line  # torch's advice would run whatever code the file holds


@needs_toy
def test_a_nan_in_the_weights_is_blamed_on_the_weights_file(tmp_path):
    import torch

    from accelsim.model import get_model

    state = get_model("toy-bars").build().state_dict()
    state["fc1.weight"][3, 7] = float("nan")
    weights = tmp_path / "nan.pt"
    torch.save(state, weights)
    line = refused(run("--model", "toy-bars", "--plan", "toy-aggressive", "--weights", str(weights),
                       "--out", str(tmp_path / "x.npz")),
                   f"weights file {weights}: 'fc1.weight' holds 1 NaN or infinite values of 8192")
    assert "codebook_format" not in line


@needs_toy
@pytest.mark.parametrize("out, words", [
    ("{tmp}/file/x.npz", "--out {tmp}/file/x.npz: {tmp}/file is a file, not a folder"),
    pytest.param("/proc/nope/out", "--out /proc/nope/out: cannot write in /proc",
                 marks=pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc")),
])
def test_an_output_file_that_cannot_be_written_is_refused_before_compressing(tmp_path, monkeypatch, out, words):
    from accelsim.pipeline import compression

    def boom(*_a, **_k):
        raise AssertionError("compressed before refusing --out")

    monkeypatch.setattr(compression, "compress_stage", boom)
    (tmp_path / "file").write_text("not a folder")
    refused(run("--model", "toy-bars", "--plan", "toy-aggressive", "--out", out.format(tmp=tmp_path)),
            words.format(tmp=tmp_path))
