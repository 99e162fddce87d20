"""A bundle is untrusted input: random bytes and mutated bundles are refused with a
``BundleError`` (or, for a signed set whose packs fail, a ``PackError``), never anything else."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.bundle import BundleError, check_contents, read_bundle_bytes
from compliance.canonical import pack_set_digest
from compliance.errors import PackError
from compliance.signing import Verifier

from .conftest import RULES


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Verifier]:
    from compliance.bundle import build_bundle
    from compliance.signing import generate_keypair

    root = tmp_path_factory.mktemp("fuzz")
    signer = generate_keypair(root / "k.pem", root / "p.pem")
    build_bundle(RULES, root / "r.bundle", signer=signer)
    return (root / "r.bundle").read_bytes(), signer.verifier()


def _load(data: bytes, verifier: Verifier) -> str | None:
    """The pack-set digest loaded, or None when refused the documented way."""
    try:
        checked = check_contents(read_bundle_bytes(data, "fuzz.bundle"), verifier)
    except BundleError as exc:
        one_line = "\n" not in str(exc)
        assert one_line, str(exc)  # noqa: PT017  (the refusal itself is the result here)
        return None
    except PackError:
        return None
    return pack_set_digest(checked.pack_set)


@settings(max_examples=150)
@given(st.binary(max_size=4096))
def test_random_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(BundleError):
        read_bundle_bytes(data)


@settings(max_examples=200)
@given(st.data())
def test_mutated_bundles_are_refused_or_load_unchanged(valid: tuple[bytes, Verifier],
                                                       data: st.DataObject) -> None:
    original, verifier = valid
    buffer = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        at = data.draw(st.integers(0, len(buffer) - 1), label="at")
        buffer[at] = data.draw(st.integers(0, 255), label="byte")
    if data.draw(st.booleans(), label="truncate"):
        del buffer[data.draw(st.integers(0, len(buffer)), label="cut"):]
    loaded = _load(bytes(buffer), verifier)
    if loaded is not None:  # only a mutation in padding or unused header bytes may load...
        assert loaded == _load(original, verifier)  # ...and then it is the same pack set
        assert _names(bytes(buffer)) == _names(original)


def _names(data: bytes) -> list[str]:
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def test_a_valid_bundle_loads(valid: tuple[bytes, Verifier]) -> None:
    assert (_load(valid[0], valid[1]) or "").startswith("sha256:")
