"""Claims are parametrised from the scale table: ``dataset`` runs over the scale's datasets."""
from harness.scales import scale as load_scale


def pytest_generate_tests(metafunc):
    """``dataset``: the scale's main dataset plus those skipped with a reason when absent."""
    if "dataset" in metafunc.fixturenames:
        s = load_scale(metafunc.config.firstlayer_scale)
        metafunc.parametrize("dataset", [s.dataset, *s.extra_datasets])
