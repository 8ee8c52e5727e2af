-- Shared by every scenario script (loaded with dofile from beside them).
-- One machine-readable line for bench/run.mjs. Latencies are in microseconds.
-- Before done() runs, wrk "corrects" its latency histogram for coordinated
-- omission (stats_correct, with the mean time per request on a connection as
-- the expected interval). With pipelining that interval is per request while
-- latency is recorded per batch, and wrk's own percentiles come out as 0.
-- So the histogram itself is printed (value:count, nonzero buckets, read
-- through LuaJIT's FFI from wrk's stats struct) and run.mjs undoes the
-- correction to get the latencies that were measured. wrk's percentiles are
-- printed too, as a fallback.
function done(summary, latency, requests)
  local e = summary.errors
  local hist = ""
  local ok, ffi = pcall(require, "ffi")
  if ok then
    pcall(ffi.cdef, "typedef struct { uint64_t count; uint64_t limit; uint64_t min; uint64_t max; uint64_t data[?]; } wrk_stats_t;")
    local s = ffi.cast("wrk_stats_t **", latency)[0]
    if tonumber(s.min) == latency.min and tonumber(s.max) == latency.max then
      local parts, n = {}, 0
      for i = 0, tonumber(s.max) do
        local c = s.data[i]
        if c > 0 then
          n = n + 1
          parts[n] = i .. ":" .. tonumber(c)
        end
      end
      hist = table.concat(parts, ",")
    end
  end
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d,\"wrk_p50\":%d,\"wrk_p99\":%d,\"min\":%d,\"max\":%d,\"hist\":\"%s\"}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99),
    latency.min, latency.max, hist))
end
