-- wrk script for bench/soak: round-robin over the paths in BENCH_MIX (space-separated; repeat a
-- path to weight it), each request with BENCH_TOKEN (public routes ignore it). Each thread
-- stops after BENCH_PER_THREAD responses, so a run is a number of requests, not a duration.
local paths = {}
for p in string.gmatch(os.getenv("BENCH_MIX") or "/health", "%S+") do paths[#paths + 1] = p end
local auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
local limit = tonumber(os.getenv("BENCH_PER_THREAD") or "0")
local sent, got = 0, 0
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("first", counter)
end

function init(args)
	sent = first or 0
end

request = function()
	sent = sent + 1
	return wrk.format("GET", paths[(sent % #paths) + 1], { ["Authorization"] = auth })
end

response = function(status, headers, body)
	got = got + 1
	if limit > 0 and got >= limit then wrk.thread:stop() end
end
