-- hello: GET / on every connection, one request at a time.
wrk.method = "GET"
wrk.path = "/"

-- done(): the machine-readable result line, shared with the other scenarios.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "report.lua")
