"""A smoke client on Python's `websockets` package, run by tests/interop_python.rs.

Usage: client.py URL TOKEN CHANNEL. Prints one JSON object per line: the status of an
upgrade with a wrong token, then every message received on CHANNEL until a process
reports `exited`, then the close code of a normal closing handshake.
"""

import json
import sys

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def emit(value):
    print(json.dumps(value), flush=True)


def main():
    url, token, channel = sys.argv[1:4]
    try:
        with connect(url, additional_headers={"Authorization": "Bearer wrong"}, open_timeout=10):
            sys.exit("the upgrade with a wrong token was accepted")
    except InvalidStatus as err:
        emit({"refused": err.response.status_code})

    headers = {"Authorization": f"Bearer {token}"}
    with connect(url, additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "subscribe", "data": channel}))
        while True:
            message = json.loads(ws.recv(timeout=15))
            emit(message)
            if message["type"] == "process_status" and message["data"]["status"] == "exited":
                break
        ws.close()
        emit({"closed": ws.close_code})


if __name__ == "__main__":
    main()
