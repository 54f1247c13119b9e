#!/usr/bin/env python3
"""Splits a bench run's latency into the server's part and the generator's part.

Reads a pcap taken on `lo` during a broadcast (tcpdump -i lo -s 200, a sample of the
connections), finds each `bench:tick` frame the server wrote, and compares the capture time
(when the server's write passed the loopback device, CLOCK_REALTIME) with the tick's
`sent_at_us` (the server's stamp, same clock). Prints percentiles of that server-side delay
and, per tick, how long the server took from its first to its last sampled write.
Standard library only.
"""
import re
import struct
import sys

TICK = re.compile(rb'"sent_at_us":(\d+),"due_at_us":\d+,"n":(\d+)')


def frames(path):
    with open(path, 'rb') as f:
        header = f.read(24)
        magic, = struct.unpack('<I', header[:4])
        nano = magic == 0xA1B23C4D
        link, = struct.unpack('<I', header[20:24])
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _orig = struct.unpack('<IIII', rec)
            data = f.read(incl)
            ts_us = sec * 1_000_000 + (frac // 1000 if nano else frac)
            off = 14 if link == 1 else 16  # Ethernet on lo; Linux cooked otherwise
            ip = data[off:]
            if len(ip) < 20 or ip[0] >> 4 != 4:
                continue
            ihl = (ip[0] & 15) * 4
            tcp = ip[ihl:]
            if len(tcp) < 20:
                continue
            dport, = struct.unpack('>H', tcp[2:4])
            payload = tcp[(tcp[12] >> 4) * 4:]
            for m in TICK.finditer(payload):
                yield ts_us, dport, int(m.group(1)), int(m.group(2))


def pct(values, p):
    if not values:
        return float('nan')
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main(path):
    delays, per_tick, ports = [], {}, set()
    for ts, port, sent, n in frames(path):
        delays.append((ts - sent) / 1000)
        per_tick.setdefault(n, []).append(ts)
        ports.add(port)
    spans = [(max(v) - min(v)) / 1000 for v in per_tick.values() if len(v) > 1]
    print(f'{path}: {len(delays)} frames, {len(per_tick)} ticks, {len(ports)} connections')
    print('server side (capture time - sent_at_us), ms: '
          + ', '.join(f'p{p} {pct(delays, p):.2f}' for p in (0, 10, 50, 90, 99, 100)))
    print('per tick, first to last sampled write, ms: '
          + ', '.join(f'p{p} {pct(spans, p):.2f}' for p in (10, 50, 90, 99)))


if __name__ == '__main__':
    for p in sys.argv[1:]:
        main(p)
