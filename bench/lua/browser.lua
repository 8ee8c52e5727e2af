-- browser: GET / with the request head Chrome sends for a page (Host and 15
-- more fields, about 700 bytes), one request at a time. Every other scenario
-- sends wrk's one-field head; this one shows what the field lines cost.
wrk.method = "GET"
wrk.path = "/"
wrk.headers["Connection"] = "keep-alive"
wrk.headers["sec-ch-ua"] = '"Chromium";v="156", "Not.A/Brand";v="99"'
wrk.headers["sec-ch-ua-mobile"] = "?0"
wrk.headers["sec-ch-ua-platform"] = '"Linux"'
wrk.headers["Upgrade-Insecure-Requests"] = "1"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
wrk.headers["Sec-Fetch-Site"] = "none"
wrk.headers["Sec-Fetch-Mode"] = "navigate"
wrk.headers["Sec-Fetch-User"] = "?1"
wrk.headers["Sec-Fetch-Dest"] = "document"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br, zstd"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"
wrk.headers["Cookie"] = "session=0123456789abcdef0123456789abcdef; theme=dark; consent=1"
wrk.headers["Cache-Control"] = "max-age=0"

-- done(): the machine-readable result line, shared with the other scenarios.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "report.lua")
