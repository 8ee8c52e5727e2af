-- 64 KiB response: GET /64k.
wrk.method = "GET"
wrk.path = "/64k"

-- done(): the machine-readable result line, shared with the other scenarios.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "report.lua")
