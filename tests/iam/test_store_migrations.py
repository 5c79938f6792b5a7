"""An IAM database from before the account, MFA and profile tables opens with every record kept, and then
serves the new operations (the store's named migrations 0004 and 0005)."""

from __future__ import annotations

from pathlib import Path

from outcrop.iam.store import MIGRATIONS, IamStore
from outcrop.storage.sqlite import Database


def test_an_older_iam_database_migrates_without_loss(tmp_path: Path) -> None:
    path = tmp_path / "iam.sqlite3"
    names = [name for name, _ in MIGRATIONS]
    old = Database(path, MIGRATIONS[: names.index("0004-account-mfa")])
    with old.transaction() as tx:
        tx.execute("INSERT INTO users (name, id, path, created) VALUES ('kept', 'AIDAKEPT', '/', 1.0)")
        tx.execute(
            "INSERT INTO roles (name, id, path, created, trust, description, max_session) "
            "VALUES ('kept-role', 'AROAKEPT', '/', 1.0, '{}', '', 3600)"
        )
    old.close()

    store = IamStore(path, "000000000000")
    try:
        assert store.get("user", "kept")["id"] == "AIDAKEPT"
        assert store.role_service("kept-role") is None  # an account's own role, not a service-linked one
        assert store.counts()["Users"] == 1
        store.set_setting("alias", "migrated")
        assert store.setting("alias") == "migrated"
        device = store.create_mfa("kept-device", "/")
        assert device["user"] is None
        store.create_profile("kept-profile", "/")
        store.profile_role("kept-profile", "kept-role")
        assert [r["name"] for r in store.profile("kept-profile")["roles"]] == ["kept-role"]
    finally:
        store.close()
