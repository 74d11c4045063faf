-- wrk script for bench/ingest.py: every request is a unique, realistic lead.
-- Arguments: <phone offset> <path> <api key or "-">
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  offset = tonumber(args[1]) or 0
  path = args[2]
  key = args[3]
  counter = 0
  statuses = {}
end

function request()
  counter = counter + 1
  local phone = string.format("9%09d", (offset + id * 10000000 + counter) % 1000000000)
  local body = string.format(
    '{"name":"Bench Buyer %d","phone_number":"%s","car_model":"MG Hector","lead_url":"https://cardekho.com/leads/%d",' ..
    '"campaign":"Bench","utm_source":"cardekho_ads","utm_medium":"cpc","city":"Bengaluru"}',
    counter, phone, counter)
  local headers = {["Content-Type"] = "application/json", ["X-Forwarded-Proto"] = "https"}
  if key ~= "-" then headers["X-API-Key"] = key end
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + count
    end
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors))
  for status, count in pairs(totals) do io.write(string.format(" status_%d=%d", status, count)) end
  io.write("\n")
end
