"""A real DNS server on loopback: Debian's dnsmasq, answering only what a test gives it.

It is authoritative for `.test` (`--local`): any other name of that zone is NXDOMAIN, as on the
internet, and nothing is ever forwarded (`--no-resolv`). Records change by restarting it on the
same port (dnsmasq reads TXT and CNAME records only at start), which takes milliseconds.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import dns.exception
import dns.nameserver
import dns.resolver

from tests.support.net import free_port
from tests.support.wait import wait_until

READY_NAME = "dnsmasq-ready.test"


def dnsmasq_binary() -> str | None:
    return shutil.which("dnsmasq") or next(
        (p for p in ("/usr/sbin/dnsmasq",) if Path(p).exists()), None
    )


class Dnsmasq:
    def __init__(self) -> None:
        binary = dnsmasq_binary()
        assert binary, "dnsmasq is not installed (Debian: dnsmasq-base; .ci/run installs it)"
        self.binary = binary
        self.port = free_port()
        self.txt: dict[str, str] = {}
        self.cname: dict[str, str] = {}
        self.hosts: dict[str, str] = {READY_NAME: "127.0.0.1"}
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def server(self) -> str:
        """ODOO_SAAS_DNS_SERVERS for it."""
        return f"127.0.0.1:{self.port}"

    def set(
        self,
        txt: dict[str, str] | None = None,
        cname: dict[str, str] | None = None,
        hosts: dict[str, str] | None = None,
    ) -> None:
        """Add records (a value of None removes one) and serve them."""
        for mine, new in ((self.txt, txt), (self.cname, cname), (self.hosts, hosts)):
            for name, value in (new or {}).items():
                if value is None:
                    mine.pop(name, None)
                else:
                    mine[name] = value
        self.stop()
        self.start()

    def start(self) -> None:
        argv = [
            self.binary,
            "--no-daemon",
            "--conf-file=/dev/null",
            f"--port={self.port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--local=/test/",
            "--pid-file=",
            "--log-facility=-",
            "--quiet-dhcp",
        ]
        argv += [f"--host-record={name},{ip}" for name, ip in self.hosts.items()]
        # dnsmasq answers a CNAME only towards a name it knows itself: the targets get an address
        argv += [f"--host-record={t},127.0.0.1" for t in set(self.cname.values()) - set(self.hosts)]
        argv += [f"--cname={alias},{target}" for alias, target in self.cname.items()]
        argv += [f"--txt-record={name},{value}" for name, value in self.txt.items()]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 10) -> None:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", self.port)]
        res.timeout = res.lifetime = 0.2

        def answers() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"dnsmasq exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            return bool(res.resolve(READY_NAME, "A"))

        wait_until(
            answers,
            timeout,
            "dnsmasq's answer",
            interval=0.02,
            ignore=(dns.exception.DNSException,),
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
