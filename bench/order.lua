-- wrk script: POST /v1/orders round-robin over the organizations in
-- BENCH_TOKENS / BENCH_PRODUCTS (comma-separated, same order).
local tokens, products = {}, {}
for t in string.gmatch(os.getenv("BENCH_TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = t end
for p in string.gmatch(os.getenv("BENCH_PRODUCTS") or "", "[^,]+") do products[#products + 1] = p end
local n = 0

request = function()
	n = n + 1
	local k = (n % #tokens) + 1
	local body = '{"customer":{"name":"Bench"},"shippingAddress":{"line1":"1 Bench Rd","city":"Cape Town",'
		.. '"province":"Western Cape","postalCode":"8001"},"items":[{"productId":"' .. products[k]
		.. '","quantity":1}]}'
	return wrk.format("POST", "/v1/orders",
		{ ["Authorization"] = "Bearer " .. tokens[k], ["Content-Type"] = "application/json" }, body)
end
