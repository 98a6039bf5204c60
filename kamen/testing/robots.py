"""Fake group robots on loopback for the staff-alert tests: 企业微信 and DingTalk webhooks and the
Telegram Bot API, each answering in its own public format, recording what they were sent."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Robots:
    """What the fakes received: (path, query, JSON body) per request, and whether to refuse."""

    url: str = ""
    received: list[tuple[str, dict, dict]] = field(default_factory=list)
    refuse: bool = False


def _handler(robots: Robots):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            parts = urlsplit(self.path)
            robots.received.append((parts.path, parse_qs(parts.query), body))
            if parts.path.endswith("/sendMessage"):  # Telegram
                answer = {"ok": False, "description": "Bad Request"} if robots.refuse else {"ok": True}
            else:  # 企业微信 and DingTalk
                answer = {"errcode": 310000, "errmsg": "keywords not in content"} if robots.refuse else {"errcode": 0}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def serve_robots():
    """Start the fakes on a free loopback port; returns (robots, server) — call server.shutdown()."""
    robots = Robots()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(robots))
    robots.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return robots, server
