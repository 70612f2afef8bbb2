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
