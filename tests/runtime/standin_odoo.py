"""A stand-in for `odoo server -c CONF` where the supervisord tests need no real Odoo.

It reads http_port and pidfile from the config like Odoo, answers /web/health, prints a line on
each signal it gets, finishes gracefully on TERM and crashes at start when a file `crash` sits next
to the config (to drive a program into FATAL). Real-Odoo tests use the real thing.
"""

import configparser
import http.server
import os
import signal
import sys
import threading
import time


def main() -> None:
    conf_path = sys.argv[sys.argv.index("-c") + 1]
    if os.path.exists(os.path.join(os.path.dirname(conf_path), "crash")):
        print("standin-odoo: crashing on purpose", flush=True)
        sys.exit(3)
    conf = configparser.RawConfigParser()
    conf.read(conf_path)
    options = conf["options"]
    print(f"standin-odoo: env keys {sorted(os.environ)}", flush=True)
    with open(options["pidfile"], "w") as fh:
        fh.write(str(os.getpid()))

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": "pass"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(options["http_port"])), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        print(f"standin-odoo: got {signal.Signals(signum).name}", flush=True)
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    print("standin-odoo: serving", flush=True)
    stopping.wait()
    time.sleep(0.5)  # finishing requests in flight, as Odoo's graceful shutdown does
    server.shutdown()
    os.unlink(options["pidfile"])
    print("standin-odoo: stopped", flush=True)


if __name__ == "__main__":
    main()
