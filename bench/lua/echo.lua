-- 1 KiB POST echo: the server reads the body and sends it back.
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = string.rep("x", 1024)
wrk.headers["Content-Type"] = "application/octet-stream"

-- done(): the machine-readable result line, shared with the other scenarios.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "report.lua")
