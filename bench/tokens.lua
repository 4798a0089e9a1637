-- wrk script: GET BENCH_PATH, each request with the next token of BENCH_TOKEN_FILE (one a
-- line). Thread i of n takes every n-th token from the i-th, round-robin, so a token comes
-- back only after all the others have been sent: with more distinct tokens than the
-- verified-token caches hold (1024 slots per process, two processes per group), almost
-- every request misses the cache and pays the RS256 signature check.
local path = os.getenv("BENCH_PATH") or "/v1/users/me"
local tokens, n = {}, 0
local threads = {}

function setup(thread)
	threads[#threads + 1] = thread
	thread:set("index", #threads)
end

function init(args)
	local i, all = 0, {}
	for line in io.lines(os.getenv("BENCH_TOKEN_FILE")) do
		if #line > 0 then all[#all + 1] = line end
	end
	local count = tonumber(os.getenv("BENCH_THREADS") or "2")
	for k = index, #all, count do tokens[#tokens + 1] = all[k] end
end

request = function()
	n = n + 1
	return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] })
end
