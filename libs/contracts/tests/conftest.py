import pytest

from festflow_contracts.tokens import generate_keypair


@pytest.fixture(scope="session")
def keypair():
    return generate_keypair()


@pytest.fixture(scope="session")
def other_keypair():
    return generate_keypair()
