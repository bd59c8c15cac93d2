"""JwtVerifier: HS256 secrets and JWKS keys over a real loopback key server.

The key server is a small Starlette app whose keys and failures each test sets
and which counts its requests; the verifier's cache clock is a fake the tests
move forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bff.api.jwt_auth import JwtVerifier
from bff.exceptions import UnauthenticatedError
from bff.testing.server import ServerThread, free_port

pytestmark = pytest.mark.anyio

SECRET = "s3cret-for-tests-only-0123456789abcdef"
ISSUER = "https://login.example.test/"
AUDIENCE = "llm-bff"

RSA_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_A = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = RSA_A.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _jwk(private_key: Any, kid: str | None, **extra: Any) -> dict[str, Any]:
    """The public JWK of ``private_key``, with its kid, ``use: sig`` and ``alg``."""
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk: Any = RSAAlgorithm.to_jwk(public, as_dict=True)
        jwk["alg"] = "RS256"
    else:
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        jwk["alg"] = "ES256"
    if kid is not None:
        jwk["kid"] = kid
    return {**jwk, "use": "sig", **extra}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "user-42", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _rs256(kid: str | None = "a", key: Any = RSA_A, **claims: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(_claims(**claims), key, algorithm="RS256", headers=headers)


def _hs256(secret: str = SECRET, **claims: Any) -> str:
    return jwt.encode(_claims(**claims), secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], claims: Any, key: bytes) -> str:
    """An HS256 token made by hand: PyJWT refuses to sign with a PEM key as a secret."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class KeyServer:
    """A JWKS endpoint whose keys and failure mode the test sets; counts its requests."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/jwks", self._jwks)])
        self.reset()

    def reset(self) -> None:
        self.keys: list[Any] = [_jwk(RSA_A, "a"), _jwk(EC_A, "e")]
        self.mode = "ok"
        self.delay = 0.0
        self.requests = 0

    async def _jwks(self, request: Request) -> Response:
        self.requests += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "500":
            return PlainTextResponse("internal error", status_code=500)
        if self.mode == "html":
            return PlainTextResponse("<html>maintenance</html>", media_type="text/html")
        return JSONResponse({"keys": self.keys})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def _key_server() -> Iterator[tuple[KeyServer, str]]:
    keys = KeyServer()
    with ServerThread(keys.app) as server:
        yield keys, f"{server.url}/jwks"


@pytest.fixture
def key_server(_key_server: tuple[KeyServer, str]) -> KeyServer:
    _key_server[0].reset()
    return _key_server[0]


@pytest.fixture
def jwks_url(_key_server: tuple[KeyServer, str]) -> str:
    return _key_server[1]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


Make = Callable[..., JwtVerifier]


@pytest.fixture
async def make(key_server: KeyServer, jwks_url: str, clock: FakeClock) -> AsyncIterator[Make]:
    """Build verifiers (JWKS at the reset test key server by default); closed after the test."""
    made: list[JwtVerifier] = []

    def build(**options: Any) -> JwtVerifier:
        if "secret" not in options:
            options.setdefault("jwks_url", jwks_url)
        options.setdefault("clock", clock)
        made.append(JwtVerifier(**options))
        return made[-1]

    yield build
    for verifier in made:
        await verifier.aclose()


async def _refused(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(UnauthenticatedError) as caught:
        await verifier.verify(token)
    message = str(caught.value)
    assert token not in message or not token
    return message


# -- construction ------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"secret": SECRET, "jwks_url": "https://login.example.test/jwks"},
        {"secret": "too-short"},
        {"secret": PUBLIC_PEM.decode()},
        {"jwks_url": "file:///etc/jwks.json"},
        {"jwks_url": "http:///jwks"},
        {"jwks_url": "http://[::1/jwks"},
        {"secret": SECRET, "leeway_s": -1},
    ],
)
def test_bad_configurations_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JwtVerifier(**options)


# -- HS256 -------------------------------------------------------------------


async def test_a_valid_hs256_token_gives_its_subject(make: Make) -> None:
    verifier = make(secret=SECRET, issuer=ISSUER, audience=AUDIENCE)
    assert await verifier.verify(_hs256(iss=ISSUER, aud=AUDIENCE)) == "user-42"
    assert await verifier.verify(_hs256(iss=ISSUER, aud=["other", AUDIENCE])) == "user-42"


async def test_hs256_signature_and_algorithm_failures(make: Make) -> None:
    verifier = make(secret=SECRET)
    other = _hs256(secret="another-secret-of-at-least-32-bytes!!")
    assert await _refused(verifier, other) == "the token's signature is not valid"
    unsigned = jwt.encode(_claims(), "", algorithm="none")
    assert await _refused(verifier, unsigned) == "the token's algorithm is not accepted"
    rs256 = _rs256()
    assert await _refused(verifier, rs256) == "the token's algorithm is not accepted"
    hs512 = jwt.encode(_claims(), SECRET * 2, algorithm="HS512")
    assert await _refused(verifier, hs512) == "the token's algorithm is not accepted"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "the token has expired"),
        ({"nbf": int(time.time()) + 3600}, "the token is not valid yet"),
        ({"iat": int(time.time()) + 3600}, "the token is not valid yet"),
        ({"exp": None}, "the token has no expiry"),
        ({"exp": "tomorrow"}, "the token is malformed"),
        ({"iat": "now"}, "the token is malformed"),
        ({"sub": None}, "the token has no subject"),
        ({"sub": ""}, "the token has no subject"),
        ({"sub": "  "}, "the token has no subject"),
        ({"sub": 42}, "the token has no subject"),
        ({"aud": "someone-else"}, "the token's audience is not accepted"),
        ({"aud": None}, "the token has no audience"),
        ({"iss": "https://evil.example.test/"}, "the token's issuer is not accepted"),
        ({"iss": None}, "the token has no issuer"),
    ],
)
async def test_claim_failures(make: Make, claims: dict[str, Any], message: str) -> None:
    verifier = make(secret=SECRET, issuer=ISSUER, audience=AUDIENCE)
    token = _hs256(**{"iss": ISSUER, "aud": AUDIENCE, **claims})
    assert await _refused(verifier, token) == message


async def test_the_leeway_absorbs_small_clock_skew(make: Make) -> None:
    now = int(time.time())
    lenient, strict = make(secret=SECRET), make(secret=SECRET, leeway_s=0)
    expired = _hs256(exp=now - 10)
    early = _hs256(nbf=now + 10, iat=now + 10)
    assert await lenient.verify(expired) == await lenient.verify(early) == "user-42"
    assert await _refused(strict, expired) == "the token has expired"
    assert await _refused(strict, early) == "the token is not valid yet"


async def test_a_token_with_an_audience_is_refused_when_none_is_configured(make: Make) -> None:
    verifier = make(secret=SECRET)
    assert await _refused(verifier, _hs256(aud=AUDIENCE)) == "the token's audience is not accepted"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "the token is malformed"),
        ("a.b", "the token is malformed"),
        ("a.b.c", "the token is malformed"),
        ("...", "the token is malformed"),
        ("é.é.é", "the token is malformed"),
        (f"{_b64(b'[1]')}.{_b64(b'{}')}.", "the token is malformed"),
        (f"{_b64(b'{}')}.{_b64(b'{}')}.", "the token's algorithm is not accepted"),
        ("x" * 10_240, "the token is too large"),
    ],
)
async def test_garbage_is_refused(make: Make, token: str, message: str) -> None:
    assert await _refused(make(secret=SECRET), token) == message


async def test_an_oversized_token_is_refused_before_decoding(make: Make) -> None:
    verifier = make(secret=SECRET)
    assert await verifier.verify(_hs256(pad="x" * 6000)) == "user-42"
    assert await _refused(verifier, _hs256(pad="x" * 9000)) == "the token is too large"


async def test_a_payload_that_is_not_an_object_is_malformed(make: Make) -> None:
    forged = _forge({"alg": "HS256", "typ": "JWT"}, [1, 2], SECRET.encode())
    assert await _refused(make(secret=SECRET), forged) == "the token is malformed"


@pytest.mark.parametrize("header", [{"crit": ["exp"]}, {"kid": 7}])
async def test_headers_pyjwt_refuses_are_not_valid(make: Make, header: dict[str, Any]) -> None:
    forged = _forge({"alg": "HS256", **header}, _claims(), SECRET.encode())
    assert await _refused(make(secret=SECRET), forged) == "the token is not valid"


# -- JWKS --------------------------------------------------------------------


async def test_rs256_and_es256_tokens_verify_against_the_key_set(
    make: Make, key_server: KeyServer
) -> None:
    verifier = make(issuer=ISSUER, audience=AUDIENCE)
    rs256 = _rs256(iss=ISSUER, aud=AUDIENCE)
    es256 = jwt.encode(
        _claims(sub="user-7", iss=ISSUER, aud=AUDIENCE),
        EC_A,
        algorithm="ES256",
        headers={"kid": "e"},
    )
    assert await verifier.verify(rs256) == "user-42"
    assert await verifier.verify(es256) == "user-7"
    assert await _refused(verifier, _rs256(iss=ISSUER)) == "the token has no audience"
    assert key_server.requests == 1  # both keys from one cached fetch


async def test_jwks_signature_and_algorithm_failures(make: Make, key_server: KeyServer) -> None:
    verifier = make()
    assert await _refused(verifier, _rs256(key=RSA_B)) == "the token's signature is not valid"
    unsigned = jwt.encode(_claims(), "", algorithm="none", headers={"kid": "a"})
    assert await _refused(verifier, unsigned) == "the token's algorithm is not accepted"
    # An RS256 key may not verify a PS256 token: the key's algorithm is bound to it.
    ps256 = jwt.encode(_claims(), RSA_A, algorithm="PS256", headers={"kid": "a"})
    assert await _refused(verifier, ps256) == "the token's algorithm is not accepted"
    assert await _refused(verifier, _rs256(kid="e")) == "the token's algorithm is not accepted"


async def test_algorithm_confusion_with_the_public_key_as_hmac_secret_is_refused(
    make: Make, key_server: KeyServer
) -> None:
    claims = _claims(sub="admin")
    forged = _forge({"alg": "HS256", "typ": "JWT", "kid": "a"}, claims, PUBLIC_PEM)
    # Even a symmetric key published under the same kid is never used.
    oct_key = {"kty": "oct", "kid": "a", "k": _b64(PUBLIC_PEM), "alg": "HS256"}
    key_server.keys = [oct_key, _jwk(RSA_A, "a")]
    verifier = make()
    assert await _refused(verifier, forged) == "the token's algorithm is not accepted"
    assert await verifier.verify(_rs256()) == "user-42"


async def test_unusable_keys_are_skipped_not_fatal(make: Make, key_server: KeyServer) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p521 = _jwk(ec.generate_private_key(ec.SECP521R1()), "p521")
    del p521["alg"]  # PyJWK then infers ES512, which is not accepted
    ed = json.loads(OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate().public_key()))
    key_server.keys = [
        "not a key",
        {"kty": "oct", "kid": "oct", "k": _b64(b"k" * 32)},
        {**ed, "kid": "ed"},
        {**_jwk(RSA_A, "enc"), "use": "enc"},
        {**_jwk(RSA_A, "ops"), "key_ops": ["encrypt"]},
        {**_jwk(RSA_A, "hs"), "alg": "HS256"},
        {**_jwk(RSA_A, None), "kid": 7},
        {**json.loads(RSAAlgorithm.to_jwk(RSA_A)), "kid": "private"},  # has "d"
        {"kty": "RSA", "kid": "broken", "n": "AQAB"},
        {"kty": ["RSA"], "kid": "odd"},
        p521,
        _jwk(weak, "weak"),
        _jwk(RSA_A, "good"),
    ]
    verifier = make()
    assert await verifier.verify(_rs256(kid="good")) == "user-42"
    for kid in ["oct", "ed", "enc", "ops", "hs", "private", "broken", "odd", "p521", "weak"]:
        assert await _refused(verifier, _rs256(kid=kid)) == "the token names an unknown key"
    # Exactly one usable key: a token without a kid may use it.
    assert await verifier.verify(_rs256(kid=None)) == "user-42"
    assert key_server.requests == 1


async def test_a_token_without_kid_needs_a_set_of_exactly_one_key(
    make: Make, key_server: KeyServer
) -> None:
    key_server.keys = [_jwk(RSA_A, None), _jwk(RSA_B, "b"), _jwk(RSA_A, "b")]
    verifier = make()
    assert await _refused(verifier, _rs256(kid=None)) == "the token does not name its key"
    # Of two keys under one kid, the first counts.
    assert await verifier.verify(_rs256(kid="b", key=RSA_B)) == "user-42"
    assert await _refused(verifier, _rs256(kid="b")) == "the token's signature is not valid"


async def test_an_unknown_kid_refetches_once_and_finds_a_rotated_key(
    make: Make, key_server: KeyServer, clock: FakeClock
) -> None:
    verifier = make(jwks_min_refresh_s=30)
    assert await verifier.verify(_rs256()) == "user-42"
    key_server.keys = [_jwk(RSA_B, "b")]
    rotated = _rs256(kid="b", key=RSA_B)
    # Within the minimum interval after the last fetch, the key server is left alone.
    assert await _refused(verifier, rotated) == "the token names an unknown key"
    assert key_server.requests == 1
    clock.now += 30
    assert await verifier.verify(rotated) == "user-42"
    assert key_server.requests == 2
    # The old key left the set with the refetch.
    assert await _refused(verifier, _rs256()) == "the token names an unknown key"
    assert key_server.requests == 2


async def test_a_flood_of_unknown_kids_refetches_at_most_once_per_interval(
    make: Make, key_server: KeyServer, clock: FakeClock
) -> None:
    verifier = make(jwks_min_refresh_s=30)
    assert await verifier.verify(_rs256()) == "user-42"
    clock.now += 30
    tokens = [_rs256(kid=uuid.uuid4().hex) for _ in range(50)]
    for token in tokens:
        assert await _refused(verifier, token) == "the token names an unknown key"
    assert key_server.requests == 2
    results = await asyncio.gather(
        *(verifier.verify(token) for token in tokens), return_exceptions=True
    )
    assert all(isinstance(result, UnauthenticatedError) for result in results)
    assert key_server.requests == 2
    assert await verifier.verify(_rs256()) == "user-42"  # known keys are unaffected
    clock.now += 29
    await _refused(verifier, tokens[0])
    assert key_server.requests == 2
    clock.now += 1
    await _refused(verifier, tokens[0])
    assert key_server.requests == 3


async def test_concurrent_verifications_share_one_fetch(make: Make, key_server: KeyServer) -> None:
    key_server.delay = 0.1
    verifier = make()
    tokens = [_rs256(sub=f"user-{n}") for n in range(20)]
    subjects = await asyncio.gather(*(verifier.verify(token) for token in tokens))
    assert subjects == [f"user-{n}" for n in range(20)]
    assert key_server.requests == 1


async def test_the_cache_expires_after_its_ttl(
    make: Make, key_server: KeyServer, clock: FakeClock
) -> None:
    verifier = make(jwks_ttl_s=300)
    assert await verifier.verify(_rs256()) == "user-42"
    clock.now += 299
    assert await verifier.verify(_rs256()) == "user-42"
    assert key_server.requests == 1
    clock.now += 1
    assert await verifier.verify(_rs256()) == "user-42"
    assert key_server.requests == 2


@pytest.mark.parametrize(
    ("mode", "keys", "reason"),
    [
        ("500", None, "it answered HTTP 500"),
        ("html", None, "its answer is not JSON"),
        ("ok", [], "its key set has no usable signature key"),
        ("ok", [{"kty": "oct", "k": "c2VjcmV0"}], "its key set has no usable signature key"),
        ("ok", "nope", "its answer is not a JWKS document"),
        ("ok", [{"kty": "RSA", "pad": "x" * 2**20}], "its answer is over 1048576 bytes"),
    ],
)
async def test_a_failing_key_server_gives_unreachable(
    make: Make,
    key_server: KeyServer,
    caplog: pytest.LogCaptureFixture,
    mode: str,
    keys: Any,
    reason: str,
) -> None:
    key_server.mode = mode
    if keys is not None:
        key_server.keys = keys
    token = _rs256()
    with caplog.at_level(logging.WARNING, logger="bff.api.jwt_auth"):
        assert await _refused(make(), token) == "the key server could not be reached"
    (record,) = [record for record in caplog.records if record.name == "bff.api.jwt_auth"]
    assert record.levelno == logging.WARNING
    assert reason in _logged(caplog)
    assert token not in _logged(caplog)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every key-server warning, message and fields, as one text."""
    return "\n".join(
        f"{record.getMessage()} {getattr(record, 'fields', {})}"
        for record in caplog.records
        if record.name == "bff.api.jwt_auth"
    )


async def test_a_slow_key_server_gives_unreachable(
    make: Make, key_server: KeyServer, caplog: pytest.LogCaptureFixture
) -> None:
    key_server.delay = 0.3
    verifier = make(fetch_timeout_s=0.05)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bff.api.jwt_auth"):
        assert await _refused(verifier, _rs256()) == "the key server could not be reached"
    assert time.monotonic() - started < 0.25
    assert "no answer within 0.05 s" in _logged(caplog)


async def test_a_key_server_that_is_down_gives_unreachable_and_is_not_hammered(
    make: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = make(jwks_url=f"http://127.0.0.1:{free_port()}/jwks", jwks_min_refresh_s=30)
    with caplog.at_level(logging.WARNING, logger="bff.api.jwt_auth"):
        for _ in range(5):
            assert await _refused(verifier, _rs256()) == "the key server could not be reached"
    assert (
        len([r for r in caplog.records if r.name == "bff.api.jwt_auth"]) == 1
    )  # one attempt in the interval, so one warning
    assert "ConnectError" in _logged(caplog)


async def test_a_cached_set_survives_a_failed_refresh(
    make: Make, key_server: KeyServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = make(jwks_ttl_s=300, jwks_min_refresh_s=30)
    assert await verifier.verify(_rs256()) == "user-42"
    key_server.mode = "500"
    clock.now += 300
    with caplog.at_level(logging.WARNING, logger="bff.api.jwt_auth"):
        assert await verifier.verify(_rs256()) == "user-42"
        assert "HTTP 500" in _logged(caplog)
        # The refresh failed, so an unknown kid cannot be told apart from a new key.
        unknown = _rs256(kid="new")
        assert await _refused(verifier, unknown) == "the key server could not be reached"
    assert key_server.requests == 2
    key_server.mode = "ok"
    clock.now += 30
    assert await verifier.verify(_rs256()) == "user-42"
    assert key_server.requests == 3


async def test_a_cached_set_survives_the_key_server_going_down(
    make: Make, clock: FakeClock
) -> None:
    keys = KeyServer()
    with ServerThread(keys.app) as server:
        verifier = make(jwks_url=f"{server.url}/jwks", jwks_ttl_s=300)
        assert await verifier.verify(_rs256()) == "user-42"
    clock.now += 301
    assert await verifier.verify(_rs256()) == "user-42"
    assert keys.requests == 1


async def test_aclose_then_verify_again(make: Make, key_server: KeyServer) -> None:
    verifier = make()
    await verifier.aclose()  # closing before any fetch is fine
    assert await verifier.verify(_rs256()) == "user-42"
    await verifier.aclose()
    await verifier.aclose()
