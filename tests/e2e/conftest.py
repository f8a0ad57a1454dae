# SPDX-License-Identifier: MIT
"""pytest setup for the e2e tests (see pwtest.py for the machinery).

Everything here needs root: network namespaces, helpers running as other
users, setpriv. As another user every test is skipped, with the reason.
Run (as root, from the repository root):
    PORTWHO=build/portwho PW_HELPERS=build/tests/helpers \\
        /usr/bin/python3 -m pytest tests/e2e
"""
import os
import shutil

import pytest

import pwtest

_E2E = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):
    why = None
    if os.geteuid() != 0:
        why = ("e2e tests need root (network namespaces, helpers as other users, setpriv); "
               "run them as root or with sudo")
    elif shutil.which("ip") is None:
        why = "e2e tests need iproute2's 'ip' (ip netns)"
    if why is None:
        return
    for item in items:
        if str(item.fspath).startswith(_E2E + os.sep):
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture
def netns():
    """A private network namespace for one test (deleted, with every process
    started in it, at teardown)."""
    ns = pwtest.Netns()
    try:
        yield ns
    finally:
        ns.close()


@pytest.fixture(scope="module")
def module_netns():
    """One namespace shared by the tests of a module that only read a fixed
    scenario (set up by a module fixture)."""
    ns = pwtest.Netns()
    try:
        yield ns
    finally:
        ns.close()


@pytest.fixture(scope="session")
def portwho_bin():
    p = pwtest.portwho_path()
    if p is None:
        pytest.fail("portwho binary not found (set PORTWHO=path/to/portwho; tried %s)"
                    % os.environ.get("PORTWHO", "build/portwho"))
    return p
