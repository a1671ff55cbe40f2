"""Oracles for the segmentation tests: segmentation_models_pytorch's and MONAI's loss classes,
and a float64 Lovasz written out from Berman et al. 2018, Algorithm 1.

segmentation_models_pytorch's package ``__init__`` imports its model zoo (timm, torchvision,
huggingface_hub); only its ``losses`` subpackage is needed, so it is imported on its own: the
package is registered as an empty namespace first, which skips that ``__init__``. The project
installs it without dependencies (see the Makefile), so torchvision never replaces the CPU build
of PyTorch.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import torch


def smp_losses() -> types.ModuleType:
    name = "segmentation_models_pytorch"
    if name not in sys.modules:
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise ModuleNotFoundError(f"{name} is a test dependency: pip install --no-deps segmentation-models-pytorch")
        package = types.ModuleType(name)
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules[name] = package
    return importlib.import_module(f"{name}.losses")


def monai_losses() -> types.ModuleType:
    return importlib.import_module("monai.losses")


def lovasz_reference(errors: torch.Tensor, fg: torch.Tensor) -> torch.Tensor:
    """Berman et al.'s Algorithm 1 on one flat vector of errors (float64, plain loop-free torch)."""
    order = torch.argsort(errors, descending=True)
    e, g = errors[order], fg[order].double()
    gts = g.sum()
    jaccard = 1.0 - (gts - g.cumsum(0)) / (gts + (1.0 - g).cumsum(0))
    grad = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return torch.dot(e, grad)
