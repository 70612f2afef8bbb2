#!/usr/bin/env python3
"""Writes protocol/vectors/invalid/*.hex and *.expect.

These vectors are made by hand (not by the encoder): each is the complete byte stream a
remote program writes to the controller, and `.expect` names the ProtocolError case the
controller must reject it with. Re-run after editing; the files are committed.
"""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "invalid")

HELLO = b'{"capabilities":["probe"],"host":"infra-core","protocol":1,"role":"agent","software":"0.1.0","type":"hello"}'

# Canonical payloads of the backup-path messages (as in vectors/valid/), to break one field at a time.
SHA = b"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
NAME = b"authentik-db-2026-01-31T020000Z.sql.gz"
SOURCE = b'{"database":"authentik","host":"infra-core","pgDumpVersion":"pg_dump (PostgreSQL) 16.6","postgresVersion":"16.6"}'
STARTED = b'{"id":1,"name":"' + NAME + b'","source":' + SOURCE + b',"startedAt":"2026-01-31T02:00:00Z","type":"backup.started"}'
RESULT = (b'{"compressionThreads":4,"finishedAt":"2026-01-31T02:00:07Z","id":1,"rowCounts":{"public.authentik_core_user":17},'
          b'"sha256":"' + SHA + b'","size":4182530,"type":"backup.result","uncompressedSize":31457280}')
MANIFEST = (b'{"compression":"gzip -6, 4 thread(s), independent members","finishedAt":"2026-01-31T02:00:07Z",'
            b'"format":"akbackup-manifest-1","name":"' + NAME + b'","rowCounts":{},"sha256":"' + SHA + b'","size":4182530,'
            b'"software":"0.1.0","source":' + SOURCE + b',"startedAt":"2026-01-31T02:00:00Z","uncompressedSize":31457280}')
COMMIT = b'{"id":1,"manifest":' + MANIFEST + b',"sha256":"' + SHA + b'","size":4182530,"type":"upload.commit"}'
UPLOAD_RESULT = b'{"id":1,"name":"' + NAME + b'","sha256":"' + SHA + b'","size":4182530,"type":"upload.result"}'
LIST_RESULT = (b'{"artifacts":[{"manifest":' + MANIFEST + b',"modifiedAt":"2026-01-31T02:00:08Z","name":"' + NAME +
               b'","size":4182530}],"freeBytes":1,"id":1,"type":"list.result"}')
VERIFY_RESULT = (b'{"hasManifest":true,"id":1,"name":"' + NAME + b'","ok":true,"rowCounts":{},"sha256":"' + SHA +
                 b'","size":4182530,"type":"verify.result"}')

# Canonical payloads of the restore-path messages (as in vectors/valid/).
FETCH_STARTED = b'{"id":1,"manifest":' + MANIFEST + b',"name":"' + NAME + b'","size":4182530,"type":"fetch.started"}'
FETCH_RESULT = b'{"id":1,"sha256":"' + SHA + b'","size":4182530,"type":"fetch.result"}'
RESTORE = (b'{"artifact":"' + NAME + b'","force":false,"healthTimeout":120,"id":1,"manifest":' + MANIFEST +
           b',"mode":"swap","sha256":"' + SHA + b'","type":"restore"}')
RESTORE_READY = b'{"id":1,"runningAuthentikVersion":"2025.10.1","targetDatabase":"authentik_restore_20260201093000","type":"restore.ready","warnings":[]}'
STEP = b'{"name":"stop services","ok":true,"seconds":1.5,"startedAt":"2026-02-01T09:30:45Z"}'
VALIDATION = b'{"ok":true,"problems":[],"rowCounts":{"public.authentik_core_user":17}}'
RESTORE_RESULT = (b'{"downtimeSeconds":7.75,"id":1,"message":"authentik restored","outcome":"restored",'
                  b'"preRestoreDatabase":"authentik_pre_restore_20260201093000","steps":[' + STEP + b'],"type":"restore.result",'
                  b'"validation":' + VALIDATION + b'}')
RECEIPT = (b'{"agentHost":"infra-core","artifact":"' + NAME + b'","controllerHost":"laptop","downtimeSeconds":7.75,'
           b'"finishedAt":"2026-02-01T09:30:53Z","format":"akbackup-receipt-1","message":"authentik restored","operation":"restore",'
           b'"operatorName":"alice","outcome":"restored","sha256":"' + SHA + b'","software":"0.1.0","startedAt":"2026-02-01T09:29:55Z",'
           b'"steps":[' + STEP + b'],"validation":' + VALIDATION + b'}')
RECEIPTS_RESULT = b'{"id":2,"receipts":[' + RECEIPT + b'],"type":"receipts.result"}'
RECEIPT_STORE = b'{"id":2,"name":"restore-2026-02-01T092955Z-restored.json","receipt":' + RECEIPT + b',"type":"receipt.store"}'
DATABASES_RESULT = b'{"databases":[{"name":"authentik_pre_restore_20260201093000","sizeBytes":33497267}],"id":1,"type":"databases.result"}'


def without(payload: bytes, member: bytes) -> bytes:
    """`payload` with the member `member` (e.g. b'"source":{...},') removed; it must occur exactly once."""
    assert payload.count(member) == 1, member
    return payload.replace(member, b"")


def replaced(payload: bytes, old: bytes, new: bytes) -> bytes:
    assert payload.count(old) == 1, old
    return payload.replace(old, new)


def frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


VECTORS = {
    # --- framing ---
    "oversized_length": (struct.pack(">I", (1 << 20) + 1) + b"\x00" * 16, "frameTooLarge"),
    # An oversized first frame whose payload is text must not be mistaken for a banner.
    "oversized_length_json": (struct.pack(">I", (1 << 20) + 1) + HELLO, "frameTooLarge"),
    "length_ffffffff": (b"\xff\xff\xff\xff", "frameTooLarge"),
    "truncated_header": (b"\x00\x00", "truncatedFrame"),
    "truncated_payload": (frame(HELLO)[:40], "truncatedFrame"),
    "truncated_second_frame": (frame(HELLO) + frame(b'{"id":1,"type":"probe.result","checks":[]}')[:9], "truncatedFrame"),
    # --- payload encoding ---
    "bad_utf8": (frame(b'{"type":"hello","host":"infra-\xffcore"}'), "invalidUTF8"),
    "overlong_utf8": (frame(b'{"type":"hello","host":"\xc0\xaf"}'), "invalidUTF8"),
    "utf16_surrogate_bytes": (frame(b'{"type":"hello","host":"\xed\xa0\x80"}'), "invalidUTF8"),
    # --- JSON ---
    "empty_control_frame": (frame(b""), "invalidJSON"),
    "not_an_object_array": (frame(b'[{"type":"hello"}]'), "invalidJSON"),
    "not_an_object_string": (frame(b'"hello"'), "invalidJSON"),
    "malformed_json": (frame(b'{"type":"hello","protocol":1'), "invalidJSON"),
    "trailing_garbage": (frame(HELLO + b"x"), "invalidJSON"),
    "unbalanced_close": (frame(b'{"type":"cancel","id":1}}' + b"[" * 20), "invalidJSON"),
    "missing_type": (frame(b'{"id":1,"checks":[]}'), "invalidJSON"),
    "type_not_string": (frame(b'{"type":7}'), "invalidJSON"),
    "missing_field": (frame(HELLO.replace(b'"capabilities":["probe"],', b"")), "invalidJSON"),
    "wrong_field_type": (frame(HELLO.replace(b'"protocol":1', b'"protocol":"1"')), "invalidJSON"),
    "unknown_role": (frame(HELLO.replace(b'"role":"agent"', b'"role":"admin"')), "invalidJSON"),
    "negative_id_after_hello": (frame(HELLO) + frame(b'{"checks":[],"id":-1,"type":"probe.result"}'), "invalidJSON"),
    "unknown_type": (frame(b'{"id":1,"type":"backup.start"}'), "unknownMessageType"),
    # --- backup path: a field missing, of the wrong type or out of range (after a valid hello) ---
    "backup_started_missing_source": (frame(HELLO) + frame(without(STARTED, b'"source":' + SOURCE + b',')), "invalidJSON"),
    "backup_started_source_missing_host": (frame(HELLO) + frame(without(STARTED, b'"host":"infra-core",')), "invalidJSON"),
    "backup_result_size_string": (frame(HELLO) + frame(replaced(RESULT, b'"size":4182530', b'"size":"4182530"')), "invalidJSON"),
    "backup_result_size_over_int64": (frame(HELLO) + frame(replaced(RESULT, b'"size":4182530', b'"size":9223372036854775808')), "invalidJSON"),
    "backup_result_row_count_string": (frame(HELLO) + frame(replaced(RESULT, b'"public.authentik_core_user":17', b'"public.authentik_core_user":"17"')), "invalidJSON"),
    "backup_result_missing_sha256": (frame(HELLO) + frame(without(RESULT, b'"sha256":"' + SHA + b'",')), "invalidJSON"),
    "upload_ready_missing_id": (frame(HELLO) + frame(b'{"freeBytes":1099511627776,"type":"upload.ready"}'), "invalidJSON"),
    "upload_ready_free_bytes_string": (frame(HELLO) + frame(b'{"freeBytes":"1 TiB","id":1,"type":"upload.ready"}'), "invalidJSON"),
    "upload_result_missing_name": (frame(HELLO) + frame(without(UPLOAD_RESULT, b'"name":"' + NAME + b'",')), "invalidJSON"),
    "list_result_artifacts_object": (frame(HELLO) + frame(b'{"artifacts":{},"id":1,"type":"list.result"}'), "invalidJSON"),
    "list_result_artifact_missing_size": (frame(HELLO) + frame(replaced(LIST_RESULT, b',"size":4182530}]', b'}]')), "invalidJSON"),
    "list_result_manifest_missing_format": (frame(HELLO) + frame(without(LIST_RESULT, b'"format":"akbackup-manifest-1",')), "invalidJSON"),
    "verify_result_ok_string": (frame(HELLO) + frame(replaced(VERIFY_RESULT, b'"ok":true', b'"ok":"true"')), "invalidJSON"),
    "verify_result_missing_row_counts": (frame(HELLO) + frame(without(VERIFY_RESULT, b'"rowCounts":{},')), "invalidJSON"),
    # Messages the controller sends: the decoder is the same on both sides and rejects these before any sequence check.
    "backup_threads_string": (frame(HELLO) + frame(b'{"id":1,"threads":"4","type":"backup"}'), "invalidJSON"),
    "upload_commit_manifest_missing_format": (frame(HELLO) + frame(without(COMMIT, b'"format":"akbackup-manifest-1",')), "invalidJSON"),
    "upload_commit_size_negative_fraction": (frame(HELLO) + frame(replaced(COMMIT, b'"size":4182530,"type"', b'"size":-1.5,"type"')), "invalidJSON"),
    "upload_abort_missing_reason": (frame(HELLO) + frame(b'{"id":1,"type":"upload.abort"}'), "invalidJSON"),
    "verify_name_number": (frame(HELLO) + frame(b'{"id":1,"name":1,"type":"verify"}'), "invalidJSON"),
    # --- restore path (PROTOCOL.md §11): answers the agent or the receiver sends ---
    "fetch_started_size_string": (frame(HELLO) + frame(replaced(FETCH_STARTED, b'"size":4182530,"type"', b'"size":"4182530","type"')), "invalidJSON"),
    "fetch_started_manifest_missing_row_counts": (frame(HELLO) + frame(without(FETCH_STARTED, b'"rowCounts":{},')), "invalidJSON"),
    "fetch_result_missing_sha256": (frame(HELLO) + frame(without(FETCH_RESULT, b'"sha256":"' + SHA + b'",')), "invalidJSON"),
    "restore_ready_missing_warnings": (frame(HELLO) + frame(without(RESTORE_READY, b',"warnings":[]')), "invalidJSON"),
    "restore_ready_warnings_string": (frame(HELLO) + frame(replaced(RESTORE_READY, b'"warnings":[]', b'"warnings":"none"')), "invalidJSON"),
    "restore_result_missing_steps": (frame(HELLO) + frame(without(RESTORE_RESULT, b'"steps":[' + STEP + b'],')), "invalidJSON"),
    "restore_result_seconds_string": (frame(HELLO) + frame(replaced(RESTORE_RESULT, b'"seconds":1.5', b'"seconds":"1.5"')), "invalidJSON"),
    "restore_result_step_missing_ok": (frame(HELLO) + frame(replaced(RESTORE_RESULT, b'"ok":true,"seconds":1.5', b'"seconds":1.5')), "invalidJSON"),
    "restore_result_validation_missing_problems": (frame(HELLO) + frame(without(RESTORE_RESULT, b'"problems":[],')), "invalidJSON"),
    "restore_result_downtime_string": (frame(HELLO) + frame(replaced(RESTORE_RESULT, b'"downtimeSeconds":7.75', b'"downtimeSeconds":"7.75"')), "invalidJSON"),
    "databases_result_size_string": (frame(HELLO) + frame(replaced(DATABASES_RESULT, b'"sizeBytes":33497267', b'"sizeBytes":"32 MiB"')), "invalidJSON"),
    "databases_result_missing_databases": (frame(HELLO) + frame(b'{"id":1,"type":"databases.result"}'), "invalidJSON"),
    "receipts_result_receipt_missing_format": (frame(HELLO) + frame(without(RECEIPTS_RESULT, b'"format":"akbackup-receipt-1",')), "invalidJSON"),
    "receipts_result_receipt_missing_steps": (frame(HELLO) + frame(without(RECEIPTS_RESULT, b'"steps":[' + STEP + b'],')), "invalidJSON"),
    "receipts_result_object": (frame(HELLO) + frame(b'{"id":2,"receipts":{},"type":"receipts.result"}'), "invalidJSON"),
    "done_missing_detail": (frame(HELLO) + frame(b'{"id":1,"type":"done"}'), "invalidJSON"),
    # Restore-path messages the controller sends (rejected by the decoder on either side).
    "restore_mode_unknown": (frame(HELLO) + frame(replaced(RESTORE, b'"mode":"swap"', b'"mode":"dry-run"')), "invalidJSON"),
    "restore_missing_force": (frame(HELLO) + frame(without(RESTORE, b'"force":false,')), "invalidJSON"),
    "restore_health_timeout_fraction": (frame(HELLO) + frame(replaced(RESTORE, b'"healthTimeout":120', b'"healthTimeout":1.5')), "invalidJSON"),
    "restore_force_string": (frame(HELLO) + frame(replaced(RESTORE, b'"force":false', b'"force":"no"')), "invalidJSON"),
    "undo_missing_health_timeout": (frame(HELLO) + frame(b'{"id":1,"type":"undo"}'), "invalidJSON"),
    "fetch_missing_name": (frame(HELLO) + frame(b'{"id":1,"type":"fetch"}'), "invalidJSON"),
    "drop_database_name_number": (frame(HELLO) + frame(b'{"id":1,"name":20260201093000,"type":"drop-database"}'), "invalidJSON"),
    "receipt_store_receipt_missing_outcome": (frame(HELLO) + frame(without(RECEIPT_STORE, b'"outcome":"restored",')), "invalidJSON"),
    "receipt_store_missing_name": (frame(HELLO) + frame(without(RECEIPT_STORE, b'"name":"restore-2026-02-01T092955Z-restored.json",')), "invalidJSON"),
    # A well-formed restore-path answer where the controller waits for something else (it asked for a probe).
    "restore_ready_as_probe_answer": (frame(HELLO) + frame(RESTORE_READY), "outOfSequence"),
    "done_for_other_id": (frame(HELLO) + frame(b'{"detail":"dropped authentik_pre_restore_20260201093000","id":9,"type":"done"}'), "outOfSequence"),
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
    "result_for_other_id": (frame(HELLO) + frame(b'{"checks":[],"id":9,"type":"probe.result"}'), "outOfSequence"),
    # A well-formed answer of another request's type: the controller asked for a probe (id 1).
    "upload_ready_as_probe_answer": (frame(HELLO) + frame(b'{"freeBytes":1,"id":1,"type":"upload.ready"}'), "outOfSequence"),
    "data_cut_before_end": (frame(HELLO) + frame(b'{"id":1,"stream":"report","type":"data"}') + frame(b"raw"), "outOfSequence"),
    "version_mismatch": (frame(HELLO.replace(b'"protocol":1', b'"protocol":2')), "versionMismatch"),
    "wrong_role": (frame(HELLO.replace(b'"role":"agent"', b'"role":"receiver"')), "wrongRole"),
}


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
