-- wrk script for bench/soak: round-robin over the paths in BENCH_MIX (space-separated; repeat a
-- path to weight it), each request with BENCH_TOKEN (public routes ignore it). Each thread
-- stops after BENCH_PER_THREAD responses and then creates BENCH_DONE_DIR/<thread>; wrk itself
-- runs until its -d or a SIGINT (bench/soak sends it once every thread is done), so a run is a
-- number of requests, not a duration.
local paths = {}
for p in string.gmatch(os.getenv("BENCH_MIX") or "/health", "%S+") do paths[#paths + 1] = p end
local auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
local limit = tonumber(os.getenv("BENCH_PER_THREAD") or "0")
local done_dir = os.getenv("BENCH_DONE_DIR")
local sent, got = 0, 0
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("index", threads)
end

function init(args)
	sent = index or 0
end

request = function()
	sent = sent + 1
	return wrk.format("GET", paths[(sent % #paths) + 1], { ["Authorization"] = auth })
end

response = function(status, headers, body)
	got = got + 1
	if limit > 0 and got == limit then
		if done_dir then
			local f = io.open(done_dir .. "/" .. index, "w")
			if f then f:close() end
		end
		wrk.thread:stop()
	end
end
