import gc
import weakref

from festflow_runtime.startup_heap import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, b


def test_what_lives_at_start_is_frozen_and_what_was_garbage_is_collected_first():
    gc.unfreeze()
    try:
        kept = cycle()
        garbage = weakref.ref(cycle()[0])  # a cycle nothing refers to any more
        assert garbage() is not None  # only a collection frees it
        frozen = freeze_startup_heap()
        assert garbage() is None  # collected before freezing, not kept for good
        assert frozen == gc.get_freeze_count() > 0
        assert not any(obj is kept[0] for obj in gc.get_objects())  # no generation walks it any more
    finally:
        gc.unfreeze()


def test_objects_made_after_the_start_are_still_collected():
    gc.unfreeze()
    try:
        freeze_startup_heap()
        later = weakref.ref(cycle()[0])
        gc.collect()
        assert later() is None
    finally:
        gc.unfreeze()
