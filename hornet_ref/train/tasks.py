"""The tasks a run can learn, by name: ``--task classify``, ``segment`` or ``detect``.

The one place a new task plugs in: a :class:`~hornet_ref.train.task.TaskSpec` of its
own, one entry below, and its name in ``hornet_ref.train.config.TASKS`` (the
``--task`` choices). The loop (:mod:`hornet_ref.train.engine`) only calls
:func:`get_task`. Each entry imports its task when asked, so a run loads only its own.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import ConfigError
from .task import ClassifyTask, TaskSpec

__all__ = ["REGISTRY", "get_task"]


def _classify() -> TaskSpec:
    return ClassifyTask()


def _segment() -> TaskSpec:
    from .segment import SegmentTask

    return SegmentTask()


def _detect() -> TaskSpec:
    from .detect import DetectTask

    return DetectTask()


#: Each task's name and the function that builds its spec.
REGISTRY: dict[str, Callable[[], TaskSpec]] = {
    "classify": _classify,
    "segment": _segment,
    "detect": _detect,
}


def get_task(name: str) -> TaskSpec:
    """The task called ``name``; raises ConfigError naming the known ones."""
    if name not in REGISTRY:
        raise ConfigError(f"--task must be one of {', '.join(REGISTRY)}; got {name!r}")
    return REGISTRY[name]()
