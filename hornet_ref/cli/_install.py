"""A broken install, told in one line: torch and torchvision from different releases.

pip can install a torchvision built against another torch without complaint; the
first ``import torchvision`` then fails (``operator torchvision::nms does not
exist``, an undefined symbol, a missing ``torch._C`` attribute). :func:`broken_install`
recognises such an error and says which versions are installed and the pip command
that installs a matching pair; a torch that does not import at all (a missing shared
library, a half-written install) is told likewise, with the command that reinstalls it.
It imports nothing that could itself be broken
(only the standard library) and never raises, because the CLI calls it while
handling another error.
"""

from __future__ import annotations

import importlib.metadata
import re
import traceback

__all__ = ["broken_install", "matching_torchvision"]

_PACKAGES = ("torch", "torchvision")
_WHEELS = "https://download.pytorch.org/whl/"
_IN_TORCHVISION = re.compile(r"[/\\]torchvision[/\\]")
_TORCH_TOP = re.compile(r"[/\\]torch[/\\][^/\\]+\.py$")  # torch/__init__.py, torch/x.py


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def matching_torchvision(torch_version: str) -> str | None:
    """The torchvision release built for ``torch_version`` (torch 2.m.p pairs with
    torchvision 0.(m+15).p from torch 2.1 on), or None when the rule does not apply."""
    match = re.match(r"2\.(\d+)\.(\d+)", torch_version)
    if match is None or int(match.group(1)) < 1:
        return None
    return f"0.{int(match.group(1)) + 15}.{match.group(2)}"


def _broken_package(error: BaseException) -> str | None:
    """Which package's import the error, or one it was raised from, came out of:
    "torchvision", "torch" (its own import, not a torch module's optional package), or None."""
    seen = 0
    while error is not None and seen < 8:  # __cause__ / __context__ chains are short
        seen += 1
        if isinstance(error, ImportError) and (error.name or "").split(".")[0] in _PACKAGES:
            return error.name.split(".")[0]
        if isinstance(error, (ImportError, RuntimeError, AttributeError, OSError)):
            if "torchvision::" in str(error):
                return "torchvision"
            frames = traceback.extract_tb(error.__traceback__)
            modules = [f.filename for f in frames if f.name == "<module>"]
            for filename in reversed(modules):  # the innermost module being imported
                if _IN_TORCHVISION.search(filename):
                    return "torchvision"
                # torch's own import failing; not a torch module that lacks an optional
                # package (torch.onnx without onnx), which is no broken install
                optional = isinstance(error, ImportError) and error.name is not None
                if _TORCH_TOP.search(filename) and not optional:
                    return "torch"
        error = error.__cause__ or error.__context__
    return None


def _fix(torch_version: str | None, vision_version: str | None, *, reinstall: bool) -> str:
    if torch_version is None:
        return "pip install torch torchvision"
    release, _, local = torch_version.partition("+")
    index = f" --index-url {_WHEELS}{local}" if local else ""
    vision = matching_torchvision(release)
    if vision is None:
        return f"pip install --force-reinstall torch=={release} torchvision{index}"
    # Matching numbers that still fail: builds for different devices, or a broken file.
    same = (vision_version or "").split("+")[0] == vision
    again = " --force-reinstall" if reinstall or same else ""
    return f"pip install{again} torch=={release} torchvision=={vision}{index}"


def broken_install(error: BaseException) -> str | None:
    """One line naming the installed torch and torchvision and the command that fixes
    them when ``error`` comes from a broken or mismatched install, else None."""
    try:
        package = _broken_package(error)
        if package is None:
            return None
        torch_version, vision_version = (_version(p) for p in _PACKAGES)
        detail = " ".join(str(error).split())[:120] or type(error).__name__
        fix = _fix(torch_version, vision_version, reinstall=package == "torch")
        if torch_version is None:
            return f"torch is not installed ({detail}); fix: {fix}"
        if package == "torch":
            return f"torch {torch_version} does not import ({detail}); reinstall it: {fix}"
        if vision_version is None:
            return f"torchvision is not installed ({detail}); fix: {fix}"
        return (
            f"torch {torch_version or '(not installed)'} and torchvision {vision_version} "
            f"do not work together ({detail}); install a matching pair: {fix}"
        )
    except Exception:  # the caller is already handling an error: never add another
        return None
