"""A software WebAuthn authenticator for the tests: an EC P-256 key, real
authenticator data, client data and a "none" attestation, signed with the
`cryptography` package, so the server's checks (py_webauthn's included) run on
genuine responses, never on mocks.

What a browser adds (the origin in the client data) is the authenticator's
too here, and each can be set wrong on purpose: another origin, another RP ID,
no user verification, a counter that goes backwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40
AAGUID = bytes(16)  # "none" attestation: the all-zero AAGUID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One discoverable credential (a passkey) for one account on one RP."""

    origin: str = "http://localhost"
    rp_id: str | None = None  # None: the RP ID of the options
    sign_count: int = 0
    counts: bool = True  # False: the counter stays 0, as many platform authenticators do
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    user_handle: bytes | None = None
    registered_rp_id: str | None = None

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def _auth_data(self, rp_id: str, flags: int, attested: bool) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count)
        if attested:
            data += (
                AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
            )
        return data

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def create(
        self, options: str | dict, *, origin: str | None = None, rp_id: str | None = None, uv: bool = True
    ) -> dict:
        """The answer of navigator.credentials.create(options), as the JSON the app's script sends."""
        options = json.loads(options) if isinstance(options, str) else options
        rp = rp_id or self.rp_id or options["rp"]["id"]
        self.registered_rp_id = rp
        self.user_handle = unb64url(options["user"]["id"])
        flags = UP | AT | (UV if uv else 0)
        attestation = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": self._auth_data(rp, flags, True)}
        )
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return self._credential(
            clientDataJSON=b64url(client_data),
            attestationObject=b64url(attestation),
            transports=["internal", "hybrid"],
        )

    def _credential(self, **response: object) -> dict:
        """A PublicKeyCredential of this authenticator, as JSON, around its `response`."""
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        }

    def get(
        self,
        options: str | dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool = True,
        user_handle: bytes | None = None,
    ) -> dict:
        """The answer of navigator.credentials.get(options), signed with the credential's key."""
        options = json.loads(options) if isinstance(options, str) else options
        allowed = [unb64url(c["id"]) for c in options.get("allowCredentials") or []]
        assert not allowed or self.credential_id in allowed, "the options do not allow this credential"
        if self.counts:
            self.sign_count += 1
        rp = rp_id or self.rp_id or options.get("rpId") or self.registered_rp_id
        auth_data = self._auth_data(rp, UP | (UV if uv else 0), False)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        handle = user_handle if user_handle is not None else self.user_handle
        answer = self._credential(
            clientDataJSON=b64url(client_data),
            authenticatorData=b64url(auth_data),
            signature=b64url(signature),
        )
        if handle:
            answer["response"]["userHandle"] = b64url(handle)
        return answer
