"""Ed25519 keys for checkpoints: ``compliance.signing``, re-exported where audit code finds it.

The helpers moved down a layer so bundles (below the engine) sign with the same keys.
"""

from compliance.signing import KeyFileError, Signer, Verifier, generate_keypair

__all__ = ["KeyFileError", "Signer", "Verifier", "generate_keypair"]
