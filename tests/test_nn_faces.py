"""The module faces in ``losskit.nn`` generated from the catalog: built once, found again by
pickle and ``copy.deepcopy``, with a real signature, a docstring and Python's own errors."""

from __future__ import annotations

import copy
import inspect
import io
import pickle
import subprocess
import sys

import pytest
import torch

import losskit
from losskit import catalog
from losskit import nn as lnn


def test_a_generated_face_is_one_class_kept_in_the_module() -> None:
    cls = lnn.HuberLoss
    assert cls is lnn.HuberLoss is catalog.lookup("huber").module_class()
    assert vars(lnn)["HuberLoss"] is cls
    assert issubclass(cls, lnn._FunctionalLoss)
    assert (cls.__module__, cls.__name__, cls.__qualname__) == ("losskit.nn", "HuberLoss", "HuberLoss")
    assert cls.function is losskit.huber_loss


def test_signature_and_docstring_come_from_the_function_and_the_entry() -> None:
    init = inspect.signature(lnn.LinearCrossEntropyLoss.__init__)
    fn = inspect.signature(losskit.linear_cross_entropy).parameters
    self, *options = init.parameters.items()
    assert self[0] == "self"
    for name, p in options:
        assert p.kind is inspect.Parameter.KEYWORD_ONLY
        assert (p.default, p.annotation) == (fn[name].default, fn[name].annotation)
    assert "linear_bias" not in init.parameters and "num_items" not in init.parameters
    assert str(inspect.signature(lnn.MSELoss)) == str(inspect.signature(lnn.MSELoss.__init__)).replace("self, ", "")
    assert lnn.PoissonLoss.__doc__ == (
        "Module face of :func:`losskit.functional.poisson_loss`; "
        "called as ``loss(input, target, offset=..., weight=...)``."
    )
    assert "loss(boxes1, boxes2)" in lnn.GIoULoss.__doc__


def test_arguments_are_bound_like_a_python_signature() -> None:
    with pytest.raises(TypeError, match="HuberLoss\\(\\): got an unexpected keyword argument 'delt'"):
        lnn.HuberLoss(delt=2.0)
    with pytest.raises(TypeError, match="too many positional arguments"):
        lnn.HuberLoss(2.0)
    with pytest.raises(TypeError, match="offset"):  # passed per call, not stored
        lnn.PoissonLoss(offset=torch.zeros(3))
    module = lnn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]), label_smoothing=0.1)
    assert module.options()["ignore_index"] == -100 and "weight" in module.state_dict()


def test_unknown_names_are_attribute_errors_with_close_matches() -> None:
    with pytest.raises(AttributeError, match="did you mean 'MSELoss'"):
        lnn.MSELos  # noqa: B018
    with pytest.raises(AttributeError, match=r"no attribute 'Nothing'$"):
        lnn.Nothing  # noqa: B018
    assert not hasattr(lnn, "mse_loss")
    assert set(lnn.__all__) <= set(dir(lnn))


def test_star_import_gives_every_module() -> None:
    namespace: dict[str, object] = {}
    exec("from losskit.nn import *", namespace)
    assert {e.module for e in catalog.ENTRIES} <= set(namespace)
    assert namespace["TverskyLoss"] is lnn.TverskyLoss and namespace["CRF"] is lnn.CRF


@pytest.mark.parametrize(
    "module",
    [lnn.HuberLoss(delta=0.5), lnn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5])), lnn.PinballLoss([0.5])],
    ids=lambda m: type(m).__name__,
)
def test_pickle_torch_save_and_deepcopy_find_the_same_class(module: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    if isinstance(module, lnn.PinballLoss):
        args = (torch.randn(6, 1, generator=gen), torch.randn(6, generator=gen))
    elif isinstance(module, lnn.CrossEntropyLoss):
        args = (torch.randn(6, 3, generator=gen), torch.tensor([0, 1, 2, 2, 1, 0]))
    else:
        args = (torch.randn(6, generator=gen), torch.randn(6, generator=gen))
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    copies = [pickle.loads(pickle.dumps(module)), copy.deepcopy(module), torch.load(buffer, weights_only=False)]
    for other in copies:
        assert type(other) is type(module)
        assert repr(other) == repr(module)
        torch.testing.assert_close(other(*args), module(*args))


def test_a_fresh_interpreter_unpickles_a_face_it_has_not_built_yet() -> None:
    data = pickle.dumps(lnn.TverskyLoss(alpha=0.2))
    code = "import pickle, sys; m = pickle.loads(sys.stdin.buffer.read()); print(type(m).__qualname__, m.alpha)"
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    assert out.stdout.decode().split() == ["TverskyLoss", "0.2"]
