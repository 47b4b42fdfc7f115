import pytest

from migrator.client.identity import identity_from_userinfo
from migrator.errors import AuthError


def test_the_org_id_comes_from_organization_id_or_else_from_the_identity_url():
    full = identity_from_userinfo({"organization_id": "00D5g000004ABCDEAA", "user_id": "0055g00000XYZ12AAA",
                                   "preferred_username": "ada@example.com"})
    assert (full.org_id, full.username) == ("00D5g000004ABCD", "ada@example.com")
    sub_only = identity_from_userinfo({"sub": "https://test.salesforce.com/id/00D5g000004ABCDEAA/0055g00000XYZ12AAA"})
    assert (sub_only.org_id, sub_only.user_id) == ("00D5g000004ABCD", "0055g00000XYZ12AAA")
    with pytest.raises(AuthError, match="names no organization_id"):
        identity_from_userinfo({"sub": "somebody"})
