from __future__ import annotations

import bff


def test_all_is_sorted_and_complete() -> None:
    assert bff.__all__ == sorted(bff.__all__)
    public = {
        name
        for name, value in vars(bff).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("bff")
    }
    assert public <= set(bff.__all__)
    for name in bff.__all__:
        assert hasattr(bff, name), name
