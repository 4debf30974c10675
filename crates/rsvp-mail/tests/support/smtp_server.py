#!/usr/bin/env python3
"""A real SMTP server for rsvp-mail's tests, on aiosmtpd (`pip install aiosmtpd`).

Usage: smtp_server.py OUTPUT_DIR

* Listens on 127.0.0.1 on a port chosen by the system and, once it accepts
  connections, prints that port as the first line of its standard output.
* Answers RCPT TO for an address containing "transient" with
  `451 4.3.0` and for one containing "permanent" with `550 5.1.1`;
  accepts every other recipient.
* Writes every accepted message, exactly as received, to
  OUTPUT_DIR/NNNN.eml (written to a temporary file, then renamed) and its
  envelope to OUTPUT_DIR/NNNN.envelope (MAIL FROM on the first line, one
  RCPT TO per following line), before it answers 250 to DATA.
* Answers DATA as Amazon SES's SMTP interface does, `250 Ok <message id>`
  with the id `0100018c-ses-test-NNNN-000000`, when a recipient contains
  "ses-answer"; `250 2.0.0 Message accepted` otherwise.
* Exits when its standard input is closed (the test process is gone) or
  when it is killed.
"""

import asyncio
import itertools
import os
import sys

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    sys.stderr.write("aiosmtpd is not installed: install it with `pip install aiosmtpd`\n")
    sys.exit(3)


def write_atomically(path, data):
    temp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp")
    with open(temp, "wb") as f:
        f.write(data)
    os.replace(temp, path)


class Handler:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        lowered = address.lower()
        if "transient" in lowered:
            return "451 4.3.0 Mailbox temporarily unavailable (test server)"
        if "permanent" in lowered:
            return "550 5.1.1 No such user here (test server)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        base = os.path.join(self.out_dir, "%04d" % n)
        lines = [envelope.mail_from or ""] + list(envelope.rcpt_tos)
        write_atomically(base + ".envelope", ("\n".join(lines) + "\n").encode("utf-8"))
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        write_atomically(base + ".eml", content)
        if any("ses-answer" in rcpt.lower() for rcpt in envelope.rcpt_tos):
            return "250 Ok 0100018c-ses-test-%04d-000000" % n
        return "250 2.0.0 Message accepted (test server)"


async def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    handler = Handler(out_dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="rsvp-test-smtp", enable_SMTPUTF8=True),
        host="127.0.0.1",
        port=0,
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    # Serve until the test closes our stdin (or kills us).
    await loop.run_in_executor(None, sys.stdin.buffer.read)
    server.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: smtp_server.py OUTPUT_DIR\n")
        sys.exit(2)
    asyncio.run(main(sys.argv[1]))
