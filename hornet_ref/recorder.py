"""Collect the interaction maps of every gnConv in a model during one forward pass.

    with InteractionRecorder(model) as rec:
        model(images)
    rec[2, 5].p[4]          # stage 3 (index 2), block 6 (index 5), p_4
    rec["stages.2.5.gnconv"] # the same record, by module name

Each GnConv already knows how to report what it computed (its
``interaction_sink``); the recorder only points every sink at one dict and
unhooks them on exit, so the model is unchanged afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from torch import nn

from .gnconv import GnConv, Interactions

__all__ = ["InteractionRecorder", "gnconv_name", "gnconv_stage_block"]

_STAGE_BLOCK = re.compile(r"(?:^|\.)stages\.(\d+)\.(\d+)\.gnconv$")


def gnconv_name(stage: int, block: int) -> str:
    """The module name of a HorNet block's gnConv: ``gnconv_name(2, 5) == "stages.2.5.gnconv"``."""
    return f"stages.{stage}.{block}.gnconv"


def gnconv_stage_block(name: str) -> tuple[int, int] | None:
    """The inverse of :func:`gnconv_name`: (stage, block), or None for other module names.

    A prefix such as ``module.`` (DistributedDataParallel) is allowed.
    """
    match = _STAGE_BLOCK.search(name)
    return (int(match[1]), int(match[2])) if match else None


class InteractionRecorder:
    """Context manager recording :class:`~hornet_ref.Interactions` for each GnConv.

    Args:
        model: any module containing GnConv layers (a HorNet, a lone GnConv, ...).
        detach: store tensors cut from the autograd graph (default). Pass False to
            differentiate through the recorded maps (e.g. gradients of p_k).
        include: optional module names to record; others are left alone.

    Records are keyed by module name (``"stages.2.5.gnconv"``) and, for HorNets and
    models holding one HorNet (a segmenter's ``backbone``), can also be looked up as
    ``rec[stage, block]``. A second forward pass inside the
    same context overwrites the first.
    """

    def __init__(self, model: nn.Module, *, detach: bool = True, include: list[str] | None = None):
        self.modules = {
            name: m
            for name, m in model.named_modules()
            if isinstance(m, GnConv) and (include is None or name in include)
        }
        if include is not None and len(self.modules) != len(set(include)):
            unknown = sorted(set(include) - set(self.modules))
            valid = [name for name, m in model.named_modules() if isinstance(m, GnConv)]
            raise ValueError(f"no GnConv named {unknown}; valid names: {valid[:8]} ...")
        if not self.modules:
            raise ValueError(f"{type(model).__name__} contains no GnConv to record")
        self.detach = detach
        self.records: dict[str, Interactions] = {}

    def __enter__(self) -> InteractionRecorder:
        # Check every module before hooking any, so a refused recorder leaves nothing behind.
        for name, module in self.modules.items():
            if module.interaction_sink is not None:
                raise RuntimeError(f"{name} is already being recorded by another recorder")
        for name, module in self.modules.items():
            module.interaction_sink = self._sink_for(name)
        return self

    def __exit__(self, *exc) -> None:
        for module in self.modules.values():
            module.interaction_sink = None

    def _sink_for(self, name: str):
        def sink(rec: Interactions) -> None:
            self.records[name] = rec.detach() if self.detach else rec

        return sink

    def __getitem__(self, key: str | tuple[int, int]) -> Interactions:
        if isinstance(key, tuple):
            # A HorNet's own name, or the one record of that block inside a larger model
            # (e.g. "backbone.stages.2.0.gnconv" in a segmenter).
            matches = [name for name in self.records if self.stage_block(name) == key]
            key = matches[0] if len(matches) == 1 else gnconv_name(*key)
        if key not in self.records:
            raise KeyError(
                f"nothing recorded for {key!r}; recorded: {list(self.records)[:8]}"
                + (" ..." if len(self.records) > 8 else "")
            )
        return self.records[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def stage_block(self, name: str) -> tuple[int, int] | None:
        """(stage, block) of a HorNet module name, or None for other names."""
        return gnconv_stage_block(name)
