"""Stage 1, compression: (model, plan, weights, fine-tuning) -> the compressed model and the network
holding its decoded weights.

The result depends only on the model's weights, the plan, the fine-tuning epochs and the code that
compresses (and, when fine-tuning, the code that makes the training data), so it is cached under a
key of exactly those: a sweep over hardware, or a rerun, never recompresses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from accelsim.cache import Cache, default_cache, key_of, source_digest
from accelsim.compress import CompressedModel, CompressionPlan, compress, load, load_plan
from accelsim.compress.io import dumps, loads
from accelsim.model import ModelEntry, get_model

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CompressionRequest:
    model: str  # catalogue name (accelsim models)
    plan: CompressionPlan
    weights: Path | None = None  # state-dict file; None: the model's shipped or seeded weights
    finetune_epochs: int | None = None  # None: the plan's

    @classmethod
    def of(cls, model: str, plan: str | Path | CompressionPlan, weights: str | Path | None = None,
           finetune_epochs: int | None = None) -> CompressionRequest:
        """A request from CLI-style arguments: the plan as a shipped name, a YAML path or a plan."""
        loaded = plan if isinstance(plan, CompressionPlan) else load_plan(plan)
        return cls(model, loaded, Path(weights) if weights is not None else None, finetune_epochs)

    @property
    def epochs(self) -> int:
        return self.plan.finetune.epochs if self.finetune_epochs is None else self.finetune_epochs


@dataclass
class Compressed:
    """The stage's output: the catalogue entry, the network holding the decoded weights, and the
    compressed model (every layer's streams and bit counts) they were decoded from."""

    entry: ModelEntry
    network: nn.Module
    storage: CompressedModel
    cached: bool  # not compressed in this run: read from the cache, or from a file the user gave
    wall_s: float  # spent compressing in this run (0 when cached)


class _ModelCodec:
    """A compressed model as its .npz bytes; `loads` re-checks every stream, so a damaged entry that
    survived the cache's checksum would still be refused."""

    name = "compressed-model-npz"

    def encode(self, value: CompressedModel) -> bytes:
        return dumps(value)

    def decode(self, data: bytes) -> CompressedModel:
        return loads(data, "cache entry")


def weights_digest(network: nn.Module) -> str:
    """Digest of a network's state (names, dtypes, shapes and values)."""
    return key_of({name: tensor.detach().cpu().contiguous().numpy()
                   for name, tensor in network.state_dict().items()})


def compress_stage(request: CompressionRequest, cache: Cache | None = None,
                   progress: Progress | None = None) -> Compressed:
    """The compressed model of ``request``, from the cache when it was computed before."""
    entry = get_model(request.model)
    network = entry.build(request.weights)
    epochs = request.epochs
    # Fine-tuning also runs the model's forward pass on its training data: their code is an input too.
    code = source_digest("accelsim.compress", *(("accelsim.model", "accelsim.detect") if epochs else ()))
    key = key_of(request.model, weights_digest(network), request.plan.to_dict(), epochs, code)

    def run() -> CompressedModel:
        loader = entry.data(request.plan.seed)[0] if entry.data is not None and epochs > 0 else None
        source = str(request.weights) if request.weights else entry.weights or f"seeded init {entry.init_seed}"
        return compress(network, request.plan, model_name=request.model, loader=loader, finetune_epochs=epochs,
                        progress=progress, provenance={"weights": source})

    found = (cache or default_cache()).get_or_compute("compressed", key, run, _ModelCodec())
    found.value.load_into(network)
    return Compressed(entry, network, found.value, found.hit, found.compute_s)


def load_compressed(path: str | Path) -> Compressed:
    """A compressed model the user saved with `accelsim compress`: it names its own network."""
    storage = load(path)
    entry = get_model(storage.model)
    return Compressed(entry, storage.load_into(entry.build()), storage, True, 0.0)
