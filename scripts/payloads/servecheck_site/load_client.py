"""Send COUNT GET requests with httpx at CONCURRENCY, cycling over the expected
(path, body) pairs, and print a JSON summary. Run inside the server's virtualenv.

usage: load_client.py BASE_URL EXPECTED_JSON COUNT CONCURRENCY HEADER VALUE DEADLINE
"""

import asyncio
import json
import sys
import time

import httpx


async def send_all(base_url, expected, count, concurrency, header, value):
    summary = {"sent": 0, "ok": 0, "errors": 0, "missing_header": 0, "statuses": {},
               "samples": []}
    next_number = iter(range(count))

    def sample(text):
        if len(summary["samples"]) < 5:
            summary["samples"].append(text)

    def problem(text):
        summary["errors"] += 1
        sample(text)

    async def worker(client):
        for number in next_number:
            path, body = expected[number % len(expected)]
            summary["sent"] += 1
            try:
                response = await client.get(base_url + path)
            except httpx.HTTPError as error:
                problem(f"{path}: {type(error).__name__}: {error}")
                continue
            status = str(response.status_code)
            summary["statuses"][status] = summary["statuses"].get(status, 0) + 1
            has_header = response.headers.get(header) == value
            if not has_header:
                summary["missing_header"] += 1
            if response.status_code != 200 or response.text != body:
                problem(f"{path}: {status} {response.text[:120]!r}")
            elif not has_header:
                sample(f"{path}: {status} {body!r} without {header}: {value}")
            else:
                summary["ok"] += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return summary


def main(argv):
    base_url, expected_json, count, concurrency, header, value, deadline = argv
    expected = json.loads(expected_json)
    started = time.monotonic()
    try:
        summary = asyncio.run(asyncio.wait_for(
            send_all(base_url, expected, int(count), int(concurrency), header, value),
            float(deadline),
        ))
    except asyncio.TimeoutError:
        summary = {"sent": 0, "ok": 0, "errors": int(count), "missing_header": 0,
                   "statuses": {}, "samples": [f"not done within {deadline} s"]}
    summary["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
