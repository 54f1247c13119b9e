#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into DIR/<target>/ (default: fuzz/work/seeds).

The frames are those of the codec and connection tests (client-sdk/src/codec/*.rs,
client-sdk/src/tests/connection.rs) and of the protocol documents, plus Pulse's own events
and payloads. Format: frames split on 0xFF, binary frames after 0xFE; connection-machine
operations as documented in src/connection.rs.
"""
import json
import os
import sys

SEP = b"\xff"
BIN = b"\xfe"

HANDSHAKE = ('0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,'
             '"pingTimeout":20000,"maxPayload":1000000}')
ENTRY = '{"seq":%d,"ts":1700000000000,"data":{"id":1,"customer_id":2,"customer_name":"Ama",' \
        '"amount":12.5,"method":"CASH","date":"2026-11-02","note":null,"created_at":1}}'
STATS = '{"seq":3,"ts":1,"data":{"today_liters":120.5,"today_sales":60.25,' \
        '"today_collection":30,"outstanding":1.4000000000000001,"active_customers":4,' \
        '"deliveries_today":6}}'
PLACEHOLDER = '{"_placeholder":true,"num":%d}'
STATUS = '{"seq":0,"ts":1,"data":{"epoch":"%s","head":%d,"node":"node1"}}'


def frames(*fs):
    out = []
    for f in fs:
        out.append(f if isinstance(f, bytes) else f.encode())
    return SEP.join(out)


def binary(bs):
    return BIN + bytes(bs)


def eio():
    return {
        "open": HANDSHAKE,
        "open-minimal": '0{"sid":"a","pingInterval":1,"pingTimeout":2}',
        "close": "1",
        "ping": "2",
        "ping-probe": "2probe",
        "pong-probe": "3probe",
        "message": "4hello \u20ac",
        "message-sio-connect": '40{"sid":"oSO0OpakMV_3jnilAAAA"}',
        "upgrade": "5",
        "noop": "6",
        "binary": binary([1, 2, 3, 4]),
    }


SIO_TEXT = [
    "0", '0/admin,{"token":"123"}', '0{"sid":"oSO0OpakMV_3jnilAAAA"}',
    '4{"message":"Not authorized"}', '4"refused"', "1/admin,", "1", '2["foo"]', '2/admin,["bar"]',
    '212["foo"]', '3/admin,13["bar"]', '2["payment:added",' + (ENTRY % 7) + "]",
    '2["stats:updated",' + STATS + "]", '31[{"ok":true,"data":{"server_time":1700000000000}}]',
    '34[{"ok":false,"error":{"code":"INVALID_INPUT","message":"quantity must be > 0"}}]',
    '2["error",{"code":"RATE_LIMITED","message":"too many events"}]',
    '2["connection:status",' + STATUS % ("k2Jc1", 17) + "]",
]


def sio():
    seeds = {"text-%02d" % i: t for i, t in enumerate(SIO_TEXT)}
    seeds["binary-event"] = frames('51-["baz",' + PLACEHOLDER % 0 + "]", binary([1, 2, 3, 4]))
    seeds["binary-ack"] = frames('61-/admin,15[' + PLACEHOLDER % 0 + "]", binary([9]))
    seeds["binary-two"] = frames(
        '52-["up",' + PLACEHOLDER % 0 + "," + PLACEHOLDER % 1 + "]", binary([0xFF - 1]),
        binary([]), '2["after"]')
    seeds["binary-with-id"] = frames('51-7["file",{"name":"a"},' + PLACEHOLDER % 0 + "]",
                                     binary([1, 2, 3]))
    seeds["text-while-pending"] = frames('52-["a",' + PLACEHOLDER % 0 + "]", '2["b"]',
                                         binary([1]), binary([2]))
    seeds["unexpected-binary"] = frames(binary([1]), '2["a"]')
    return seeds


def server_packets():
    c2s = [
        ("delivery:update", {"customer_id": 2, "date": "2026-11-02", "quantity": 12.5,
                             "idempotency_key": "0123456789abcdef-1"}),
        ("delivery:update", {"id": 4, "customer_id": 2, "date": "2026-11-02", "quantity": 3,
                             "price_per_liter": 0.5}),
        ("payment:add", {"customer_id": 2, "amount": 20, "method": "MOBILE",
                         "note": "half", "idempotency_key": "k-2"}),
        ("customer:update", {"id": 2, "name": "Ama", "phone": "+233", "active": False}),
        ("notification:mark-read", {"id": 9}),
        ("activity:request", 10),
    ]
    seeds = {
        "connect": '40{"token":"eyJhbGciOiJIUzI1NiJ9.e30.x","lastSeq":41}',
        "connect-empty": "40",
        "heartbeat": frames("3", "2probe", "5", "6"),
        "bare-events": frames('42["ping"]', '421["stats:request"]', '42["notification:mark-read"]',
                              '42["no:such:event",1]'),
        "ack-reply": '431["ok"]',
        "binary-ws": frames('451-["payment:add",' + PLACEHOLDER % 0 + "]", binary([7, 8])),
        "binary-polling": frames('451-3["x",' + PLACEHOLDER % 0 + "]", "bAQID"),
        "disconnect": frames('40{"token":"t"}', "41", "1"),
    }
    for i, (name, payload) in enumerate(c2s):
        seeds["event-%d" % i] = '42%d["%s",%s]' % (i, name, json.dumps(payload))
    return seeds


def payloads():
    values = [
        {"customer_id": 2, "date": "2026-11-02", "quantity": 12.5, "price_per_liter": 0.85,
         "idempotency_key": "0123456789abcdef-1"},
        {"id": None, "customer_id": -1, "date": "", "quantity": 1e-3},
        {"customer_id": 2, "amount": 20, "method": "BANK", "date": "2026-11-02", "note": "x"},
        {"id": 2, "name": "Ama", "phone": None, "address": "Accra", "price_per_liter": 1,
         "active": True},
        {"id": 9}, {}, {"token": "jwt", "lastSeq": 18446744073709551615},
        {"email": "a@b.c", "password": "pw"}, {"refresh_token": "r"},
        json.loads(ENTRY % 7), json.loads(STATS),
        {"seq": 1, "ts": -5, "data": {"customer_id": 2, "balance": -0.0}},
        {"seq": 2, "ts": 0, "data": {"level": "critical", "message": "disk"}},
        {"seq": 3, "ts": 0, "data": {"ids": [1, 2, 3]}},
        {"seq": 4, "ts": 0, "data": {"id": 1, "title": "t", "body": "b", "level": "info",
                                     "created_at": 0, "read": False}},
        {"seq": 5, "ts": 0, "data": {"seq": 5, "ts": 0, "actor": "demo",
                                     "action": "payment:added", "summary": "Ama paid 20"}},
        {"server_time": 1700000000000},
        json.loads(STATUS % ("k2Jc1", 17)),
        {"code": "TOKEN_EXPIRED", "message": "refresh"}, {"code": "NEW_CODE", "message": ""},
        {"ok": True, "data": {"server_time": 1}}, {"ok": False, "error": {"code": "FORBIDDEN",
                                                                          "message": "no"}},
        {"events": [{"seq": 1, "ts": 0, "event": "payment:added", "data": {}}], "head": 3},
        {"token": "t", "expires_at": 1, "refresh_token": "r",
         "user": {"id": 1, "tenant_id": 1, "name": "n", "email": "e", "role": "admin"}},
        {"status": "ok", "database": "ok", "connections": 3, "uptime_s": 9, "version": "0.1.0"},
        {"items": [{"id": 2, "name": "Ama", "price_per_liter": 0.85, "balance": 1.4000000000000001,
                    "active": True, "updated_at": 1}], "total": 1},
    ]
    return {"json-%02d" % i: json.dumps(v) for i, v in enumerate(values)}


def ops(*items):
    """Connection-machine operations: each a (code, argument) pair or a bare code."""
    out = []
    for it in items:
        code, arg = (it, "") if isinstance(it, str) else it
        arg = arg if isinstance(arg, bytes) else arg.encode()
        out.append(code.encode() + arg)
    return SEP.join(out)


def connection():
    live = ["c", "o", ("t", HANDSHAKE), ("t", '40{"sid":"sio1"}')]
    pay = '{"customer_id":2,"amount":20,"method":"CASH"}'
    return {
        "live-event": ops(*live, ("t", '42["payment:added",' + ENTRY % 7 + "]"),
                          ("t", "2"), ("w", "1000"), ("t", '42["payment:added",' + ENTRY % 7 + "]")),
        "binary-event-with-ack": ops(
            *live, ("t", '451-7["file",{"name":"a"},' + PLACEHOLDER % 0 + "]"), ("b", b"\x01\x02\x03"),
            ("k", '{"ok":true}')),
        "emit-with-ack": ops(*live, ("a", pay), ("a", "50 " + pay), ("t", '430[{"ok":true,"data":1}]'),
                             "W", ("e", '{"quantity":1}'), ("E", b"\x00\x01")),
        "rejected": ops("c", "o", ("t", HANDSHAKE), ("a", pay),
                        ("t", '44{"message":"token expired","data":{"code":"TOKEN_EXPIRED"}}'), "c"),
        "server-disconnect": ops(*live, ("a", pay), ("t", "41"), ("t", "2"), "W"),
        "reconnect-and-replay": ops(
            *live, ("t", '42["payment:added",' + ENTRY % 1 + "]"), ("x", "reset"), "W", "o",
            ("t", HANDSHAKE), ("t", '40{"sid":"sio2"}'), ("t", '42["payment:added",' + ENTRY % 1 + "]"),
            ("t", '42["delivery:updated",' + ENTRY % 2 + "]")),
        "epoch-change": ops(
            *live, ("t", '42["connection:status",' + STATUS % ("e1", 41) + "]"),
            ("t", '42["payment:added",' + ENTRY % 41 + "]"), ("x", "restart"), "W", "o",
            ("t", HANDSHAKE), ("t", '40{"sid":"sio2"}'),
            ("t", '42["connection:status",' + STATUS % ("e2", 3) + "]"),
            ("t", '42["payment:added",' + ENTRY % 2 + "]"),
            ("t", '42["error",{"code":"RESYNC_REQUIRED","message":"reload"}]'),
            ("t", '42["payment:added",' + ENTRY % 1 + "]")),
        "polling-resync": ops("c", ("x", "refused"),
                              ("p", '{"events":[],"head":9,"epoch":"e1"}'), "W",
                              ("R", "another log"), "W", ("p", STATS)),
        "polling": ops("c", ("x", "refused"),
                       ("p", '{"events":[{"seq":1,"ts":0,"event":"payment:added","data":{}}],"head":3}'),
                       "W", ("p", STATS), "W", "P", "W", "o", ("t", HANDSHAKE), ("t", '40{"sid":"s"}')),
        "heartbeat-timeout": ops(*live, ("w", "44000"), ("w", "2000"), "W", "W"),
        "health-ping": ops(*live, ("w", "30000"), ("t", '430[{"ok":true,"data":{"server_time":1}}]'),
                           ("w", "30000"), ("w", "10000")),
        "buffered-then-disconnect": ops(("a", pay), ("e", "1"), "c", "o", "d", ("t", "2"), "W"),
        "decode-error": ops(*live, ("t", "4{not json"), ("b", b"\x01")),
        "connect-timeout": ops("c", "W", "W", "o", "W", "W", "W"),
        "config-admin-no-reconnect": ops(("C", b"\x21\x07"), "c", "o", ("t", HANDSHAKE),
                                         ("t", '40/admin,{"sid":"s"}'), ("t", '42/admin,["x"]'),
                                         ("t", '42["other-namespace"]'), ("x", "gone"), "W"),
        "config-small-buffer": ops(("C", b"\xc6\x01"), ("e", "1"), ("e", "2"), ("e", "3"), "c",
                                   ("x", "no"), "W", ("x", "no"), "W"),
        "auth-and-last-seq": ops(("s", '{"token":"jwt"}'), ("l", "41"), *live,
                                 ("t", '42["payment:added",' + ENTRY % 41 + "]")),
        "auth-refused-then-new-then-refused": ops(
            ("s", '{"token":"t1"}'), ("a", pay), "c", "o", ("t", HANDSHAKE),
            ("t", '44{"message":"TOKEN_EXPIRED: token expired"}'), ("A", "t2"), "o", ("t", HANDSHAKE),
            ("t", '44{"message":"invalid token","data":{"code":"UNAUTHORIZED"}}'), ("A", "t3"), "W"),
        "auth-kick-and-resume": ops(
            ("s", '{"token":"t1"}'), *live, ("t", '42["payment:added",' + ENTRY % 4 + "]"), ("a", pay),
            ("t", '42["error",{"code":"TOKEN_EXPIRED","message":"expired"}]'), ("t", "41"), ("e", "1"),
            ("A", "t2"), "o", ("t", HANDSHAKE), ("t", '40{"sid":"s2"}'), ("t", '430[{"ok":true}]')),
        "auth-same-token-or-no-answer": ops(
            ("s", '{"token":"t1"}'), "c", "o", ("t", HANDSHAKE),
            ("t", '44{"message":"TOKEN_EXPIRED: token expired"}'), ("A", "t1"), "c", "o", ("t", HANDSHAKE),
            ("t", '44{"message":"TOKEN_EXPIRED: token expired"}'), "W", ("A", "late")),
        "auth-renewal-unavailable-then-renewed": ops(
            ("s", '{"token":"t1"}'), ("a", pay), *live,
            ("t", '430[{"ok":false,"error":{"code":"TOKEN_EXPIRED","message":"expired"}}]'),
            ("U", "HTTP 503"), "W", ("U", "network error"), "W", "W", ("A", "t2"), "o",
            ("t", HANDSHAKE), ("t", '40{"sid":"s2"}')),
        "auth-poll-refused": ops(
            ("s", '{"token":"t1"}'), *live, ("x", "gone"), "W", ("x", "refused"), ("u", ""),
            "W", ("A", "t2"), ("x", "refused"), ("u", "x"), "W"),
        "handshake-tiny-max-payload": ops(
            "c", "o", ("t", '0{"sid":"e","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":5}'),
            ("t", '40{"sid":"s"}'), ("e", '"too long for five bytes"'), ("w", "3")),
    }


def transports():
    hs = '0{"sid":"S","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":64}'
    return {
        "polling-then-upgrade": ops(
            "Cpw", "o", ("g", hs), ("s", '0'), "O", ("f", "3probe"), ("s", '2["late"]'),
            ("g", "ok"), ("g", "6"), ("s", "3"), ("f", "2")),
        "websocket-refused-then-polling": ops(
            "Cwp", "o", ("x", "HTTP 403"), ("g", hs), ("s", "0"), ("S", "\x01\x02"),
            ("g", '2\x1e42["tick",1]'), ("G", "\x00Session ID unknown"), "o"),
        "polling-closed-mid-post": ops(
            "Cp", "o", ("g", hs.replace('["websocket"]', "[]")), ("s", "0"), ("s", "2[1]"),
            "c", ("g", "ok"), "z", "o", ("e", "refused")),
    }


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "work", "seeds")
    targets = {"eio": eio(), "sio": sio(), "server_packets": server_packets(),
               "payloads": payloads(), "connection": connection(), "transports": transports()}
    for target, seeds in targets.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
    print("seeds written to", out)


if __name__ == "__main__":
    main()
