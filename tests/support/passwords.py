"""The passwords and secret keys the tests use: one home, so a test says which role a
password plays (the account's, a wrong one, a new one) and not which string it is."""

from __future__ import annotations

import secrets

# The account's password: meets the policy, is no common password, names no user.
PASSWORD = "Correct-Horse-42"
# A password that is not the account's: refused at sign-in, or as the current password.
WRONG_PASSWORD = "Wrong-Horse-42"
# A second valid password, for a change or reset; OTHER_PASSWORD when two changes race.
NEW_PASSWORD = "Brand-New-Pass-77"
OTHER_PASSWORD = "Other-New-Pass-88"

# SECRET_KEY of the testing apps and of the servers the tests start (tokens made in a
# test's app context are the server's); a production-like one where APP_ENV is production.
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
PRODUCTION_SECRET_KEY = "production-like-secret-" + "k" * 40


def make_password() -> str:
    """A fresh valid password: 8+ characters, upper, lower, digit; no common password, no user's name."""
    return f"Kx{secrets.token_hex(5)}-Q{secrets.randbelow(90) + 10}w"
