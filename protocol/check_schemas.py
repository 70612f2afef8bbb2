#!/usr/bin/env python3
"""Validates the protocol's golden vectors against protocol/schema/*.schema.json.

- the message types are the schema files other than the shared ones (manifest, receipt, signature);
  every control frame in vectors/valid/*.hex must be a JSON object valid against the schema of its
  `type`, and carry no field the schema does not list (the reference encoder sends none); frames
  after a `data` message are raw bytes up to the empty frame and are skipped, and heartbeat frames
  (the length word 0x80000000, no payload) are skipped wherever they stand;
- every message type has a schema and at least one valid vector;
- schema/manifest.schema.json (the signed manifest: NAME.json beside each artifact, also referenced
  by backup.result, upload.commit, list.result, verify.result, fetch.started and restore) is valid,
  and so is every vectors/manifest/*.json against it; likewise schema/receipt.schema.json (the
  agent's signed receipt: receipts/NAME on the NAS, referenced by restore.result, receipt.store and
  receipts.result) and every vectors/receipt/*.json; both refer to schema/signature.schema.json;
- every document in vectors/signature/ (a manifest or a receipt by its `format`) is valid against
  its schema, except those named *-malformed-*, which the schema must reject;
- every vectors/invalid/*.hex expected to be `invalidJSON` that parses as a JSON object of a known
  type must be rejected by its schema (so the schemas are not looser than the decoder, range checks
  included).

Exit 0 when all hold, 1 on a failure, 3 when the jsonschema package is missing.
"""
import json
import os
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
except ImportError:
    print("check_schemas: the jsonschema package is not installed (pip install jsonschema)", file=sys.stderr)
    sys.exit(3)

ROOT = os.path.dirname(os.path.abspath(__file__))
# Schemas that are not message types; messages refer to them with "$ref".
SHARED = ["manifest", "receipt", "signature"]
TYPES = sorted(name[:-len(".schema.json")] for name in os.listdir(os.path.join(ROOT, "schema"))
               if name.endswith(".schema.json") and name[:-len(".schema.json")] not in SHARED)
HEARTBEAT = 0x80000000
FORMATS = {"akbackup-manifest-2": "manifest", "akbackup-receipt-2": "receipt"}


def frames(data: bytes):
    """The payloads of a stream of frames; heartbeats carry none and are skipped."""
    i, out = 0, []
    while i + 4 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        if n == HEARTBEAT:
            i += 4
            continue
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def read_hex(path):
    text = "".join(line.split("#", 1)[0] for line in open(path).read().splitlines())
    return bytes.fromhex("".join(text.split()))


def control_payloads(data: bytes):
    in_data = False
    for payload in frames(data):
        if in_data:
            in_data = len(payload) > 0
            continue
        yield payload
        try:
            in_data = json.loads(payload).get("type") == "data"
        except Exception:
            pass


def main() -> int:
    failures = []
    raw = {}
    for t in TYPES + SHARED:
        path = os.path.join(ROOT, "schema", f"{t}.schema.json")
        with open(path) as f:
            raw[t] = json.load(f)
        jsonschema.Draft202012Validator.check_schema(raw[t])
    # "$ref": "manifest.schema.json" resolves against each schema's $id.
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in raw.values())
    schemas = {t: jsonschema.Draft202012Validator(raw[t], registry=registry) for t in TYPES}

    def check_files(kind):
        """Validates vectors/<kind>/*.json against schema/<kind>.schema.json; returns how many."""
        directory = os.path.join(ROOT, "vectors", kind)
        validator = jsonschema.Draft202012Validator(raw[kind], registry=registry)
        n = 0
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
            if not name.endswith(".json"):
                continue
            n += 1
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                doc = json.load(f)
            for err in validator.iter_errors(doc):
                failures.append(f"{kind}/{name}: {err.json_path}: {err.message}")
            extra = set(doc) - set(raw[kind]["properties"])
            if extra:
                failures.append(f"{kind}/{name}: fields not in the {kind} schema: {sorted(extra)}")
        if n == 0:
            failures.append(f"no example {kind} in vectors/{kind}/")
        return n

    manifests = check_files("manifest")
    receipts = check_files("receipt")

    signature_dir = os.path.join(ROOT, "vectors", "signature")
    signed = 0
    for name in sorted(os.listdir(signature_dir)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(signature_dir, name), encoding="utf-8") as f:
            doc = json.load(f)
        kind = FORMATS.get(doc.get("format")) if isinstance(doc, dict) else None
        if kind is None:
            continue   # keys.json, expect.json
        signed += 1
        errors = list(jsonschema.Draft202012Validator(raw[kind], registry=registry).iter_errors(doc))
        if "-malformed-" in name:
            if not errors:
                failures.append(f"signature/{name}: the {kind} schema accepts a malformed signature")
        else:
            for err in errors:
                failures.append(f"signature/{name}: {err.json_path}: {err.message}")
    if signed == 0:
        failures.append("no signed document in vectors/signature/")

    seen = set()
    valid_dir = os.path.join(ROOT, "vectors", "valid")
    count = 0
    for name in sorted(os.listdir(valid_dir)):
        if not name.endswith(".hex"):
            continue
        for payload in control_payloads(read_hex(os.path.join(valid_dir, name))):
            count += 1
            try:
                msg = json.loads(payload.decode("utf-8"))
            except Exception as e:
                failures.append(f"valid/{name}: not UTF-8 JSON: {e}")
                continue
            t = msg.get("type") if isinstance(msg, dict) else None
            if t not in schemas:
                failures.append(f"valid/{name}: no schema for type {t!r}")
                continue
            seen.add(t)
            for err in schemas[t].iter_errors(msg):
                failures.append(f"valid/{name}: {err.json_path}: {err.message}")
            extra = set(msg) - set(schemas[t].schema["properties"])
            if extra:
                failures.append(f"valid/{name}: fields not in the {t} schema: {sorted(extra)}")
    for t in TYPES:
        if t not in seen:
            failures.append(f"no valid vector for type {t}")

    invalid_dir = os.path.join(ROOT, "vectors", "invalid")
    checked_invalid = 0
    for name in sorted(os.listdir(invalid_dir)):
        if not name.endswith(".hex"):
            continue
        with open(os.path.join(invalid_dir, name[:-4] + ".expect")) as f:
            if f.read().strip() != "invalidJSON":
                continue
        for payload in frames(read_hex(os.path.join(invalid_dir, name))):
            try:
                msg = json.loads(payload.decode("utf-8"))
            except Exception:
                continue
            if not isinstance(msg, dict) or msg.get("type") not in schemas:
                continue
            if schemas[msg["type"]].is_valid(msg):
                continue
            checked_invalid += 1
            break
        else:
            # None of its frames was an object of a known type that the schema rejects: fine only if
            # the JSON itself is broken (then no schema is involved).
            try:
                objs = [json.loads(p.decode("utf-8")) for p in frames(read_hex(os.path.join(invalid_dir, name)))]
            except Exception:
                continue
            if any(isinstance(o, dict) and o.get("type") in schemas for o in objs) and \
                    all(not isinstance(o, dict) or o.get("type") not in schemas or schemas[o["type"]].is_valid(o) for o in objs):
                failures.append(f"invalid/{name}: the decoder rejects it but every schema accepts it")

    for f in failures:
        print("FAIL", f)
    print(f"check_schemas: {count} valid control frames, {len(seen)}/{len(TYPES)} types, "
          f"{checked_invalid} invalid vectors rejected by a schema, {manifests} manifest files, {receipts} receipt files, "
          f"{signed} signature documents, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
