-- Closed-loop POST load for the Rubberduck bench. Arguments (after `--`): mode nonce path
--   mode "hit":   the same body every time (a cache hit after the first)
--   mode "miss":  a unique body per request (a counter plus a per-run nonce)
--   mode "mixed": every other request unique, the rest identical
-- done() prints one line "BENCHJSON {...}" that bench/run.py parses (latencies in microseconds).
local mode, nonce, path = "hit", "n", "/v1/chat/completions"
local counter = 0
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer sk-bench" }
local fixed

local function body(text)
  return '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' .. text .. '"}]}'
end

function init(args)
  mode = args[1] or mode
  nonce = args[2] or nonce
  path = args[3] or path
  fixed = wrk.format("POST", path, headers, body("Say hello, bench"))
end

function request()
  if mode == "hit" then
    return fixed
  end
  counter = counter + 1
  if mode == "mixed" and counter % 2 == 0 then
    return fixed
  end
  return wrk.format("POST", path, headers, body("miss " .. nonce .. " " .. counter))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
