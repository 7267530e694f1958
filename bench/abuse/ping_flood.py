#!/usr/bin/env python3
"""Floods a WebSocket server with pings for a while without ever reading, and reports the server's resident memory.

    python3 bench/abuse/ping_flood.py PORT SERVER_PID SECONDS

Each ping carries 125 bytes. The client never reads, so every pong the server queues stays queued; a server that
bounds its send queue (and stops reading when it is full) grows by at most that bound.
"""
import base64, os, socket, struct, sys, time

port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])

def ping_frame(payload):
    mask = os.urandom(4)
    return bytes([0x89, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    head += sock.recv(1)
assert head.startswith(b"HTTP/1.1 101"), head
before = rss_kib()
batch = ping_frame(os.urandom(125)) * 512
sock.setblocking(False)
sent, peak, pending = 0, before, b""
deadline = time.monotonic() + seconds
next_report = time.monotonic() + 5
while time.monotonic() < deadline:
    data = pending or batch
    try:
        n = sock.send(data)
        sent += n
        pending = data[n:]
    except BlockingIOError:
        time.sleep(0.01)
    peak = max(peak, rss_kib())
    if time.monotonic() >= next_report:
        print(f"  {seconds - (deadline - time.monotonic()):5.1f} s: sent {sent / 2**20:8.1f} MiB of pings, server RSS {rss_kib() / 1024:7.1f} MiB")
        next_report += 5
after = rss_kib()
print(f"pings sent: {sent / 2**20:.1f} MiB ({sent // 131} pings) in {seconds:.0f} s without reading")
print(f"server RSS: before {before / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, after {after / 1024:.1f} MiB; growth {(peak - before) / 1024:.1f} MiB")
sock.close()
