-- wrk script of the serving benchmark: POST /predict with bodies taken in turn from the file
-- $BODIES (one JSON body a line); at the end one line with what the benchmark reads:
-- RESULT <requests> <duration us> <p50 us> <p99 us> <non-2xx> <socket errors>
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
