"""The validation switch is per contextvars context: an asyncio task inside ``validation(False)``
does not switch the checks off for another task running on the same thread."""

from __future__ import annotations

import asyncio

import torch

import losskit
from losskit import LossInputError


def test_validation_switch_is_per_asyncio_task() -> None:
    seen: dict[str, bool] = {}

    async def switched_off(inside: asyncio.Event, release: asyncio.Event) -> None:
        with losskit.validation(False):
            inside.set()
            await release.wait()  # the other task runs here, on the same thread
            seen["own"] = losskit.validation_enabled()

    async def other(inside: asyncio.Event, release: asyncio.Event) -> None:
        await inside.wait()
        seen["other"] = losskit.validation_enabled()
        try:
            losskit.mse_loss(torch.zeros(2), torch.ones(2), weight=torch.tensor([1.0, -1.0]))
            seen["checked"] = False
        except LossInputError:
            seen["checked"] = True
        release.set()

    async def both() -> None:
        inside, release = asyncio.Event(), asyncio.Event()
        await asyncio.gather(switched_off(inside, release), other(inside, release))

    asyncio.run(both())
    assert seen == {"own": False, "other": True, "checked": True}
    assert losskit.validation_enabled()
