-- wrk script for benchmarks/load.py: requests at a fixed offered rate from a list of paths.
--
--   LOAD_PATHS=paths.txt LOAD_RATE=500 wrk -t1 -c50 -d60s --latency -s benchmarks/load.lua http://127.0.0.1:8000
--
-- LOAD_PATHS  file with one request path per line (e.g. /nearest?lon=..&lat=..&category=shelter&k=1), made by
--             load.py from random points inside the sample city; each thread walks it from its own offset
-- LOAD_RATE   offered rate, requests per second over all threads; 0 = closed loop (as fast as the server answers)
-- LOAD_CLOSE_EVERY  every n-th request of a thread asks "Connection: close" (wrk then opens a new connection), so
--             connections are renewed as they are by many clients; 0 = connections live for the whole run
--
-- Fixed rate: wrk is closed loop (a connection sends its next request when the previous answer is in).  Here each
-- thread keeps a schedule of send slots spaced threads x 1000 / LOAD_RATE ms apart and delay() holds every
-- request until its slot, whichever connection is free, so the offered rate does not fall when answers slow down
-- as long as a connection is free (use connections >= rate x worst latency).  A request that could only be sent
-- after its slot (no free connection) is counted as late, with its lag; latency is wrk's: from sending to the
-- whole answer.
--
-- Errors: socket errors (connect, read, write, timeout) plus every answer that is not 2xx (counted in
-- response(); wrk's own status count only covers >= 400).  done() prints one line "LOADJSON {...}" for load.py.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } load_timespec_t;
int clock_gettime(int clk_id, load_timespec_t *tp);
]]
local ts = ffi.new("load_timespec_t")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000.0 + tonumber(ts.tv_nsec) / 1.0e6
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua state)
local paths = {}
local pos = 1
local interval = 0
local next_slot = nil
local nthreads = 1
local close_every = 0
non2xx = 0
late = 0
late50 = 0
max_lag = 0
sent = 0

function init(args)
  local file = os.getenv("LOAD_PATHS")
  for line in io.lines(file) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  if #paths == 0 then error("no paths in " .. tostring(file)) end
  nthreads = tonumber(os.getenv("LOAD_THREADS") or "1")
  close_every = tonumber(os.getenv("LOAD_CLOSE_EVERY") or "0")
  local rate = tonumber(os.getenv("LOAD_RATE") or "0")
  if rate > 0 then interval = nthreads * 1000.0 / rate end
  -- each thread starts at its own offset of the list
  local tid = tonumber(id) or 1
  pos = math.floor((tid - 1) * #paths / nthreads) % #paths + 1
end

function delay()
  if interval <= 0 then return 0 end
  local now = now_ms()
  if next_slot == nil then next_slot = now end
  local slot = next_slot
  next_slot = next_slot + interval
  local wait = slot - now
  if wait >= 0 then return math.floor(wait + 0.5) end
  -- sent after its slot: no connection was free in time
  local lag = -wait
  if lag > 1.0 then late = late + 1 end
  if lag > 50.0 then late50 = late50 + 1 end
  if lag > max_lag then max_lag = lag end
  return 0
end

function request()
  local p = paths[pos]
  pos = pos + 1
  if pos > #paths then pos = 1 end
  sent = sent + 1
  if close_every > 0 and sent % close_every == 0 then
    return wrk.format("GET", p, { ["Connection"] = "close" })
  end
  return wrk.format("GET", p)
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local n2, lt, lt50, lag, snt = 0, 0, 0, 0, 0
  for _, t in ipairs(threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    lt = lt + (t:get("late") or 0)
    lt50 = lt50 + (t:get("late50") or 0)
    snt = snt + (t:get("sent") or 0)
    local l = t:get("max_lag") or 0
    if l > lag then lag = l end
  end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    'LOADJSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, "status_ge400": %d, "socket_errors": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "late": %d, "late_50ms": %d, "max_lag_ms": %.1f, "sent": %d}\n',
    summary.requests, summary.duration, summary.bytes, n2, e.status, sock, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, lt, lt50, lag, snt))
end
