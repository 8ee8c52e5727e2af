// Well-formed requests the fuzzer starts from, besides the tricky corpus:
// every framing, target form and version, so that mutations land near the
// decisions that matter.

/** Seed inputs (latin1 strings). */
export const SEEDS = [
  "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
  "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n",
  "POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
  "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n",
  "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
  "GET / HTTP/1.0\r\n\r\n",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
  "HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
  "GET http://a.example/p?q HTTP/1.1\r\nHost: a.example\r\n\r\n",
  "DELETE /r HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nGET /n HTTP/1.1\r\nHost: a\r\n\r\n",
  "PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}POST /q HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  "M-SEARCH /ssdp HTTP/1.1\r\nHost: a\r\nMan: \"ssdp:discover\"\r\n\r\n",
];
