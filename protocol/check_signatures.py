#!/usr/bin/env python3
"""Verifies protocol/vectors/signature/ with an implementation independent of the Swift code.

For every document named in vectors/signature/expect.json (a manifest or a receipt, PROTOCOL.md §12):

- the signed bytes are rebuilt from the file: the signing domain of its `format`, a newline, and the
  canonical JSON (§2.1) of the document without its `signature` member;
- where the vectors pin them (`*-signed-bytes.hex`), those bytes must be exactly the rebuilt ones;
- the signature is judged as the reference verifier does, trusting only the agent key of keys.json:
  `unsigned` (no signature), `invalid` (not algorithm "ed25519", a key that is not "ed25519:" + 32
  bytes of base64, a value that is not 64 bytes of base64, or a signature that does not verify),
  `untrusted` (a good signature by another key) or `trusted`; the verdict must be the expected one;
- Ed25519 is deterministic (RFC 8032): re-signing the rebuilt bytes with the seed of the key that
  signed gives the very same value.

keys.json's seeds are RFC 8032 §7.1's TEST 1 and TEST 2 secret keys; their public keys and
fingerprints ("SHA256:" + unpadded base64 of SHA-256 of the raw key) are checked too.

Exit 0 when all hold, 1 on a failure, 3 when the `cryptography` package is missing.
"""
import base64
import binascii
import hashlib
import json
import os
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
except ImportError:
    print("check_signatures: the cryptography package is not installed (pip install cryptography)", file=sys.stderr)
    sys.exit(3)

ROOT = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(ROOT, "vectors", "signature")
DOMAINS = {"akbackup-manifest-2": "akbackup-manifest-2", "akbackup-receipt-2": "akbackup-receipt-2"}


def normalize(value):
    """Whole floats below 1e16 are written without fraction (Swift's JSONEncoder writes 2.0 as 2, §2.1)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return int(value)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def canonical(document) -> bytes:
    """§2.1: keys sorted by code point at every level, no white space, `/` unescaped, non-ASCII raw."""
    return json.dumps(normalize(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def signed_bytes(document) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return (DOMAINS[document["format"]] + "\n").encode("utf-8") + canonical(unsigned)


def read_hex(path) -> bytes:
    text = "".join(line.split("#", 1)[0] for line in open(path).read().splitlines())
    return bytes.fromhex("".join(text.split()))


def b64(text):
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None


def public_key(text):
    """`ed25519:BASE64` of 32 bytes, or None."""
    if not isinstance(text, str) or not text.startswith("ed25519:"):
        return None
    raw = b64(text[len("ed25519:"):])
    return raw if raw is not None and len(raw) == 32 else None


def verdict(document, trusted):
    s = document.get("signature")
    if s is None:
        return "unsigned", None
    if not isinstance(s, dict) or s.get("algorithm") != "ed25519":
        return "invalid", None
    raw = public_key(s.get("key"))
    value = b64(s.get("value"))
    if raw is None or value is None or len(value) != 64:
        return "invalid", None
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(value, signed_bytes(document))
    except InvalidSignature:
        return "invalid", None
    return ("trusted" if raw in trusted else "untrusted"), raw


def main() -> int:
    failures = []
    with open(os.path.join(DIR, "keys.json"), encoding="utf-8") as f:
        keys = json.load(f)
    seeds = {}
    for name, k in keys.items():
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(k["seed"]))
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        seeds[raw] = private
        if raw.hex() != k["publicHex"] or "ed25519:" + base64.b64encode(raw).decode() != k["public"]:
            failures.append(f"keys.json: {name}'s public key is not its seed's")
        fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
        if fingerprint != k["fingerprint"]:
            failures.append(f"keys.json: {name}'s fingerprint should be {fingerprint}")
    trusted = {public_key(keys["agent"]["public"])}

    with open(os.path.join(DIR, "expect.json"), encoding="utf-8") as f:
        expect = json.load(f)
    for name, expected in sorted(expect.items()):
        with open(os.path.join(DIR, name), encoding="utf-8") as f:
            document = json.load(f)
        if document.get("format") not in DOMAINS:
            failures.append(f"{name}: unknown format {document.get('format')!r}")
            continue
        pinned = os.path.join(DIR, name.replace(".json", "-bytes.hex"))
        if os.path.exists(pinned) and read_hex(pinned) != signed_bytes(document):
            failures.append(f"{name}: the rebuilt signed bytes differ from {os.path.basename(pinned)}")
        got, signer = verdict(document, trusted)
        if got != expected:
            failures.append(f"{name}: signature is {got}, expected {expected}")
        if signer is not None:
            again = base64.b64encode(seeds[signer].sign(signed_bytes(document))).decode()
            if again != document["signature"]["value"]:
                failures.append(f"{name}: re-signing with the seed gives another value")

    for f in failures:
        print("FAIL", f)
    print(f"check_signatures: {len(expect) - len([f for f in failures if ': signature is' in f])}/{len(expect)} documents "
          f"with the expected verdict, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
