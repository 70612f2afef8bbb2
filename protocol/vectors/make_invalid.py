#!/usr/bin/env python3
"""Writes protocol/vectors/invalid/*.hex and *.expect (protocol version 2).

These vectors are made by hand (not by the encoder): each is the complete byte stream a remote
program writes to the controller, and `.expect` names the ProtocolError case the controller must
reject it with. Most break one field of a canonical payload taken from vectors/valid/ (so run this
after regenerating valid/ with `AKPROTO_WRITE_VECTORS=1 swift test --filter VectorTests`). The
`range_*` vectors are well-typed JSON with one number or hash out of its range (PROTOCOL.md §3.1).
Re-run after editing; the files are committed.
"""
import json
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.join(ROOT, "invalid")
HEARTBEAT = b"\x80\x00\x00\x00"


def valid(name: str) -> bytes:
    """The payload of the single frame in valid/NAME.hex."""
    with open(os.path.join(ROOT, "valid", name + ".hex")) as f:
        data = bytes.fromhex("".join(f.read().split()))
    n = int.from_bytes(data[:4], "big")
    assert len(data) == 4 + n, name
    return data[4:]


def without(payload: bytes, member: bytes, first: bool = False) -> bytes:
    """`payload` without `member` (e.g. b'"source":{...},'); it must occur exactly once unless `first`."""
    assert payload.count(member) == 1 or (first and payload.count(member) > 1), member
    return payload.replace(member, b"", 1)


def replaced(payload: bytes, old: bytes, new: bytes, first: bool = False) -> bytes:
    assert payload.count(old) == 1 or (first and payload.count(old) > 1), old
    return payload.replace(old, new, 1)


def member(payload: bytes, key: str, comma: bool = True) -> bytes:
    """The first member `"key":value` of `payload` (at any depth), with the comma after it when `comma`."""
    text = payload.decode("utf-8")
    i = text.index(f'"{key}":')
    _, end = json.JSONDecoder().raw_decode(text, i + len(key) + 3)
    if comma and text[end] == ",":
        end += 1
    return text[i:end].encode("utf-8")


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


HELLO = valid("hello_agent")
assert b'"protocol":2' in HELLO and b'"software":"0.2.0"' in HELLO

SHA = b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
NAME = b"authentik-db-2026-01-31T020000Z.sql.gz"
BIG = b"1125899906842625"   # 2^50 + 1, one over the largest size

# Canonical payloads (as in vectors/valid/), to break one field at a time.
STARTED = valid("backup_started_no_authentik")
RESULT = valid("backup_result")                  # its manifest is signed by the test agent key
COMMIT = valid("upload_commit")
UPLOAD_RESULT = valid("upload_result")
LIST_RESULT = valid("list_result")               # three artifacts: trusted, untrusted, unsigned
VERIFY_RESULT = valid("verify_result")
VERIFY_CORRUPT = valid("verify_result_corrupt")
PROBE_AGENT = valid("probe_result_agent")
FETCH_STARTED = valid("fetch_started")
FETCH_RESULT = valid("fetch_result")
RESTORE = valid("restore")
RESTORE_READY = valid("restore_ready")
RESTORE_RESULT = valid("restore_result_restored")
RECEIPTS_RESULT = valid("receipts_result")       # undo, restore and restore-test receipts, newest first
RECEIPT_STORE = valid("receipt_store")
DATABASES_RESULT = valid("databases_result")
UNDO = valid("undo")
PROGRESS = valid("progress")
UPLOAD_READY = valid("upload_ready")
# Undo points on infra-core (PROTOCOL.md §13).
UNDO_PRUNE = valid("undo_prune")
UNDO_PRUNE_RESULT = valid("undo_prune_result")   # four databases: one dropped, one whose drop failed, two kept
PROBE_UNDO = valid("probe_result_agent_undo")
# restore.result as version 1 sent it: the outcome at the top, no signed receipt.
RESTORE_RESULT_V1 = (b'{"downtimeSeconds":7.75,"id":1,"message":"authentik restored","outcome":"restored",'
                     b'"preRestoreDatabase":"authentik_pre_restore_20260201093000","steps":[{"name":"stop services","ok":true,'
                     b'"seconds":1.5,"startedAt":"2026-02-01T09:30:45Z"}],"type":"restore.result"}')


def after_hello(payload: bytes) -> bytes:
    return frame(HELLO) + frame(payload)


VECTORS = {
    # --- framing ---
    "oversized_length": (struct.pack(">I", (1 << 20) + 1) + b"\x00" * 16, "frameTooLarge"),
    # An oversized first frame whose payload is text must not be mistaken for a banner.
    "oversized_length_json": (struct.pack(">I", (1 << 20) + 1) + HELLO, "frameTooLarge"),
    "length_ffffffff": (b"\xff\xff\xff\xff", "frameTooLarge"),
    "truncated_header": (b"\x00\x00", "truncatedFrame"),
    "truncated_payload": (frame(HELLO)[:40], "truncatedFrame"),
    "truncated_second_frame": (frame(HELLO) + frame(b'{"id":1,"type":"probe.result","checks":[]}')[:9], "truncatedFrame"),
    # --- heartbeats (§1.4): only after the first real frame, only the exact word ---
    "heartbeat_before_hello": (HEARTBEAT + frame(HELLO), "frameTooLarge"),
    "heartbeat_only": (HEARTBEAT, "frameTooLarge"),
    "heartbeat_cut_short": (frame(HELLO) + HEARTBEAT + HEARTBEAT[:2], "truncatedFrame"),
    "heartbeat_word_plus_one": (frame(HELLO) + b"\x80\x00\x00\x01", "frameTooLarge"),
    "heartbeat_word_with_payload": (frame(HELLO) + b"\x80\x00\x00\x00" + b"\x80\x00\x00\x01" + b"x", "frameTooLarge"),
    # --- payload encoding ---
    "bad_utf8": (frame(b'{"type":"hello","host":"infra-\xffcore"}'), "invalidUTF8"),
    "overlong_utf8": (frame(b'{"type":"hello","host":"\xc0\xaf"}'), "invalidUTF8"),
    "utf16_surrogate_bytes": (frame(b'{"type":"hello","host":"\xed\xa0\x80"}'), "invalidUTF8"),
    # --- JSON ---
    "empty_control_frame": (frame(b""), "invalidJSON"),
    "not_an_object_array": (frame(b'[{"type":"hello"}]'), "invalidJSON"),
    "not_an_object_string": (frame(b'"hello"'), "invalidJSON"),
    "malformed_json": (frame(b'{"type":"hello","protocol":2'), "invalidJSON"),
    "trailing_garbage": (frame(HELLO + b"x"), "invalidJSON"),
    "unbalanced_close": (frame(b'{"type":"cancel","id":1}}' + b"[" * 20), "invalidJSON"),
    "missing_type": (frame(b'{"id":1,"checks":[]}'), "invalidJSON"),
    "type_not_string": (frame(b'{"type":7}'), "invalidJSON"),
    "missing_field": (frame(without(HELLO, b'"capabilities":["probe"],')), "invalidJSON"),
    "wrong_field_type": (frame(replaced(HELLO, b'"protocol":2', b'"protocol":"2"')), "invalidJSON"),
    "unknown_role": (frame(replaced(HELLO, b'"role":"agent"', b'"role":"admin"')), "invalidJSON"),
    "negative_id_after_hello": (after_hello(b'{"checks":[],"id":-1,"type":"probe.result"}'), "invalidJSON"),
    "error_code_number": (after_hello(b'{"code":7,"hint":"h","id":1,"message":"m","type":"error"}'), "invalidJSON"),
    "unknown_type": (frame(b'{"id":1,"type":"backup.start"}'), "unknownMessageType"),
    # --- probe.result with the agent's facts ---
    "probe_result_agent_missing_trusted_keys": (after_hello(without(PROBE_AGENT, b"," + member(PROBE_AGENT, "trustedKeys", comma=False))), "invalidJSON"),
    "probe_result_check_warning_string": (after_hello(b'{"checks":[{"detail":"d","name":"psql","ok":true,"warning":"yes"}],"id":1,"type":"probe.result"}'),
                                          "invalidJSON"),
    # --- backup path: a field missing or of the wrong type (after a valid hello) ---
    "backup_started_missing_source": (after_hello(without(STARTED, member(STARTED, "source"))), "invalidJSON"),
    "backup_started_source_missing_host": (after_hello(without(STARTED, b'"host":"infra-core",')), "invalidJSON"),
    "backup_result_missing_manifest": (after_hello(without(RESULT, member(RESULT, "manifest"))), "invalidJSON"),
    "backup_result_missing_compression_threads": (after_hello(without(RESULT, b'"compressionThreads":4,')), "invalidJSON"),
    "backup_result_size_string": (after_hello(replaced(RESULT, b'"size":4182530', b'"size":"4182530"')), "invalidJSON"),
    "backup_result_size_over_int64": (after_hello(replaced(RESULT, b'"size":4182530', b'"size":9223372036854775808')), "invalidJSON"),
    "backup_result_row_count_string": (after_hello(replaced(RESULT, b'"public.authentik_core_user":17', b'"public.authentik_core_user":"17"')), "invalidJSON"),
    "backup_result_missing_sha256": (after_hello(without(RESULT, b'"sha256":"' + SHA + b'",')), "invalidJSON"),
    "backup_result_signature_missing_value": (after_hello(without(RESULT, b',' + member(RESULT, "value", comma=False))), "invalidJSON"),
    "backup_result_signature_key_number": (after_hello(replaced(RESULT, member(RESULT, "key", comma=False), b'"key":25519')), "invalidJSON"),
    "backup_result_schema_digests_array": (after_hello(replaced(RESULT, member(RESULT, "schemaDigests", comma=False), b'"schemaDigests":[]')), "invalidJSON"),
    "upload_ready_missing_id": (after_hello(b'{"freeBytes":1099511627776,"type":"upload.ready"}'), "invalidJSON"),
    "upload_ready_free_bytes_string": (after_hello(b'{"freeBytes":"1 TiB","id":1,"type":"upload.ready"}'), "invalidJSON"),
    "upload_result_missing_name": (after_hello(without(UPLOAD_RESULT, b'"name":"' + NAME + b'",')), "invalidJSON"),
    "list_result_artifacts_object": (after_hello(b'{"artifacts":{},"id":1,"total":0,"type":"list.result"}'), "invalidJSON"),
    "list_result_missing_total": (after_hello(without(LIST_RESULT, b'"total":3,')), "invalidJSON"),
    "list_result_artifact_missing_size": (after_hello(replaced(LIST_RESULT, b'"signature":"trusted","size":4182530}', b'"signature":"trusted"}')), "invalidJSON"),
    "list_result_signature_unknown": (after_hello(replaced(LIST_RESULT, b'"signature":"trusted"', b'"signature":"probably"')), "invalidJSON"),
    "list_result_manifest_missing_format": (after_hello(without(LIST_RESULT, b'"format":"akbackup-manifest-2",', first=True)), "invalidJSON"),
    "verify_result_ok_string": (after_hello(replaced(VERIFY_RESULT, b'"ok":true', b'"ok":"true"')), "invalidJSON"),
    "verify_result_missing_row_counts": (after_hello(without(VERIFY_CORRUPT, b'"rowCounts":{"public.authentik_core_user":17},')), "invalidJSON"),
    "verify_result_missing_signature": (after_hello(without(VERIFY_CORRUPT, b'"signature":"unsigned",')), "invalidJSON"),
    "verify_result_missing_uncompressed_size": (after_hello(without(VERIFY_CORRUPT, b',"uncompressedSize":29884416')), "invalidJSON"),
    # Messages the controller sends: the decoder is the same on both sides and rejects these before any sequence check.
    "backup_threads_string": (after_hello(b'{"id":1,"threads":"4","type":"backup"}'), "invalidJSON"),
    "upload_commit_manifest_missing_format": (after_hello(without(COMMIT, b'"format":"akbackup-manifest-2",')), "invalidJSON"),
    "upload_commit_size_negative_fraction": (after_hello(replaced(COMMIT, b'"size":4182530,"software"', b'"size":-1.5,"software"')), "invalidJSON"),
    "upload_commit_missing_manifest": (after_hello(b'{"id":1,"sha256":"' + SHA + b'","size":4182530,"type":"upload.commit"}'), "invalidJSON"),
    "upload_abort_missing_reason": (after_hello(b'{"id":1,"type":"upload.abort"}'), "invalidJSON"),
    "verify_name_number": (after_hello(b'{"id":1,"name":1,"type":"verify"}'), "invalidJSON"),
    "list_offset_string": (after_hello(b'{"id":1,"offset":"0","type":"list"}'), "invalidJSON"),
    # --- restore path (PROTOCOL.md §11): answers the agent or the receiver sends ---
    "fetch_started_size_string": (after_hello(replaced(FETCH_STARTED, b'"size":4182530,"type"', b'"size":"4182530","type"')), "invalidJSON"),
    "fetch_started_manifest_missing_row_counts": (after_hello(without(FETCH_STARTED, member(FETCH_STARTED, "rowCounts"))), "invalidJSON"),
    "fetch_result_missing_sha256": (after_hello(without(FETCH_RESULT, b'"sha256":"' + SHA + b'",')), "invalidJSON"),
    "restore_ready_missing_warnings": (after_hello(without(RESTORE_READY, b',"warnings":[]')), "invalidJSON"),
    "restore_ready_warnings_string": (after_hello(replaced(RESTORE_READY, b'"warnings":[]', b'"warnings":"none"')), "invalidJSON"),
    "restore_result_missing_receipt": (after_hello(b'{"id":1,"type":"restore.result"}'), "invalidJSON"),
    "restore_result_version_1": (after_hello(RESTORE_RESULT_V1), "invalidJSON"),
    "restore_result_missing_steps": (after_hello(without(RESTORE_RESULT, member(RESTORE_RESULT, "steps"))), "invalidJSON"),
    "restore_result_seconds_string": (after_hello(replaced(RESTORE_RESULT, b'"seconds":0.125', b'"seconds":"0.125"')), "invalidJSON"),
    "restore_result_step_missing_ok": (after_hello(replaced(RESTORE_RESULT, b'"ok":true,"seconds":0.125', b'"seconds":0.125')), "invalidJSON"),
    "restore_result_validation_missing_problems": (after_hello(without(RESTORE_RESULT, b'"problems":[],')), "invalidJSON"),
    "restore_result_downtime_string": (after_hello(replaced(RESTORE_RESULT, b'"downtimeSeconds":7.75', b'"downtimeSeconds":"7.75"')), "invalidJSON"),
    "restore_result_outcome_unknown": (after_hello(replaced(RESTORE_RESULT, b'"outcome":"restored"', b'"outcome":"partially-restored"')), "invalidJSON"),
    "restore_result_artifact_signed_string": (after_hello(replaced(RESTORE_RESULT, b'"artifactSigned":true', b'"artifactSigned":"yes"')), "invalidJSON"),
    "databases_result_size_string": (after_hello(replaced(DATABASES_RESULT, b'"sizeBytes":33497267', b'"sizeBytes":"32 MiB"')), "invalidJSON"),
    "databases_result_missing_databases": (after_hello(b'{"id":1,"type":"databases.result"}'), "invalidJSON"),
    "receipts_result_receipt_missing_format": (after_hello(without(RECEIPTS_RESULT, b'"format":"akbackup-receipt-2",', first=True)), "invalidJSON"),
    "receipts_result_receipt_missing_steps": (after_hello(without(RECEIPTS_RESULT, member(RECEIPTS_RESULT, "steps"))), "invalidJSON"),
    "receipts_result_entry_missing_name": (after_hello(without(RECEIPTS_RESULT, b'"name":"undo-2026-02-02T095958Z-undone-0b4e7d21.json",')), "invalidJSON"),
    "receipts_result_missing_total": (after_hello(without(RECEIPTS_RESULT, b',"total":3')), "invalidJSON"),
    "receipts_result_object": (after_hello(b'{"id":2,"receipts":{},"total":0,"type":"receipts.result"}'), "invalidJSON"),
    "done_missing_detail": (after_hello(b'{"id":1,"type":"done"}'), "invalidJSON"),
    # Restore-path messages the controller sends (rejected by the decoder on either side).
    "restore_mode_unknown": (after_hello(replaced(RESTORE, b'"mode":"swap"', b'"mode":"dry-run"')), "invalidJSON"),
    "restore_missing_force": (after_hello(without(RESTORE, b'"force":false,')), "invalidJSON"),
    "restore_missing_trust_unsigned": (after_hello(without(RESTORE, b'"trustUnsigned":false,')), "invalidJSON"),
    "restore_missing_size": (after_hello(replaced(RESTORE, b'"size":4182530,"trustUnsigned"', b'"trustUnsigned"')), "invalidJSON"),
    "restore_missing_sha256": (after_hello(replaced(RESTORE, b'"sha256":"' + SHA + b'","size":4182530,"trustUnsigned"', b'"size":4182530,"trustUnsigned"')), "invalidJSON"),
    "restore_missing_requested_by": (after_hello(without(RESTORE, b'"requestedBy":{"host":"laptop","user":"alice"},')), "invalidJSON"),
    "restore_requested_by_missing_user": (after_hello(replaced(RESTORE, b'"requestedBy":{"host":"laptop","user":"alice"}', b'"requestedBy":{"host":"laptop"}')), "invalidJSON"),
    "restore_health_timeout_fraction": (after_hello(replaced(RESTORE, b'"healthTimeout":120', b'"healthTimeout":1.5')), "invalidJSON"),
    "restore_force_string": (after_hello(replaced(RESTORE, b'"force":false', b'"force":"no"')), "invalidJSON"),
    "undo_missing_health_timeout": (after_hello(without(UNDO, b'"healthTimeout":120,')), "invalidJSON"),
    "undo_missing_requested_by": (after_hello(b'{"healthTimeout":120,"id":1,"type":"undo"}'), "invalidJSON"),
    "fetch_missing_name": (after_hello(b'{"id":1,"type":"fetch"}'), "invalidJSON"),
    "drop_database_name_number": (after_hello(b'{"id":1,"name":20260201093000,"type":"drop-database"}'), "invalidJSON"),
    "receipt_store_receipt_missing_outcome": (after_hello(without(RECEIPT_STORE, b'"outcome":"restored",')), "invalidJSON"),
    "receipt_store_missing_name": (after_hello(without(RECEIPT_STORE, b'"name":"restore-2026-02-01T092955Z-restored-3f2a9c1e.json",')), "invalidJSON"),
    # A well-formed restore-path answer where the controller waits for something else (it asked for a probe).
    "restore_ready_as_probe_answer": (after_hello(RESTORE_READY), "outOfSequence"),
    "done_for_other_id": (after_hello(b'{"detail":"dropped authentik_pre_restore_20260201093000","id":9,"type":"done"}'), "outOfSequence"),
    # --- range checks (§3.1): well-typed JSON, one value out of its range; the decoder names the field ---
    "range_progress_bytes_negative": (after_hello(replaced(PROGRESS, b'"bytes":1048576', b'"bytes":-1')), "invalidJSON"),
    "range_progress_bytes_over_max": (after_hello(replaced(PROGRESS, b'"bytes":1048576', b'"bytes":' + BIG)), "invalidJSON"),
    "range_backup_threads_zero": (after_hello(b'{"id":1,"threads":0,"type":"backup"}'), "invalidJSON"),
    "range_backup_threads_17": (after_hello(b'{"id":1,"threads":17,"type":"backup"}'), "invalidJSON"),
    "range_backup_result_compression_threads": (after_hello(replaced(RESULT, b'"compressionThreads":4', b'"compressionThreads":0')), "invalidJSON"),
    "range_manifest_size_negative": (after_hello(replaced(RESULT, b'"size":4182530', b'"size":-4182530')), "invalidJSON"),
    "range_manifest_uncompressed_size_over_max": (after_hello(replaced(RESULT, b'"uncompressedSize":31457280', b'"uncompressedSize":' + BIG)), "invalidJSON"),
    "range_manifest_sha256_uppercase": (after_hello(replaced(RESULT, b'"sha256":"' + SHA + b'"', b'"sha256":"' + SHA.upper() + b'"')), "invalidJSON"),
    "range_manifest_row_count_negative": (after_hello(replaced(RESULT, b'"public.authentik_core_user":17', b'"public.authentik_core_user":-17')), "invalidJSON"),
    "range_manifest_schema_digest": (after_hello(replaced(RESULT, member(RESULT, "rules", comma=False), b'"rules":"none"')), "invalidJSON"),
    "range_upload_ready_free_bytes": (after_hello(replaced(UPLOAD_READY, b'"freeBytes":1099511627776', b'"freeBytes":-1')), "invalidJSON"),
    "range_upload_commit_manifest_size": (after_hello(replaced(COMMIT, b'"size":4182530', b'"size":' + BIG)), "invalidJSON"),
    "range_upload_result_size": (after_hello(replaced(UPLOAD_RESULT, b'"size":4182530', b'"size":-4182530')), "invalidJSON"),
    "range_upload_result_sha256_short": (after_hello(replaced(UPLOAD_RESULT, SHA, SHA[:-1])), "invalidJSON"),
    "range_list_offset_negative": (after_hello(b'{"id":1,"offset":-1,"type":"list"}'), "invalidJSON"),
    "range_list_limit_zero": (after_hello(b'{"id":1,"limit":0,"type":"list"}'), "invalidJSON"),
    "range_list_limit_1001": (after_hello(b'{"id":1,"limit":1001,"type":"list"}'), "invalidJSON"),
    "range_list_result_total_negative": (after_hello(replaced(LIST_RESULT, b'"total":3', b'"total":-1')), "invalidJSON"),
    "range_list_result_free_bytes": (after_hello(replaced(LIST_RESULT, b'"freeBytes":1099507445246', b'"freeBytes":-1')), "invalidJSON"),
    "range_list_result_artifact_size": (after_hello(replaced(LIST_RESULT, b'"size":3990112}', b'"size":-3990112}')), "invalidJSON"),
    "range_list_result_manifest_sha256": (after_hello(replaced(LIST_RESULT, b'"sha256":"' + SHA + b'"', b'"sha256":"' + SHA[:32] + b'"')), "invalidJSON"),
    "range_verify_result_size": (after_hello(replaced(VERIFY_CORRUPT, b'"size":3990112', b'"size":-1')), "invalidJSON"),
    "range_verify_result_uncompressed_size": (after_hello(replaced(VERIFY_CORRUPT, b'"uncompressedSize":29884416', b'"uncompressedSize":' + BIG)), "invalidJSON"),
    "range_verify_result_sha256": (after_hello(replaced(VERIFY_CORRUPT, b'"sha256":"5fec', b'"sha256":"5FEC')), "invalidJSON"),
    "range_verify_result_row_count": (after_hello(replaced(VERIFY_CORRUPT, b'"public.authentik_core_user":17', b'"public.authentik_core_user":-1')), "invalidJSON"),
    "range_fetch_started_size": (after_hello(replaced(FETCH_STARTED, b'"size":4182530,"type"', b'"size":-1,"type"')), "invalidJSON"),
    "range_fetch_result_size": (after_hello(replaced(FETCH_RESULT, b'"size":4182530', b'"size":' + BIG)), "invalidJSON"),
    "range_fetch_result_sha256": (after_hello(replaced(FETCH_RESULT, SHA, b"latest")), "invalidJSON"),
    "range_restore_size": (after_hello(replaced(RESTORE, b'"size":4182530,"trustUnsigned"', b'"size":-1,"trustUnsigned"')), "invalidJSON"),
    "range_restore_sha256": (after_hello(replaced(RESTORE, b'"sha256":"' + SHA + b'","size":4182530,"trustUnsigned"',
                                                  b'"sha256":"' + SHA + SHA + b'","size":4182530,"trustUnsigned"')), "invalidJSON"),
    "range_restore_health_timeout_zero": (after_hello(replaced(RESTORE, b'"healthTimeout":120', b'"healthTimeout":0')), "invalidJSON"),
    "range_restore_health_timeout_3601": (after_hello(replaced(RESTORE, b'"healthTimeout":120', b'"healthTimeout":3601')), "invalidJSON"),
    "range_restore_manifest_row_count": (after_hello(replaced(RESTORE, b'"public.django_migrations":812', b'"public.django_migrations":-812')), "invalidJSON"),
    "range_restore_result_downtime_negative": (after_hello(replaced(RESTORE_RESULT, b'"downtimeSeconds":7.75', b'"downtimeSeconds":-7.75')), "invalidJSON"),
    "range_restore_result_step_seconds": (after_hello(replaced(RESTORE_RESULT, b'"seconds":41.5', b'"seconds":-41.5')), "invalidJSON"),
    "range_restore_result_validation_row_count": (after_hello(replaced(RESTORE_RESULT, b'"public.authentik_core_group":4', b'"public.authentik_core_group":-4')), "invalidJSON"),
    "range_restore_result_receipt_sha256": (after_hello(replaced(RESTORE_RESULT, b'"sha256":"' + SHA + b'"', b'"sha256":"latest"')), "invalidJSON"),
    "range_undo_health_timeout": (after_hello(replaced(UNDO, b'"healthTimeout":120', b'"healthTimeout":0')), "invalidJSON"),
    "range_databases_result_size": (after_hello(replaced(DATABASES_RESULT, b'"sizeBytes":33497267', b'"sizeBytes":-1')), "invalidJSON"),
    "range_receipt_store_downtime": (after_hello(replaced(RECEIPT_STORE, b'"downtimeSeconds":7.75', b'"downtimeSeconds":1e10')), "invalidJSON"),
    "range_receipts_offset_negative": (after_hello(b'{"id":2,"offset":-100,"type":"receipts"}'), "invalidJSON"),
    "range_receipts_limit_zero": (after_hello(b'{"id":2,"limit":0,"type":"receipts"}'), "invalidJSON"),
    "range_receipts_result_total": (after_hello(replaced(RECEIPTS_RESULT, b'"total":3', b'"total":-3')), "invalidJSON"),
    "range_receipts_result_receipt_downtime": (after_hello(replaced(RECEIPTS_RESULT, b'"downtimeSeconds":7.375', b'"downtimeSeconds":-1')), "invalidJSON"),
    # --- undo points on infra-core (PROTOCOL.md §13) ---
    "undo_prune_missing_dry_run": (after_hello(b'{"id":1,"type":"undo.prune"}'), "invalidJSON"),
    "undo_prune_dry_run_string": (after_hello(replaced(UNDO_PRUNE, b'"dryRun":false', b'"dryRun":"no"')), "invalidJSON"),
    "undo_prune_result_missing_report": (after_hello(b'{"dryRun":false,"id":1,"type":"undo.prune.result"}'), "invalidJSON"),
    "undo_prune_result_missing_policy": (after_hello(without(UNDO_PRUNE_RESULT, member(UNDO_PRUNE_RESULT, "policy"))), "invalidJSON"),
    "undo_prune_result_kind_unknown": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"kind":"failed"', b'"kind":"orphan"')), "invalidJSON"),
    "undo_prune_result_action_unknown": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"action":"drop"', b'"action":"archive"', first=True)), "invalidJSON"),
    "undo_prune_result_missing_reason": (after_hello(without(UNDO_PRUNE_RESULT, member(UNDO_PRUNE_RESULT, "reason"))), "invalidJSON"),
    "undo_prune_result_dropped_string": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"dropped":true', b'"dropped":"yes"')), "invalidJSON"),
    "probe_result_undo_missing_databases": (after_hello(without(PROBE_UNDO, member(PROBE_UNDO, "databases"))), "invalidJSON"),
    # An answer to another request: the controller asked for a probe (id 1).
    "undo_prune_result_as_probe_answer": (after_hello(UNDO_PRUNE_RESULT), "outOfSequence"),
    "range_undo_prune_result_size": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"sizeBytes":33554432', b'"sizeBytes":-1')), "invalidJSON"),
    "range_undo_prune_result_volume": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"volumeBytes":161480704', b'"volumeBytes":' + BIG)), "invalidJSON"),
    "range_undo_prune_result_keep_newest": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"keepNewest":1', b'"keepNewest":0')), "invalidJSON"),
    "range_undo_prune_result_max_age": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"maxAgeDays":7', b'"maxAgeDays":-7')), "invalidJSON"),
    "range_undo_prune_result_warn_percent": (after_hello(replaced(UNDO_PRUNE_RESULT, b'"warnPercent":50', b'"warnPercent":101')), "invalidJSON"),
    "range_probe_result_undo_size": (after_hello(replaced(PROBE_UNDO, b'"sizeBytes":33554432', b'"sizeBytes":-1')), "invalidJSON"),
    # --- limits ---
    "deep_nesting": (frame(b'{"type":"hello","x":' + b"[" * 16 + b"]" * 16 + b"}"), "limitExceeded"),
    "long_string": (frame(b'{"type":"hello","host":"' + b"a" * (64 * 1024 + 1) + b'"}'), "limitExceeded"),
    "long_key": (frame(b'{"' + b"k" * (64 * 1024 + 1) + b'":1,"type":"hello"}'), "limitExceeded"),
    "too_many_members": (frame(b'{"type":"hello","capabilities":[' + b",".join([b"1"] * 10001) + b"]}"), "limitExceeded"),
    # --- what arrives before the first frame ---
    "login_banner": (b"Welcome to infra-core\n", "nonProtocolOutput"),
    "banner_then_hello": (b"Welcome to infra-core\nLast login: Mon Jan  6 10:00:00 2025\n" + frame(HELLO), "nonProtocolOutput"),
    "utf8_banner": ("Willkommen auf infra-core — bitte lächeln\n".encode(), "nonProtocolOutput"),
    # --- sequence (the frames are fine on their own) ---
    "result_before_hello": (frame(b'{"checks":[],"id":1,"type":"probe.result"}'), "outOfSequence"),
    "second_hello": (frame(HELLO) + frame(HELLO), "outOfSequence"),
    "second_hello_after_heartbeat": (frame(HELLO) + HEARTBEAT + frame(HELLO), "outOfSequence"),
    "result_for_other_id": (after_hello(b'{"checks":[],"id":9,"type":"probe.result"}'), "outOfSequence"),
    # A well-formed answer of another request's type: the controller asked for a probe (id 1).
    "upload_ready_as_probe_answer": (after_hello(b'{"freeBytes":1,"id":1,"type":"upload.ready"}'), "outOfSequence"),
    "data_cut_before_end": (frame(HELLO) + frame(b'{"id":1,"stream":"report","type":"data"}') + frame(b"raw"), "outOfSequence"),
    "data_cut_after_heartbeat": (frame(HELLO) + frame(b'{"id":1,"stream":"report","type":"data"}') + frame(b"raw") + HEARTBEAT, "outOfSequence"),
    # A remote of version 1 (software 0.1.0), and one of a version after this one.
    "version_mismatch": (frame(replaced(replaced(HELLO, b'"protocol":2', b'"protocol":1'), b'"software":"0.2.0"', b'"software":"0.1.0"')),
                         "versionMismatch"),
    "version_mismatch_newer": (frame(replaced(replaced(HELLO, b'"protocol":2', b'"protocol":3'), b'"software":"0.2.0"', b'"software":"0.3.0"')),
                               "versionMismatch"),
    "wrong_role": (frame(replaced(HELLO, b'"role":"agent"', b'"role":"receiver"')), "wrongRole"),
}


# --- retention (PROTOCOL.md §13): prune, prune.result, pin, and list.result's pin ---
PRUNE_RESULT = valid("prune_result")
PIN = valid("pin")
LIST_PINNED = valid("list_result_pinned")
VECTORS.update({
    "prune_missing_dry_run": (after_hello(b'{"id":1,"type":"prune"}'), "invalidJSON"),
    "prune_dry_run_string": (after_hello(b'{"dryRun":"yes","id":1,"type":"prune"}'), "invalidJSON"),
    "range_prune_offset_negative": (after_hello(b'{"dryRun":true,"id":1,"offset":-1,"type":"prune"}'), "invalidJSON"),
    "range_prune_limit_over_max": (after_hello(b'{"dryRun":true,"id":1,"limit":1001,"type":"prune"}'), "invalidJSON"),
    "prune_result_missing_decisions": (after_hello(without(PRUNE_RESULT, b"," + member(PRUNE_RESULT, "decisions", comma=False))), "invalidJSON"),
    "prune_result_missing_policy": (after_hello(without(PRUNE_RESULT, member(PRUNE_RESULT, "policy"))), "invalidJSON"),
    "prune_result_decision_missing_keep": (after_hello(replaced(PRUNE_RESULT, b'"keep":false,', b'')), "invalidJSON"),
    "prune_result_reasons_string": (after_hello(replaced(PRUNE_RESULT, b'"reasons":[]', b'"reasons":"none"')), "invalidJSON"),
    "range_prune_result_bytes_freed": (after_hello(replaced(PRUNE_RESULT, b'"bytesFreed":3990112', b'"bytesFreed":' + BIG)), "invalidJSON"),
    "range_prune_result_total": (after_hello(replaced(PRUNE_RESULT, b'"total":4', b'"total":2147483648')), "invalidJSON"),
    "range_prune_result_decision_size": (after_hello(replaced(PRUNE_RESULT, b'"size":3990112', b'"size":-1')), "invalidJSON"),
    "range_prune_result_policy_keep_daily": (after_hello(replaced(PRUNE_RESULT, b'"keepDaily":7', b'"keepDaily":1000001')), "invalidJSON"),
    "pin_missing_pinned": (after_hello(replaced(PIN, b'"pinned":true,', b'')), "invalidJSON"),
    "range_pin_reason_control_character": (after_hello(replaced(PIN, b'"before the 2026.2 upgrade"', b'"before\\u0007the upgrade"')), "invalidJSON"),
    "range_pin_reason_too_long": (after_hello(replaced(PIN, b'"before the 2026.2 upgrade"', b'"' + b"x" * 201 + b'"')), "invalidJSON"),
    "range_pin_reason_blank": (after_hello(replaced(PIN, b'"before the 2026.2 upgrade"', b'"   "')), "invalidJSON"),
    "range_pin_requested_by_newline": (after_hello(replaced(PIN, b'"user":"alice"', b'"user":"alice\\nbob"')), "invalidJSON"),
    "list_result_pin_missing_reason": (after_hello(without(LIST_PINNED, b',"reason":"before the 2026.2 upgrade"')), "invalidJSON"),
    "range_list_result_pin_reason_too_long": (after_hello(replaced(LIST_PINNED, b'"before the 2026.2 upgrade"', b'"' + b"y" * 201 + b'"')),
                                              "invalidJSON"),
})


def main() -> None:
    os.makedirs(HERE, exist_ok=True)
    for name in os.listdir(HERE):
        if name.endswith((".hex", ".expect")):
            os.remove(os.path.join(HERE, name))
    for name, (data, expect) in sorted(VECTORS.items()):
        with open(os.path.join(HERE, name + ".hex"), "w") as f:
            f.write(data.hex() + "\n")
        with open(os.path.join(HERE, name + ".expect"), "w") as f:
            f.write(expect + "\n")
    print(f"wrote {len(VECTORS)} invalid vectors to {HERE}")


if __name__ == "__main__":
    main()
