-- Prints one JSON line wrk's own summary lacks: p95 latency, and errors (non-2xx/3xx, socket errors).
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'BENCH {"rps": %.2f, "requests": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), summary.requests,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), errors))
end
