import pytest

@pytest.fixture
def fake_credentials():
    return {"username": "alice", "password": "password", "token": "dummy-token-for-tests"}

def test_login(client, fake_credentials):
    assert client.login(**fake_credentials)
