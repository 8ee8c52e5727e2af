-- 16-deep pipelining: each write carries 16 GET / requests; wrk counts the
-- requests in the batch and waits for as many responses. Latency is measured
-- from the batch's write to each response.
local depth = tonumber(os.getenv("WRK_PIPELINE") or "16")

init = function(args)
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("GET", "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end

-- done(): the machine-readable result line, shared with the other scenarios.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "report.lua")
