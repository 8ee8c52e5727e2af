-- param route with a JSON answer: GET /users/42.
wrk.method = "GET"
wrk.path = "/users/42"

-- done(): the machine-readable result line, shared with the other scenarios.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "report.lua")
