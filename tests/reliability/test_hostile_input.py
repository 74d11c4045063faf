"""Malformed and hostile bodies against a live server: never a 5xx, always {"error": ...}, still healthy."""

from __future__ import annotations

import contextlib
import json
import socket
import threading

from leads.models import Lead
from leads.partners import CARDEKHO, CARWALE
from tests.servers import gunicorn, server_env

KEY = "hostile-input-test-key"

VALID = json.dumps(dict(CARDEKHO.sample)).encode()
CORPUS: list[tuple[str, bytes, str]] = [
    ("broken utf-8", b'{"name": "R\xc3\x28vi", "phone_number": "9876543210"}', "application/json"),
    ("latin-1 body", '{"name": "Révi", "phone_number": "9876543210"}'.encode("latin-1"), "application/json"),
    ("utf-16 body", json.dumps(dict(CARDEKHO.sample)).encode("utf-16"), "application/json"),
    ("raw NUL bytes", b'{"name": "Ra\x00vi", "phone_number": "9876543210"}', "application/json"),
    ("escaped NULs", b'{"name": "Ra\\u0000vi", "phone_number": "98765\\u000043210", "k\\u0000": "v"}', "application/json"),
    ("lone surrogates", b'{"name": "\\ud83d", "phone_number": "\\udc00"}', "application/json"),
    ("deep nesting", b'{"name": "R", "phone_number": "9", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "application/json"),
    ("deep objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json"),
    ("10 MB body", b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'", "phone_number": "9876543210"}', "application/json"),
    ("wrong types", b'{"name": {"first": "Ravi"}, "phone_number": [98765, 43210], "car_model": 7, "lead_url": false}', "application/json"),
    ("numbers as strings", b'{"name": 123, "phone_number": 9.87654321e9}', "application/json"),
    ("duplicate keys", b'{"name": "A", "name": "B", "phone_number": "1", "phone_number": "9811122233"}', "application/json"),
    ("huge number", b'{"name": "R", "phone_number": "9876543210", "n": 1' + b"0" * 100_000 + b"}", "application/json"),
    ("NaN and Infinity", b'{"name": "R", "phone_number": "9876543210", "a": NaN, "b": -Infinity, "c": 1e999}', "application/json"),
    ("top-level array", b"[" + VALID + b"]", "application/json"),
    ("top-level string", b'"hello"', "application/json"),
    ("empty body", b"", "application/json"),
    ("whitespace body", b"   \n\t ", "application/json"),
    ("truncated JSON", VALID[:-5], "application/json"),
    ("trailing garbage", VALID + b"garbage", "application/json"),
    ("form body", b"name=Ravi&phone_number=9876543210", "application/x-www-form-urlencoded"),
    ("multipart", b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--", "multipart/form-data; boundary=x"),
    ("bad charset", VALID, "application/json; charset=klingon"),
    ("control characters", json.dumps({"name": "".join(map(chr, range(1, 32))), "phone_number": "9876543210"}).encode(), "application/json"),
    ("every plane", json.dumps({"name": "\U0001f697\u0928\u092e\u0938\u094d\u0924\u0947\U00010348\ufeff\u200b", "phone_number": "9876543210"}).encode(), "application/json"),
]  # fmt: skip


def send(base: str, path: str, body: bytes, content_type: str, key: str | None = KEY) -> tuple[int, bytes]:
    """POST over a raw socket, reading the answer even when the server answers (413) before the
    body is through and hangs up, as it should for a 10 MB body."""
    host = base.removeprefix("http://").split(":")[0]
    headers = [f"POST {path} HTTP/1.1", f"Host: {host}", "X-Forwarded-Proto: https", "Connection: close"]
    headers += [f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    if key:
        headers.append(f"X-API-Key: {key}")
    status, _, payload = exchange(base, ("\r\n".join(headers) + "\r\n\r\n").encode() + body)
    return status, payload


def exchange(base: str, request: bytes) -> tuple[int, bytes, bytes]:
    """Send ``request`` as it is and read the whole answer: its status, head and body."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sender = threading.Thread(target=_send_quietly, args=(sock, request))
    sender.start()
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    sender.join(timeout=30)
    sock.close()
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), head, payload


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(data)


def test_hostile_corpus_gets_no_5xx_and_only_json_errors():
    env = server_env(LEAD_API_KEY_CARDEKHO=KEY, LEAD_API_KEY_CARWALE=KEY + "-w")
    answers = {}
    with gunicorn(env, workers=2) as base:
        for name, body, content_type in CORPUS:
            for partner in (CARDEKHO, CARWALE):
                key = KEY if partner is CARDEKHO else KEY + "-w"
                answers[(name, partner.slug)] = send(base, partner.path, body, content_type, key)
        healthy = send(base, CARDEKHO.path, VALID, "application/json")

    failures = {}
    for case, (status, raw) in answers.items():
        parsed = json.loads(raw)
        if case[0] == "top-level array":  # a batch of one: the lead's own answer, and its results besides
            assert parsed.pop("results") == [{"id": parsed["id"], "duplicate": parsed["duplicate"]}]
        if (
            status >= 500
            or (status >= 400 and set(parsed) != {"error"})
            or (status < 300 and set(parsed) != {"message", "id", "duplicate"})
        ):
            failures[case] = (status, raw[:200])
    assert not failures
    assert answers[("10 MB body", "cardekho")][0] == 413
    assert answers[("deep nesting", "cardekho")][0] == 400
    assert answers[("duplicate keys", "cardekho")][0] == 201
    assert answers[("raw NUL bytes", "cardekho")][0] == 201
    assert healthy[0] in (201,)
    assert Lead.objects.filter(name="B").exists()


START = f"POST {CARDEKHO.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-API-Key: {KEY}\r\n"
MALFORMED = {
    "a header over 16 KiB": (START + f"X-Big: {'a' * 17000}\r\nContent-Length: 2\r\n\r\n{{}}", 431),
    "a head over 16 KiB in many headers": (START + "".join(f"X-{n}: {'a' * 1000}\r\n" for n in range(20)) + "\r\n", 431),
    "more than 100 headers": (START + "".join(f"X-{n}: a\r\n" for n in range(101)) + "Content-Length: 2\r\n\r\n{}", 431),
    "a head over 16 KiB still arriving": (START + f"X-Big: {'a' * 17000}", 431),
    "Content-Length: abc": (START + "Content-Length: abc\r\n\r\n{}", 400),
    "Content-Length: -5": (START + "Content-Length: -5\r\n\r\n{}", 400),
    "two different Content-Lengths": (START + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400),
    "a header with no colon": (START + "Content-Length 2\r\n\r\n{}", 400),
    "a chunk size that is no number": (START + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400),
    "a chunk longer than its size": (START + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}}}\r\n0\r\n\r\n", 400),
    "a transfer coding other than chunked": (START + "Transfer-Encoding: gzip\r\n\r\n{}", 400),
    # Read by its chunks (RFC 9112 §6.3), here an empty object: the webhook's own 400 for missing fields.
    "Transfer-Encoding and Content-Length": (START + "Transfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400),
    "a request line that is no HTTP": ("HELLO\r\n\r\n", 400),
}  # fmt: skip


def test_requests_the_http_server_cannot_parse_get_json_4xx_errors_too():
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=1) as base:
        answers = {name: exchange(base, request.encode()) for name, (request, _) in MALFORMED.items()}
        healthy = send(base, CARDEKHO.path, VALID, "application/json")

    for name, (status, head, payload) in answers.items():
        assert status == MALFORMED[name][1], (name, head)
        assert b"\r\nContent-Type: application/json\r\n" in head, name
        assert set(json.loads(payload)) == {"error"}, name
    assert json.loads(answers["a header over 16 KiB"][2]) == {"error": "Request header fields too large"}
    assert healthy[0] == 201
    assert Lead.objects.count() == 1


def test_a_content_type_sent_twice_is_still_a_stored_lead():
    env = server_env(LEAD_API_KEY_CARDEKHO=KEY)
    request = (
        f"{START}Connection: close\r\nContent-Type: application/json\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(VALID)}\r\n\r\n"
    ).encode() + VALID
    with gunicorn(env, workers=1) as base:
        status, _, payload = exchange(base, request)

    assert status == 201, payload
    assert Lead.objects.filter(public_id=json.loads(payload)["id"]).count() == 1
