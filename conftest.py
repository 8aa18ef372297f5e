"""Collection rules for the whole suite (tests/, the package's doctests, notebooks/)."""


def pytest_collection_modifyitems(config, items):
    """Docstring examples that only show a call against a live server (every line marked
    ``+SKIP``) are documentation, not tests: leave them out instead of reporting skips.
    The calls they show are exercised by the loader tests against the real servers."""
    import doctest

    from _pytest.doctest import DoctestItem

    def documentation_only(item) -> bool:
        examples = item.dtest.examples
        return bool(examples) and all(e.options.get(doctest.SKIP) for e in examples)

    kept = [i for i in items if not (isinstance(i, DoctestItem) and documentation_only(i))]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
