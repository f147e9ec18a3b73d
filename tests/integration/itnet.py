#!/usr/bin/env python3
"""Helpers for the XDP integration test (xdp_pop_test.sh). Python stdlib only.

Subcommands:
  ethtool IF --tx-csum on|off
      Sets TX checksum offload through the SIOCETHTOOL ioctl (what
      `ethtool -K IF tx off` does), so the test needs no ethtool package.
  decap --tun NAME [--v4 ADDR]... [--v6 ADDR]... [--gue-port P] [--tunnel-source ADDR]... --stats FILE
      Userspace backend decapsulator for kernels without ipip/fou/ip6_tunnel:
      IP-in-IP (outer IPv4 protocol 4; outer IPv6 next header 4 or 41) through
      raw sockets, GUE variant 1 through a UDP socket on the GUE port. The
      kernel has already validated the outer headers (IPv4 header checksum,
      lengths, UDP checksum) before the sockets see them; the inner packet is
      written to a TUN device and the kernel validates and delivers it. Writes
      counters to FILE on SIGTERM.
  serve --name NAME --tcp ADDR:PORT ... --udp ADDR:PORT ... [--http ADDR:PORT] --stats-port P
      The backend's servers: every line on a TCP connection and every UDP
      datagram is answered with "NAME <payload>". Counters are readable over
      UDP at 127.0.0.1:P ("stats" -> "accepts=.. tcp_lines=.. udp=..").
  stats PORT
      Prints a server's counters.
  tcp-burst / udp-burst / udp-stream / hold
      Client traffic; see each function.
"""

import argparse
import ctypes
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

# ---------------------------------------------------------------- ethtool

SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_STXCSUM = 0x17


class _EthtoolValue(ctypes.Structure):
    _fields_ = [("cmd", ctypes.c_uint32), ("data", ctypes.c_uint32)]


class _IfReq(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 16), ("data", ctypes.c_void_p), ("pad", ctypes.c_char * 16)]


def _ethtool(ifname, cmd, data=0):
    ev = _EthtoolValue(cmd, data)
    ifr = _IfReq(ifname.encode(), ctypes.cast(ctypes.pointer(ev), ctypes.c_void_p))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
    return ev.data


def cmd_ethtool(a):
    want = 1 if a.tx_csum == "on" else 0
    _ethtool(a.ifname, ETHTOOL_STXCSUM, want)
    if _ethtool(a.ifname, ETHTOOL_GTXCSUM) != want:
        sys.exit(f"{a.ifname}: tx checksumming did not change to {a.tx_csum}")


# ---------------------------------------------------------------- decap

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def _open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def _inner_key(pkt):
    """(protocol, destination port) of an inner IP packet, for the counters."""
    if not pkt:
        return ("?", 0)
    v = pkt[0] >> 4
    if v == 4 and len(pkt) >= 20:
        ihl = (pkt[0] & 15) * 4
        proto = pkt[9]
        dport = struct.unpack("!H", pkt[ihl + 2:ihl + 4])[0] if len(pkt) >= ihl + 4 else 0
        return (f"v4/{proto}", dport)
    if v == 6 and len(pkt) >= 40:
        proto = pkt[6]
        dport = struct.unpack("!H", pkt[42:44])[0] if len(pkt) >= 44 else 0
        return (f"v6/{proto}", dport)
    return ("?", 0)


def cmd_decap(a):
    tun = _open_tun(a.tun)
    sel = selectors.DefaultSelector()
    sources = set(a.tunnel_source or [])
    counts = {}
    bad = {}

    def count(kind, pkt):
        proto, dport = _inner_key(pkt)
        k = f"{kind}:{proto}:{dport}"
        counts[k] = counts.get(k, 0) + 1

    def reject(why):
        bad[why] = bad.get(why, 0) + 1

    socks = []
    mine4 = set(a.v4 or [])
    if mine4:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)  # IPPROTO_IPIP
        socks.append((s, "ipip4", "raw4"))
    for addr in a.v4 or []:
        g = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        g.bind((addr, a.gue_port))
        socks.append((g, "gue4", "udp"))
    if a.v6:
        for proto, kind in ((4, "ipip6-4"), (41, "ipip6-6")):
            s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, proto)
            socks.append((s, kind, "raw6"))
    for addr in a.v6 or []:
        g = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        g.bind((addr, a.gue_port))
        socks.append((g, "gue6", "udp"))
    for s, kind, how in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, (kind, how))

    stop = []

    def on_term(*_):
        stop.append(1)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with open(a.ready, "w") as f:
        f.write("ready\n")

    while not stop:
        try:
            events = sel.select(0.2)
        except InterruptedError:
            continue
        for key, _ in events:
            kind, how = key.data
            while True:
                try:
                    data, peer = key.fileobj.recvfrom(65535)
                except BlockingIOError:
                    break
                if how == "raw4":
                    # Raw IPv4 sockets see the outer header; check what anylb wrote.
                    ihl = (data[0] & 15) * 4
                    src = socket.inet_ntop(socket.AF_INET, data[12:16])
                    dst = socket.inet_ntop(socket.AF_INET, data[16:20])
                    if dst not in mine4:
                        reject("ipip4-not-for-us")
                        continue
                    if sources and src not in sources:
                        reject(f"ipip4-source-{src}")
                        continue
                    inner = data[ihl:]
                    if not inner or inner[0] >> 4 != 4:
                        reject("ipip4-inner-not-v4")
                        continue
                elif how == "raw6":
                    # Raw IPv6 sockets see the payload only.
                    src = peer[0]
                    if sources and src not in sources:
                        reject(f"{kind}-source-{src}")
                        continue
                    inner = data
                    want = 4 if kind == "ipip6-4" else 6
                    if not inner or inner[0] >> 4 != want:
                        reject(f"{kind}-inner-version")
                        continue
                else:  # GUE: UDP payload is the inner packet (variant 1)
                    src, sport = peer[0], peer[1]
                    if sources and src not in sources:
                        reject(f"{kind}-source-{src}")
                        continue
                    if not 49152 <= sport <= 65535:
                        reject(f"{kind}-sport-{sport}")
                        continue
                    inner = data
                    if not inner or inner[0] >> 6 != 1 or inner[0] >> 4 not in (4, 6):
                        reject(f"{kind}-not-variant1")
                        continue
                count(kind, inner)
                try:
                    os.write(tun, inner)
                except OSError as e:
                    reject(f"tun-write-{errno.errorcode.get(e.errno, e.errno)}")
    with open(a.stats, "w") as f:
        json.dump({"counts": counts, "bad": bad}, f)


# ---------------------------------------------------------------- servers


def _split_hostport(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    return host, int(port)


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def cmd_serve(a):
    name = a.name.encode()
    sel = selectors.DefaultSelector()
    stats = {"accepts": 0, "tcp_lines": 0, "udp": 0}
    for spec in a.tcp or []:
        host, port = _split_hostport(spec)
        s = socket.socket(_family(host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", "conn"))
    for spec in a.udp or []:
        host, port = _split_hostport(spec)
        s = socket.socket(_family(host), socket.SOCK_DGRAM)
        s.bind((host, port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("udp", None))
    for spec in a.http or []:  # health endpoint: any request -> 200
        host, port = _split_hostport(spec)
        s = socket.socket(_family(host), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ("listen", "http"))
    ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ctl.bind(("127.0.0.1", a.stats_port))
    ctl.setblocking(False)
    sel.register(ctl, selectors.EVENT_READ, ("ctl", None))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(a.ready, "w") as f:
        f.write("ready\n")

    while True:
        for key, _ in sel.select():
            kind, buf = key.data
            s = key.fileobj
            if kind == "listen":  # buf: what the accepted connections are ("conn" or "http")
                while True:
                    try:
                        c, _ = s.accept()
                    except BlockingIOError:
                        break
                    if buf == "conn":
                        stats["accepts"] += 1
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, (buf, bytearray()))
            elif kind == "http":
                try:
                    data = s.recv(4096)
                except (ConnectionError, OSError):
                    data = b""
                buf += data
                if data and b"\r\n\r\n" not in buf:
                    continue
                try:
                    s.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: " + str(len(name) + 1).encode()
                              + b"\r\n\r\n" + name + b"\n")
                except OSError:
                    pass
                sel.unregister(s)
                s.close()
            elif kind == "conn":
                try:
                    data = s.recv(65536)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    sel.unregister(s)
                    s.close()
                    continue
                buf += data
                while b"\n" in buf:
                    line, _, rest = bytes(buf).partition(b"\n")
                    buf[:] = rest
                    stats["tcp_lines"] += 1
                    try:
                        s.sendall(name + b" " + line + b"\n")
                    except OSError:
                        pass
            elif kind == "udp":
                while True:
                    try:
                        data, peer = s.recvfrom(65535)
                    except BlockingIOError:
                        break
                    stats["udp"] += 1
                    try:
                        s.sendto(name + b" " + data, peer)
                    except OSError:
                        pass
            else:  # ctl
                try:
                    _, peer = s.recvfrom(100)
                except BlockingIOError:
                    continue
                text = " ".join(f"{k}={v}" for k, v in stats.items())
                s.sendto(text.encode(), peer)


def cmd_stats(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(b"stats", ("127.0.0.1", a.port))
    print(s.recv(1000).decode())


# ---------------------------------------------------------------- clients


def _summary(names, fails, extra=None):
    by = {}
    for n in names:
        by[n] = by.get(n, 0) + 1
    parts = [f"ok={len(names)}", f"fail={fails}"] + [f"{k}={by[k]}" for k in sorted(by)]
    if extra:
        parts += [f"{k}={v}" for k, v in extra.items()]
    return " ".join(parts)


def _reply_name(data, expect):
    """A reply is 'NAME <echoed payload>'; returns NAME or None."""
    name, _, rest = data.partition(b" ")
    if rest != expect:
        return None
    return name.decode(errors="replace")


def _bind_sport(s, a, i):
    """--sport-base: request i leaves from port base + i, so that a phase's
    flows are new to the balancer (an ephemeral port reused from an earlier
    phase would be an old flow, which rightly keeps its backend)."""
    if a.sport_base:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if s.family == socket.AF_INET6 else "0.0.0.0", a.sport_base + i))


def cmd_tcp_burst(a):
    """N sequential connections: connect, one line, the reply, close."""
    names, fails, errors = [], 0, {}
    fam = _family(a.vip)
    for i in range(a.count):
        msg = f"burst {i}".encode()
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(a.timeout)
                _bind_sport(s, a, i)
                s.connect((a.vip, a.port))
                s.sendall(msg + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            n = _reply_name(data.rstrip(b"\n"), msg)
            if n is None:
                raise OSError(f"bad reply {data!r}")
            names.append(n)
        except OSError as e:
            fails += 1
            k = type(e).__name__
            errors[k] = errors.get(k, 0) + 1
    print(_summary(names, fails, {f"err_{k}": v for k, v in errors.items()}), flush=True)


def cmd_udp_burst(a):
    """N requests, each from a new socket (a new flow), each waiting for its reply."""
    names, fails = [], 0
    fam = _family(a.vip)
    for i in range(a.count):
        msg = f"burst {i}".encode()
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(a.timeout)
            _bind_sport(s, a, i)
            got = None
            for _ in range(1):  # no retries: every request must be answered
                s.sendto(msg, (a.vip, a.port))
                try:
                    data, _ = s.recvfrom(4096)
                    got = _reply_name(data, msg)
                except OSError:
                    pass
            if got is None:
                fails += 1
            else:
                names.append(got)
    print(_summary(names, fails), flush=True)


def cmd_udp_stream(a):
    """A paced stream: request i leaves at t0 + i * interval over one of --flows
    sockets, round robin; replies are collected as they come. Sends at least
    --min-count requests, and goes on until --stop-file exists (at most
    --max-seconds). Then waits --timeout for the last replies. Reports lost
    requests, and flows whose replies came from more than one backend."""
    fam = _family(a.vip)
    socks = []
    for _ in range(a.flows):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.connect((a.vip, a.port))
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for idx, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, idx)
    sent_at = {}
    rtt = []
    flow_backends = [set() for _ in socks]
    answered = set()
    bad = 0

    def drain(wait):
        nonlocal bad
        for key, _ in sel.select(wait):
            s = key.fileobj
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                except OSError:
                    bad += 1
                    break
                name, _, rest = data.partition(b" ")
                try:
                    seq = int(rest.split(b" ")[1])
                except (IndexError, ValueError):
                    bad += 1
                    continue
                if seq in sent_at and seq not in answered:
                    answered.add(seq)
                    rtt.append(time.monotonic() - sent_at[seq])
                    flow_backends[key.data].add(name.decode(errors="replace"))

    interval = a.interval_ms / 1000.0
    t0 = time.monotonic()
    if a.started:
        with open(a.started, "w") as f:
            f.write("started\n")
    send_errors = 0
    stop_seen = 0
    late = 0  # sends more than 5 intervals behind schedule (the pacing slipped)
    i = 0
    while True:
        if i >= a.min_count:
            if not a.stop_file or os.path.exists(a.stop_file):
                stop_seen = 1 if a.stop_file else 0
                break
            if time.monotonic() - t0 > a.max_seconds:
                break
        target = t0 + i * interval
        while True:
            now = time.monotonic()
            if now >= target:
                break
            drain(target - now)
        if now - target > 5 * interval:
            late += 1
        s = socks[i % len(socks)]
        sent_at[i] = time.monotonic()
        try:
            s.send(f"stream {i} x".encode())
        except OSError:
            send_errors += 1
        i += 1
    count = i
    deadline = time.monotonic() + a.timeout
    while len(answered) < count and time.monotonic() < deadline:
        drain(0.05)
    duration = time.monotonic() - t0
    rtt.sort()
    lost_seqs = sorted(set(range(count)) - answered)
    changed = sum(1 for b in flow_backends if len(b) > 1)
    by = {}
    for b in flow_backends:
        for n in b:
            by[n] = by.get(n, 0) + 1
    fields = {
        "sent": count,
        "answered": len(answered),
        "lost": len(lost_seqs),
        "send_errors": send_errors,
        "bad": bad,
        "flows_changed": changed,
        "stop_seen": stop_seen,
        "late_sends": late,
        "duration_s": f"{duration:.2f}",
        "rtt_p50_ms": f"{rtt[len(rtt) // 2] * 1000:.2f}" if rtt else "-",
        "rtt_p99_ms": f"{rtt[len(rtt) * 99 // 100] * 1000:.2f}" if rtt else "-",
        "rtt_max_ms": f"{rtt[-1] * 1000:.2f}" if rtt else "-",
    }
    fields.update({f"flows_{k}": v for k, v in sorted(by.items())})
    line = " ".join(f"{k}={v}" for k, v in fields.items())
    if lost_seqs:
        line += " lost_seqs=" + ",".join(str(x) for x in lost_seqs[:20])
    print(line, flush=True)


def cmd_hold(a):
    """Long-lived connections driven by commands on stdin:
      round NAME [K [INTERVAL]]   K rounds (default 1), one message per live
                                  connection per round, INTERVAL s apart
      quit
    The first reply fixes each connection's backend ('init'). After each command
    one line: 'NAME total=.. alive=.. dead=.. changed=.. init_X=.. same_X=.. dead_X=..',
    where same_X counts connections first answered by X that answered from X in
    every message of this command, dead_X those that failed (now or before)."""
    fam = _family(a.vip)
    conns = []
    for i in range(a.count):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        try:
            s.connect((a.vip, a.port))
            conns.append({"sock": s, "init": None, "dead": None, "rf": s.makefile("rb")})
        except OSError as e:
            conns.append({"sock": None, "init": "none", "dead": f"connect: {e}", "rf": None})
    seq = [0]

    def one_round():
        names = []
        for c in conns:
            if c["dead"]:
                names.append(None)
                continue
            seq[0] += 1
            msg = f"hold {seq[0]}".encode()
            try:
                c["sock"].sendall(msg + b"\n")
                data = c["rf"].readline()
                n = _reply_name(data.rstrip(b"\n"), msg)
                if n is None:
                    raise OSError(f"bad reply {data!r}")
                if c["init"] is None:
                    c["init"] = n
                names.append(n)
            except OSError as e:
                c["dead"] = f"{type(e).__name__}: {e}"
                names.append(None)
        return names

    def report(tag, rounds):
        backends = sorted({c["init"] for c in conns if c["init"]})
        fields = {"total": len(conns), "alive": sum(1 for c in conns if not c["dead"]),
                  "dead": sum(1 for c in conns if c["dead"])}
        changed = 0
        same = {b: 0 for b in backends}
        for i, c in enumerate(conns):
            got = [r[i] for r in rounds]
            if c["dead"] or any(g is None for g in got):
                continue
            if all(g == c["init"] for g in got):
                same[c["init"]] += 1
            else:
                changed += 1
        fields["changed"] = changed
        for b in backends:
            fields[f"init_{b}"] = sum(1 for c in conns if c["init"] == b)
            fields[f"same_{b}"] = same[b]
            fields[f"dead_{b}"] = sum(1 for c in conns if c["init"] == b and c["dead"])
        errs = sorted({c["dead"] for c in conns if c["dead"]})
        line = tag + " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if errs:
            line += " errors=" + "|".join(e.replace(" ", "_") for e in errs[:3])
        print(line, flush=True)

    first = one_round()
    report("ready", [first])
    for cmd in sys.stdin:
        words = cmd.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "round":
            tag = words[1]
            k = int(words[2]) if len(words) > 2 else 1
            interval = float(words[3]) if len(words) > 3 else 0.0
            rounds = []
            for j in range(k):
                if j:
                    time.sleep(interval)
                rounds.append(one_round())
            report(tag, rounds)
        else:
            print(f"error unknown command {words[0]}", flush=True)
    for c in conns:
        if c["sock"]:
            c["sock"].close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    e = sub.add_parser("ethtool")
    e.add_argument("ifname")
    e.add_argument("--tx-csum", choices=["on", "off"], required=True)
    e.set_defaults(fn=cmd_ethtool)

    d = sub.add_parser("decap")
    d.add_argument("--tun", required=True)
    d.add_argument("--v4", action="append", help="an IPv4 tunnel endpoint of this host (repeatable)")
    d.add_argument("--v6", action="append", help="an IPv6 tunnel endpoint of this host (repeatable)")
    d.add_argument("--gue-port", type=int, default=6080)
    d.add_argument("--tunnel-source", action="append")
    d.add_argument("--stats", required=True)
    d.add_argument("--ready", required=True)
    d.set_defaults(fn=cmd_decap)

    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--tcp", action="append")
    s.add_argument("--udp", action="append")
    s.add_argument("--http", action="append", help="ADDR:PORT answering every request with 200")
    s.add_argument("--stats-port", type=int, required=True)
    s.add_argument("--ready", required=True)
    s.set_defaults(fn=cmd_serve)

    st = sub.add_parser("stats")
    st.add_argument("port", type=int)
    st.set_defaults(fn=cmd_stats)

    for name, fn in (("tcp-burst", cmd_tcp_burst), ("udp-burst", cmd_udp_burst)):
        c = sub.add_parser(name)
        c.add_argument("--vip", required=True)
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--count", type=int, default=200)
        c.add_argument("--timeout", type=float, default=2.0)
        c.add_argument("--sport-base", type=int, default=0)
        c.set_defaults(fn=fn)

    u = sub.add_parser("udp-stream")
    u.add_argument("--vip", required=True)
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--min-count", type=int, default=2000)
    u.add_argument("--stop-file")
    u.add_argument("--max-seconds", type=float, default=30.0)
    u.add_argument("--interval-ms", type=float, default=1.0)
    u.add_argument("--flows", type=int, default=32)
    u.add_argument("--timeout", type=float, default=2.0)
    u.add_argument("--started")
    u.set_defaults(fn=cmd_udp_stream)

    h = sub.add_parser("hold")
    h.add_argument("--vip", required=True)
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--count", type=int, default=30)
    h.add_argument("--timeout", type=float, default=2.0)
    h.set_defaults(fn=cmd_hold)

    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
