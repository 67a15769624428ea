"""An S3 endpoint that serves one bucket from memory: ListObjectsV2 (prefix,
delimiter, continuation, pages of at most 1,000 keys as S3 gives) and
GetObject, nothing else, no authentication. A listing page, once made, is
kept until the next put, so a repeated listing costs the server next to
nothing.

Why: moto and s3s-fs walk the whole bucket for every listing request, so a
listing of 10,000 keys costs them seconds whoever asks; this server leaves
the client's own share of a no-op to be measured. Used by `bucket_noop.py --server memory`.
"""

import bisect
import hashlib
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

PAGE = 1000
MODIFIED = "2026-01-01T00:00:00.000Z"


class MemoryBucket:
    def __init__(self, name):
        self.name = name
        self.objects = {}  # key -> (bytes, etag)
        self.sorted = []
        self.answers = {}  # listing query -> its XML, until the next put
        self.lock = threading.Lock()

    def put(self, key, data):
        with self.lock:
            if key not in self.objects:
                bisect.insort(self.sorted, key)
            self.objects[key] = (data, '"%s"' % hashlib.md5(data).hexdigest())
            self.answers.clear()

    def page(self, prefix, delimiter, after, max_keys):
        """The entries of one listing page, each (key or common prefix,
        kind), and the token of the next page if there is one."""
        with self.lock:
            start = bisect.bisect_left(self.sorted, max(prefix, after))
            end = bisect.bisect_left(self.sorted, prefix + "\U0010ffff")
            keys = self.sorted[start:end]
        wanted = min(max_keys, PAGE)
        entries = []
        for key in keys:
            rest = key[len(prefix):]
            if delimiter and delimiter in rest:
                entry = (prefix + rest.split(delimiter, 1)[0] + delimiter, "prefix")
            else:
                entry = (key, "object")
            if entry[0] > after and (not entries or entries[-1][0] != entry[0]):
                entries.append(entry)
                if len(entries) > wanted:
                    break
        page = entries[:wanted]
        token = page[-1][0] if len(entries) > wanted else None
        return page, token


def make_handler(bucket):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlsplit(self.path)
            path = unquote(url.path).lstrip("/")
            name, _, key = path.partition("/")
            if name != bucket.name:
                return self.reply(404, b"<Error><Code>NoSuchBucket</Code></Error>")
            if not key:
                return self.list(parse_qs(url.query))
            with bucket.lock:
                found = bucket.objects.get(key)
            if found is None:
                return self.reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
            data, etag = found
            self.reply(200, data, [("ETag", etag), ("Content-Type", "application/octet-stream"),
                                   ("Last-Modified", formatdate(1767225600, usegmt=True))])

        def list(self, query):
            one = lambda name: query.get(name, [""])[0]  # noqa: E731
            prefix, delimiter = one("prefix"), one("delimiter")
            after = one("continuation-token") or one("start-after")
            max_keys = int(one("max-keys") or PAGE)
            query = (prefix, delimiter, after, max_keys)
            answer = bucket.answers.get(query)
            if answer is None:
                answer = bucket.answers[query] = self.listing(*query)
            self.reply(200, answer, [("Content-Type", "application/xml")])

        def listing(self, prefix, delimiter, after, max_keys):
            page, token = bucket.page(prefix, delimiter, after, max_keys)
            parts = ['<?xml version="1.0" encoding="UTF-8"?>',
                     '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                     "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>"
                     "<MaxKeys>%d</MaxKeys><IsTruncated>%s</IsTruncated>" % (
                         escape(bucket.name), escape(prefix), len(page), max_keys,
                         "true" if token else "false")]
            if token:
                parts.append("<NextContinuationToken>%s</NextContinuationToken>" % escape(token))
            for key, kind in page:
                if kind == "prefix":
                    parts.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % escape(key))
                else:
                    data, etag = bucket.objects[key]
                    parts.append("<Contents><Key>%s</Key><LastModified>%s</LastModified>"
                                 "<ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD"
                                 "</StorageClass></Contents>" % (
                                     escape(key), MODIFIED, escape(etag), len(data)))
            parts.append("</ListBucketResult>")
            return "".join(parts).encode()

    return Handler


def serve(bucket, port):
    """Serve `bucket` on loopback `port` from a thread; returns the server
    (call `shutdown()` to stop it)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(bucket))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
