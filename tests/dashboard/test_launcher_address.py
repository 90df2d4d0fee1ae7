"""Issue 19: the launcher treats IPv4 shorthand for loopback (``127.1``) as loopback, and
refuses an empty ``--address`` instead of printing ``listening on :``."""

from __future__ import annotations

import socket

import pytest

from dashboard.__main__ import main
from dashboard.exposure import is_loopback


@pytest.mark.parametrize("address", ["127.1", "127.0.1", "0x7f.1", "2130706433"])
def test_ipv4_shorthand_for_loopback_is_loopback(address):
    # What the OS binds for it (inet_aton), checked independently of the code under test.
    assert socket.inet_aton(address)[0] == 127
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["10.1", "0.0.0.0", "example.com", "1.2.3.4", "", "127.1.example.com"])
def test_other_addresses_are_not_loopback(address):
    assert not is_loopback(address)


@pytest.mark.parametrize("address", ["", "   "])
def test_empty_address_is_refused_in_one_line(capsys, address):
    assert main(["--address", address]) == 2
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert lines == ["error: --address is empty: give 127.0.0.1 (the default), or an address to expose the data on"]
